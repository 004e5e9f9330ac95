"""Cancelling a run: stop every live job and dequeue the shards that have no job yet.

Dequeued shards are marked ``cancelled`` in the manifest (before any Stop call), so a ``status`` or
``wait`` running elsewhere never submits them afterwards. Stopping a job that has just ended is
not an error: the service's refusal is noted and the job keeps its final status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from batch_runner.exceptions import AwsError
from batch_runner.jobs.run_context import RunContext
from batch_runner.jobs.run_state import PLANNED, QUEUED, SUBMITTED
from batch_runner.jobs.submission import Backoff, NotNow, with_backoff
from batch_runner.jobs.tracking import CANCELLED, TERMINAL_STATUSES, RunStatus, is_batch_job, refresh

# Stop answers that mean "this job cannot be stopped any more" (it ended meanwhile).
_ALREADY_ENDED = frozenset({"ValidationException", "ConflictException", "ResourceNotFoundException"})


@dataclass
class CancelReport:
    stopped: list[int] = field(default_factory=list)  # shards whose job was asked to stop
    dequeued: list[int] = field(default_factory=list)  # shards that will never be submitted
    not_stopped: dict[int, str] = field(default_factory=dict)  # shard -> the service's reason
    status: RunStatus | None = None
    requested: bool = False  # an orchestrated run: the stack's scheduler stops and dequeues


def cancel_run(run: RunContext, *, backoff: Backoff | None = None) -> CancelReport:
    backoff = backoff or Backoff()
    report = CancelReport()
    for shard in run.shards:
        if shard.state in (PLANNED, QUEUED):
            shard.state, shard.message = CANCELLED, "dequeued by cancel"
            report.dequeued.append(shard.index)
    if report.dequeued:
        run.save()
    # Read the statuses first, so jobs that already ended are not asked to stop.
    refresh(run, submit=False, backoff=backoff)
    bedrock = run.client("bedrock")
    for shard in run.shards:
        if shard.state != SUBMITTED or not is_batch_job(shard) or shard.job_status in TERMINAL_STATUSES:
            continue
        try:
            with_backoff(
                partial(bedrock.stop_model_invocation_job, jobIdentifier=shard.job_arn),
                backoff,
                f"stopping job {shard.job_name}",
            )
        except AwsError as err:
            if err.code not in _ALREADY_ENDED:
                raise
            report.not_stopped[shard.index] = str(err)
            continue
        except NotNow as err:
            report.not_stopped[shard.index] = f"the service kept answering {err.code}; run cancel again"
            continue
        report.stopped.append(shard.index)
    report.status = refresh(run, submit=False, backoff=backoff)
    return report
