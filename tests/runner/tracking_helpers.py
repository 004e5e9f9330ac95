"""Helpers for tests that drive runs through status/wait/results on the emulator's manual clock."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest

import batch_runner.cli.wait
from batch_runner.api import QuotaOverrides, submit
from batch_runner.cli import main
from batch_runner.jobs.pacing import Pacing
from batch_runner.local import Emulator
from batch_runner.runs import Run
from tests.cli.test_submit import HAIKU, write_csv

__all__ = ["HAIKU", "emulator_pacing", "submit_api", "submit_cli", "write_csv"]


def submit_cli(
    emulator: Emulator,
    dataset: Path,
    run: str,
    *,
    per_job: int = 100,
    concurrent: int = 20,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """Submit ``dataset`` through the CLI (emulator limits lowered); returns the endpoint arguments."""
    emulator.configure(min_records_per_job=1)
    endpoint = ["--endpoint-url", emulator.endpoint_url]
    code = main(
        [
            *["submit", str(dataset), "--model", HAIKU, "--prompt-text", "Answer: {{ text }}", "--run", run],
            *["--max-records-per-job", str(per_job), "--min-records", "1"],
            *["--max-concurrent-jobs", str(concurrent), "--yes", *extra, *endpoint],
        ]
    )
    assert code == 0
    return endpoint


def emulator_pacing(
    monkeypatch: pytest.MonkeyPatch,
    emulator: Emulator,
    before_sleep: Callable[[], None] | None = None,
) -> list[float]:
    """Make `wait` sleep on the emulator's clock (instantly); returns the sleeps it asked for."""
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if before_sleep is not None:
            before_sleep()
        emulator.advance(seconds)

    pacing = functools.partial(Pacing, sleep=sleep, clock=emulator.clock.now)
    monkeypatch.setattr(batch_runner.cli.wait, "Pacing", pacing)
    return sleeps


def submit_api(
    emulator: Emulator, state_dir: Path, run: str, rows: int, *, per_job: int = 100, concurrent: int = 20
) -> Run:
    """Submit ``rows`` generated records through the Python API; returns the Run."""
    emulator.configure(min_records_per_job=1)
    return submit(
        [{"id": f"id-{n}", "text": f"Message {n}"} for n in range(rows)],
        model=HAIKU,
        prompt="Answer: {{ text }}",
        id_column="id",
        run=run,
        quotas=QuotaOverrides(
            min_records_per_job=1, max_records_per_job=per_job, max_concurrent_jobs=concurrent
        ),
        endpoint_url=emulator.endpoint_url,
        region="us-east-1",
        state_dir=state_dir,
    )
