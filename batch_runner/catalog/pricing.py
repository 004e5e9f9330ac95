"""Indicative cost estimates from ``batch_runner/data/pricing.yaml`` (prices are data, not code).

Token counts are estimated before anything runs: input tokens as rendered characters divided by
``chars_per_token`` (4, the usual rule of thumb for English). Output is unknown until the answers
exist, so a plan's estimate is a range: at most every record's own ``max_tokens`` (the upper bound,
which ``--max-cost`` checks), typically ``typical_output_tokens`` an answer (capped by
``max_tokens``), and none for embedding models. The real counts come from the jobs' manifests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from batch_runner.catalog.tables import load_data_file, model_entry
from batch_runner.exceptions import UsageError

PRICING_FILE = "pricing.yaml"


@dataclass(frozen=True)
class CostEstimate:
    """Indicative cost from the price data file.

    ``batch_usd`` is what the tokens cost as the run sends them (batch price; records sent on demand
    at full price), ``on_demand_usd`` the same tokens all at the on-demand price. For a plan, the
    tokens are estimates and ``output_tokens`` the typical figure; the ``max_*`` fields hold the
    upper bound (every answer uses its max_tokens). They are None for counted tokens.
    """

    model_id: str
    input_tokens: int
    output_tokens: int
    batch_usd: float | None  # None when the model has no listed price
    on_demand_usd: float | None
    prices_as_of: str
    max_output_tokens: int | None = None  # every answer uses its max_tokens
    max_batch_usd: float | None = None
    max_on_demand_usd: float | None = None
    input_batch_usd: float | None = None  # the input tokens alone, as the run sends them
    typical_tokens_per_answer: int | None = None  # the typical figure's assumption
    on_demand_records: int = 0  # records sent through the runtime API at full price


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


def typical_tokens_per_answer() -> int:
    return int(load_data_file(PRICING_FILE)["typical_output_tokens"])


def estimate_cost(model_id: str, input_tokens: int, output_tokens: int) -> CostEstimate:
    """Tokens priced at the batch and the on-demand price (counted tokens, or any other figure)."""
    as_of = str(load_data_file(PRICING_FILE)["as_of"])
    on_demand = _on_demand_usd(model_price(model_id), input_tokens, output_tokens)
    batch = None if on_demand is None else on_demand * _discount(model_id)
    return CostEstimate(model_id, input_tokens, output_tokens, batch, on_demand, as_of)


def estimate_plan_cost(
    model_id: str,
    *,
    records: int,
    input_tokens: int,
    output_budget: int,
    produces_text: bool,
    on_demand_records: int = 0,
) -> CostEstimate:
    """A plan's range: ``output_budget`` is the sum of every record's max_tokens (the upper bound);
    ``on_demand_records`` of the ``records`` go through the runtime API at full price."""
    price = model_price(model_id)
    per_answer = typical_tokens_per_answer()
    most = output_budget if produces_text else 0
    typical = min(most, records * per_answer)
    # The on-demand share of the tokens is taken as its share of the records.
    share = on_demand_records / records if records else 0.0
    rate = 1.0 if price is None else price.batch_discount * (1 - share) + share

    def paid(output_tokens: int) -> tuple[float | None, float | None]:
        on_demand = _on_demand_usd(price, input_tokens, output_tokens)
        return (None if on_demand is None else on_demand * rate), on_demand

    batch, on_demand = paid(typical)
    max_batch, max_on_demand = paid(most)
    input_only = _on_demand_usd(price, input_tokens, 0)
    return CostEstimate(
        model_id,
        input_tokens,
        typical,
        batch,
        on_demand,
        str(load_data_file(PRICING_FILE)["as_of"]),
        max_output_tokens=most,
        max_batch_usd=max_batch,
        max_on_demand_usd=max_on_demand,
        input_batch_usd=None if input_only is None else input_only * rate,
        typical_tokens_per_answer=per_answer if produces_text else 0,
        on_demand_records=on_demand_records,
    )


def _on_demand_usd(price: ModelPrice | None, input_tokens: int, output_tokens: int) -> float | None:
    # Output tokens with no output price (an input-only entry) cannot be priced: no guess.
    if price is None or (price.output_per_unit is None and output_tokens > 0):
        return None
    return (input_tokens * price.input_per_unit + output_tokens * (price.output_per_unit or 0.0)) / (
        price.unit_tokens
    )


def _discount(model_id: str) -> float:
    price = model_price(model_id)
    return 1.0 if price is None else price.batch_discount


def format_usd(value: float | None, *, unpriced: str = "n/a (no listed price)") -> str:
    """Dollars with enough digits to mean something: $12.35, $0.0127, $0.00042 (two significant
    digits below a cent), $0 for nothing."""
    if value is None:
        return unpriced
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= 0.01:
        return f"${value:.4f}"
    digits = min(8, 1 - math.floor(math.log10(abs(value))))  # two significant digits
    return f"${value:.{digits}f}"


def check_max_cost(estimate: CostEstimate, max_cost: float | None) -> None:
    """``UsageError`` when the plan's upper estimate exceeds ``max_cost`` dollars (None: no cap)."""
    if max_cost is None:
        return
    if max_cost <= 0:
        raise UsageError(
            f"--max-cost must be a positive number of dollars, not {max_cost:g}; e.g. --max-cost 25"
        )
    most = estimate.max_batch_usd if estimate.max_output_tokens is not None else estimate.batch_usd
    if most is None:
        raise UsageError(
            f"cannot check --max-cost: {estimate.model_id} has no listed price in pricing.yaml; "
            "drop --max-cost to submit without a cap"
        )
    if most > max_cost:
        raise UsageError(
            f"estimated cost up to {format_usd(most)} (if every answer uses max_tokens; typically "
            f"~{format_usd(estimate.batch_usd)}) exceeds --max-cost {format_usd(max_cost)}: nothing was "
            "uploaded; lower --max-tokens, submit fewer rows, or raise --max-cost"
        )
