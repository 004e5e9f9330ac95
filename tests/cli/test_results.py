"""`results`: the reconciliation as text and JSON, input columns, and bad output paths."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import jsonschema
import pytest

from batch_runner.cli import main
from batch_runner.cli.results import schema_line
from batch_runner.local import Emulator
from batch_runner.results import row_join
from tests.cli.run_schemas import RECONCILIATION
from tests.runner.tracking_helpers import submit_cli, write_csv


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_results_text_json_and_input_columns(
    emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.configure(job_outcome="PartiallyCompleted", partial_fraction=0.6)
    endpoint = submit_cli(
        emulator, write_csv(workdir / "t.csv", 100), "cli-results", extra=("--id-column", "id")
    )
    emulator.run_until_idle()
    capsys.readouterr()

    assert main(["results", "cli-results", "--out", "out.jsonl", "--include-input", *endpoint]) == 0
    captured = capsys.readouterr()
    assert "wrote out.jsonl: total 100 = succeeded 60 + failed 0 + missing 40" in captured.out
    assert captured.err == ""  # the statuses were refreshed: the partial job is known to be over
    rows = [json.loads(line) for line in (workdir / "out.jsonl").read_text().splitlines()]
    assert [(row["id"], row["text"], row["status"]) for row in rows[59:61]] == [
        ("id-59", "Message 59", "succeeded"),
        ("id-60", "Message 60", "missing"),
    ]

    assert main(["results", "cli-results", "--out", "out.parquet", "--json", *endpoint]) == 0
    rec = json.loads(capsys.readouterr().out)
    jsonschema.validate(rec, RECONCILIATION)
    assert (rec["total"], rec["succeeded"], rec["missing"], rec["complete"]) == (100, 60, 40, False)
    assert rec["jobs"][0]["status"] == "PartiallyCompleted" and rec["warnings"] == []


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        ("out.xlsx", "error: cannot write results to out.xlsx: unsupported extension '.xlsx'"),
        (
            "missing/out.csv",
            "error: cannot write results to missing/out.csv: directory missing does not exist",
        ),
    ],
)
def test_a_bad_output_path_fails_before_anything_is_read(
    workdir: Path, capsys: pytest.CaptureFixture[str], out: str, expected: str
) -> None:
    assert main(["results", "any-run", "--out", out]) == 2  # no run lookup, no AWS call
    assert capsys.readouterr().err.startswith(expected)


def test_results_of_a_schema_run_name_the_schema_failures_and_where_to_look(
    emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "schema.json").write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {"label": {"enum": ["billing", "other"]}, "status": {"type": "string"}},
                "required": ["label", "status"],
            }
        )
    )
    endpoint = submit_cli(
        emulator, write_csv(workdir / "t.csv", 50), "cli-schema", extra=("--output-schema", "schema.json")
    )
    emulator.configure(schema_invalid_rate=0.3, schema_fenced_rate=0.2)
    emulator.run_until_idle()
    capsys.readouterr()

    assert main(["results", "cli-schema", "--out", "out.csv", *endpoint]) == 0
    out = capsys.readouterr().out
    with open(workdir / "out.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    schema_failed = [row for row in rows if row["error_code"] == "schema"]
    assert 0 < len(schema_failed) < 50
    assert (
        f"total 50 = succeeded {50 - len(schema_failed)} + failed {len(schema_failed)}"
        f" ({len(schema_failed)} not matching the output schema) + missing 0"
    ) in out
    assert (
        f"output schema: {len(schema_failed)} answer(s) did not parse or validate: rows with error_code"
        ' "schema" (error_message says why, answer keeps the text); resend them with'
        " `python -m batch_runner retry cli-schema --failed-schema`"
    ) in out
    assert list(rows[0])[11:13] == ["label", "answer_status"]
    assert all(row["label"] in ("billing", "other") for row in rows if row["status"] == "succeeded")
    assert all(row["error_message"] and row["label"] == "" for row in schema_failed)

    assert main(["results", "cli-schema", "--out", "out.jsonl", "--json", *endpoint]) == 0
    rec = json.loads(capsys.readouterr().out)
    jsonschema.validate(rec, RECONCILIATION)
    assert (rec["schema_failed"], rec["failed"]) == (len(schema_failed), len(schema_failed))


def test_results_help_documents_the_schema_columns(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["results", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "one column per top-level property of the schema" in text
    assert 'error_code "schema"' in text and "retry --failed-schema" in text


def test_a_schema_run_without_failures_names_its_columns() -> None:
    assert (
        schema_line("r", 0, ("label", "urgent"))
        == "output schema: no answer failed it; columns label, urgent"
    )
    # The names of the columns written: a property named like a result column is prefixed.
    assert schema_line("r", 0, ("status", "x, y")).endswith('columns answer_status, "x, y"')


def test_workers_write_the_same_file_as_this_process(
    emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = submit_cli(emulator, write_csv(workdir / "t.csv", 90), "cli-workers", per_job=30)
    emulator.run_until_idle()
    used: list[int] = []
    real = row_join.ordered_map
    monkeypatch.setattr(row_join, "ordered_map", lambda *a, **k: used.append(a[2]) or real(*a, **k))
    capsys.readouterr()

    assert main(["results", "cli-workers", "--out", "here.csv", "--workers", "0", *endpoint]) == 0
    assert "total 90 = succeeded 90" in capsys.readouterr().out
    assert main(["results", "cli-workers", "--out", "workers.csv", "--workers", "3", *endpoint]) == 0
    assert "total 90 = succeeded 90" in capsys.readouterr().out

    assert used == [3]  # the three jobs' outputs went to three workers; none with --workers 0
    assert (workdir / "workers.csv").read_bytes() == (workdir / "here.csv").read_bytes()


@pytest.mark.parametrize("workers", ["-1", "9", "two"])
def test_a_bad_number_of_workers_is_a_usage_error(workers: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["results", "any-run", "--out", "out.csv", "--workers", workers])

    assert exit_info.value.code == 2
    assert f"expected a number of processes from 0 to 8, got '{workers}'" in capsys.readouterr().err
