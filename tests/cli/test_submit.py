"""`submit` and `resume` from the command line, against the emulator over HTTP."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import batch_runner.jobs.submission
from batch_runner.aws.clients import AwsContext
from batch_runner.cli import main
from batch_runner.local import Emulator

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET_4_5 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"enum": ["billing", "bug", "other"]},
        "urgent": {"type": "boolean"},
        "summary": {"type": "string", "maxLength": 80},
    },
    "required": ["label", "urgent"],
}
ROOT = Path(__file__).resolve().parents[2]


def write_csv(path: Path, rows: int, *, header: tuple[str, ...] = ("id", "text")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([f"id-{n}", f"Message {n}"] for n in range(rows))
    return path


def input_keys(emulator: Emulator) -> set[str]:
    s3 = emulator.client("s3")
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=emulator.stack_outputs["InputBucketName"]
    ):
        keys.update(obj["Key"] for obj in page.get("Contents", []))
    return keys


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # the default state directory, .batch-runner, lands here
    return tmp_path


def test_dry_run_prints_the_plan_without_any_aws_call(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []

    def no_aws(self: AwsContext, *args: object) -> None:
        calls.append(repr(args))
        raise AssertionError("dry run called AWS")

    monkeypatch.setattr(AwsContext, "client", no_aws)
    monkeypatch.setattr(AwsContext, "session", no_aws)
    dataset = write_csv(workdir / "tickets.csv", 250)
    code = main(["submit", str(dataset), "--model", HAIKU, "--prompt-text", "{{ text }}", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert calls == []
    assert "records:  250 in 1 job(s)" in out
    assert "cost:" in out
    assert not (workdir / ".batch-runner").exists()


def test_dry_run_json_lists_shards(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = write_csv(workdir / "tickets.csv", 250)
    argv = ["submit", str(dataset), "--model", HAIKU, "--prompt-text", "{{ text }}", "--dry-run", "--json"]
    assert main([*argv, "--max-records-per-job", "100", "--min-records", "50"]) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert [shard["record_count"] for shard in plan["shards"]] == [100, 100, 50]
    assert plan["quotas"]["max_records_per_job"] == 100


def test_submit_then_resume_the_queue(
    emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt = workdir / "prompt.j2"
    prompt.write_text("Classify: {{ text }}", encoding="utf-8")
    system = workdir / "system.txt"
    system.write_text("You are terse.", encoding="utf-8")
    dataset = write_csv(workdir / "tickets.csv", 300)
    common = ["--endpoint-url", emulator.endpoint_url, "--json"]
    code = main(
        [
            *["submit", str(dataset), "--model", HAIKU, "--prompt", str(prompt), "--system", str(system)],
            *["--id-column", "id", "--max-tokens", "50", "--temperature", "0.2", "--run", "cli-queue"],
            *["--max-records-per-job", "100", "--max-concurrent-jobs", "2", "--yes", *common],
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["jobs"] == {"Submitted": 2, "queued": 1}
    assert summary["queued"] == [2]
    first_line = json.loads(
        Path(workdir / ".batch-runner/runs/cli-queue/input/shard-00000.jsonl").read_text().split("\n")[0]
    )
    assert first_line["modelInput"]["system"] == "You are terse."
    assert first_line["modelInput"]["max_tokens"] == 50

    emulator.run_until_idle()
    assert main(["resume", "cli-queue", *common]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["queued"] == []
    assert sorted(job.name for job in emulator.jobs()) == [
        "dev.cli-queue-s00000",
        "dev.cli-queue-s00001",
        "dev.cli-queue-s00002",
    ]


def test_interactive_run_asks_and_no_means_nothing_happens(
    emulator: Emulator, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    before = input_keys(emulator)
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    dataset = write_csv(workdir / "tickets.csv", 100)
    argv = ["submit", str(dataset), "--model", HAIKU, "--prompt-text", "{{ text }}", "--run", "asked"]
    assert main([*argv, "--endpoint-url", emulator.endpoint_url]) == 1
    captured = capsys.readouterr()
    assert "Upload and submit 1 job(s)? [y/N]" in captured.err
    assert "cancelled: nothing was uploaded or submitted" in captured.err
    assert input_keys(emulator) == before and emulator.jobs() == []

    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    assert main([*argv, "--endpoint-url", emulator.endpoint_url]) == 0
    assert [job.name for job in emulator.jobs()] == ["dev.asked-s00000"]


@dataclass(frozen=True)
class Bad:
    expected: str  # part of the one-line error
    options: dict[str, str | None] = field(default_factory=dict)  # over DEFAULTS; None drops one
    dataset: str = "data.csv"
    rows: int = 120
    unset: tuple[str, ...] = ()  # environment variables to remove


DEFAULTS = {"--model": HAIKU, "--prompt-text": "{{ text }}", "--run": "bad-input"}
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
BAD_INPUTS = {
    "invalid run name": Bad("invalid run name 'bad_name'", {"--run": "bad_name"}),
    "missing dataset": Bad("missing.csv", dataset="missing.csv"),
    "missing prompt file": Bad(
        "prompt template file nope.j2 not found", {"--prompt-text": None, "--prompt": "nope.j2"}
    ),
    "missing system prompt file": Bad("system prompt file system.txt not found", {"--system": "system.txt"}),
    "system prompt directory": Bad("--system sub is a directory", {"--system": "sub"}),
    "unknown template variable": Bad("nope", {"--prompt-text": "{{ nope }}"}),
    "unknown model": Bad("supported", {"--model": "acme.model-v1"}),
    "below minimum records": Bad("100", rows=20),
    "max records per job below the minimum": Bad(
        "at most 50 records per job is below the minimum of 100", {"--max-records-per-job": "50"}
    ),
    "no split into jobs within the limits": Bad(
        "160 records cannot be split into jobs of 100 to 150 records each (one job is too big, two too "
        "small); raise --max-records-per-job to 160 or more",
        {"--max-records-per-job": "150"},
        rows=160,
    ),
    "duplicate ids": Bad("duplicate", {"--id-column": "id"}, dataset="dupes.csv"),
    "invalid utf-8": Bad("UTF-8", dataset="latin1.csv"),
    "quote inside a quoted value": Bad(
        "quoted.csv line 52: a quote inside a quoted value", dataset="quoted.csv"
    ),
    "nul byte": Bad("nul.csv line 61, byte 5: a NUL byte", dataset="nul.csv"),
    "model batch does not take": Bad(
        "does not support batch inference", {"--model": "mistral.mixtral-8x7b-instruct-v0:1"}
    ),
    "empty dataset": Bad("has no data rows", rows=0),
    "zero max tokens": Bad("max tokens must be a positive integer, not 0", {"--max-tokens": "0"}),
    "max tokens above the model's ceiling": Bad(
        f"{HAIKU} accepts at most 4096 output tokens, not 99999999; set --max-tokens to 4096 or less",
        {"--max-tokens": "99999999"},
    ),
    "stack not deployed": Bad("stack BedrockBatch-nowhere not found in us-east-1", {"--env": "nowhere"}),
    "model outside allow-list": Bad("allow-list", {"--model": "meta.llama3-1-405b-instruct-v1:0"}),
    "no credentials": Bad("no AWS credentials found", unset=CREDENTIALS),
    "missing output schema": Bad("output schema nope.json does not exist", {"--output-schema": "nope.json"}),
    "output schema not json": Bad(
        "output schema broken.json is not valid JSON", {"--output-schema": "broken.json"}
    ),
    "output schema invalid": Bad(
        "output schema invalid.json: not a valid JSON Schema at properties/a/type",
        {"--output-schema": "invalid.json"},
    ),
    "output schema not an object": Bad(
        'output schema array.json: the schema must describe a JSON object: set "type": "object"',
        {"--output-schema": "array.json"},
    ),
    "output schema path empty": Bad(
        "--output-schema is empty: give a JSON Schema file", {"--output-schema": ""}
    ),
    "output schema native with an open-ended object": Bad(
        "the open-ended one at /properties/scores could only be {}",
        {"--output-schema": "open.json", "--model": "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
    ),
    "output schema for embeddings": Bad(
        "amazon.titan-embed-text-v2:0 is an embedding model: it returns vectors, not text",
        {"--output-schema": "schema.json", "--model": "amazon.titan-embed-text-v2:0"},
    ),
    "no region": Bad("no AWS Region configured", unset=("AWS_REGION", "AWS_DEFAULT_REGION")),
    "timeout below bedrock's minimum": Bad(
        "--timeout-hours must be a whole number from 24 to 168 (Bedrock's limits), got 12",
        {"--timeout-hours": "12"},
    ),
    "subnets without security groups": Bad(
        "--subnet-ids needs --security-group-ids too", {"--subnet-ids": "subnet-0a1b2c3d4e5f60718"}
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_and_nothing_uploaded_or_submitted(
    case: str,
    emulator: Emulator,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = BAD_INPUTS[case]
    write_csv(workdir / "data.csv", bad.rows)
    (workdir / "sub").mkdir()
    (workdir / "dupes.csv").write_text("id,text\na,x\n" + "".join(f"b{n},y\n" for n in range(100)) + "a,z\n")
    latin1 = "id,text\n" + "".join(f"{n},caf\xe9\n" for n in range(120))
    (workdir / "latin1.csv").write_bytes(latin1.encode("latin-1"))
    rows = [f"{n},plain\n" for n in range(120)]
    quoted = [*rows[:50], 'b1,"she said "stop" and left"\n', *rows[50:]]
    (workdir / "quoted.csv").write_text("id,text\n" + "".join(quoted))
    (workdir / "nul.csv").write_text("id,text\n" + "".join([*rows[:59], "x,a \x00 b\n", *rows[59:]]))
    (workdir / "schema.json").write_text(json.dumps(SCHEMA))
    (workdir / "broken.json").write_text('{"type": "object", ')
    (workdir / "invalid.json").write_text(json.dumps({"type": "object", "properties": {"a": {"type": 3}}}))
    (workdir / "array.json").write_text(json.dumps({"type": "array", "items": {"type": "string"}}))
    scores = {"type": "object", "additionalProperties": {"type": "number"}}
    (workdir / "open.json").write_text(json.dumps({"type": "object", "properties": {"scores": scores}}))
    for name in bad.unset:
        monkeypatch.delenv(name)
    options = {k: v for k, v in {**DEFAULTS, **bad.options}.items() if v is not None}
    argv = ["submit", bad.dataset, *[x for pair in options.items() for x in pair], "--yes"]
    before = input_keys(emulator)

    code = main([*argv, "--endpoint-url", emulator.endpoint_url])

    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert bad.expected in err
    assert input_keys(emulator) == before
    assert emulator.jobs() == []
    assert not (workdir / ".batch-runner" / "runs" / "bad-input" / "manifest.json").exists()


def test_an_endpoint_that_is_not_a_url_is_one_line_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = write_csv(workdir / "data.csv", 120)
    argv = ["submit", str(dataset), "--model", HAIKU, "--prompt-text", "{{ text }}", "--yes"]

    assert main([*argv, "--endpoint-url", "localhost:4566"]) == 2

    err = capsys.readouterr().err
    assert err == (
        "error: invalid endpoint URL 'localhost:4566': give a full URL such as http://127.0.0.1:4566 "
        "(the address `python -m batch_runner local serve` prints)\n"
    )


def test_real_process_submits_through_the_emulator(emulator: Emulator, tmp_path: Path) -> None:
    dataset = write_csv(tmp_path / "tickets.csv", 100)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [
            *[sys.executable, "-m", "batch_runner", "submit", str(dataset), "--model", HAIKU],
            *["--prompt-text", "Summarize: {{ text }}", "--run", "subprocess-run"],
            *["--endpoint-url", emulator.endpoint_url],
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Run subprocess-run: 1 shard(s), 100 record(s)" in result.stdout
    assert "jobs submitted: 1" in result.stdout
    assert [job.name for job in emulator.jobs()] == ["dev.subprocess-run-s00000"]
    assert (tmp_path / ".batch-runner" / "runs" / "subprocess-run" / "manifest.json").is_file()


def test_resume_after_a_crash_between_create_and_manifest_write(
    emulator: Emulator, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_create = batch_runner.jobs.submission.create_job

    def create_then_die(*args: Any, **kwargs: Any) -> str:
        real_create(*args, **kwargs)
        raise KeyboardInterrupt  # the job exists; the process dies before writing its ARN down

    monkeypatch.setattr(batch_runner.jobs.submission, "create_job", create_then_die)
    dataset = write_csv(workdir / "tickets.csv", 200)
    argv = ["submit", str(dataset), "--model", HAIKU, "--prompt-text", "{{ text }}", "--run", "cli-crash"]
    endpoint = ["--endpoint-url", emulator.endpoint_url]
    assert main([*argv, "--max-records-per-job", "100", "--yes", *endpoint]) == 130
    assert [job.name for job in emulator.jobs()] == ["dev.cli-crash-s00000"]
    monkeypatch.setattr(batch_runner.jobs.submission, "create_job", real_create)
    assert "interrupted" in capsys.readouterr().err

    assert main(["resume", "cli-crash", "--json", *endpoint]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["queued"] == []
    assert sorted(job.name for job in emulator.jobs()) == ["dev.cli-crash-s00000", "dev.cli-crash-s00001"]
    assert sorted(summary["job_arns"]) == sorted(job.arn for job in emulator.jobs())


def test_dry_run_names_the_output_columns_and_how_json_is_asked_for(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = write_csv(workdir / "tickets.csv", 150)
    (workdir / "schema.json").write_text(json.dumps(SCHEMA))
    argv = [
        "submit",
        str(dataset),
        "--prompt-text",
        "{{ text }}",
        "--output-schema",
        "schema.json",
        "--dry-run",
    ]

    assert main([*argv, "--model", SONNET_4_5]) == 0
    out = capsys.readouterr().out
    assert (
        "output:   JSON schema, 3 columns (label, urgent, summary) "
        "via native structured output (output_config.format)\n"
    ) in out

    assert main([*argv, "--model", HAIKU]) == 0
    assert 'via prompt instructions and a reply prefilled with "{" (messages)' in capsys.readouterr().out

    assert main([*argv, "--model", HAIKU, "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert plan["structured_output"] == {
        "mechanism": "prefill",
        "prefill": "{",
        "detail": {"field": "messages"},
    }


def test_submit_with_a_schema_records_it_and_a_second_submit_rebuilds_the_same_requests(
    emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = write_csv(workdir / "tickets.csv", 120)
    (workdir / "schema.json").write_text(json.dumps(SCHEMA))
    argv = ["submit", str(dataset), "--model", HAIKU, "--prompt-text", "Ticket: {{ text }}"]
    argv += ["--output-schema", "schema.json", "--run", "schema-run", "--yes", "--json"]
    endpoint = ["--endpoint-url", emulator.endpoint_url]

    assert main([*argv, *endpoint]) == 0
    assert json.loads(capsys.readouterr().out)["structured_output"]["mechanism"] == "prefill"
    run_dir = workdir / ".batch-runner" / "runs" / "schema-run"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["options"]["output_schema"] == SCHEMA
    assert list(manifest["options"]["output_schema"]["properties"]) == [
        "label",
        "urgent",
        "summary",
    ]  # columns
    assert manifest["plan"]["structured_output"] == {
        "mechanism": "prefill",
        "prefill": "{",
        "detail": {"field": "messages"},
    }
    shard = run_dir / "input" / "shard-00000.jsonl"
    user, assistant = json.loads(shard.read_bytes().split(b"\n")[0])["modelInput"]["messages"]
    assert user["content"][0]["text"].startswith("Ticket: Message 0\n\nReply with one JSON object")
    assert assistant == {"role": "assistant", "content": [{"type": "text", "text": "{"}]}
    submitted = shard.read_bytes()

    # From another machine (no local state), the same submit plans the same bytes and adds no job.
    (workdir / ".batch-runner").rename(workdir / "elsewhere")
    assert main([*[a for a in argv if a != "--json"], *endpoint]) == 0
    out = capsys.readouterr().out
    assert shard.read_bytes() == submitted
    described = "JSON schema, 3 columns (label, urgent, summary) via prompt instructions"
    described += ' and a reply prefilled with "{"'
    assert f"output:   {described} (messages)\n" in out  # the plan
    assert f"  answers:  {described} (messages)\n" in out  # the run
    assert [job.name for job in emulator.jobs()] == ["dev.schema-run-s00000"]

    # A different schema is a different run.
    (workdir / "schema.json").write_text(json.dumps({**SCHEMA, "required": ["label"]}))
    assert main([*argv, *endpoint]) == 2
    assert "already exists for a different dataset or options" in capsys.readouterr().err


def test_a_model_batch_does_not_take_is_refused_before_anything_is_read_or_uploaded(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = write_csv(workdir / "tickets.csv", 150)
    argv = ["submit", str(dataset), "--model", "meta.llama3-8b-instruct-v1:0", "--prompt-text", "{{ text }}"]
    code = main([*argv, "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("error: meta.llama3-8b-instruct-v1:0 does not support batch inference")
    assert "use meta.llama3-1-8b-instruct-v1:0" in err
    assert not (workdir / ".batch-runner").exists()


def test_a_model_with_no_batch_record_plans_with_a_warning(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = write_csv(workdir / "tickets.csv", 150)
    argv = [
        "submit",
        str(dataset),
        "--model",
        "us.anthropic.claude-opus-4-6-v1",
        "--prompt-text",
        "{{ text }}",
    ]
    assert main([*argv, "--dry-run"]) == 0
    assert "warning:  batch-runner has no record of whether batch inference takes" in capsys.readouterr().out


def test_oversized_rows_are_refused_or_left_out_and_reported_as_failed_in_results(
    emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 4 MB field is about a million tokens against Claude 3 Haiku's 200,000."""
    with (workdir / "long.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows([f"id-{n}", "x" * 4_000_000 if n == 7 else f"Message {n}"] for n in range(120))
    endpoint = ["--endpoint-url", emulator.endpoint_url]
    argv = ["submit", "long.csv", "--model", HAIKU, "--prompt-text", "{{ text }}", "--run", "long", "--yes"]
    before = input_keys(emulator)
    assert main([*argv, *endpoint]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: row 8: about 1,000,0") and err.count("\n") == 1
    assert "exceed the 200,000-token context window" in err
    assert input_keys(emulator) == before and emulator.jobs() == []

    assert main([*argv, "--skip-oversized", *endpoint]) == 0
    assert "1 row(s) left out as too large for the model's context window (row 8)" in capsys.readouterr().out
    assert [job.name for job in emulator.jobs()] == ["dev.long-s00000"]
    emulator.run_until_idle()
    assert main(["wait", "long", *endpoint]) == 0  # the left-out row is no reason to retry
    capsys.readouterr()
    assert main(["results", "long", "--out", "long-results.csv", "--json", *endpoint]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["total"], report["succeeded"], report["failed"], report["missing"]) == (120, 119, 1, 0)
    rows = list(csv.DictReader((workdir / "long-results.csv").open(encoding="utf-8")))
    (left_out,) = [row for row in rows if row["status"] != "succeeded"]
    assert (left_out["row"], left_out["status"], left_out["error_code"]) == ("7", "failed", "oversized")
    assert left_out["error_message"].startswith("not sent: about 1,000,0")
    assert main(["retry", "long", *endpoint]) == 0
    assert "nothing to retry, every record sent succeeded" in capsys.readouterr().out


def test_max_cost_refuses_before_anything_is_uploaded(
    emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = input_keys(emulator)
    dataset = write_csv(workdir / "tickets.csv", 150)
    argv = ["submit", str(dataset), "--model", HAIKU, "--prompt-text", "{{ text }}", "--run", "capped"]
    argv += ["--endpoint-url", emulator.endpoint_url, "--yes"]

    assert main([*argv, "--max-cost", "0.01"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: estimated cost up to $0.0960 (if every answer uses max_tokens; typically ~$"
    )
    assert err.endswith(
        "exceeds --max-cost $0.0100: nothing was uploaded; lower --max-tokens, submit fewer "
        "rows, or raise --max-cost\n"
    )
    assert input_keys(emulator) == before and emulator.jobs() == []
    assert main([*argv, "--max-cost", "0.01", "--dry-run"]) == 2  # the dry run checks the cap too

    assert main([*argv, "--max-cost", "0.10"]) == 0
    assert [job.name for job in emulator.jobs()] == ["dev.capped-s00000"]
