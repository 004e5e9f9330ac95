"""Show where a run stands: one line per shard and its job, and the run's totals.

Each job is read with GetModelInvocationJob (status, records processed/succeeded/failed, age since
submission); the manifest is updated, and shards queued behind the concurrency quota are submitted
when slots are free. Exit code 0 whatever the jobs' state (use `wait` to block until they end).

--json prints one object:
  {"run", "model_id", "state" (Queued|InProgress|Stopping|Completed|PartiallyCompleted|Failed|
   Expired|Stopped), "finished" (bool), "records", "processed", "succeeded", "failed" (ints,
   summed over jobs; records counts every shard, retry shards again), "counts" ({label: jobs}),
   "checked_at", "waiting_reason" (str|null), "warnings" ([str]),
   "jobs": [{"shard", "job_name", "state" (planned|queued|submitted|cancelled), "status" (Bedrock
   status|null), "label", "records", "processed", "succeeded", "failed" (int|null until the service
   reports them), "job_arn", "submitted_at", "age_seconds", "message"}]}
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from batch_runner.cli.run_args import add_command, load_run

if TYPE_CHECKING:
    from batch_runner.jobs.tracking import JobProgress, RunStatus


def register(subparsers: Any) -> None:
    parser = add_command(subparsers, "status", "show each job's status and the run's totals", __doc__)
    parser.add_argument("--json", action="store_true", help="print the status as JSON (schema above)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from batch_runner.jobs.tracking import refresh

    status = refresh(load_run(args))
    if args.json:
        print(json.dumps(status.to_dict(), indent=2))
    else:
        print_status(status)
    return 0


def print_status(status: RunStatus) -> None:
    print(
        f"Run {status.run} ({status.model_id}): {status.state}, {status.processed}/{status.records}"
        f" records processed ({status.succeeded} succeeded, {status.failed} failed)"
    )
    print(f"  {'shard':>5}  {'job':<14} {'status':<19} {'processed':>11} {'succeeded':>9} {'failed':>7}  age")
    for job in status.jobs:
        print("  " + _job_line(job))
    if status.waiting_reason:
        print(f"  queued shards wait: {status.waiting_reason}")
    for line in status.why_unsuccessful():
        print(f"  {line}")
    for warning in status.warnings:
        print(f"  warning: {warning}")


def _job_line(job: JobProgress) -> str:
    from batch_runner.progress import format_duration

    job_id = job.job_arn.rsplit("/", 1)[-1] if job.job_arn else "-"
    processed = f"{_n(job.processed)}/{job.records}"
    age = format_duration(job.age_seconds) if job.age_seconds is not None else "-"
    return (
        f"{job.shard:>5}  {job_id:<14} {job.label:<19} {processed:>11} {_n(job.succeeded):>9}"
        f" {_n(job.failed):>7}  {age}"
    )


def _n(value: int | None) -> str:
    return "-" if value is None else str(value)
