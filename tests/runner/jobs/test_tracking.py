"""Refreshing a run's status: the manifest follows the jobs, the queue drains as slots free up,
and a flaky or silent API never loses what is known."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batch_runner.jobs.run_state import read_remote
from batch_runner.jobs.submission import Backoff
from batch_runner.jobs.tracking import CANCELLED, JobProgress, RunStatus, refresh
from batch_runner.local import Emulator
from batch_runner.runs import Run
from tests.runner.tracking_helpers import submit_api

NO_WAIT = Backoff(0.0, 0.0, deadline_seconds=0.0, sleep=lambda seconds: None)


def test_refresh_follows_the_jobs_and_submits_the_queue(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_api(emulator, tmp_path, "track-queue", 250, concurrent=1)
    first = refresh(run)
    assert first.counts() == {"Submitted": 1, "queued": 2}
    assert first.waiting_reason == "1 of 1 allowed jobs for this model are active"
    assert (first.state, first.finished, first.records) == ("InProgress", False, 250)

    emulator.run_until_idle()
    second = refresh(run)
    assert second.counts() == {"Completed": 1, "Submitted": 1, "queued": 1}
    done = second.jobs[0]
    assert (done.processed, done.succeeded, done.failed) == (100, 100, 0)
    assert done.age_seconds is not None and done.job_arn == run.shards[0].job_arn
    stored = read_remote(emulator.client("s3"), emulator.stack_outputs["InputBucketName"], "track-queue")
    assert stored is not None and [s.job_status for s in stored.shards[:2]] == ["Completed", "Submitted"]

    for _ in range(2):
        emulator.run_until_idle()
        final = refresh(run)
    assert (final.state, final.finished, final.processed, final.succeeded) == ("Completed", True, 250, 250)
    assert final.to_dict()["counts"] == {"Completed": 3}


def test_a_job_the_api_will_not_describe_keeps_its_last_status(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_api(emulator, tmp_path, "track-throttled", 100)

    class Throttled:
        def get_model_invocation_job(self, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Get")

    run._clients["bedrock"] = Throttled()
    status = refresh(run, backoff=NO_WAIT)
    assert status.counts() == {"Submitted": 1}
    assert status.warnings == (
        "shard 0: status not refreshed (ThrottlingException: slow down); showing the last one seen",
    )


def test_on_demand_shards_are_never_polled(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_api(emulator, tmp_path, "track-on-demand", 100)
    emulator.run_until_idle()
    shard = run.shards[0]
    shard.job_arn, shard.job_status = "on-demand:track-on-demand/od1", "Completed"

    class NoCalls:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"called {name}")

    run._clients["bedrock"] = NoCalls()
    assert refresh(run).state == "Completed"


def _job(state: str = "submitted", status: str | None = None) -> JobProgress:
    return JobProgress(0, "r-s00000", state, status, 10, None, None, None, None, None, None, None)


@pytest.mark.parametrize(
    ("jobs", "state", "finished"),
    [
        ([_job("queued")], "Queued", False),
        ([_job(status="InProgress"), _job("queued")], "InProgress", False),
        ([_job(status="Stopping"), _job(status="Completed")], "Stopping", False),
        ([_job(status="Completed")] * 2, "Completed", True),
        ([_job(status="Completed"), _job(status="PartiallyCompleted")], "PartiallyCompleted", True),
        ([_job(status="Expired"), _job(status="PartiallyCompleted")], "Expired", True),
        ([_job(status="Failed"), _job(status="Expired")], "Failed", True),
        ([_job(status="Completed"), _job(CANCELLED)], "Stopped", True),
        ([_job(status="Failed"), _job(status="Stopped")], "Stopped", True),
    ],
)
def test_the_run_state_is_the_worst_outcome_once_finished(
    jobs: list[JobProgress], state: str, finished: bool
) -> None:
    jobs = [replace(job, shard=i) for i, job in enumerate(jobs)]
    status = RunStatus("r", "m", tuple(jobs), "2026-01-01T00:00:00+00:00")
    assert (status.state, status.finished) == (state, finished)
    assert status.succeeded_all == (state == "Completed")


def test_status_uploads_and_submits_what_a_stopped_submit_left(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Run, "resume", lambda self, **kwargs: None)  # submit dies after the manifest
    run = submit_api(emulator, tmp_path, "track-planned", 150)
    elsewhere = submit_api(emulator, tmp_path / "elsewhere", "track-planned-elsewhere", 100)
    monkeypatch.undo()
    assert [s.state for s in run.shards] == ["planned", "planned"] and emulator.jobs() == []

    status = refresh(run)
    assert status.counts() == {"Submitted": 2} and status.warnings == ()

    Path(elsewhere.shards[0].local_path).unlink()  # as on another machine: not uploaded, not here
    status = refresh(elsewhere)
    assert status.counts() == {"planned": 1} and not status.finished
    assert "file(s) to upload are not on this machine" in status.warnings[0]


def test_finished_jobs_are_not_asked_again_but_keep_their_counts(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_api(emulator, tmp_path, "track-final", 250, concurrent=3)
    emulator.run_until_idle()
    calls: list[str] = []

    def count_gets(each: Run) -> Run:
        each.client("bedrock").meta.events.register(
            "before-call.bedrock.GetModelInvocationJob", lambda **kwargs: calls.append("get")
        )
        return each

    first = refresh(count_gets(run))
    assert first.finished and [j.succeeded for j in first.jobs] == [100, 100, 50]
    assert len(calls) == 3
    calls.clear()
    elsewhere = count_gets(
        Run.load("track-final", state_dir=run.state_dir, endpoint_url=emulator.endpoint_url)
    )

    again = refresh(run)
    reloaded = refresh(elsewhere)

    assert calls == []
    for snapshot in (again, reloaded):
        assert [(j.processed, j.succeeded, j.failed) for j in snapshot.jobs] == [
            (100, 100, 0),
            (100, 100, 0),
            (50, 50, 0),
        ]
