"""What a run cost: tokens counted by Bedrock in each job's manifest.json.out, priced at the batch
rate (records a retry sent on demand at the full rate), next to the on-demand price of the same
tokens (the saving) and the estimate made at submit.

Prices come from the bundled price table (as of the date shown) and are indicative; the AWS bill is
the authority. Jobs without a manifest.json.out yet (running, or Failed early) count nothing.

--json prints {"run", "model_id", "input_tokens", "output_tokens", "batch_usd", "on_demand_usd",
"saving_usd" (numbers, null when the model has no listed price), "estimate" (the submit-time
estimate: input_tokens, output_tokens, batch_usd, on_demand_usd, prices_as_of), "prices_as_of",
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
    estimate = cost.estimate
    full_price = sum(1 for job in cost.jobs if job.full_price)
    on_demand_note = f" ({full_price} on-demand shard(s) at full price)" if full_price else ""
    print(f"Run {cost.run} ({cost.model_id}), indicative prices as of {cost.prices_as_of}:")
    print(
        f"  actual:    {cost.input_tokens} input + {cost.output_tokens} output tokens"
        f" = {_usd(cost.batch_usd)} at the batch price{on_demand_note}"
    )
    print(f"  on-demand: {_usd(cost.on_demand_usd)} for the same tokens; saving {_usd(cost.saving_usd)}")
    if estimate:
        print(
            f"  estimated at submit: {estimate.get('input_tokens')} input + {estimate.get('output_tokens')}"
            f" output tokens = {_usd(estimate.get('batch_usd'))}"
        )
    for job in cost.jobs:
        if job.note:
            print(f"  job {job.job_id} ({job.status}): {job.note}; not counted")


def _usd(value: float | None) -> str:
    return "n/a (no listed price)" if value is None else f"${value:.4f}"
