"""List the runs found in the stack's input bucket (runs/*/manifest.json) and on this machine.

For each: name, created, model, state, records (succeeded and failed by each record's newest
attempt, retries included, as `results` counts them), shards, jobs by status and the cost estimated
at submit. No job is queried: states are as last recorded (`status RUN` refreshes one run); actual
costs come from `cost RUN`. Newest first.

Orchestrated runs (driven by the stack) also show the run registry's state in the `stack` column
(active, finished, or unregistered; `-` for runs driven from a machine), and under the row why their
queued shards wait and, once collected, where the results are.

--json prints a list of {"run", "created_at", "updated_at", "model_id", "state", "records",
"succeeded", "failed", "shards", "counts" ({status: jobs}), "estimated_batch_usd" (number|null), "location"
(s3|local|s3+local), "problem" (str|null: an unreadable manifest), "orchestrated" (bool),
"orchestration" (null, or the registry's view as in `status --json`)}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch_runner.cli.common import add_aws_options, aws_context
from batch_runner.cli.run_args import add_state_dir

if TYPE_CHECKING:
    from collections.abc import Mapping


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "runs",
        help="list the runs in the input bucket and on this machine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print the runs as JSON")
    add_state_dir(parser)
    add_aws_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from batch_runner.aws.settings import Overrides, resolve_settings, state_dir, with_region
    from batch_runner.catalog.pricing import format_usd
    from batch_runner.jobs.run_catalog import list_runs

    aws = with_region(aws_context(args))
    settings = resolve_settings(aws, Overrides(stack=args.stack, env=args.env))
    directory = state_dir(Path(args.state_dir) if args.state_dir else None)
    listings = list_runs(aws.client("s3"), settings.input_bucket, directory)
    if any(item.orchestrated for item in listings):
        from batch_runner.orchestration.stack_view import with_views

        listings = with_views(listings, aws.client("dynamodb"), settings.registry_table)
    if args.json:
        print(json.dumps([listing.to_dict() for listing in listings], indent=2))
        return 0
    if not listings:
        print(f"no runs in s3://{settings.input_bucket}/runs/ or {directory / 'runs'}")
        return 0
    header = f"{'run':<40} {'created':<25} {'state':<18} {'stack':<12} {'records':>8} {'ok':>8} {'failed':>6}"
    print(f"{header} {'est. batch $':>12}  jobs")
    for item in listings:
        cost = format_usd(item.estimated_batch_usd, unpriced="-")
        jobs = ", ".join(f"{n} {label}" for label, n in sorted(item.counts.items()))
        print(
            f"{item.run:<40} {item.created_at:<25} {item.state:<18} {_stack(item.orchestration):<12}"
            f" {item.records:>8} {item.succeeded:>8} {item.failed:>6} {cost:>12}  {jobs}"
        )
        if item.problem:
            print(f"  {item.problem}")
        view = item.orchestration or {}
        if view.get("waiting_reason"):
            print(f"  queued shards wait: {view['waiting_reason']}")
        if view.get("results_uri"):
            print(f"  results: {view['results_uri']}")
    return 0


def _stack(view: Mapping[str, Any] | None) -> str:
    if view is None:
        return "-"
    return str(view["state"]) if view.get("registered") else "unregistered"
