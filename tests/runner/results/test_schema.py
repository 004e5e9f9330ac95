"""Results of a run with an output schema: one column per property, schema failures as failed rows
that keep their text, in every output format, and counted by the reconciliation."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from batch_runner.exceptions import InternalError, UsageError
from batch_runner.results import (
    RESULT_COLUMNS,
    JobOutputRef,
    LocalOutputSource,
    Reconciliation,
    collect_results,
    iter_results,
    property_columns,
)
from tests.runner import results_samples as s

SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"enum": ["open", "closed"]},  # collides with the result column
        "concerns": {"type": "array", "items": {"type": "string"}},
        "score": {"type": "integer"},
        "confidence": {"type": "number"},
        "urgent": {"type": "boolean"},
        "detail": {"type": "object"},
        "note": {"type": ["string", "null"]},
    },
    "required": ["status", "concerns", "score"],
}
PROPERTY_COLUMNS = ("answer_status", "concerns", "score", "confidence", "urgent", "detail", "note")
GOOD = {
    "status": "open",
    "concerns": ["sleep", 'naïve, "quoted"'],
    "score": 3,
    "confidence": 0.75,
    "urgent": True,
    "detail": {"since": "2024-01", "tags": ["a"]},
    "note": "une note — ünïcödé",
}
OLD, NEW = "jobold000001", "jobnew000002"


def rid(row: int) -> str:
    return f"R{row:010d}"


def claude(text: str, stop_reason: str = "end_turn") -> dict[str, Any]:
    return s.claude_output(text, input_tokens=40, output_tokens=12) | {"stop_reason": stop_reason}


def write_job(root: Path, job_id: str, lines: list[bytes]) -> JobOutputRef:
    folder = root / s.BUCKET / "runs/demo/output" / job_id
    folder.mkdir(parents=True)
    (folder / "shard-00000.jsonl.out").write_bytes(b"\n".join(lines) + b"\n")
    return JobOutputRef(s.job_arn(job_id), s.OUTPUT_URI, "Completed")


@pytest.fixture
def run(tmp_path: Path) -> tuple[LocalOutputSource, list[JobOutputRef], Path]:
    """Eight rows: valid, fenced, invalid, not JSON, Bedrock error, missing, retried both ways."""
    old = [
        s.success_line(rid(0), claude(json.dumps(GOOD, ensure_ascii=False))),
        s.success_line(
            rid(1), claude(f"Here it is:\n```json\n{json.dumps(GOOD | {'score': 5})}\n```\nDone.")
        ),
        s.success_line(rid(2), claude('{"status": "maybe", "concerns": [], "score": 1}')),
        s.success_line(rid(3), claude('{"status": "open", "concerns": ["cut', "max_tokens")),
        s.error_line(rid(4), 400, "Input is too long for requested model."),
        s.success_line(rid(6), claude("no JSON at all")),  # fixed by the retry below
        s.success_line(rid(7), claude(json.dumps(GOOD))),  # broken by the retry below
    ]
    new = [
        s.success_line(rid(6), claude(json.dumps({"status": "closed", "concerns": [], "score": -2}))),
        s.success_line(rid(7), claude('["not", "an", "object"]')),
    ]
    jobs = [write_job(tmp_path, OLD, old), write_job(tmp_path, NEW, new)]
    index = tmp_path / "record-index.jsonl"
    index.write_bytes(
        b"".join(
            s.index_line(rid(row), row, f"u{row}", note=f"in {row}", status="x") + b"\n" for row in range(8)
        )
    )
    return LocalOutputSource(tmp_path), jobs, index


def by_row(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {row["row"]: row for row in rows}


def test_valid_answers_become_columns_and_failures_keep_their_text(run: Any) -> None:
    source, jobs, index = run
    rows = by_row(list(iter_results(source, jobs, index, output_schema=SCHEMA)))

    assert tuple(rows[0]) == RESULT_COLUMNS + PROPERTY_COLUMNS
    assert rows[0]["status"] == "succeeded" and rows[0]["error_code"] is None
    assert {c: rows[0][c] for c in PROPERTY_COLUMNS} == dict(
        zip(PROPERTY_COLUMNS, GOOD.values(), strict=True)
    )
    assert (rows[1]["status"], rows[1]["score"], rows[1]["answer"].startswith("Here it is:")) == (
        "succeeded",
        5,
        True,
    )

    invalid = rows[2]
    assert (invalid["status"], invalid["error_code"]) == ("failed", "schema")
    assert invalid["error_message"] == "$.status: 'maybe' is not one of ['open', 'closed']"
    assert invalid["answer"] == '{"status": "maybe", "concerns": [], "score": 1}'
    assert (invalid["input_tokens"], invalid["output_tokens"], invalid["stop_reason"]) == (40, 12, "end_turn")
    assert all(invalid[c] is None for c in PROPERTY_COLUMNS)

    cut = rows[3]
    assert cut["error_code"] == "schema" and cut["stop_reason"] == "max_tokens"
    assert cut["error_message"] == (
        "answer is not JSON: the object is cut off (unterminated string at char 32);"
        " stop reason max_tokens: raise --max-tokens"
    )
    assert (rows[4]["error_code"], rows[4]["answer_status"]) == ("400", None)  # Bedrock's failure
    assert rows[5]["status"] == "missing" and rows[5]["concerns"] is None
    assert (rows[6]["status"], rows[6]["answer_status"], rows[6]["score"]) == ("succeeded", "closed", -2)
    assert (rows[7]["status"], rows[7]["error_message"]) == (
        "failed",
        "answer is an array, not a JSON object",
    )


def test_the_reconciliation_counts_schema_failures_as_failed(tmp_path: Path, run: Any) -> None:
    source, jobs, index = run
    rec = collect_results(source, jobs, index, tmp_path / "out.csv", output_schema=SCHEMA)

    assert (rec.total, rec.succeeded, rec.failed, rec.missing, rec.schema_failed) == (8, 3, 4, 1, 3)
    assert rec.superseded == 2
    assert "failed 4 (3 not matching the output schema)" in rec.summary()
    assert rec.to_dict()["schema_failed"] == 3
    # Job tallies count what the service returned, so they still match its manifests.
    assert [(t.succeeded, t.failed) for t in rec.jobs] == [(6, 1), (2, 0)]

    plain = collect_results(source, jobs, index, tmp_path / "plain.csv")
    assert (plain.succeeded, plain.failed, plain.schema_failed) == (6, 1, 0)
    assert "schema" not in plain.summary()


def test_csv_holds_nested_values_as_json_and_failed_rows_empty(tmp_path: Path, run: Any) -> None:
    source, jobs, index = run
    out = tmp_path / "out.csv"
    collect_results(source, jobs, index, out, output_schema=SCHEMA, include_input=True)
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    assert tuple(rows[0]) == RESULT_COLUMNS + PROPERTY_COLUMNS + ("input_note", "input_status")
    first = rows[0]
    assert json.loads(first["concerns"]) == GOOD["concerns"]
    assert json.loads(first["detail"]) == GOOD["detail"]
    assert (first["answer_status"], first["score"], first["confidence"], first["urgent"]) == (
        "open",
        "3",
        "0.75",
        "true",
    )
    assert (first["note"], first["input_note"], first["input_status"]) == (GOOD["note"], "in 0", "x")
    assert rows[2]["error_code"] == "schema" and all(rows[2][c] == "" for c in PROPERTY_COLUMNS)


def test_jsonl_holds_native_json(tmp_path: Path, run: Any) -> None:
    source, jobs, index = run
    out = tmp_path / "out.jsonl"
    collect_results(source, jobs, index, out, output_schema=SCHEMA)
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]

    assert {c: rows[0][c] for c in PROPERTY_COLUMNS} == dict(
        zip(PROPERTY_COLUMNS, GOOD.values(), strict=True)
    )
    assert rows[2]["concerns"] is None and rows[2]["error_code"] == "schema"


def test_parquet_columns_are_typed_by_the_schema(tmp_path: Path, run: Any) -> None:
    source, jobs, index = run
    out = tmp_path / "out.parquet"
    collect_results(source, jobs, index, out, output_schema=SCHEMA)
    table = pq.read_table(out)

    types = {name: str(table.schema.field(name).type) for name in PROPERTY_COLUMNS}
    assert types == {
        "answer_status": "string",
        "concerns": "string",
        "score": "int64",
        "confidence": "double",
        "urgent": "bool",
        "detail": "string",
        "note": "string",
    }
    assert table.column("score").to_pylist() == [3, 5, None, None, None, None, -2, None]
    assert table.column("urgent").to_pylist()[:3] == [True, True, None]
    assert json.loads(table.column("detail")[0].as_py()) == GOOD["detail"]
    assert table.column("status").to_pylist()[:4] == ["succeeded", "succeeded", "failed", "failed"]


def test_a_prefilled_run_gets_its_brace_back_in_the_answer(tmp_path: Path) -> None:
    reply = json.dumps(GOOD)[1:]
    jobs = [
        write_job(
            tmp_path,
            OLD,
            [s.success_line(rid(0), claude(reply)), s.success_line(rid(1), claude(' "status": "shut"}'))],
        )
    ]
    index = [s.index_line(rid(0), 0), s.index_line(rid(1), 1)]
    rows = list(iter_results(LocalOutputSource(tmp_path), jobs, index, output_schema=SCHEMA, prefill="{"))

    assert rows[0]["answer"] == "{" + reply and rows[0]["concerns"] == GOOD["concerns"]
    assert rows[1]["answer"] == '{ "status": "shut"}' and rows[1]["error_code"] == "schema"


def test_a_number_beyond_int64_turns_the_parquet_column_into_text(tmp_path: Path) -> None:
    answers = ['{"status": "open", "concerns": [], "score": 18446744073709551615}', json.dumps(GOOD)]
    jobs = [write_job(tmp_path, OLD, [s.success_line(rid(i), claude(a)) for i, a in enumerate(answers)])]
    index = [s.index_line(rid(0), 0), s.index_line(rid(1), 1)]
    out = tmp_path / "out.parquet"
    rec = collect_results(LocalOutputSource(tmp_path), jobs, index, out, output_schema=SCHEMA)

    assert rec.succeeded == 2
    assert pq.read_table(out).column("score").to_pylist() == ["18446744073709551615", "3"]


def test_a_number_beyond_int64_found_by_a_worker_process_still_turns_the_column_into_text(
    tmp_path: Path,
) -> None:
    big = '{"status": "open", "concerns": [], "score": 18446744073709551615}'
    jobs = [
        write_job(tmp_path, OLD, [s.success_line(rid(0), claude(json.dumps(GOOD)))]),
        write_job(tmp_path, NEW, [s.success_line(rid(1), claude(big))]),  # the second worker's
    ]
    index = [s.index_line(rid(0), 0), s.index_line(rid(1), 1)]
    out = tmp_path / "out.parquet"
    rec = collect_results(LocalOutputSource(tmp_path), jobs, index, out, output_schema=SCHEMA, workers=2)

    assert rec.succeeded == 2
    assert pq.read_table(out).column("score").to_pylist() == ["3", "18446744073709551615"]


def test_a_bad_schema_is_a_usage_error(tmp_path: Path, run: Any) -> None:
    source, jobs, index = run
    with pytest.raises(UsageError, match='set "type": "object"'):
        collect_results(source, jobs, index, tmp_path / "out.csv", output_schema={"type": "array"})


def test_more_schema_failures_than_failures_is_a_runner_bug() -> None:
    with pytest.raises(InternalError, match="3 schema failures of 2 failed"):
        Reconciliation(
            total=2, succeeded=0, failed=2, missing=0, unexpected=0, malformed=0, superseded=0,
            input_tokens=0, output_tokens=0, manifest_input_tokens=None, manifest_output_tokens=None,
            jobs=(), schema_failed=3,
        )  # fmt: skip


def test_property_columns_are_named_as_results_name_them() -> None:
    assert property_columns(["label", "status", "answer_status", "error_code"]) == (
        "label",
        "answer_status",
        "answer_answer_status",
        "answer_error_code",
    )
