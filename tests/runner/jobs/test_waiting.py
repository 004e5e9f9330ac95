"""Waiting: poll intervals back off while nothing changes, the deadline is exact, and the end
says which jobs did not complete and why."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import batch_runner.jobs.waiting
from batch_runner.exceptions import JobsUnsuccessfulError, UsageError, WaitTimeoutError
from batch_runner.jobs.pacing import Pacing
from batch_runner.jobs.tracking import JobProgress, RunStatus
from batch_runner.jobs.waiting import check_succeeded, wait_for_run
from batch_runner.local import Emulator
from batch_runner.runs import Run
from tests.runner.tracking_helpers import submit_api


def _status(*labels: str, processed: int = 0, message: str | None = None) -> RunStatus:
    jobs = tuple(
        JobProgress(
            i, f"w-s{i:05d}", "submitted", label, 10, processed, processed, 0, None, None, None, message
        )
        for i, label in enumerate(labels)
    )
    return RunStatus("w", "m", jobs, "2026-01-01T00:00:00+00:00")


NO_RUN = SimpleNamespace(shards=[])  # refresh is scripted: the run is only checked for planned shards


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _script(monkeypatch: pytest.MonkeyPatch, statuses: list[RunStatus]) -> None:
    answers: Iterator[RunStatus] = iter(statuses)
    monkeypatch.setattr(batch_runner.jobs.waiting, "refresh", lambda run, **kwargs: next(answers))


def test_the_interval_grows_while_nothing_changes_and_resets_on_progress(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quiet = _status("InProgress", processed=1)
    moved = _status("InProgress", processed=5)
    _script(monkeypatch, [quiet, quiet, quiet, quiet, quiet, moved, moved, _status("Completed")])
    clock = FakeTime()
    seen: list[RunStatus] = []
    pacing = Pacing(poll=10, max_poll=30, sleep=clock.sleep, clock=lambda: clock.now)
    final = wait_for_run(NO_RUN, pacing, on_progress=seen.append)  # type: ignore[arg-type]
    assert clock.sleeps == [10, 15, 22.5, 30, 30, 10, 15]
    assert final.finished and len(seen) == 8


def test_by_default_the_interval_adapts_to_how_long_the_run_has_been_going(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def going(seconds: float, processed: int) -> RunStatus:
        status = _status("InProgress", processed=processed)
        return replace(status, jobs=tuple(replace(job, age_seconds=seconds) for job in status.jobs))

    # A fresh run is polled within seconds; one going for 20 minutes every 2 minutes; for hours, 5.
    fresh, older, day_old = going(5, 1), going(1200, 2), going(86_400, 3)
    _script(monkeypatch, [fresh, fresh, older, day_old, _status("Completed")])
    clock = FakeTime()
    wait_for_run(NO_RUN, Pacing(sleep=clock.sleep, clock=lambda: clock.now))  # type: ignore[arg-type]
    assert clock.sleeps == [2, 3, 120, 300]


def test_the_deadline_ends_the_wait_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    _script(monkeypatch, [_status("Scheduled")] * 10)
    clock = FakeTime()
    pacing = Pacing(poll=10, max_poll=10, timeout=25, sleep=clock.sleep, clock=lambda: clock.now)
    with pytest.raises(
        WaitTimeoutError, match=r"not finished after 25s: 0 of 10 records processed; jobs: 1 Scheduled"
    ):
        wait_for_run(NO_RUN, pacing)  # type: ignore[arg-type]
    assert clock.sleeps == [10, 10, 5]


def test_records_left_failed_or_missing_are_counted_with_each_job_and_its_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(batch_runner.jobs.waiting, "unfinished_records", lambda run: (0, 10))
    status = _status("Completed", "Failed", processed=10, message="the role cannot read the input")
    with pytest.raises(JobsUnsuccessfulError) as excinfo:
        check_succeeded(NO_RUN, status)  # type: ignore[arg-type]
    assert str(excinfo.value) == (
        "run w: every job ended, but 0 record(s) failed and 10 are missing (shard 1 (w-s00001): Failed: "
        "the role cannot read the input); `results w` lists them, `retry w` sends them again"
    )
    assert excinfo.value.exit_code == 3


def test_a_run_whose_retries_made_up_for_its_failures_succeeded(monkeypatch: pytest.MonkeyPatch) -> None:
    joined: list[object] = []
    monkeypatch.setattr(
        batch_runner.jobs.waiting, "unfinished_records", lambda run: joined.append(run) or (0, 0)
    )
    retried = _status("PartiallyCompleted", "Completed", processed=10)
    assert check_succeeded(NO_RUN, retried) is retried  # type: ignore[arg-type]
    assert joined == [NO_RUN]
    every_record = _status("Completed", "Completed", processed=10)
    assert check_succeeded(NO_RUN, every_record) is every_record  # type: ignore[arg-type]
    assert joined == [NO_RUN]  # the counters said it all: no outputs read


def test_run_wait_on_the_emulator(emulator: Emulator, tmp_path: Path) -> None:
    emulator.configure(job_outcome="Failed")
    run = submit_api(emulator, tmp_path, "wait-failed", 100)
    emulator.run_until_idle()
    with pytest.raises(JobsUnsuccessfulError, match=r"shard 0 \(dev\.wait-failed-s00000\): Failed: \S"):
        run.wait(timeout=60, poll=1)

    emulator.configure(job_outcome=None)
    done = submit_api(emulator, tmp_path, "wait-done", 100)
    emulator.run_until_idle()
    seen: list[RunStatus] = []
    status: Any = done.wait(timeout=60, poll=1, on_progress=seen.append)
    assert (status.state, status.processed) == ("Completed", 100) and seen == [status]


def test_shards_that_cannot_be_uploaded_from_here_end_the_wait_at_once(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Run, "resume", lambda self, **kwargs: None)  # submit died before uploading
    run = submit_api(emulator, tmp_path, "wait-not-uploaded", 100)
    monkeypatch.undo()
    Path(run.shards[0].local_path).unlink()
    with pytest.raises(UsageError, match="file\\(s\\) to upload are not on this machine"):
        wait_for_run(run, Pacing(poll=1, timeout=10, sleep=lambda seconds: None))


def test_unfinished_on_demand_records_alone_cannot_be_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    running = _status("Completed", "InProgress")
    jobs = (
        running.jobs[0],
        replace(running.jobs[1], job_arn="on-demand:w/on-demand-00001", kind="on-demand"),
    )
    _script(monkeypatch, [replace(running, jobs=jobs)])
    with pytest.raises(
        UsageError, match=r"only records sent on demand are unfinished \(shard 1\); finish them with `resume"
    ):
        wait_for_run(NO_RUN, Pacing(poll=1, sleep=lambda seconds: None))  # type: ignore[arg-type]


def test_records_are_counted_by_their_newest_attempt() -> None:
    first = JobProgress(
        0, "w-s00000", "submitted", "PartiallyCompleted", 120, 110, 100, 10, None, None, None, None
    )
    # The retry of the 20 records left: 15 in a batch job, 5 on demand, one attempt.
    batch = replace(
        first, shard=1, status="Completed", records=15, processed=15, succeeded=14, failed=1, attempt=1
    )
    on_demand = replace(batch, shard=2, records=5, processed=5, succeeded=5, failed=0, kind="on-demand")
    status = RunStatus("w", "m", (first, batch, on_demand), "2026-01-01T00:00:00+00:00")
    assert (status.records, status.processed, status.succeeded, status.failed) == (120, 120, 119, 1)
    assert not status.resolved and status.state == "PartiallyCompleted"

    fixed = replace(status, jobs=(first, replace(batch, succeeded=15, failed=0), on_demand))
    assert (fixed.succeeded, fixed.failed, fixed.resolved, fixed.state) == (120, 0, True, "Completed")
