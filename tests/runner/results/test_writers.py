"""Results files read back as written, in every format, and are replaced only when complete."""

from __future__ import annotations

import csv
import io
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch_runner.exceptions import UsageError
from batch_runner.results import RESULT_COLUMNS, JobOutputRef, S3OutputSource, collect_results
from batch_runner.results.row_encoding import CsvParts
from batch_runner.results.writers import write_rows
from tests.runner import results_samples as s

JOB = "embed0000001"


def _embedding_run(s3: Any, tmp_path: Path) -> tuple[list[JobOutputRef], Path]:
    lines = [
        s.success_line("R0000000001", s.TITAN_EMBEDDING_BY_TYPE_OUTPUT),
        s.success_line("R0000000000", s.TITAN_EMBEDDING_OUTPUT),
        s.error_line("R0000000002", 400, 'bad "input", with comma'),
    ]
    s.put_job_output(s3, JOB, {"in.jsonl.out": lines})
    index = tmp_path / "index.jsonl"
    index.write_bytes(
        b"\n".join(
            s.index_line(f"R{row:010d}", row, row * 10, text=f"t{row}", score=row + 0.5, tags=["a"])
            for row in range(4)
        )
    )
    return [JobOutputRef(s.job_arn(JOB), s.OUTPUT_URI, "PartiallyCompleted")], index


def test_csv_holds_vectors_as_json_arrays_and_every_row(s3: Any, tmp_path: Path) -> None:
    jobs, index = _embedding_run(s3, tmp_path)
    out = tmp_path / "results.csv"

    rec = collect_results(S3OutputSource(s3), jobs, index, out, include_input=True)

    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert (rec.total, rec.succeeded, rec.failed, rec.missing) == (4, 2, 1, 1)
    assert [r["status"] for r in rows] == ["succeeded", "succeeded", "failed", "missing"]
    assert orjson.loads(rows[0]["answer"]) == [0.125, -0.5, 0.25]
    assert orjson.loads(rows[1]["answer"]) == [1.0, 0.5]
    assert (rows[2]["error_code"], rows[2]["error_message"]) == ("400", 'bad "input", with comma')
    assert (rows[0]["input_tokens"], rows[0]["output_tokens"], rows[3]["answer"]) == ("6", "", "")
    assert (rows[1]["id"], rows[1]["text"], rows[1]["score"], rows[1]["tags"]) == ("10", "t1", "1.5", '["a"]')


def test_jsonl_keeps_types(s3: Any, tmp_path: Path) -> None:
    jobs, index = _embedding_run(s3, tmp_path)
    out = tmp_path / "results.jsonl"

    collect_results(S3OutputSource(s3), jobs, index, out)

    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert rows[0]["answer"] == [0.125, -0.5, 0.25] and rows[0]["id"] == 0
    missing = dict.fromkeys(RESULT_COLUMNS) | {
        "record_id": "R0000000003",
        "row": 3,
        "id": 30,
        "status": "missing",
    }
    assert rows[3] == missing


def test_parquet_has_typed_columns_and_vectors_as_list_of_float(s3: Any, tmp_path: Path) -> None:
    jobs, index = _embedding_run(s3, tmp_path)
    out = tmp_path / "results.parquet"

    collect_results(S3OutputSource(s3), jobs, index, out, include_input=True)

    table = pq.read_table(out)
    assert table.schema.field("answer").type == pa.list_(pa.float32())
    assert table.schema.field("row").type == pa.int64() and table.schema.field("id").type == pa.int64()
    assert table.schema.field("score").type == pa.float64() and table.schema.field("tags").type == pa.string()
    data = table.to_pylist()
    assert data[0]["answer"] == [0.125, -0.5, 0.25] and data[3]["answer"] is None
    assert [r["status"] for r in data] == ["succeeded", "succeeded", "failed", "missing"]
    assert data[2]["error_message"] == 'bad "input", with comma' and data[1]["tags"] == '["a"]'


