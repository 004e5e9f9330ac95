"""`runs`: the runs in the input bucket, as a table and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from batch_runner.cli import main
from batch_runner.local import Emulator
from tests.cli.run_schemas import RUNS
from tests.runner.tracking_helpers import submit_cli, write_csv


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_runs_lists_what_was_submitted(
    emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = submit_cli(emulator, write_csv(workdir / "t.csv", 150), "cli-runs-listed")
    capsys.readouterr()

    assert main(["runs", "--json", *endpoint]) == 0
    listed = json.loads(capsys.readouterr().out)
    jsonschema.validate(listed, RUNS)
    (mine,) = [item for item in listed if item["run"] == "cli-runs-listed"]
    assert (mine["state"], mine["records"], mine["shards"], mine["location"]) == (
        "InProgress",
        150,
        2,
        "s3+local",
    )

    assert main(["runs", *endpoint]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "run",
        "created",
        "state",
        "stack",
        "records",
        "ok",
        "failed",
        "est.",
        "batch",
        "$",
        "jobs",
    ]
    (row,) = [line for line in table if line.startswith("cli-runs-listed ")]
    assert row.split()[2:7] == ["InProgress", "-", "150", "0", "0"] and row.endswith("2 Submitted")
