"""`status`, and the one-line error every run command gives for a run that does not exist."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from batch_runner.cli import main
from batch_runner.local import Emulator
from tests.cli.run_schemas import STATUS
from tests.runner.tracking_helpers import submit_cli, write_csv


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_status_lines_then_json(
    emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = submit_cli(emulator, write_csv(workdir / "t.csv", 250), "cli-status", concurrent=1)
    emulator.run_until_idle()
    capsys.readouterr()

    assert main(["status", "cli-status", *endpoint]) == 0  # also submits the next queued shard
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(
        "Run cli-status (anthropic.claude-3-haiku-20240307-v1:0): InProgress, 100/250 records"
    )
    assert out[2].split()[2:5] == ["Completed", "100/100", "100"]
    assert out[3].split()[2:4] == ["Submitted", "-/100"]
    assert out[4].split()[1:] == ["-", "queued", "-/50", "-", "-", "-"]
    assert out[5] == "  queued shards wait: 1 of 1 allowed jobs for this model are active"

    assert main(["status", "cli-status", "--json", *endpoint]) == 0
    status = json.loads(capsys.readouterr().out)
    jsonschema.validate(status, STATUS)
    assert status["counts"] == {"Completed": 1, "Submitted": 1, "queued": 1}
    assert (status["records"], status["processed"], status["finished"]) == (250, 100, False)


@pytest.mark.parametrize(
    "argv",
    [["status"], ["wait"], ["results", "--out", "x.csv"], ["cancel"], ["cost"], ["resume"]],
)
def test_an_unknown_run_is_one_line_naming_where_it_looked(
    emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    command, *options = argv
    assert main([command, "no-such-run", *options, "--endpoint-url", emulator.endpoint_url]) == 2
    err = capsys.readouterr().err
    bucket = emulator.stack_outputs["InputBucketName"]
    assert err == (
        f"error: no run 'no-such-run' in {Path('.batch-runner/runs/no-such-run/manifest.json')} or "
        f"s3://{bucket}/runs/no-such-run/manifest.json\n"
    )
