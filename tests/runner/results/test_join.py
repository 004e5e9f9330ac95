"""Every input row gets exactly one result row, joined by recordId, newest outcome first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from batch_runner.exceptions import InternalError, RecordIndexError
from batch_runner.results import (
    JobOutputRef,
    Reconciliation,
    S3OutputSource,
    iter_results,
    join_results,
)
from batch_runner.results import join as join_module
from tests.runner import results_samples as s

OLD, NEW = "jobold000001", "jobnew000002"


def _index(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "record-index.jsonl"
    lines = [s.index_line(f"R{row:010d}", row, f"user-{row}", text=f"question {row}") for row in range(count)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _rid(row: int) -> str:
    return f"R{row:010d}"


@pytest.fixture
def run(s3: Any, tmp_path: Path) -> tuple[list[JobOutputRef], Path]:
    """Ten input rows; an old PartiallyCompleted job with every kind of line; a newer retry job."""
    old_lines = [
        s.success_line(_rid(3), s.claude_output("three")),  # out of order on purpose
        s.success_line(_rid(0), s.claude_output("zero", input_tokens=10, output_tokens=2), extraField=1),
        s.error_line(_rid(1), 400, "Malformed input request"),
        b"",
        s.success_line(_rid(2), s.claude_output("two (old)")),
        b"this is not json",
        b'{"recordId": "' + _rid(4).encode() + b'", "modelInput": {"messages": [',
        orjson.dumps({"recordId": _rid(5), "modelInput": {}}),
        s.success_line("R9999999999", s.claude_output("stranger")),
    ]
    s.put_job_output(
        s3,
        OLD,
        {"part-b.jsonl.out": old_lines[:4], "part-a.jsonl.out": old_lines[4:]},
        s.manifest(4, 3, input_tokens=70, output_tokens=26, inputAudioSecond=0, someFutureCount=3),
    )
    new_lines = [
        s.success_line(_rid(1), s.claude_output("one (retried)")),
        s.error_line(_rid(2), 500, "Internal error on retry"),
        s.success_line(_rid(6), s.claude_output("six")),
    ]
    s.put_job_output(
        s3, NEW, {"retry.jsonl.out": new_lines}, s.manifest(2, 1, input_tokens=42, output_tokens=18)
    )
    jobs = [
        JobOutputRef(s.job_arn(OLD), s.OUTPUT_URI, "PartiallyCompleted"),
        JobOutputRef(s.job_arn(NEW), s.OUTPUT_URI, "Completed"),
    ]
    return jobs, _index(tmp_path, 10)


def _by_row(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {row["row"]: row for row in rows}


def test_one_row_per_input_row_in_input_order_joined_by_record_id(s3: Any, run: Any) -> None:
    jobs, index = run
    rows = list(iter_results(S3OutputSource(s3), jobs, index))

    assert [row["row"] for row in rows] == list(range(10))
    assert [row["record_id"] for row in rows] == [_rid(i) for i in range(10)]
    assert all(row["id"] == f"user-{row['row']}" for row in rows)
    zero, three = rows[0], rows[3]
    assert (zero["status"], zero["answer"], zero["stop_reason"]) == ("succeeded", "zero", "end_turn")
    assert (zero["input_tokens"], zero["output_tokens"], zero["job_id"]) == (10, 2, OLD)
    assert three["answer"] == "three"


def test_newest_outcome_wins_across_retry_jobs(s3: Any, run: Any) -> None:
    jobs, index = run
    rows = _by_row(list(iter_results(S3OutputSource(s3), jobs, index)))

    assert (rows[1]["status"], rows[1]["answer"], rows[1]["job_id"]) == ("succeeded", "one (retried)", NEW)
    assert rows[1]["error_code"] is None
    assert (rows[2]["status"], rows[2]["error_code"], rows[2]["job_id"]) == ("failed", "500", NEW)
    assert rows[2]["answer"] is None
    assert rows[6]["answer"] == "six"


def test_failed_malformed_and_missing_records_are_kept_with_their_reason(s3: Any, run: Any) -> None:
    jobs, index = run
    rows = _by_row(list(iter_results(S3OutputSource(s3), jobs, index)))

    assert (rows[4]["status"], rows[4]["error_code"]) == ("failed", "MalformedOutputLine")
    assert (rows[5]["status"], rows[5]["error_code"]) == ("failed", "NoOutputOrError")
    for row in (7, 8, 9):
        assert rows[row]["status"] == "missing"
        assert rows[row]["answer"] is None and rows[row]["job_id"] is None


def test_reconciliation_accounts_for_every_record(s3: Any, run: Any) -> None:
    jobs, index = run
    with join_results(S3OutputSource(s3), jobs, index) as joined:
        rec = joined.reconciliation

    assert (rec.total, rec.succeeded, rec.failed, rec.missing) == (10, 4, 3, 3)
    assert (rec.unexpected, rec.unexpected_record_ids) == (1, ("R9999999999",))
    assert rec.malformed == 2
    assert [(p.key.rsplit("/", 1)[-1], p.line) for p in rec.malformed_lines] == [
        ("part-a.jsonl.out", 2),
        ("part-a.jsonl.out", 3),
    ]
    assert rec.superseded == 2  # rows 1 and 2 were in both jobs
    old, new = rec.jobs
    assert (old.job_id, old.status, old.objects, old.succeeded, old.failed, old.malformed) == (
        OLD,
        "PartiallyCompleted",
        2,
        4,
        2,
        2,
    )
    assert (old.unexpected, new.succeeded, new.failed) == (1, 2, 1)
    assert rec.input_tokens == 10 + 21 * 5 and rec.output_tokens == 2 + 9 * 5
    assert (rec.manifest_input_tokens, rec.manifest_output_tokens) == (112, 44)
    assert old.manifest is not None and old.manifest.extra == {"inputAudioSecond": 0, "someFutureCount": 3}
    assert not rec.complete


def test_warnings_name_manifest_mismatches_unexpected_records_and_bad_lines(s3: Any, run: Any) -> None:
    jobs, index = run
    with join_results(S3OutputSource(s3), jobs, index) as joined:
        warnings = joined.reconciliation.warnings()

    assert f"job {OLD}: manifest says 3 records failed, output files hold 4" in warnings
    assert any("R9999999999" in w for w in warnings)
    assert any("part-a.jsonl.out line 2: invalid JSON" in w for w in warnings)


def test_a_job_without_output_leaves_its_records_missing_and_unfinished_jobs_are_flagged(
    s3: Any, tmp_path: Path
) -> None:
    s.put_job_output(s3, OLD, {"a.jsonl.out": [s.success_line(_rid(0), s.LLAMA_OUTPUT)]})
    jobs = [
        JobOutputRef(s.job_arn(OLD), s.OUTPUT_URI, "InProgress"),
        JobOutputRef(s.job_arn("expired00001"), s.OUTPUT_URI, "Expired"),
    ]
    with join_results(S3OutputSource(s3), jobs, _index(tmp_path, 3)) as joined:
        rec = joined.reconciliation
        statuses = [row["status"] for row in joined.records()]

    assert statuses == ["succeeded", "missing", "missing"]
    assert rec.non_terminal_jobs == (OLD,)
    assert f"job {OLD} is not finished: its output is not final" in rec.warnings()
    assert rec.jobs[1].objects == 0 and rec.jobs[1].manifest is None


def test_many_partitions_give_the_same_rows_in_the_same_order(
    s3: Any, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs, index = run
    single = list(iter_results(S3OutputSource(s3), jobs, index))
    monkeypatch.setattr(join_module, "PARTITION_BYTES", 64)
    with join_results(S3OutputSource(s3), jobs, index) as joined:
        assert len(joined._parts) > 4
        partitioned = list(joined.records())

    assert partitioned == single


def test_input_columns_follow_the_results_without_clobbering_them(s3: Any, tmp_path: Path) -> None:
    s.put_job_output(s3, OLD, {"a.jsonl.out": [s.success_line(_rid(0), s.NOVA_OUTPUT)]})
    index = tmp_path / "index.jsonl"
    index.write_bytes(
        s.index_line(_rid(0), 0, 7, id="own id", status="vip", input_status="x", text="hello") + b"\n"
    )
    jobs = [JobOutputRef(s.job_arn(OLD), s.OUTPUT_URI, "Completed")]

    with join_results(S3OutputSource(s3), jobs, index, include_input=True) as joined:
        (row,) = list(joined.records())
        columns = joined.columns

    assert columns[-4:] == ("input_id", "input_status", "input_input_status", "text")
    assert (row["id"], row["status"], row["answer"]) == (7, "succeeded", "Nova answer.")
    assert (row["input_id"], row["input_status"], row["input_input_status"], row["text"]) == (
        "own id",
        "vip",
        "x",
        "hello",
    )


def test_record_index_can_be_given_as_lines(s3: Any, run: Any) -> None:
    jobs, index = run
    lines = index.read_bytes().splitlines()

    from_lines = list(iter_results(S3OutputSource(s3), jobs, [line.decode() for line in lines]))

    assert from_lines == list(iter_results(S3OutputSource(s3), jobs, index))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([s.index_line("R1", 0), s.index_line("R1", 1)], "recordId R1 twice"),
        ([b"{not json"], "line 1 is not valid JSON"),
        ([s.index_line("R1", 0), orjson.dumps({"row": 1})], "line 2 has no recordId"),
        ([orjson.dumps({"recordId": "R1", "row": "zero"})], "line 1 has no integer row"),
    ],
    ids=["duplicate", "invalid-json", "no-record-id", "no-row"],
)
def test_a_broken_record_index_is_a_clear_error(s3: Any, lines: list[bytes], message: str) -> None:
    with pytest.raises(RecordIndexError, match=message), join_results(S3OutputSource(s3), [], lines):
        pass


def test_unreadable_record_index_file_is_a_clear_error(s3: Any, tmp_path: Path) -> None:
    with pytest.raises(RecordIndexError, match="cannot read the record index"):
        list(iter_results(S3OutputSource(s3), [], tmp_path / "nope.jsonl"))


def test_results_that_do_not_add_up_are_an_internal_error() -> None:
    with pytest.raises(InternalError, match="do not reconcile"):
        Reconciliation(
            total=3,
            succeeded=1,
            failed=1,
            missing=0,
            unexpected=0,
            malformed=0,
            superseded=0,
            input_tokens=0,
            output_tokens=0,
            manifest_input_tokens=None,
            manifest_output_tokens=None,
            jobs=(),
        )


def test_unexpected_records_are_all_counted_and_the_first_ids_kept(s3: Any, tmp_path: Path) -> None:
    strangers = [s.success_line(f"X{i:04d}", s.LLAMA_OUTPUT) for i in range(150)]
    s.put_job_output(s3, OLD, {"a.jsonl.out": strangers}, b"this manifest is not JSON")
    jobs = [JobOutputRef(s.job_arn(OLD), s.OUTPUT_URI, "Completed")]

    with join_results(S3OutputSource(s3), jobs, _index(tmp_path, 2)) as joined:
        rec = joined.reconciliation

    assert (rec.total, rec.missing, rec.unexpected, rec.jobs[0].unexpected) == (2, 2, 150, 150)
    assert rec.unexpected_record_ids == tuple(f"X{i:04d}" for i in range(100))
    assert rec.jobs[0].manifest is None and rec.jobs[0].manifest_error
    assert any("unreadable manifest.json.out" in w for w in rec.warnings())


def test_reconciliation_serializes_to_json_with_its_warnings(s3: Any, run: Any) -> None:
    jobs, index = run
    with join_results(S3OutputSource(s3), jobs, index) as joined:
        data = orjson.loads(orjson.dumps(joined.reconciliation.to_dict()))

    assert (data["total"], data["succeeded"], data["failed"], data["missing"]) == (10, 4, 3, 3)
    assert data["complete"] is False and data["warnings"] == joined.reconciliation.warnings()
    assert data["jobs"][0]["manifest"]["extra"]["inputAudioSecond"] == 0
    assert data["malformed_lines"][0]["line"] == 2