def test_parquet_text_answers_are_strings_across_several_batches(tmp_path: Path, monkeypatch: Any) -> None:
    from batch_runner.results import writers

    monkeypatch.setattr(writers, "_PARQUET_ROWS", 3)
    out = tmp_path / "r.parquet"
    rows = ([i, f"answer {i}"] for i in range(10))

    assert write_rows(out, ("row", "answer"), {"row": "int", "answer": "string"}, rows) == 10

    assert pq.read_table(out).to_pydict() == {
        "row": list(range(10)),
        "answer": [f"answer {i}" for i in range(10)],
    }
    assert pq.ParquetFile(out).metadata.num_row_groups == 4


def test_csv_is_byte_for_byte_what_the_stdlib_csv_writer_produces(tmp_path: Path) -> None:
    rng = random.Random(5)
    alphabet = ['"', ",", "\r", "\n", " ", "a", "é", "\t", "'", "\x00", "😀"]
    values: list[Any] = [None, "", 0, -3, 1.5, 1e-20, "plain"]
    values += ["".join(rng.choices(alphabet, k=rng.randint(1, 12))) for _ in range(3000)]
    rows = [values[i : i + 5] for i in range(0, len(values) - 5, 5)]
    kinds = dict.fromkeys("abcde", "string")
    ours = tmp_path / "ours.csv"

    write_rows(ours, tuple("abcde"), kinds, ([*row] for row in rows))

    expected = io.StringIO(newline="")
    writer = csv.writer(expected)
    writer.writerow("abcde")
    writer.writerows(rows)
    assert ours.read_bytes() == expected.getvalue().encode()


@pytest.mark.parametrize("name", ["results.xlsx", "results", "results.json"])
def test_unsupported_extension_is_a_usage_error_before_any_s3_access(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match=r"use one of \.csv, \.jsonl, \.parquet"):
        collect_results(_Untouchable(), [JobOutputRef(s.job_arn(JOB), s.OUTPUT_URI)], [], tmp_path / name)


def test_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        collect_results(_Untouchable(), [], [], tmp_path / "nope" / "r.csv")


