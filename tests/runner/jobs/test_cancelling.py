"""Cancelling: live jobs stop, queued shards are never submitted, and the run ends Stopped."""

from __future__ import annotations

from pathlib import Path

from batch_runner.jobs.run_state import read_remote
from batch_runner.jobs.tracking import CANCELLED
from batch_runner.local import Emulator
from tests.runner.tracking_helpers import submit_api


def test_cancel_stops_jobs_and_dequeues_the_rest(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_api(emulator, tmp_path, "cancel-me", 400, concurrent=2)
    emulator.advance(3.5)  # Submitted -> Validating -> Scheduled -> InProgress, some records done

    report = run.cancel()
    assert (report.stopped, report.dequeued, report.not_stopped) == ([0, 1], [2, 3], {})
    assert report.status is not None and report.status.state == "Stopping"
    stored = read_remote(emulator.client("s3"), emulator.stack_outputs["InputBucketName"], "cancel-me")
    assert stored is not None and [s.state for s in stored.shards[2:]] == [CANCELLED, CANCELLED]

    emulator.run_until_idle()
    status = run.status()  # would submit queued shards: cancelled ones are not queued
    assert status.state == "Stopped" and status.finished
    assert sorted(job.name for job in emulator.jobs()) == ["dev.cancel-me-s00000", "dev.cancel-me-s00001"]
    assert {job.status for job in emulator.jobs()} == {"Stopped"}
    assert status.why_unsuccessful()[2:] == [
        "shard 2 (dev.cancel-me-s00002): dequeued by cancel",
        "shard 3 (dev.cancel-me-s00003): dequeued by cancel",
    ]

    again = run.cancel()  # harmless: nothing left to stop or dequeue
    assert (again.stopped, again.dequeued) == ([], [])


def test_cancel_after_the_jobs_ended_stops_nothing(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_api(emulator, tmp_path, "cancel-late", 100)
    emulator.run_until_idle()
    report = run.cancel()
    assert (report.stopped, report.dequeued) == ([], [])
    assert report.status is not None and report.status.state == "Completed"
