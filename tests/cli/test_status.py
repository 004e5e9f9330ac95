"""`status`, and the one-line error every run command gives for a run that does not exist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from batch_runner.cli import main
from batch_runner.local import Emulator
from tests.cli.run_schemas import STATUS
from tests.runner.tracking_helpers import HAIKU, submit_cli, write_csv


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


def test_a_run_whose_bucket_and_job_vanished_is_named_in_one_line(
    emulator: Emulator, cli: Any, tmp_path: Path
) -> None:
    # What a restarted local emulator leaves: the run's manifest points at buckets and jobs it forgot.
    emulator.configure(min_records_per_job=1)
    dataset = str(write_csv(tmp_path / "gone.csv", 5))
    argv = ["submit", dataset, "--model", HAIKU, "--prompt-text", "{{ text }}", "--run", "gone", "--yes"]
    assert cli(*argv, "--min-records", "1")[0] == 0
    emulator.reset()  # every job forgotten
    manifest_path = tmp_path / "state" / "runs" / "gone" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["settings"]["output_bucket"] = "vanished-output-bucket"
    manifest_path.write_text(json.dumps(manifest))

    for command in (["status", "gone"], ["results", "gone", "--out", str(tmp_path / "out.csv")]):
        code, _, err = cli(*command)
        assert code == 1
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith("error: run gone points at AWS resources that no longer exist (")
        assert err.endswith(
            "a local emulator forgets its buckets and jobs when it restarts: submit the dataset again as a "
            "new run, and remove the run's state under .batch-runner/runs/gone\n"
        )
