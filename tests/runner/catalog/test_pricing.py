"""Indicative prices from the data file, and the token and cost estimate."""

from __future__ import annotations

from typing import Any

import pytest

from batch_runner.catalog.models.registry import model_family
from batch_runner.catalog.pricing import (
    PRICING_FILE,
    check_max_cost,
    estimate_cost,
    estimate_input_tokens,
    estimate_plan_cost,
    format_usd,
    model_price,
)
from batch_runner.catalog.tables import load_data_file
from batch_runner.exceptions import UsageError

PRICES: dict[str, Any] = load_data_file(PRICING_FILE)
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.mark.parametrize(
    ("model_id", "on_demand_input", "on_demand_output"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", 0.25, 1.25),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", 0.80, 4.00),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", 1.00, 5.00),
        ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-opus-20240229-v1:0", 15.0, 75.0),
        ("eu.anthropic.claude-sonnet-4-20250514-v1:0", 3.0, 15.0),
        ("us.amazon.nova-lite-v1:0", 0.06, 0.24),
        ("amazon.nova-pro-v1:0", 0.80, 3.20),
        ("meta.llama3-1-8b-instruct-v1:0", 0.22, 0.22),
        ("us.meta.llama4-maverick-17b-instruct-v1:0", 0.24, 0.97),
        ("mistral.mistral-large-2407-v1:0", 3.00, 9.00),
        ("mistral.mixtral-8x7b-instruct-v0:1", 0.45, 0.70),
        ("amazon.titan-embed-text-v2:0", 0.02, None),
    ],
)
def test_prices_are_found_through_prefixes_and_arns(
    model_id: str, on_demand_input: float, on_demand_output: float | None
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
    # Nova 2 Lite is a supported model with no listed price; Nova (1) Lite's price must not leak to it.
    for model_id in ("amazon.nova-2-lite-v1:0", "us.deepseek.r1-v1:0"):
        estimate = estimate_cost(model_id, 100, 100)
        assert (estimate.batch_usd, estimate.on_demand_usd) == (None, None)
        assert estimate.input_tokens == 100


@pytest.mark.parametrize("key", sorted(PRICES["models"]))
def test_every_price_belongs_to_a_model_the_runner_supports(key: str) -> None:
    assert model_family(f"{key}:0") is not None


@pytest.mark.parametrize("key", sorted(PRICES["models"]))
def test_estimate_is_tokens_times_price_times_batch_discount(key: str) -> None:
    entry = PRICES["models"][key]
    output_tokens = 0 if "output" not in entry else 300_000
    estimate = estimate_cost(f"us.{key}:0", 2_000_000, output_tokens)
    on_demand = (2_000_000 * entry["input"] + output_tokens * entry.get("output", 0)) / 1_000_000
    assert estimate.on_demand_usd == pytest.approx(on_demand)
    assert estimate.batch_usd == pytest.approx(on_demand * PRICES["batch_discount"])
    assert estimate.batch_usd is not None and estimate.batch_usd > 0


def test_embeddings_are_priced_on_input_tokens_only() -> None:
    estimate = estimate_cost("amazon.titan-embed-text-v2:0", 1_000_000, 0)
    assert estimate.on_demand_usd == pytest.approx(0.02)
    assert estimate.batch_usd == pytest.approx(0.01)
    # Output tokens against an input-only price would be a guess: no dollar figure instead.
    assert estimate_cost("amazon.titan-embed-text-v2:0", 1_000_000, 10).batch_usd is None


def test_token_estimates_follow_the_documented_rules() -> None:
    assert estimate_input_tokens(4001) == 1001  # 4 characters per token, rounded up


def test_a_plan_estimate_is_a_range_from_typical_answers_to_every_answer_at_max_tokens() -> None:
    estimate = estimate_plan_cost(
        HAIKU, records=10, input_tokens=2_000_000, output_budget=10 * 1000, produces_text=True
    )
    assert estimate.max_output_tokens == 10_000  # every answer uses max_tokens
    assert estimate.output_tokens == 10 * PRICES["typical_output_tokens"] == 1000
    assert estimate.typical_tokens_per_answer == 100
    assert estimate.input_batch_usd == pytest.approx(2 * 0.25 / 2)  # input counted on its own
    assert estimate.max_batch_usd == pytest.approx((2 * 0.25 + 0.01 * 1.25) / 2)
    assert estimate.batch_usd == pytest.approx((2 * 0.25 + 0.001 * 1.25) / 2)
    assert estimate.max_on_demand_usd == pytest.approx(2 * estimate.max_batch_usd)


def test_the_typical_figure_never_exceeds_the_upper_bound() -> None:
    estimate = estimate_plan_cost(
        HAIKU, records=10, input_tokens=0, output_budget=10 * 20, produces_text=True
    )
    assert estimate.output_tokens == estimate.max_output_tokens == 200


def test_embeddings_have_no_output_range() -> None:
    estimate = estimate_plan_cost(
        "amazon.titan-embed-text-v2:0",
        records=5,
        input_tokens=1_000_000,
        output_budget=5000,
        produces_text=False,
    )
    assert (estimate.output_tokens, estimate.max_output_tokens) == (0, 0)
    assert estimate.batch_usd == estimate.max_batch_usd == pytest.approx(0.01)


def test_records_sent_on_demand_are_priced_at_full_price() -> None:
    batch = estimate_plan_cost(
        HAIKU, records=10, input_tokens=10_000, output_budget=10_000, produces_text=True
    )
    mixed = estimate_plan_cost(
        HAIKU, records=10, input_tokens=10_000, output_budget=10_000, produces_text=True, on_demand_records=5
    )
    everything = estimate_plan_cost(
        HAIKU, records=10, input_tokens=10_000, output_budget=10_000, produces_text=True, on_demand_records=10
    )
    assert everything.max_batch_usd == pytest.approx(everything.max_on_demand_usd)
    assert mixed.max_batch_usd == pytest.approx((batch.max_batch_usd + everything.max_batch_usd) / 2)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "$0"),
        (12.345, "$12.35"),
        (1234.5, "$1,234.50"),
        (0.0127, "$0.0127"),
        (0.00042, "$0.00042"),
        (0.000011, "$0.000011"),
        (None, "n/a (no listed price)"),
    ],
)
def test_small_amounts_keep_two_significant_digits(value: float | None, shown: str) -> None:
    assert format_usd(value) == shown


def test_max_cost_refuses_an_upper_estimate_above_the_cap() -> None:
    estimate = estimate_plan_cost(
        HAIKU, records=100, input_tokens=1000, output_budget=100_000, produces_text=True
    )
    check_max_cost(estimate, None)
    check_max_cost(estimate, 1.0)
    with pytest.raises(UsageError) as refused:
        check_max_cost(estimate, 0.05)
    assert str(refused.value) == (
        "estimated cost up to $0.0626 (if every answer uses max_tokens; typically ~$0.0064) exceeds "
        "--max-cost $0.0500: nothing was uploaded; lower --max-tokens, submit fewer rows, or raise --max-cost"
    )


@pytest.mark.parametrize(
    ("model", "cap", "match"),
    [
        ("amazon.nova-2-lite-v1:0", 1.0, "has no listed price in pricing.yaml; drop --max-cost"),
        (HAIKU, 0.0, "--max-cost must be a positive number of dollars, not 0"),
    ],
)
def test_max_cost_that_cannot_be_checked_is_refused(model: str, cap: float, match: str) -> None:
    estimate = estimate_plan_cost(model, records=1, input_tokens=1, output_budget=1, produces_text=True)
    with pytest.raises(UsageError, match=match):
        check_max_cost(estimate, cap)
