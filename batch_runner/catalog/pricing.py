"""Indicative cost estimates from ``batch_runner/data/pricing.yaml`` (prices are data, not code).

Token counts are estimated before anything runs: input tokens as rendered characters divided by
``chars_per_token`` (4, the usual rule of thumb for English), output tokens as
``output_fraction_of_max_tokens`` (0.5) of each record's ``max_tokens`` budget, and none for
embedding models. Both are approximations; the real counts come from the job's manifest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from batch_runner.catalog.tables import load_data_file, model_entry

PRICING_FILE = "pricing.yaml"


@dataclass(frozen=True)
class CostEstimate:
    """Indicative cost from the price data file; tokens are estimates, not counts."""

    model_id: str
    input_tokens: int
    output_tokens: int
    batch_usd: float | None  # None when the model has no listed price
    on_demand_usd: float | None
    prices_as_of: str


@dataclass(frozen=True)
class ModelPrice:
    input_per_unit: float  # on-demand USD per `unit_tokens` input tokens
    output_per_unit: float | None  # None for embeddings models: AWS bills them for input tokens only
    unit_tokens: int
    batch_discount: float


def model_price(model_id: str) -> ModelPrice | None:
    """On-demand price of the model, tolerant of geography prefixes and ARNs; None when unlisted."""
    data = load_data_file(PRICING_FILE)
    entry = model_entry(data["models"], model_id)
    if entry is None:
        return None
    output = entry.get("output")
    return ModelPrice(
        float(entry["input"]),
        None if output is None else float(output),
        int(data["unit_tokens"]),
        float(data["batch_discount"]),
    )


def estimate_input_tokens(characters: int) -> int:
    return math.ceil(characters / float(load_data_file(PRICING_FILE)["chars_per_token"]))


def estimate_output_tokens(records: int, max_tokens: int, *, produces_text: bool) -> int:
    if not produces_text:
        return 0
    fraction = float(load_data_file(PRICING_FILE)["output_fraction_of_max_tokens"])
    return math.ceil(records * max_tokens * fraction)


def estimate_cost(model_id: str, input_tokens: int, output_tokens: int) -> CostEstimate:
    price = model_price(model_id)
    as_of = str(load_data_file(PRICING_FILE)["as_of"])
    # Output tokens with no output price (an input-only entry) cannot be priced: no guess.
    if price is None or (price.output_per_unit is None and output_tokens > 0):
        return CostEstimate(model_id, input_tokens, output_tokens, None, None, as_of)
    on_demand = (
        input_tokens * price.input_per_unit + output_tokens * (price.output_per_unit or 0.0)
    ) / price.unit_tokens
    return CostEstimate(
        model_id, input_tokens, output_tokens, on_demand * price.batch_discount, on_demand, as_of
    )
