"""`results` to standard output, to S3 (streamed multipart) and in the OpenAI batch output shape;
a closed pipe ends quietly. Against the emulator over HTTP."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.cli import BROKEN_PIPE_EXIT, main
from batch_runner.local import Emulator
from batch_runner.results import sinks
from batch_runner.runs import Run
from tests.emulator.helpers import unique
from tests.runner.tracking_helpers import submit_cli, write_csv

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def finished_run(emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """A run of 100 rows, 60 succeeded and 40 missing; returns the endpoint arguments."""
    emulator.configure(job_outcome="PartiallyCompleted", partial_fraction=0.6)
    endpoint = submit_cli(emulator, write_csv(workdir / "t.csv", 100), "dest", extra=("--id-column", "id"))
    emulator.run_until_idle()
    capsys.readouterr()
    return endpoint


def test_results_to_standard_output_are_csv_with_the_summary_on_stderr(
    finished_run: list[str], capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    assert main(["results", "dest", "--out", "-", *finished_run]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert len(rows) == 100 and rows[0]["id"] == "id-0" and rows[0]["status"] == "succeeded"
    assert "wrote standard output: total 100 = succeeded 60 + failed 0 + missing 40" in captured.err
    assert main(["results", "dest", "--out", "-", "--format", "jsonl", *finished_run]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert json.loads(lines[99])["status"] == "missing"
    assert not list(workdir.glob(".*.tmp"))


@pytest.mark.parametrize("name", ["dest.csv", "dest.parquet", "dest.jsonl"])
def test_results_to_s3_match_the_local_file(
    emulator: Emulator,
    finished_run: list[str],
    capsys: pytest.CaptureFixture[str],
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    monkeypatch.setattr(sinks, "PART_BYTES", 5 << 20)  # S3's minimum part: several parts, as on large runs
    bucket = emulator.stack_outputs[OutputKey.INPUT_BUCKET]  # the submitter may write there
    key = f"{unique('exports')}/{name}"
    s3 = emulator.client("s3")
    assert main(["results", "dest", "--out", name, "--include-input", *finished_run]) == 0
    uri = f"s3://{bucket}/{key}"
    assert main(["results", "dest", "--out", uri, "--include-input", *finished_run]) == 0
    assert f"wrote {uri}: total 100" in capsys.readouterr().out
    remote = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    if name.endswith(".parquet"):
        assert pq.read_table(io.BytesIO(remote)).equals(pq.read_table(workdir / name))
    else:
        assert remote == (workdir / name).read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", []) == []


def test_large_results_go_up_in_parts_and_a_failure_leaves_nothing(
    emulator: Emulator, finished_run: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = unique("results")
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=bucket)
    upload = sinks.MultipartUpload(s3, bucket, "big.csv")
    monkeypatch.setattr(sinks, "PART_BYTES", 5 << 20)
    chunk = b"x" * (1 << 20)
    for _ in range(12):
        upload.write(chunk)
    upload.complete()
    assert s3.head_object(Bucket=bucket, Key="big.csv")["ContentLength"] == 12 << 20
    assert "-3" in s3.head_object(Bucket=bucket, Key="big.csv")["ETag"]  # three parts

    failing = sinks.MultipartUpload(s3, bucket, "broken.csv")
    for _ in range(6):
        failing.write(chunk)
    failing.abort()
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="broken")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_results_to_a_missing_bucket_is_one_line_exit_2_before_the_join(
    finished_run: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAACCOUNTROOT00000")  # may learn that a bucket is missing
    bucket = unique("nope")
    assert main(["results", "dest", "--out", f"s3://{bucket}/r.csv", *finished_run]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: cannot write results to s3://{bucket}/r.csv: bucket {bucket} does not exist; "
        "check the name or create it\n"
    )


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        ("s3://bucket-only", "give s3://BUCKET/KEY, the object to write"),
        ("s3://b/folder/", "give s3://BUCKET/KEY, the object to write"),
        ("s3://b/r.txt", "unsupported extension '.txt'"),
    ],
)
def test_bad_s3_destinations_fail_before_anything_is_read(
    workdir: Path, capsys: pytest.CaptureFixture[str], out: str, expected: str
) -> None:
    assert main(["results", "any-run", "--out", out]) == 2  # no run lookup, no AWS call
    assert expected in capsys.readouterr().err


def test_python_saves_to_s3_and_in_the_openai_shape(
    emulator: Emulator, finished_run: list[str], workdir: Path
) -> None:
    bucket, key = emulator.stack_outputs[OutputKey.INPUT_BUCKET], f"{unique('exports')}/dest.jsonl"
    s3 = emulator.client("s3")
    run = Run.load("dest", endpoint_url=emulator.endpoint_url)
    reconciliation = run.results().save(f"s3://{bucket}/{key}", format="openai")
    assert reconciliation.total == 100
    lines = [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines()]
    succeeded, missing = lines[0], lines[99]
    assert succeeded["custom_id"] == "id-0" and succeeded["error"] is None
    body = succeeded["response"]["body"]
    assert body["object"] == "chat.completion"
    assert body["model"] == "anthropic.claude-3-haiku-20240307-v1:0"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["message"]["content"]
    assert body["choices"][0]["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert missing["custom_id"] == "id-99" and missing["response"] is None
    assert missing["error"]["code"] == "missing"


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    dataset = write_csv(tmp_path / "t.csv", 150)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written, as after `| head -1`
    argv = ["submit", str(dataset), "--model", "anthropic.claude-3-haiku-20240307-v1:0"]
    process = subprocess.run(
        [sys.executable, "-m", "batch_runner", *argv, "--prompt-text", "{{ text }}", "--dry-run", "--json"],
        stdout=write_end,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
        timeout=120,
    )
    os.close(write_end)
    assert process.stderr == b""
    assert process.returncode == BROKEN_PIPE_EXIT


def test_an_openai_batch_file_round_trips_to_openai_output(
    emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = {"type": "object", "properties": {"label": {"enum": ["a", "b"]}}, "required": ["label"]}
    response_format = {"type": "json_schema", "json_schema": {"name": "label", "schema": schema}}
    lines = [
        {
            "custom_id": f"task-{n}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": f"Label item {n}"}],
                "max_completion_tokens": 100,
                "response_format": response_format,
            },
        }
        for n in range(100)
    ]
    (workdir / "batch.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    endpoint = ["--endpoint-url", emulator.endpoint_url]
    argv = ["submit", "batch.jsonl", "--model", "anthropic.claude-3-haiku-20240307-v1:0", "--run", "oai"]
    assert main([*argv, "--yes", *endpoint]) == 0
    assert "output:   JSON schema, 1 column (label)" in capsys.readouterr().out
    emulator.run_until_idle()
    assert main(["results", "oai", "--out", "oai.csv", *endpoint]) == 0
    rows = list(csv.DictReader((workdir / "oai.csv").open()))
    assert [(row["id"], row["status"]) for row in rows[:2]] == [
        ("task-0", "succeeded"),
        ("task-1", "succeeded"),
    ]
    assert {row["label"] for row in rows} <= {"a", "b"}
    capsys.readouterr()
    assert main(["results", "oai", "--out", "-", "--format", "openai", *endpoint]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["custom_id"] == "task-0"
    assert json.loads(first["response"]["body"]["choices"][0]["message"]["content"])["label"] in ("a", "b")


def test_results_to_a_bucket_the_caller_may_not_write_is_one_line_exit_2(
    emulator: Emulator,
    finished_run: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The default identity holds the submitter policy, which grants no other bucket.
    bucket = unique("theirs")
    emulator.client("s3").create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/r.csv"
    assert main(["results", "dest", "--out", uri, *finished_run]) == 2
    assert capsys.readouterr().err == (
        f"error: no permission to write {uri} (AccessDenied): allow s3:PutObject on it for your identity, "
        "or write the results elsewhere\n"
    )
    assert "Contents" not in emulator.client("s3").list_objects_v2(Bucket=bucket)
