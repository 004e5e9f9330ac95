"""Indicative prices from the data file, and the token and cost estimate."""

from __future__ import annotations

import pytest

from batch_runner.pricing import estimate_cost, estimate_input_tokens, estimate_output_tokens, model_price


@pytest.mark.parametrize(
    ("model_id", "on_demand_input", "on_demand_output"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", 0.25, 1.25),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", 0.80, 4.00),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", 1.00, 5.00),
        ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-opus-20240229-v1:0", 15.0, 75.0),
        ("eu.anthropic.claude-sonnet-4-20250514-v1:0", 3.0, 15.0),
    ],
)
def test_prices_are_found_through_prefixes_and_arns(
    model_id: str, on_demand_input: float, on_demand_output: float
) -> None:
    price = model_price(model_id)
    assert price is not None
    assert (price.input_per_unit, price.output_per_unit, price.batch_discount) == (
        on_demand_input,
        on_demand_output,
        0.5,
    )


def test_sonnet_4_5_is_not_mistaken_for_sonnet_4() -> None:
    assert model_price("anthropic.claude-sonnet-4-5-20250929-v1:0") is not None
    assert model_price("anthropic.claude-opus-4-1-20250805-v1:0") is None  # unlisted, not Opus 4's price


def test_batch_cost_is_half_of_on_demand() -> None:
    estimate = estimate_cost("us.anthropic.claude-3-haiku-20240307-v1:0", 2_000_000, 400_000)
    assert estimate.on_demand_usd == pytest.approx(2 * 0.25 + 0.4 * 1.25)
    assert estimate.batch_usd == pytest.approx(estimate.on_demand_usd / 2)
    assert estimate.prices_as_of


def test_unpriced_models_have_no_dollar_estimate() -> None:
    estimate = estimate_cost("amazon.nova-lite-v1:0", 100, 100)
    assert (estimate.batch_usd, estimate.on_demand_usd) == (None, None)
    assert estimate.input_tokens == 100


def test_token_estimates_follow_the_documented_rules() -> None:
    assert estimate_input_tokens(4001) == 1001  # 4 characters per token, rounded up
    assert estimate_output_tokens(10, 1000, produces_text=True) == 5000  # half of max_tokens
    assert estimate_output_tokens(10, 1000, produces_text=False) == 0