class _Untouchable:
    def list_objects(self, bucket: str, prefix: str) -> Iterator[Any]:
        raise AssertionError("S3 must not be touched")

    def iter_lines(self, bucket: str, key: str) -> Iterator[bytes]:
        raise AssertionError("S3 must not be touched")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_an_error_mid_write_leaves_the_previous_file_intact(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"results{suffix}"
    write_rows(out, ("row",), {"row": "int"}, ([i] for i in range(3)))
    before = out.read_bytes()

    def rows() -> Iterator[list[Any]]:
        for i in range(20_000):
            yield [i]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_rows(out, ("row",), {"row": "int"}, rows())

    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_a_killed_process_leaves_the_previous_file_intact(tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    out.write_text("row\nold\n")
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from batch_runner.results.writers import write_rows

        def rows():
            for i in range(100_000):
                if i == 50_000:
                    os.kill(os.getpid(), signal.SIGKILL)
                yield [i]

        write_rows(Path({str(out)!r}), ("row",), {{"row": "int"}}, rows())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)

    assert result.returncode == -9
    assert out.read_text() == "row\nold\n"


def test_csv_row_parts_encode_exactly_as_csv_writer(tmp_path: Path) -> None:
    rng = random.Random(7)
    texts = ["", "plain", "a,b", 'say "hi"', "two\nlines", "cr\r", " edge ", "é ü 雪", '"', ","]
    parts = CsvParts("json", ("label", "tags"), ("string", "json"), ("float", "json", "bool"))
    for _ in range(500):
        status = rng.choice(["succeeded", "failed"])
        answer = rng.choice([*texts, None, [0.5, -1.0]])
        fields = (
            status,
            answer,
            rng.choice([None, "end_turn", "a,b"]),
            rng.choice([None, 12]),
            rng.choice([None, 0, 7]),
            rng.choice([None, "400", "x,y"]),
            rng.choice([None, *texts]),
            rng.choice(["job1", "job,2"]),
            rng.choice([None, False, {"label": rng.choice(texts), "tags": [rng.choice(texts)]}]),
        )
        user_id = rng.choice([None, 5, "u,1"])
        inputs = [
            rng.choice([1.5, 2, None]),
            rng.choice([{"k": "v"}, "t,x", None, 3]),
            rng.choice([True, None]),
        ]
        line = CsvParts.line(
            parts.prefix("R0000000001", user_id, 1), parts.outcome(fields), parts.inputs(inputs)
        )

        parsed = fields[8] if isinstance(fields[8], dict) else {}
        values = ["R0000000001", user_id, 1, *fields[:8], parsed.get("label"), parsed.get("tags"), *inputs]
        json_columns = {1, 4, 12, 14, 15}  # id, answer, tags and two inputs hold JSON when not text
        expected = io.StringIO(newline="")
        csv.writer(expected).writerow(
            [
                orjson.dumps(v).decode()
                if i in json_columns and v is not None and not isinstance(v, str)
                else v
                for i, v in enumerate(values)
            ]
        )
        assert line.decode() == expected.getvalue()


PARQUET_KINDS = {
    "row": "int",
    "text": "string",
    "score": "float",
    "flag": "bool",
    "nothing": "null",
    "answer": "vector",
}


def _typed_rows() -> list[list[Any]]:
    rows: list[list[Any]] = [
        [
            row,
            None if row == 4 else f'say "hi", row {row}\n\u00e9\U0001f600',
            row if row % 3 == 0 else row + 0.25,  # an integer in a float column
            row % 2 == 0,
            None,
            None if row == 5 else [0.125 * row, -0.5],
        ]
        for row in range(11)
    ]
    rows[7][1] = "x" * (3 << 20)  # longer than the JSON reader's default block
    return rows


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_rows_written_from_jsonl_lines_are_the_rows_written_from_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    from batch_runner.results import writers

    monkeypatch.setattr(writers, "_PARQUET_ROWS", 4)  # several row groups
    columns, rows = tuple(PARQUET_KINDS), _typed_rows()
    write_rows(tmp_path / f"values{suffix}", columns, PARQUET_KINDS, [list(row) for row in rows])
    lines = [orjson.dumps(dict(zip(columns, row, strict=True))) for row in rows]

    def no_values(*args: Any) -> int:
        raise AssertionError("the lines were decoded into values")

    monkeypatch.setattr(writers, "_write_parquet", no_values)  # Arrow reads the lines column-wise
    writers.write_json_lines(tmp_path / f"lines{suffix}", columns, PARQUET_KINDS, [lines[:5], [], lines[5:]])

    assert (tmp_path / f"lines{suffix}").read_bytes() == (tmp_path / f"values{suffix}").read_bytes()
    if suffix == ".parquet":
        assert pq.ParquetFile(tmp_path / f"lines{suffix}").metadata.num_row_groups == 3
        assert pq.read_table(tmp_path / f"lines{suffix}").to_pylist()[3]["answer"] == [0.375, -0.5]


def test_parquet_with_json_text_columns_decodes_the_lines(tmp_path: Path) -> None:
    from batch_runner.results.writers import write_json_lines

    kinds = {"row": "int", "tags": "json"}  # nested values become JSON text: not Arrow's reader's job
    rows = [[0, ["a", {"b": 1}]], [1, "plain"], [2, None]]
    lines = [orjson.dumps({"row": row, "tags": tags}) for row, tags in rows]
    write_json_lines(tmp_path / "lines.parquet", tuple(kinds), kinds, [lines])
    write_rows(tmp_path / "values.parquet", tuple(kinds), kinds, [list(row) for row in rows])

    assert (tmp_path / "lines.parquet").read_bytes() == (tmp_path / "values.parquet").read_bytes()
    assert pq.read_table(tmp_path / "lines.parquet").column("tags").to_pylist() == [
        '["a",{"b":1}]',
        "plain",
        None,
    ]


def test_no_rows_is_an_empty_parquet_file_with_the_schema(tmp_path: Path) -> None:
    from batch_runner.results.writers import write_json_lines

    write_json_lines(tmp_path / "lines.parquet", tuple(PARQUET_KINDS), PARQUET_KINDS, [])
    write_rows(tmp_path / "values.parquet", tuple(PARQUET_KINDS), PARQUET_KINDS, [])

    assert (tmp_path / "lines.parquet").read_bytes() == (tmp_path / "values.parquet").read_bytes()
    assert pq.read_table(tmp_path / "lines.parquet").num_rows == 0
