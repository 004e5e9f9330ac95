"""What a plan looks like to a person: the lines ``submit --dry-run`` prints (and ``Plan`` shows as
text and, in Jupyter, as HTML): jobs, records, how answers are asked for as JSON, tokens and the
cost range."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from batch_runner.catalog.output_schema import (
    INSTRUCTIONS,
    NATIVE,
    PRE_FORMATTED,
    PREFILL,
    OutputSchema,
    StructuredOutput,
    output_schema,
)
from batch_runner.catalog.pricing import CostEstimate, format_usd
from batch_runner.results.join import shown_columns

if TYPE_CHECKING:
    from batch_runner.prepare.plan import Plan


def describe_plan(plan: Plan, schema: OutputSchema | Mapping[str, Any] | None = None) -> list[str]:
    """Human-readable lines summarising a plan (what ``submit --dry-run`` prints); ``schema`` is the
    run's output schema, named with its columns."""
    estimate = plan.estimate
    lines = [f"model:    {plan.model_id} ({plan.invocation_type})"]
    if schema is not None and plan.structured_output is not None:
        lines.append(f"output:   {describe_structured_output(schema, plan.structured_output)}")
    lines += [
        f"records:  {plan.record_count:,} in {len(plan.shards)} job(s), {_size(plan.byte_size)} of requests",
    ]
    lines += [
        f"  {shard.path.name}: {shard.record_count:,} records, {_size(shard.byte_size)}"
        + (" (on demand, below the per-job minimum)" if shard.on_demand else "")
        for shard in plan.shards
    ]
    lines += describe_estimate(estimate)
    return lines + [f"warning:  {warning}" for warning in plan.warnings]


def describe_estimate(estimate: CostEstimate) -> list[str]:
    """The plan's cost lines: input counted from the prompts, output as a range with its assumption."""
    most = estimate.max_output_tokens if estimate.max_output_tokens is not None else estimate.output_tokens
    tokens = f"tokens:   ~{estimate.input_tokens:,} input (from the prompts' characters); "
    if most:
        per_answer = estimate.typical_tokens_per_answer
        tokens += (
            f"output up to {most:,} if every answer uses max_tokens, typically ~{estimate.output_tokens:,}"
            + (f" (assuming {per_answer} an answer)" if per_answer else "")
        )
    else:
        tokens += "no output tokens (embeddings)"
    lines = [tokens]
    if estimate.on_demand_records:
        lines.append(
            f"on demand: {estimate.on_demand_records:,} record(s) below the per-job minimum go through "
            "the runtime API at full price (included below)"
        )
    if estimate.batch_usd is None or estimate.on_demand_usd is None:
        lines.append(f"cost:     no listed price for {estimate.model_id}")
    elif not most:
        lines.append(
            f"cost:     ~{format_usd(estimate.batch_usd)} vs ~{format_usd(estimate.on_demand_usd)} on demand "
            f"(indicative prices as of {estimate.prices_as_of})"
        )
    else:
        lines += [
            f"cost:     input ~{format_usd(estimate.input_batch_usd)}; in all up to "
            f"{format_usd(estimate.max_batch_usd)} if every answer uses max_tokens, typically "
            f"~{format_usd(estimate.batch_usd)}",
            f"          on demand: up to {format_usd(estimate.max_on_demand_usd)}, typically "
            f"~{format_usd(estimate.on_demand_usd)} (indicative prices as of {estimate.prices_as_of})",
        ]
    return lines


_MECHANISMS = {
    NATIVE: "via native structured output ({field})",
    PREFILL: 'via prompt instructions and a reply prefilled with "{prefill}" ({field})',
    INSTRUCTIONS: "via prompt instructions ({field})",
    PRE_FORMATTED: "checked in the answers only (pre-formatted requests are sent as they are)",
}
_MAX_LISTED_CHARS = 60


def describe_structured_output(schema: OutputSchema | Mapping[str, Any], structured: StructuredOutput) -> str:
    """E.g. ``JSON schema, 2 columns (label, score) via prompt instructions (messages)``."""
    schema = output_schema(schema)
    names = shown_columns(schema.properties)
    listed = ", ".join(names)
    while len(listed) > _MAX_LISTED_CHARS and len(names) > 1:
        names.pop()
        listed = ", ".join([*names, "..."])
    columns = f"{len(schema.properties)} column{'s' if len(schema.properties) != 1 else ''} ({listed})"
    how = _MECHANISMS.get(structured.mechanism, f"via {structured.mechanism}")
    return f"JSON schema, {columns} " + how.format(
        field=structured.detail.get("field", "?"), prefill=structured.prefill or ""
    )


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    raise AssertionError("unreachable")
