"""The deployed stack in the emulator drives a run to the end: the laptop uploads, registers and
leaves; EventBridge wakes the in-process scheduler Lambda; `status` on the laptop only reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch_runner.local import Emulator
from batch_runner.orchestration.registry import FINISHED, Registry
from batch_runner.orchestration.requests import choose_mode, request_cancel
from batch_runner.runs import Run
from tests.cli.test_submit import HAIKU
from tests.orchestration.helpers import submit_orchestrated


def _registry(emulator: Emulator) -> Registry:
    return Registry(emulator.client("dynamodb"), emulator.stack_outputs["RunRegistryTableName"])


def test_the_stack_drains_a_run_with_the_laptop_gone(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_orchestrated(emulator, tmp_path, "e2e-drain", 3, quota=1)
    assert run.manifest.settings["orchestrated"] and [s.state for s in run.shards] == ["queued"] * 3
    emulator.settle()
    entry = _registry(emulator).get("e2e-drain")
    assert entry is not None and (entry.state, entry.outcome) == (FINISHED, "Completed")
    assert len(emulator.jobs()) == 3 and not emulator.deliveries.failures
    # A new machine, read-only: the manifest the stack wrote.
    status = Run.load("e2e-drain", state_dir=tmp_path / "other", endpoint_url=emulator.endpoint_url).status()
    assert (status.state, status.succeeded, status.records) == ("Completed", 300, 300)


def test_a_lost_event_is_made_up_by_the_sweep(emulator: Emulator, tmp_path: Path) -> None:
    emulator.deliveries.lose_next(1)  # the "Run Submitted" event
    run = submit_orchestrated(emulator, tmp_path, "e2e-lost", 1, quota=2)
    emulator.settle()
    assert emulator.jobs() == []
    assert emulator.fire_schedules() == 1
    emulator.settle()
    assert run.status().state == "Completed"


def test_cancel_is_a_request_the_stack_carries_out(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_orchestrated(emulator, tmp_path, "e2e-cancel", 3, quota=1)
    emulator.deliveries.join()
    request_cancel(run)
    emulator.settle()
    status = run.status()
    assert status.state == "Stopped" and len(emulator.jobs()) == 1
    assert [job.state for job in status.jobs] == ["submitted", "cancelled", "cancelled"]


def test_the_default_follows_the_stack_unless_told() -> None:
    assert choose_mode(None, "registry", environ={}) is True
    assert choose_mode(None, None, environ={}) is False
    assert choose_mode(None, "registry", environ={"BATCH_RUNNER_ORCHESTRATED": "false"}) is False
    assert choose_mode(False, "registry", environ={}) is False
    with pytest.raises(Exception, match="does not orchestrate runs"):
        choose_mode(True, None, environ={})


def test_a_partially_completed_job_is_retried_and_every_row_collected(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.configure(job_outcome="PartiallyCompleted")
    run = submit_orchestrated(emulator, tmp_path, "e2e-retry", 2, quota=2)
    emulator.deliveries.join()  # the scheduler created both jobs, bound to end partially
    emulator.configure(job_outcome=None)
    emulator.settle()
    entry = _registry(emulator).get("e2e-retry")
    assert entry is not None and (entry.state, entry.retries_done) == (FINISHED, 1)
    run.status()  # read-only: the manifest the stack wrote, retry shards included
    assert {s.kind for s in run.shards} == {"batch", "retry"}
    rows = list(run.results())
    assert len(rows) == 200 and {row["status"] for row in rows} == {"succeeded"}


def test_the_cli_hands_the_run_over_and_asks_for_a_retry(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from batch_runner.cli import main
    from tests.cli.test_submit import write_csv

    monkeypatch.chdir(tmp_path)
    emulator.configure(min_records_per_job=1)
    dataset = write_csv(tmp_path / "rows.csv", 150)
    endpoint = ["--endpoint-url", emulator.endpoint_url, "--state-dir", str(tmp_path / "state")]
    args = [
        "submit",
        str(dataset),
        "--model",
        HAIKU,
        "--prompt-text",
        "Answer: {{ text }}",
        "--run",
        "e2e-cli",
    ]
    assert (
        main(
            [
                *args,
                "--max-records-per-job",
                "100",
                "--min-records",
                "1",
                "--orchestrated",
                "--yes",
                *endpoint,
            ]
        )
        == 0
    )
    handed_over = capsys.readouterr().out
    assert "this machine may go away" in handed_over
    assert "queued: 2; the stack's scheduler submits them" in handed_over
    assert "`status`/`wait` submit them" not in handed_over
    emulator.settle()
    assert main(["status", "e2e-cli", *endpoint]) == 0
    assert "Completed" in capsys.readouterr().out
    assert main(["retry", "e2e-cli", "--yes", *endpoint]) == 0
    assert "retry requested" in capsys.readouterr().out
    emulator.settle()
    entry = _registry(emulator).get("e2e-cli")
    assert entry is not None and (entry.retry_requested, entry.state) == (0, FINISHED)
