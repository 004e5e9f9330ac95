"""`cancel` from the command line: text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from batch_runner.cli import main
from batch_runner.local import Emulator
from tests.cli.run_schemas import CANCEL
from tests.runner.tracking_helpers import submit_cli, write_csv


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cancel_then_status_shows_stopped(
    emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = submit_cli(emulator, write_csv(workdir / "t.csv", 200), "cli-cancel", concurrent=1)
    capsys.readouterr()
    assert main(["cancel", "cli-cancel", *endpoint]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "stop requested for 1 job(s); 1 queued shard(s) dequeued"
    assert out[1].startswith("Run cli-cancel (anthropic.claude-3-haiku-20240307-v1:0): Stopping")

    emulator.run_until_idle()
    assert main(["cancel", "cli-cancel", "--json", *endpoint]) == 0
    report = json.loads(capsys.readouterr().out)
    jsonschema.validate(report, CANCEL)
    assert (report["stopped"], report["dequeued"], report["status"]["state"]) == ([], [], "Stopped")
    assert report["status"]["counts"] == {"Stopped": 1, "cancelled": 1}
