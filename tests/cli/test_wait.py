"""`wait`: exit codes 0/3/124/130, progress as plain lines in a log and as a bar on a terminal."""

from __future__ import annotations

import io
from itertools import pairwise
from pathlib import Path

import pytest

from batch_runner.cli import main
from batch_runner.jobs.tracking import JobProgress, RunStatus
from batch_runner.local import Emulator
from batch_runner.progress import ProgressDisplay
from tests.runner.tracking_helpers import emulator_pacing, submit_cli, write_csv


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_wait_prints_plain_progress_lines_and_exits_0(
    emulator: Emulator, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = submit_cli(emulator, write_csv(workdir / "t.csv", 300), "cli-wait", concurrent=2)
    capsys.readouterr()
    sleeps = emulator_pacing(monkeypatch, emulator)
    assert main(["wait", "cli-wait", "--poll", "0.25", *endpoint]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("0/300 records (0%) | jobs: 2 Submitted, 1 queued | ")
    assert err[-1].startswith("300/300 records (100%) | jobs: 3 Completed | ")
    assert all("\r" not in line for line in err)
    # A line per change, not per poll: polls that saw nothing new printed nothing.
    changes = [line.split(" | ")[:2] for line in err]
    assert len(err) < len(sleeps) and all(a != b for a, b in pairwise(changes))
    assert sleeps[0] == 0.25 and max(sleeps) < 1


def test_wait_times_out_with_124_and_the_jobs_keep_running(
    emulator: Emulator, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = submit_cli(emulator, write_csv(workdir / "t.csv", 100), "cli-timeout")
    capsys.readouterr()
    sleeps = emulator_pacing(monkeypatch, emulator)
    assert main(["wait", "cli-timeout", "--poll", "1", "--timeout", "2.5", *endpoint]) == 124
    assert sum(sleeps) == pytest.approx(2.5)
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(
        "error: run cli-timeout not finished after 2.5s: 0 of 100 records processed; jobs: 1 "
    )
    assert err.endswith("the jobs keep running, wait again with `wait cli-timeout`")
    assert [job.status for job in emulator.jobs()] != ["Stopped"]


def test_ctrl_c_stops_the_waiting_not_the_jobs(
    emulator: Emulator, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = submit_cli(emulator, write_csv(workdir / "t.csv", 100), "cli-interrupt")

    def interrupt() -> None:
        raise KeyboardInterrupt

    emulator_pacing(monkeypatch, emulator, before_sleep=interrupt)
    assert main(["wait", "cli-interrupt", *endpoint]) == 130
    assert "stopped waiting; the jobs keep running: `status cli-interrupt`" in capsys.readouterr().err
    emulator.run_until_idle()
    assert [job.status for job in emulator.jobs()] == ["Completed"]


def test_wait_exits_3_when_a_job_ended_with_records_missing(
    emulator: Emulator, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.configure(job_outcome="Expired")
    endpoint = submit_cli(emulator, write_csv(workdir / "t.csv", 100), "cli-expired")
    emulator_pacing(monkeypatch, emulator)
    assert main(["wait", "cli-expired", "--poll", "1", *endpoint]) == 3
    captured = capsys.readouterr()
    assert "Run cli-expired (anthropic.claude-3-haiku-20240307-v1:0): Expired" in captured.out
    assert captured.err.splitlines()[-1].startswith(
        "error: run cli-expired: every job ended, but 0 record(s) failed and 100 are missing "
        "(shard 0 (dev.cli-expired-s00000): Expired: "
    )


@pytest.mark.parametrize("option", [["--poll", "0"], ["--timeout", "-1"]])
def test_bad_pacing_is_a_usage_error(
    workdir: Path, capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    assert main(["wait", "any-run", *option]) == 2
    assert capsys.readouterr().err.startswith("error: --poll must be positive and --timeout not negative")


def test_a_terminal_gets_a_redrawn_bar_with_an_eta() -> None:
    def status(processed: int) -> RunStatus:
        job = JobProgress(
            0, "r-s00000", "submitted", "InProgress", 100, processed, processed, 0, None, None, None, None
        )
        return RunStatus("r", "m", (job,), "2026-01-01T00:00:00+00:00")

    now = [0.0]
    screen = io.StringIO()
    display = ProgressDisplay(screen, tty=True, clock=lambda: now[0])
    display.update(status(0))
    now[0] = 60.0
    display.update(status(25))
    display.close()
    frames = screen.getvalue().split("\r")[1:]
    assert frames[0].startswith(
        "[........................] 0/100 records (0%) | jobs: 1 InProgress | 0m00s elapsed"
    )
    assert frames[1] == (
        "[######..................] 25/100 records (25%) | jobs: 1 InProgress | 1m00s elapsed | ETA 3m00s\n"
    )
