"""Where a run stands: ask Bedrock about each job, record what it says, submit what is queued.

``refresh(run)`` is one pass, shared by ``status`` and every poll of ``wait``: it calls
GetModelInvocationJob for each job not yet known to be finished (a finished job's record counters
are kept in the manifest, since they never change again), saves the manifest when something
changed, then uploads shards a stopped submit left behind and submits queued shards if concurrency
slots are free. Throttling and server errors are retried with backoff; a job that still cannot be
read keeps its last known status for this pass, so a flaky API slows a poll down but never ends it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from batch_runner.exceptions import UsageError
from batch_runner.jobs.run_context import RunContext
from batch_runner.jobs.run_state import (
    BATCH,
    PLANNED,
    QUEUED,
    SUBMITTED,
    ShardState,
    read_remote,
    write_local,
)
from batch_runner.jobs.submission import Backoff, NotNow, with_backoff

COMPLETED = "Completed"
TERMINAL_STATUSES = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired")
# What an unsuccessful status means when the job carries no message (Bedrock sets one on Failed only).
_MEANING = {
    "Expired": "the job did not start before its timeout (time queued counts); `retry` resubmits its records",
    "PartiallyCompleted": "the timeout ended the job before every record was processed; `retry` resubmits "
    "the rest",
}
UNSUCCESSFUL_STATUSES = ("Failed", "PartiallyCompleted", "Expired", "Stopped")
# A shard dequeued by `cancel` before it got a job: never submitted afterwards.
CANCELLED = "cancelled"
# RunContext-level state when every job has ended: the worst outcome names the run.
_COUNTERS = ("processedRecordCount", "successRecordCount", "errorRecordCount")
_WORST_FIRST = ("Stopped", "Failed", "Expired", "PartiallyCompleted", "Completed")
# An orchestrated run's registry state while the stack's scheduler still visits it (it may yet retry
# records, or act on a request): ``batch_runner.orchestration.registry`` uses this word.
STACK_ACTIVE = "active"


@dataclass(frozen=True)
class JobProgress:
    """One shard and its job, as last seen."""

    shard: int
    job_name: str
    state: str  # planned | queued | submitted | cancelled
    status: str | None  # the Bedrock job status, once submitted
    records: int  # records in the shard
    processed: int | None  # GetModelInvocationJob counters (None until the service reports them)
    succeeded: int | None
    failed: int | None
    job_arn: str | None
    submitted_at: str | None
    age_seconds: float | None  # since submission
    message: str | None  # the service's reason (Failed jobs) or why the shard waits
    kind: str = BATCH  # batch | retry | on-demand (see run_state)
    attempt: int = 0  # 0 for the dataset's own shards, n for the records of the n-th retry

    @property
    def label(self) -> str:
        """The status when there is a job, else the shard state."""
        return self.status or self.state

    @property
    def finished(self) -> bool:
        return self.state == CANCELLED or (self.status in TERMINAL_STATUSES)

    @property
    def unsuccessful(self) -> bool:
        return self.status in UNSUCCESSFUL_STATUSES or self.state == CANCELLED


@dataclass(frozen=True)
class RunStatus:
    """A snapshot of a run: every shard's job, and totals."""

    run: str
    model_id: str
    jobs: tuple[JobProgress, ...]
    checked_at: str
    waiting_reason: str | None = None  # why queued shards were not submitted in this pass
    warnings: tuple[str, ...] = field(default=())  # e.g. a job that could not be read this pass
    # An orchestrated run: its registry item as the stack's scheduler last wrote it (``state``,
    # ``waiting_reason``, ``last_pass_at``, ``results_uri``, ...; see ``status --json``), else None.
    orchestration: Mapping[str, Any] | None = None

    @property
    def records(self) -> int:
        """The dataset's records: its own shards, not retries of them (as ``results`` counts)."""
        return sum(job.records for job in self.jobs if job.attempt == 0)

    @property
    def processed(self) -> int:
        return self._resolved()[0]

    @property
    def succeeded(self) -> int:
        """Records whose newest outcome succeeded, counting what retries (batch or on demand) fixed."""
        return self._resolved()[1]

    @property
    def failed(self) -> int:
        """Records whose newest outcome failed."""
        return self._resolved()[2]

    def _resolved(self) -> tuple[int, int, int]:
        """(processed, succeeded, failed) of the records by their newest attempt.

        A retry resends every record that had not succeeded when it was made, so the records
        outside the newest retry have succeeded, and the newest retry's counters say the rest.
        """
        latest = max((job.attempt for job in self.jobs), default=0)
        newest = [job for job in self.jobs if job.attempt == latest]
        processed = sum(job.processed or 0 for job in newest)
        succeeded = sum(job.succeeded or 0 for job in newest)
        failed = sum(job.failed or 0 for job in newest)
        settled = 0 if latest == 0 else max(0, self.records - sum(job.records for job in newest))
        return settled + processed, settled + succeeded, failed

    @property
    def finished(self) -> bool:
        """Every job is terminal and no shard is left to submit; for an orchestrated run, the stack
        says so too (its automatic retries, and a retry asked for, are done)."""
        stack_active = self.orchestration is not None and self.orchestration.get("state") == STACK_ACTIVE
        return all(job.finished for job in self.jobs) and not stack_active

    @property
    def unsuccessful(self) -> tuple[JobProgress, ...]:
        return tuple(job for job in self.jobs if job.finished and job.unsuccessful)

    @property
    def resolved(self) -> bool:
        """Every job ended and every record succeeded, retries included."""
        return self.finished and self.records > 0 and self.succeeded == self.records

    @property
    def succeeded_all(self) -> bool:
        return self.finished and not self.unsuccessful

    def counts(self) -> dict[str, int]:
        """Jobs by status (shards without a job by their state), e.g. ``{"InProgress": 2, "queued": 1}``."""
        counts: dict[str, int] = {}
        for job in self.jobs:
            counts[job.label] = counts.get(job.label, 0) + 1
        return counts

    @property
    def state(self) -> str:
        """The run as one word: the worst outcome once finished, else how far it got."""
        labels = {"Stopped" if job.state == CANCELLED else job.label for job in self.jobs}
        if self.resolved:
            return COMPLETED  # retries made up for the jobs that did not complete
        if self.finished:
            return next((s for s in _WORST_FIRST if s in labels), COMPLETED)
        if "Stopping" in labels:
            return "Stopping"
        if labels <= {PLANNED, QUEUED}:
            return "Queued"
        return "InProgress"

    def why_unsuccessful(self) -> list[str]:
        """One line per job that did not complete, with the service's message when there is one
        (AWS sets it for Failed jobs only) or what the status means."""
        lines = []
        for job in self.unsuccessful:
            outcome = "dequeued by cancel" if job.state == CANCELLED else str(job.status)
            message = job.message or _MEANING.get(str(job.status))
            reason = f": {message}" if message and job.state != CANCELLED else ""
            lines.append(f"shard {job.shard} ({job.job_name}): {outcome}{reason}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the ``--json`` schema of ``status`` (see ``batch_runner/cli/status.py``)."""
        return {
            "run": self.run,
            "model_id": self.model_id,
            "state": self.state,
            "finished": self.finished,
            "records": self.records,
            "processed": self.processed,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "counts": self.counts(),
            "checked_at": self.checked_at,
            "waiting_reason": self.waiting_reason,
            "warnings": list(self.warnings),
            "orchestration": dict(self.orchestration) if self.orchestration is not None else None,
            "jobs": [asdict(job) | {"label": job.label} for job in self.jobs],
        }


def refresh(run: RunContext, *, submit: bool = True, backoff: Backoff | None = None) -> RunStatus:
    """One pass: update every live job's status in the manifest, submit queued shards, snapshot."""
    if run.manifest.settings.get("orchestrated") and not run.writes_orchestrated_runs:
        return _read_only(run)
    backoff = backoff or Backoff()
    warnings: list[str] = []
    described = _read_jobs(run, backoff, warnings)
    waiting_reason = _submit_more(run, backoff, warnings) if submit else None
    return snapshot(run, described, waiting_reason=waiting_reason, warnings=warnings)


def _read_jobs(run: RunContext, backoff: Backoff, warnings: list[str]) -> dict[int, Mapping[str, Any]]:
    """GetModelInvocationJob for every batch job; the manifest is saved once if anything changed.

    The client is made on the first job to read: a finished run is shown without touching AWS."""
    described: dict[int, Mapping[str, Any]] = {}
    changed = False
    for shard in run.shards:
        if shard.state == SUBMITTED and not is_batch_job(shard) and shard.final_counts is not None:
            described[shard.index] = shard.final_counts  # processed on demand: counted when done
            continue
        if shard.state != SUBMITTED or not is_batch_job(shard):
            continue
        if shard.final_counts is not None and shard.job_status in TERMINAL_STATUSES:
            described[shard.index] = shard.final_counts
            continue
        try:
            job = with_backoff(
                partial(run.client("bedrock").get_model_invocation_job, jobIdentifier=shard.job_arn),
                backoff,
                f"reading job {shard.job_name}",
            )
        except NotNow as err:
            warnings.append(f"shard {shard.index}: status not refreshed ({err}); showing the last one seen")
            continue
        described[shard.index] = job
        changed |= _record(shard, job)
    if changed:
        run.save()
    return described


def _read_only(run: RunContext) -> RunStatus:
    """An orchestrated run: the stack is the single writer and keeps statuses current; show the
    manifest it last wrote (and keep a local copy), never write it from here."""
    current = read_remote(run.client("s3"), str(run.manifest.settings["input_bucket"]), run.name)
    if current is not None:
        run.manifest = current
        write_local(current, run.state_dir)
    return snapshot(run, {s.index: s.final_counts or {} for s in run.shards})


def record_listed(run: RunContext, listed: Mapping[str, Mapping[str, Any]]) -> bool:
    """Copy ListModelInvocationJobs summaries (by job name) into the run's submitted shards.

    The orchestration scheduler's refresh: one listing per run instead of one Get per job. Returns
    True when something changed; the caller saves."""
    changed = False
    for shard in run.shards:
        job = listed.get(shard.job_name)
        if shard.state == SUBMITTED and job is not None and job.get("jobArn") == shard.job_arn:
            changed |= _record(shard, job)
    return changed


def _submit_more(run: RunContext, backoff: Backoff, warnings: list[str]) -> str | None:
    """Upload what a stopped submit left, submit queued shards; returns why some still wait."""
    if any(s.state == PLANNED for s in run.shards):
        try:
            run.upload_pending()  # what `resume` does first
        except UsageError as err:
            warnings.append(str(err))
    if not any(s.state == QUEUED for s in run.shards):
        return None
    report = run.submit_queued(backoff=backoff)
    return report.waiting_reason if report.queued else None


def is_batch_job(shard: ShardState) -> bool:
    """A shard backed by a Bedrock batch job (on-demand shards carry a pseudo-ARN, nothing to poll)."""
    return bool(shard.job_arn and shard.job_arn.startswith("arn:"))


def snapshot(
    run: RunContext,
    described: Mapping[int, Mapping[str, Any]] | None = None,
    *,
    waiting_reason: str | None = None,
    warnings: list[str] | None = None,
) -> RunStatus:
    """A ``RunStatus`` from the manifest plus whatever Get responses are at hand (no AWS calls)."""
    now = datetime.now(UTC)
    described = described or {}
    jobs = tuple(
        _progress(shard, described.get(shard.index) or shard.final_counts or {}, now) for shard in run.shards
    )
    return RunStatus(
        run=run.name,
        model_id=run.model_id,
        jobs=jobs,
        checked_at=now.isoformat(timespec="seconds"),
        waiting_reason=waiting_reason,
        warnings=tuple(warnings or ()),
    )


def _record(shard: ShardState, job: Mapping[str, Any]) -> bool:
    """Copy status and message into the shard; True when something changed."""
    status = str(job.get("status") or shard.job_status or "")
    message = job.get("message") or None
    final_counts = None
    if status in TERMINAL_STATUSES:
        final_counts = {name: value for name in _COUNTERS if (value := _count(job, name)) is not None}
    if (status, message, final_counts) == (shard.job_status, shard.message, shard.final_counts):
        return False
    shard.job_status, shard.message, shard.final_counts = status, message, final_counts
    return True


def _progress(shard: ShardState, job: Mapping[str, Any], now: datetime) -> JobProgress:
    return JobProgress(
        shard=shard.index,
        job_name=shard.job_name,
        state=shard.state,
        status=shard.job_status if shard.state == SUBMITTED else None,
        records=shard.record_count,
        processed=_count(job, "processedRecordCount"),
        succeeded=_count(job, "successRecordCount"),
        failed=_count(job, "errorRecordCount"),
        job_arn=shard.job_arn,
        submitted_at=shard.submitted_at,
        age_seconds=_age(shard.submitted_at, now),
        message=shard.message,
        kind=shard.kind,
        attempt=shard.attempt,
    )


def _count(job: Mapping[str, Any], name: str) -> int | None:
    value = job.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _age(submitted_at: str | None, now: datetime) -> float | None:
    if not submitted_at:
        return None
    try:
        when = datetime.fromisoformat(submitted_at)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (now - when).total_seconds())
