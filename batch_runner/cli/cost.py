"""What a run cost: tokens counted by Bedrock in each job's manifest.json.out, priced at the batch
rate (records a retry sent on demand at the full rate), next to the on-demand price of the same
tokens (the saving) and the two estimates made at submit: the upper bound (every answer at
max_tokens) and the typical figure (100 output tokens an answer), e.g.

  Run reviews-jan (meta.llama3-1-8b-instruct-v1:0), indicative prices as of 2025-10:
    actual:    9,642 input + 4,680 output tokens = $0.0016 at the batch price
    on-demand: $0.0032 for the same tokens; saving $0.0016
    estimated at submit: up to $0.0146 (122,880 output tokens, every answer at max_tokens),
      typically ~$0.0024 (12,000 output tokens); actual is 11% of the upper bound

Prices come from the bundled price table (as of the date shown) and are indicative; the AWS bill is
the authority. Jobs without a manifest.json.out yet (running, or Failed early) count nothing.

--json prints {"run", "model_id", "input_tokens", "output_tokens", "batch_usd", "on_demand_usd",
"saving_usd" (numbers, null when the model has no listed price), "estimate" (the submit-time
estimate: input_tokens, output_tokens and batch_usd/on_demand_usd (typical), max_output_tokens,
max_batch_usd, max_on_demand_usd (upper bound; absent for runs of earlier versions), prices_as_of),
"prices_as_of",
"indicative" (true), "jobs_without_manifest", "jobs": [{"job_id", "status", "kind" (batch|retry|
on-demand), "input_tokens",
"output_tokens" (null without a manifest), "note"}]}.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from batch_runner.cli.run_args import add_command, load_run

if TYPE_CHECKING:
    from batch_runner.jobs.costs import RunCost


def register(subparsers: Any) -> None:
    parser = add_command(subparsers, "cost", "actual tokens and cost of a run, vs the estimate", __doc__)
    parser.add_argument("--json", action="store_true", help="print the cost as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from batch_runner.jobs.costs import run_cost

    cost = run_cost(load_run(args))
    if args.json:
        print(json.dumps(cost.to_dict(), indent=2))
    else:
        print_cost(cost)
    return 0


def print_cost(cost: RunCost) -> None:
    from batch_runner.catalog.pricing import format_usd

    full_price = sum(1 for job in cost.jobs if job.full_price)
    on_demand_note = f" ({full_price} on-demand shard(s) at full price)" if full_price else ""
    print(f"Run {cost.run} ({cost.model_id}), indicative prices as of {cost.prices_as_of}:")
    print(
        f"  actual:    {cost.input_tokens:,} input + {cost.output_tokens:,} output tokens"
        f" = {format_usd(cost.batch_usd)} at the batch price{on_demand_note}"
    )
    saving = format_usd(cost.saving_usd)
    print(f"  on-demand: {format_usd(cost.on_demand_usd)} for the same tokens; saving {saving}")
    for line in _estimate_lines(cost):
        print(f"  {line}")
    for job in cost.jobs:
        if job.note:
            print(f"  job {job.job_id} ({job.status}): {job.note}; not counted")


def _estimate_lines(cost: RunCost) -> list[str]:
    from batch_runner.catalog.pricing import format_usd

    estimate = cost.estimate
    if not estimate:
        return []
    typical = (
        f"{format_usd(estimate.get('batch_usd'))} ({_tokens(estimate.get('output_tokens'))} output tokens)"
    )
    if estimate.get("max_output_tokens") is None:  # a run submitted before estimates were ranges
        return [f"estimated at submit: ~{typical}"]
    lines = [
        f"estimated at submit: up to {format_usd(estimate.get('max_batch_usd'))} "
        f"({_tokens(estimate.get('max_output_tokens'))} output tokens, every answer at max_tokens),",
        f"  typically ~{typical}",
    ]
    most = estimate.get("max_batch_usd")
    if cost.batch_usd is not None and most:
        lines[-1] += f"; actual is {cost.batch_usd / most:.0%} of the upper bound"
    return lines


def _tokens(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"
