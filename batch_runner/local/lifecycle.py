"""How a job moves through its statuses as emulator time passes.

Submitted -> Validating -> Scheduled -> InProgress -> Completed | PartiallyCompleted | Failed;
Validating -> Failed; Scheduled -> Expired; any live status -> Stopping -> Stopped.
Progress is computed from the clock whenever jobs are looked at, so with a manual clock it is
fully deterministic: the same clock readings give the same statuses, counters and output.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from batch_runner.local.config import EmulatorConfig
from batch_runner.local.events import EventLog
from batch_runner.local.faults import FaultInjector
from batch_runner.local.jobs import Job
from batch_runner.local.preflight import JobValidationError, validate_job
from batch_runner.local.processing import process_records, write_outputs

FORCED_FAILURE = (
    "An internal error occurred while processing the batch inference job. Submit a new job. "
    "(injected by the Bedrock emulator)"
)
# ``message`` is set only for a Failed job: the API reference (GetModelInvocationJob) describes it as
# why the job failed, and no message on another status was observed (reference section 9b).


class Lifecycle:
    def __init__(self, config: Callable[[], EmulatorConfig], faults: FaultInjector, events: EventLog) -> None:
        self._config = config
        self._faults = faults
        self._events = events

    def start(self, job: Job, now: float) -> None:
        job.status_since = job.last_modified_time = now
        self._events.record(job, now)

    def advance(self, job: Job, now: float) -> None:
        """Apply every transition due by ``now``, each at the time it was due."""
        while not job.terminal:
            due = self._step(job, now)
            if not due:
                return

    def stop(self, job: Job, now: float) -> None:
        self.advance(job, now)
        if job.terminal or job.status == "Stopping":
            return
        if job.status == "InProgress":
            self._process_until(job, now)
        self._move(job, "Stopping", now)

    def next_change(self, job: Job) -> float | None:
        """Emulator time of the job's next status change (None when terminal)."""
        if job.terminal:
            return None
        config = self._config()
        if job.status == "Submitted":
            return job.status_since + config.submitted_seconds
        if job.status == "Validating":
            return job.status_since + config.validating_seconds
        if job.status == "Scheduled":
            return min(job.status_since + config.scheduled_seconds, job.expiration_time)
        if job.status == "Stopping":
            return job.status_since + config.stopping_seconds
        return self._in_progress_end(job)[0]

    # Transitions --------------------------------------------------------------------------

    def _step(self, job: Job, now: float) -> bool:
        due = self.next_change(job)
        if job.status == "InProgress":
            if due is None or due > now:
                self._process_until(job, now)
                return False
            _, outcome = self._in_progress_end(job)
            self._process_until(job, due)
            self._finish(job, outcome, due, None)
            return True
        if due is None or due > now:
            return False
        if job.status == "Submitted":
            self._move(job, "Validating", due)
        elif job.status == "Validating":
            self._validate(job, due)
        elif job.status == "Scheduled":
            self._leave_queue(job, due)
        elif job.status == "Stopping":
            self._finish(job, "Stopped", due, None)
        return True

    def _validate(self, job: Job, at: float) -> None:
        try:
            job.files = validate_job(job, self._config())
        except JobValidationError as err:
            self._finish(job, "Failed", at, str(err))
            return
        job.total_records = sum(len(f.records) for f in job.files)
        self._move(job, "Scheduled", at)

    def _leave_queue(self, job: Job, at: float) -> None:
        config = self._config()
        queue_end = job.status_since + config.scheduled_seconds
        if job.forced_outcome == "Expired" or job.expiration_time <= at < queue_end:
            # As observed on AWS (reference section 9b): lastModifiedTime is the expiry, endTime stays
            # at the end of validation, minutes after submitTime.
            self._finish(job, "Expired", at, None, end_time=job.status_since)
        elif job.forced_outcome == "Failed":
            self._move(job, "InProgress", at)
            self._finish(job, "Failed", at, FORCED_FAILURE)
        else:
            self._move(job, "InProgress", at)

    def _in_progress_end(self, job: Job) -> tuple[float, str]:
        """When processing ends, and with which status."""
        config = self._config()
        total = job.total_records or 0
        outcome = "PartiallyCompleted" if job.forced_outcome == "PartiallyCompleted" else "Completed"
        end = job.status_since + self._record_limit(job) / config.records_per_second
        if end > job.expiration_time:
            return job.expiration_time, "PartiallyCompleted"
        if total == 0:
            return job.status_since, outcome
        return end, outcome

    def _record_limit(self, job: Job) -> int:
        """How many records the job processes before it ends (all, unless forced partial)."""
        total = job.total_records or 0
        if job.forced_outcome == "PartiallyCompleted" and total:
            return min(total - 1, math.floor(total * self._config().partial_fraction))
        return total

    def _process_until(self, job: Job, at: float) -> None:
        rate = self._config().records_per_second
        elapsed = max(0.0, min(at, job.expiration_time) - job.status_since)
        # A small tolerance: epoch-sized floats lose digits when the start time is subtracted.
        count = min(self._record_limit(job), math.floor(elapsed * rate + 1e-4))
        if count > job.processed:
            process_records(job, count, self._faults)

    def _move(self, job: Job, status: str, at: float) -> None:
        job.status = status
        job.status_since = job.last_modified_time = at
        self._events.record(job, at)

    def _finish(
        self, job: Job, status: str, at: float, message: str | None, *, end_time: float | None = None
    ) -> None:
        job.message = message
        job.end_time = at if end_time is None else end_time
        if status != "Failed" and job.total_records is not None:
            try:
                write_outputs(job)
            except Exception as err:  # the output bucket vanished or moto refused the write
                status, job.message = "Failed", f"Amazon Bedrock could not write the job output: {err}"
        job.files, job.output_lines = [], {}  # written out; not needed once the job is over
        self._move(job, status, at)
