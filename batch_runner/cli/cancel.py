"""Cancel a run: stop every live job (StopModelInvocationJob) and dequeue shards without a job.

Dequeued shards are marked cancelled in the run manifest, so later `status`/`wait` calls never
submit them; stopped jobs go through Stopping to Stopped, and the run then shows Stopped. Records
already processed are billed and kept: `results` still collects them. Safe to run again.

An orchestrated run is cancelled by the stack: this records the request in the run registry and
wakes the scheduler, which stops and dequeues in its next pass. Only the caller that submitted the
run (its owner, an IAM ARN) may ask; anyone else is refused with exit code 77 unless --force.

--json prints {"stopped": [shard], "dequeued": [shard], "not_stopped": {shard: reason},
"status": <the `status --json` object>}.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from batch_runner.cli.run_args import add_command, load_run
from batch_runner.cli.status import print_status

if TYPE_CHECKING:
    pass


def register(subparsers: Any) -> None:
    parser = add_command(subparsers, "cancel", "stop every live job of a run and dequeue the rest", __doc__)
    parser.add_argument("--json", action="store_true", help="print what was done as JSON")
    parser.add_argument(
        "--force",
        action="store_true",
        help="orchestrated runs: ask even though another caller submitted the run (stack administrators)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from batch_runner.jobs.cancelling import cancel_run
    from batch_runner.orchestration.requests import is_orchestrated, request_cancel

    loaded = load_run(args)
    if is_orchestrated(loaded):
        request_cancel(loaded, force=args.force)
        print(
            f"cancel requested: the stack stops {loaded.name}'s live jobs and dequeues the rest "
            "in its next pass"
        )
        return 0
    report = cancel_run(loaded)
    if args.json:
        print(
            json.dumps(
                {
                    "stopped": report.stopped,
                    "dequeued": report.dequeued,
                    "not_stopped": {str(k): v for k, v in report.not_stopped.items()},
                    "status": report.status.to_dict() if report.status else None,
                },
                indent=2,
            )
        )
        return 0
    print(f"stop requested for {len(report.stopped)} job(s); {len(report.dequeued)} queued shard(s) dequeued")
    for index, reason in sorted(report.not_stopped.items()):
        print(f"  shard {index} not stopped: {reason}")
    if report.status is not None:
        print_status(report.status)
    return 0
