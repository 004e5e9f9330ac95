"""Waiting for a run: poll until every job is terminal, with backoff and a deadline.

Each poll is a ``tracking.refresh`` pass, so queued shards keep being submitted as slots free up.
The interval starts at the pacing's base (adaptive by default, see ``pacing``) and grows by half
while nothing changes, up to ``max_poll``; any change brings it back to the base. Interrupting
(Ctrl-C) only stops the waiting: the jobs run on in Bedrock and ``status``/``wait`` pick them up
again.
"""

from __future__ import annotations

from collections.abc import Callable

from batch_runner.exceptions import JobsUnsuccessfulError, UsageError, WaitTimeoutError
from batch_runner.jobs.pacing import GROWTH, Pacing
from batch_runner.jobs.run_context import RunContext
from batch_runner.jobs.run_results import unfinished_records
from batch_runner.jobs.run_state import ON_DEMAND, PLANNED
from batch_runner.jobs.submission import Backoff
from batch_runner.jobs.tracking import RunStatus, refresh


def wait_for_run(
    run: RunContext,
    pacing: Pacing | None = None,
    *,
    on_progress: Callable[[RunStatus], None] | None = None,
    backoff: Backoff | None = None,
    read: Callable[[], RunStatus] | None = None,
) -> RunStatus:
    """Poll until every job of ``run`` is terminal; returns the final status.

    Each poll is ``read()`` (default: ``tracking.refresh``; ``Run.status`` adds the stack's view of
    an orchestrated run, which is finished only when the stack says so).

    Raises ``WaitTimeoutError`` at the deadline. Unsuccessful jobs are not an error here: the
    returned status says so (``check_succeeded`` raises ``JobsUnsuccessfulError`` when records remain
    failed or missing).
    """
    pacing = pacing or Pacing()
    if any(shard.state == PLANNED for shard in run.shards):
        # Shards that cannot be uploaded from here would keep the wait going forever: fail now.
        run.upload_pending()
    started = pacing.clock()
    deadline = None if pacing.timeout is None else started + pacing.timeout
    interval = 0.0
    previous: tuple[object, ...] | None = None
    while True:
        status = read() if read is not None else refresh(run, backoff=backoff)
        if on_progress is not None:
            on_progress(status)
        if status.finished:
            return status
        _check_waitable(status)
        fingerprint = (status.processed, tuple(sorted(status.counts().items())))
        base = pacing.base_interval(_running_seconds(status, pacing.clock() - started))
        grown = min(max(interval * GROWTH, base), pacing.max_poll)
        interval = base if fingerprint != previous else grown
        previous = fingerprint
        if deadline is not None:
            left = deadline - pacing.clock()
            if left <= 0:
                raise WaitTimeoutError(
                    f"run {status.run} not finished after {pacing.timeout:g}s: {describe(status)};"
                    f" the jobs keep running, wait again with `wait {status.run}`"
                )
            pacing.sleep(min(interval, left))
        else:
            pacing.sleep(interval)


def _running_seconds(status: RunStatus, waited: float) -> float:
    """How long the run has been going: its oldest unfinished job's age, or the wait so far."""
    ages = [job.age_seconds for job in status.jobs if not job.finished and job.age_seconds is not None]
    return max([waited, *ages])


def _check_waitable(status: RunStatus) -> None:
    """Only ``resume`` or ``retry`` moves records sent on demand: when nothing else is left, waiting
    cannot end."""
    left = [job for job in status.jobs if not job.finished]
    if left and all(job.kind == ON_DEMAND for job in left):
        raise UsageError(
            f"run {status.run}: only records sent on demand are unfinished (shard "
            f"{', '.join(str(job.shard) for job in left)}); finish them with `resume {status.run}`"
        )


def check_succeeded(run: RunContext, status: RunStatus) -> RunStatus:
    """``status`` when every record of the finished run succeeded, in its first job or a retry;
    else ``JobsUnsuccessfulError`` (exit code 3) with the counts and each job that did not complete.

    When every job Completed with every record a success, the counters say so; otherwise the
    jobs' outputs are joined (as ``results`` does), since a retry may have made up for a job.
    """
    if status.succeeded_all and status.succeeded == status.records:
        return status
    failed, missing = unfinished_records(run)
    if failed + missing == 0:
        return status
    jobs = "; ".join(status.why_unsuccessful())
    raise JobsUnsuccessfulError(
        f"run {status.run}: every job ended, but {failed} record(s) failed and {missing} are missing"
        + (f" ({jobs})" if jobs else "")
        + f"; `results {status.run}` lists them, `retry {status.run}` sends them again"
    )


def describe(status: RunStatus) -> str:
    counts = ", ".join(f"{n} {label}" for label, n in sorted(status.counts().items()))
    return f"{status.processed} of {status.records} records processed; jobs: {counts}"
