"""The whole journey a user takes, through the CLI on the emulator: submit -> wait -> results,
every record accounted for; also with the real conversation dataset, and from a fresh machine."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from batch_runner.cli import main
from batch_runner.local import Emulator
from batch_runner.runs import Run
from tests.conftest import FAKE_ENV
from tests.runner.tracking_helpers import emulator_pacing, submit_api, submit_cli, write_csv

ROOT = Path(__file__).resolve().parents[2]
CONVERSATIONS = ROOT / "tests" / "data" / "counseling_conversations.csv"  # 400 real rows


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_submit_wait_results_cost_and_a_fresh_machine(
    emulator: Emulator, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.configure(record_error_rate=0.1)
    endpoint = submit_cli(
        emulator,
        write_csv(workdir / "tickets.csv", 350),
        "journey",
        concurrent=2,
        extra=("--id-column", "id"),
    )
    capsys.readouterr()
    emulator_pacing(monkeypatch, emulator)

    assert main(["wait", "journey", "--poll", "5", *endpoint]) == 3  # every job ended, records failed
    assert sorted(job.name for job in emulator.jobs()) == [f"dev.journey-s{i:05d}" for i in range(4)]
    waited = capsys.readouterr()
    assert "Run journey (anthropic.claude-3-haiku-20240307-v1:0): Completed, 350/350" in waited.out

    assert main(["results", "journey", "--out", "out.csv", "--json", *endpoint]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["total"] == 350 == rec["succeeded"] + rec["failed"] + rec["missing"]
    assert rec["missing"] == 0 and 10 < rec["failed"] < 70 and rec["warnings"] == []
    assert f"every job ended, but {rec['failed']} record(s) failed and 0 are missing" in waited.err
    with open(workdir / "out.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["id"] for row in rows] == [f"id-{n}" for n in range(350)]
    assert sum(row["status"] == "failed" for row in rows) == rec["failed"]
    assert all(row["answer"] for row in rows if row["status"] == "succeeded")

    assert main(["cost", "journey", "--json", *endpoint]) == 0
    cost = json.loads(capsys.readouterr().out)
    assert (cost["input_tokens"], cost["output_tokens"]) == (
        rec["manifest_input_tokens"],
        rec["manifest_output_tokens"],
    )
    assert cost["jobs_without_manifest"] == 0 and cost["batch_usd"] > 0

    # Another machine: no local state at all; the manifest and record index come from S3.
    shutil.rmtree(workdir / ".batch-runner")
    assert main(["results", "journey", "--out", "again.jsonl", "--json", *endpoint]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["succeeded"], again["failed"], again["missing"]) == (
        rec["succeeded"],
        rec["failed"],
        rec["missing"],
    )
    assert len((workdir / "again.jsonl").read_text().splitlines()) == 350


def test_the_conversation_dataset_end_to_end_with_inputs(
    emulator: Emulator, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.configure(min_records_per_job=1, records_per_second=1000.0)
    endpoint = ["--endpoint-url", emulator.endpoint_url]
    argv = ["submit", str(CONVERSATIONS), "--model", "anthropic.claude-3-haiku-20240307-v1:0"]
    argv += ["--prompt-text", "Reply as a counselor: {{ Context }}", "--run", "conversations", "--yes"]
    assert main([*argv, "--max-records-per-job", "150", *endpoint]) == 0
    emulator_pacing(monkeypatch, emulator)
    assert main(["wait", "conversations", "--poll", "2", *endpoint]) == 0
    capsys.readouterr()

    assert main(["results", "conversations", "--out", "out.parquet", "--include-input", *endpoint]) == 0
    assert "total 400 = succeeded 400 + failed 0 + missing 0" in capsys.readouterr().out
    table = pq.read_table(workdir / "out.parquet").to_pylist()
    with open(CONVERSATIONS, newline="", encoding="utf-8") as handle:
        source = list(csv.DictReader(handle))
    assert [row["Context"] for row in table] == [row["Context"] for row in source]
    assert all(row["status"] == "succeeded" and row["answer"] for row in table)


def test_results_from_a_real_process(
    emulator: Emulator, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = submit_cli(emulator, write_csv(workdir / "tickets.csv", 120), "process-results")
    emulator.run_until_idle()
    result = subprocess.run(
        [
            *[sys.executable, "-m", "batch_runner", "results", "process-results", "--out", "out.jsonl"],
            *["--workers", "2", *endpoint],  # its two jobs' outputs parsed by two worker processes
        ],
        capture_output=True,
        text=True,
        cwd=workdir,
        env={**os.environ, **FAKE_ENV, "PYTHONPATH": str(ROOT)},
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "total 120 = succeeded 120 + failed 0 + missing 0" in result.stdout
    assert len((workdir / "out.jsonl").read_text().splitlines()) == 120
    assert main(["results", "process-results", "--out", "here.jsonl", "--workers", "0", *endpoint]) == 0
    assert (workdir / "here.jsonl").read_bytes() == (workdir / "out.jsonl").read_bytes()


def test_the_python_api_from_a_fresh_machine(emulator: Emulator, tmp_path: Path) -> None:
    submitted = submit_api(emulator, tmp_path / "laptop", "api-journey", 120)
    emulator.run_until_idle()
    run = Run.load("api-journey", state_dir=tmp_path / "server", endpoint_url=emulator.endpoint_url)
    assert run.status().succeeded_all
    frame = run.results(include_input=True).to_pandas()
    assert list(frame["id"]) == [f"id-{n}" for n in range(120)]
    assert set(frame["status"]) == {"succeeded"} and frame["text"][7] == "Message 7"
    records = list(run.results())
    assert [r["row"] for r in records] == list(range(120)) and "text" not in records[0]
    rec = run.results().save(tmp_path / "out.parquet")
    assert (rec.total, rec.succeeded) == (120, 120)
    assert run.results(workers=2).save(tmp_path / "workers.parquet") == rec
    assert (tmp_path / "workers.parquet").read_bytes() == (tmp_path / "out.parquet").read_bytes()
    assert run.cost().input_tokens == rec.manifest_input_tokens
    assert run.shards[0].job_arn == submitted.shards[0].job_arn
