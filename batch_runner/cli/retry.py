"""Send the failed and missing records of a run again, as child jobs of the same run.

For a run submitted with --output-schema, failed includes answers that did not parse or match the
schema (error_code "schema" in `results`), so plain retry resends them too; --failed-schema resends
only those (the same requests, so a new sample of the model: often valid, though at temperature 0
a model tends to repeat itself; answers cut off at max_tokens need a new submit with a larger
--max-tokens instead).

Only records of finished jobs are retried (run `wait` first). Their request lines are copied from
the run's uploaded input files, unchanged, into new shards that respect the model's quotas and are
submitted like the run's other jobs; `results` afterwards shows each record's newest outcome.
Running retry again after it was interrupted finishes what it started and never creates a job
twice.

When fewer records remain than the model's minimum per batch job, retry stops with an error
unless --on-demand is given: then they are processed one by one with the bedrock-runtime API
(InvokeModel, or Converse for Converse runs) at the full on-demand price, and written to the run's
output like a job's. When a per-job record limit close to the minimum (--max-records-per-job at
submit) leaves no way to split the records into valid jobs (160 records, 100 to 150 per job), as
many as fill whole jobs go as batch jobs and, with --on-demand, the rest on demand
(mode batch+on-demand); without it retry stops and says how many would go which way. Asks for
confirmation on a terminal unless --yes.

An orchestrated run is retried by the stack: this records the request in the run registry, and
once every job has ended the scheduler resends the records (on demand below the minimum only if the
stack allows it). Only the caller that submitted the run (its owner) may ask, unless --force.

Exit codes: 0 done (or nothing to retry; orchestrated: the request is recorded), 1 cancelled or an
AWS error, 2 usage (jobs still running, records that need --on-demand without it), 77 an
orchestrated run submitted by another caller (--force to ask anyway).

--json prints one object:
  {"run", "mode" (nothing|batch|on-demand|batch+on-demand|resumed|cancelled), "records" (records retried),
   "shards" ([shard index]), "jobs" ([{"shard", "job_name", "job_arn", "state", "status"}]),
   "queued" ([shard index] still waiting for a concurrency slot),
   "on_demand" ({"records", "succeeded", "failed", "input_tokens", "output_tokens",
   "on_demand_usd"} | null)}
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from batch_runner.cli.run_args import add_command, load_run

if TYPE_CHECKING:
    from batch_runner.jobs.retrying import RetryReport
    from batch_runner.runs import Run


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers, "retry", "resubmit the failed and missing records as child jobs", __doc__
    )
    parser.add_argument(
        "--on-demand",
        action="store_true",
        help="below the model's minimum per job, process the records with the runtime API (full price)",
    )
    parser.add_argument(
        "--failed-schema",
        action="store_true",
        help='only the records whose answer did not parse or match the output schema (error_code "schema")',
    )
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON (schema above)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="orchestrated runs: ask even though another caller submitted the run (stack administrators)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from batch_runner.jobs.retrying import CANCELLED, retry_run
    from batch_runner.orchestration.requests import is_orchestrated, request_retry

    batch_run = load_run(args)
    if is_orchestrated(batch_run):
        request_retry(batch_run, force=args.force)
        print(
            f"retry requested: once every job of {batch_run.name} has ended, the stack resends its failed "
            "and missing records (on demand below the per-job minimum if the stack allows it)"
        )
        return 0
    confirm = None if args.yes or not sys.stdin.isatty() else _confirm
    report = retry_run(batch_run, on_demand=args.on_demand, failed_schema=args.failed_schema, confirm=confirm)
    if args.json:
        print(json.dumps(report_dict(batch_run, report), indent=2))
    else:
        print_report(batch_run, report, failed_schema=args.failed_schema)
    return 1 if report.mode == CANCELLED else 0


def report_dict(batch_run: Run, report: RetryReport) -> dict[str, Any]:
    shards = {s.index: s for s in batch_run.shards}
    return {
        "run": batch_run.name,
        "mode": report.mode,
        "records": report.records,
        "shards": report.shards,
        "jobs": [
            {
                "shard": index,
                "job_name": shards[index].job_name,
                "job_arn": shards[index].job_arn,
                "state": shards[index].state,
                "status": shards[index].job_status,
            }
            for index in report.shards
        ],
        "queued": report.submit.queued if report.submit else [],
        "on_demand": asdict(report.on_demand) if report.on_demand else None,
    }


def print_report(batch_run: Run, report: RetryReport, *, failed_schema: bool = False) -> None:
    from batch_runner.catalog.pricing import format_usd
    from batch_runner.jobs.retrying import CANCELLED, NOTHING

    if report.mode == NOTHING:
        reason = "no answer failed the output schema" if failed_schema else "every record sent succeeded"
        print(f"Run {batch_run.name}: nothing to retry, {reason}")
        return
    if report.mode == CANCELLED:
        print(f"cancelled: {report.records} record(s) not processed", file=sys.stderr)
        return
    data = report_dict(batch_run, report)
    which = " whose answer failed the output schema" if failed_schema else ""
    print(f"Run {batch_run.name}: retrying {report.records} record(s){which} ({report.mode})")
    for job in data["jobs"]:
        print(f"  shard {job['shard']}: {job['job_name']} {job['status'] or job['state']}")
    if data["queued"]:
        print(f"  queued: {len(data['queued'])}; `status`/`wait` submit them as slots free up")
    result = report.on_demand
    if result is not None:
        usd = result.on_demand_usd
        price = "no listed price" if usd is None else f"{format_usd(usd)} at the on-demand price"
        print(
            f"  on demand: {result.succeeded} succeeded, {result.failed} failed; "
            f"{result.input_tokens} input + {result.output_tokens} output tokens, {price}"
        )
    if result is None or report.submit is not None:
        print(f"  next: python -m batch_runner wait {batch_run.name}")


def _confirm(records: int) -> bool:
    print(
        f"Process {records} record(s) with the runtime API at the full on-demand price? [y/N] ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    return sys.stdin.readline().strip().lower() in {"y", "yes"}
