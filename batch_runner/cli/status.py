"""Show where a run stands: one line per shard and its job, and the run's totals.

Each job is read with GetModelInvocationJob (status, records processed/succeeded/failed, age since
submission); the manifest is updated, and shards queued behind the concurrency quota are submitted
when slots are free. Exit code 0 whatever the jobs' state (use `wait` to block until they end).

--json prints one object:
  {"run", "model_id", "state" (Queued|InProgress|Stopping|Completed|PartiallyCompleted|Failed|
   Expired|Stopped), "finished" (bool), "records", "processed", "succeeded", "failed" (ints,
   summed over jobs; records counts every shard, retry shards again), "counts" ({label: jobs}),
   "checked_at", "waiting_reason" (str|null), "warnings" ([str]),
   "orchestration" (null for a run driven from a machine, else {"registered" (bool), and when
   registered: "state" (active|finished), "outcome" (the run's state word once finished, else ""),
   "waiting_reason", "last_pass_at" (ISO time|""), "results_uri" (str|""), "owner" (caller ARN),
   "team", "priority" (int), "cancel_requested" (bool), "retry_requested" (int)}),
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
    status = load_run(args).status()
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
    for line in _stack_lines(status):
        print(f"  {line}")
    if status.waiting_reason:
        print(f"  queued shards wait: {status.waiting_reason}")
    for line in status.why_unsuccessful():
        print(f"  {line}")
    for warning in status.warnings:
        print(f"  warning: {warning}")


def _stack_lines(status: RunStatus) -> list[str]:
    """An orchestrated run's registry item: the stack's state, last pass, owner, requests, results."""
    from batch_runner.progress import format_duration, last_pass_age

    view = status.orchestration
    if view is None:
        return []
    if not view.get("registered"):
        return [
            f"stack: run {status.run} is not registered with the scheduler: submit the same dataset "
            f"again with --run {status.run} to register it"
        ]
    state = f"{view['state']} ({view['outcome']})" if view.get("outcome") else str(view["state"])
    age = last_pass_age(status)
    when = (
        f"last pass {view['last_pass_at']} ({format_duration(age)} ago)" if age is not None else "no pass yet"
    )
    lines = [f"stack: {state}, {when}; team {view['team']}, priority {view['priority']}"]
    lines.append(f"owner: {view['owner'] or 'unknown (registered by an earlier version)'}")
    asked = ["cancel"] if view.get("cancel_requested") else []
    asked += [f"retry x{view['retry_requested']}"] if view.get("retry_requested") else []
    if asked:
        lines.append(f"requested: {', '.join(asked)} (the next pass acts on it)")
    if view.get("results_uri"):
        lines.append(f"results: {view['results_uri']}")
    return lines


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
