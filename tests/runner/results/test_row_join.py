"""The row-addressed join (runner record IDs) gives exactly what the general hash join gives.

Each case is joined twice, once forced through the general join, and every row, every count of
the reconciliation and the written file must be the same; other tests check which join ran.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batch_runner.catalog.output_schema import SCHEMA_ERROR_CODE
from batch_runner.prepare.oversized import OversizeCheck
from batch_runner.prepare.records import dumps_line
from batch_runner.results import (
    JobOutputRef,
    LocalOutputSource,
    Reconciliation,
    collect_results,
    iter_results,
    join_results,
)
from batch_runner.results import join as join_module
from batch_runner.results import row_join as row_join_module
from tests.runner import results_samples as s

OLD, NEW = "jobold000001", "jobnew000002"
SCHEMA = {
    "type": "object",
    "properties": {"label": {"enum": ["yes", "no"]}, "tags": {"type": "array"}, "score": {"type": "number"}},
    "required": ["label"],
}


def rid(row: int) -> str:
    return f"R{row:010d}"


def claude(text: str, stop_reason: str = "end_turn") -> dict[str, Any]:
    return s.claude_output(text) | {"stop_reason": stop_reason}


def write_job(root: Path, job_id: str, files: dict[str, list[bytes]]) -> JobOutputRef:
    folder = root / s.BUCKET / "runs/demo/output" / job_id
    folder.mkdir(parents=True)
    for name, lines in files.items():
        (folder / name).write_bytes(b"\n".join(lines) + b"\n")
    return JobOutputRef(s.job_arn(job_id), s.OUTPUT_URI, "Completed")


def write_index(root: Path, lines: list[bytes]) -> Path:
    index = root / "record-index.jsonl"
    index.write_bytes(b"".join(line + b"\n" for line in lines))
    return index


def answer(row: int) -> str:
    if row % 3 == 0:
        return json.dumps({"label": "yes", "tags": ["a, b", 'say "hi"'], "score": row / 4})
    if row % 3 == 1:
        return f'Here:\n```json\n{{"label": "no", "tags": [], "score": {row}}}\n```'
    return '{"label": "maybe"}'  # breaks the schema


@pytest.fixture
def run(tmp_path: Path) -> tuple[LocalOutputSource, list[JobOutputRef], Path]:
    """Twelve rows: shuffled answers with commas, quotes and line breaks, errors, bad lines,
    retries that win both ways, duplicates within a job, missing rows and unknown record IDs."""
    old = write_job(
        tmp_path,
        OLD,
        {
            "b.jsonl.out": [
                s.success_line(rid(5), claude(answer(5))),
                s.success_line(rid(0), claude(answer(0))),
                s.error_line(rid(1), 400, 'bad "input", with comma\nand a line break'),
                s.success_line(rid(2), claude(answer(2), "max_tokens")),
                s.success_line(rid(3), claude(answer(3))),  # replaced by the retry
                s.success_line(rid(3), claude(answer(3))),  # twice in one job
            ],
            "a.jsonl.out": [
                b"",
                b"not json at all",
                b'{"recordId": "' + rid(4).encode() + b'", "modelInput": {"messages": [',  # cut off
                s.success_line(rid(6), s.TITAN_EMBEDDING_OUTPUT),
                s.success_line("R9999999999", claude(answer(1))),  # a row beyond the index
                s.success_line("R\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0667", claude("x")),
                s.success_line("user-7", claude(answer(1))),  # not a runner ID
                s.success_line(rid(8), claude(answer(8))),  # failed by the retry
            ],
        },
    )
    new = write_job(
        tmp_path,
        NEW,
        {
            "retry.jsonl.out": [
                s.error_line(rid(3), 500, "Internal error on retry"),
                s.error_line(rid(8), 429, "throttled"),
                s.success_line(rid(1), claude(answer(1))),  # fixes the earlier error
                s.success_line("user-7", claude(answer(0))),  # unknown again: superseded
            ]
        },
    )
    index = write_index(
        tmp_path,
        [s.index_line(rid(row), row, None, text=f"q,{row}", n=row, f=row + 0.5) for row in range(12)],
    )
    return LocalOutputSource(tmp_path), [old, new], index


def general_join_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(join_module, "scan_index", lambda blocks, include_input: None)


def every_output(test: Callable[..., None]) -> Callable[..., None]:
    """Parametrised by output format, with and without input columns, with and without a schema."""
    test = pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])(test)
    test = pytest.mark.parametrize("include_input", [False, True], ids=["results", "with-input"])(test)
    return pytest.mark.parametrize("schema", [None, SCHEMA], ids=["plain", "schema"])(test)


def collect_both_ways(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, options: dict[str, Any]
) -> Reconciliation:
    """Collect with the row join in this process, with the row join in two worker processes (the
    three output objects go to alternate workers: a record's newest outcome may be in either's
    files), then forced through the general join: the same file and counts every time."""
    source, jobs, index = run
    fast = collect_results(source, jobs, index, tmp_path / f"fast{suffix}", workers=0, **options)
    parallel = collect_results(source, jobs, index, tmp_path / f"parallel{suffix}", workers=2, **options)
    general_join_only(monkeypatch)
    general = collect_results(source, jobs, index, tmp_path / f"general{suffix}", **options)

    assert (tmp_path / f"fast{suffix}").read_bytes() == (tmp_path / f"general{suffix}").read_bytes()
    assert (tmp_path / f"parallel{suffix}").read_bytes() == (tmp_path / f"general{suffix}").read_bytes()
    assert fast.to_dict() == general.to_dict() == parallel.to_dict()
    return fast


@every_output
def test_row_join_writes_the_same_file_and_counts_as_the_general_join(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, include_input: bool, schema: Any
) -> None:
    options: dict[str, Any] = {"include_input": include_input, "output_schema": schema}
    fast = collect_both_ways(run, tmp_path, monkeypatch, suffix, options)

    # Rows 0, 1, 2, 5, 6 succeeded (with the schema only 0 and 1), 3, 4, 8 failed, 7 and 9-11 missing.
    counts = (fast.total, fast.succeeded, fast.failed, fast.missing)
    assert counts == ((12, 2, 6, 4) if schema else (12, 5, 3, 4))
    assert (fast.unexpected, fast.superseded, fast.malformed) == (3, 5, 2)
    assert fast.unexpected_record_ids == tuple(
        sorted(["R9999999999", "R" + "\u0660" * 9 + "\u0667", "user-7"])
    )


@every_output
def test_rows_left_out_as_oversized_are_failed_the_same_through_both_joins(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, include_input: bool, schema: Any
) -> None:
    """Rows 5, 7 and 10 left out by planning (``--skip-oversized``); row 5 still has an answer
    from a job, which is newer than the planner's verdict and wins."""
    source, jobs, index = run
    problem = "about 250,000 input tokens (estimated from 1,000,000 characters) plus 1,024 output tokens"
    lines = []
    for row in range(12):
        entry: dict[str, Any] = {"recordId": rid(row), "row": row, "id": None}
        if row in (5, 7, 10):
            entry["skipped"] = OversizeCheck.skipped(problem)  # before "input", as the planner writes
        lines.append(dumps_line(entry | {"input": {"text": f"q,{row}", "n": row}}).rstrip(b"\n"))
    write_index(tmp_path, lines)
    options: dict[str, Any] = {"include_input": include_input, "output_schema": schema}

    with join_results(source, jobs, index) as joined:
        assert all(part.name.startswith("rows-") for part in joined._parts)
    rows = list(iter_results(source, jobs, index, **options))
    fast = collect_both_ways(run, tmp_path, monkeypatch, suffix, options)

    assert rows == list(iter_results(source, jobs, index, **options))  # now by the general join
    left_out = [(r["status"], r["error_code"], r["error_message"], r["job_id"]) for r in (rows[7], rows[10])]
    assert left_out == [("failed", "oversized", f"not sent: {problem}", None)] * 2
    assert (rows[5]["error_code"], rows[5]["job_id"]) == ((SCHEMA_ERROR_CODE if schema else None), OLD)
    counts = (fast.total, fast.succeeded, fast.failed, fast.missing, fast.superseded)
    assert counts == ((12, 2, 8, 2, 6) if schema else (12, 5, 5, 2, 6))


def test_row_join_is_used_for_runner_ids_and_keeps_the_newest_outcome(run: Any) -> None:
    source, jobs, index = run
    with join_results(source, jobs, index) as joined:
        assert all(part.name.startswith("rows-") for part in joined._parts)
        rows = list(joined.records())

    assert [row["row"] for row in rows] == list(range(12))
    assert [row["record_id"] for row in rows] == [rid(row) for row in range(12)]
    statuses = {row["row"]: (row["status"], row["error_code"], row["job_id"]) for row in rows}
    assert statuses[1] == ("succeeded", None, NEW)
    assert statuses[3] == ("failed", "500", NEW)
    assert statuses[4] == ("failed", "MalformedOutputLine", OLD)  # its recordId salvaged
    assert statuses[7] == ("missing", None, None)  # "user-7" and R...7 in Arabic digits are not row 7
    assert statuses[8] == ("failed", "429", NEW)
    assert rows[6]["answer"] == [0.125, -0.5, 0.25]
    assert rows[2]["stop_reason"] == "max_tokens"


def test_an_index_of_other_ids_takes_the_general_join(tmp_path: Path) -> None:
    job = write_job(
        tmp_path,
        OLD,
        {
            "a.jsonl.out": [
                s.success_line("b", claude("bee")),
                s.success_line("a", claude("ay")),
                s.error_line("a"),
            ]
        },
    )
    index = write_index(tmp_path, [s.index_line(key, row) for row, key in enumerate("abc")])

    with join_results(LocalOutputSource(tmp_path), [job], index) as joined:
        assert not any(part.name.startswith("rows-") for part in joined._parts)
        rows = list(joined.records())
        rec = joined.reconciliation

    assert [(r["record_id"], r["status"], r["answer"]) for r in rows] == [
        ("a", "failed", None),
        ("b", "succeeded", "bee"),
        ("c", "missing", None),
    ]
    assert (rec.succeeded, rec.failed, rec.missing, rec.superseded) == (1, 1, 1, 1)


@pytest.mark.parametrize(
    "index_rows",
    [
        [(rid(0), 0), (rid(2), 2), (rid(3), 3)],  # a gap: line 2 is row 2, not row 1
        [(rid(0), 0), (rid(2), 1), (rid(1), 2)],  # runner IDs, but not of their rows
        [(rid(1), 1), (rid(0), 0), (rid(2), 2)],  # not in row order
    ],
    ids=["gap", "ids-of-other-rows", "unordered"],
)
def test_an_index_that_is_not_line_n_row_n_takes_the_general_join(
    tmp_path: Path, index_rows: list[tuple[str, int]]
) -> None:
    job = write_job(
        tmp_path, OLD, {"a.jsonl.out": [s.success_line(rid(row), claude(f"a{row}")) for row in range(4)]}
    )
    index = write_index(tmp_path, [s.index_line(key, row) for key, row in index_rows])

    with join_results(LocalOutputSource(tmp_path), [job], index) as joined:
        assert not any(part.name.startswith("rows-") for part in joined._parts)
        rows = list(joined.records())

    assert [(r["record_id"], r["row"]) for r in rows] == index_rows
    assert [r["answer"] for r in rows] == [f"a{int(key[1:])}" for key, _ in index_rows]


@pytest.mark.parametrize("workers", [0, 2], ids=["here", "workers"])
def test_too_many_unknown_ids_hand_over_to_the_general_join(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    source, jobs, index = run
    expected = list(iter_results(source, jobs, index))
    monkeypatch.setattr(row_join_module, "MAX_STRANGERS", 1)

    with join_results(source, jobs, index, workers=workers) as joined:
        assert not any(part.name.startswith("rows-") for part in joined._parts)
        assert list(joined.records()) == expected
        assert joined.reconciliation.unexpected == 3


def test_user_ids_and_blank_index_lines_are_read_again_for_the_rows(tmp_path: Path) -> None:
    job = write_job(tmp_path, OLD, {"a.jsonl.out": [s.success_line(rid(1), claude("one"))]})
    lines = [s.index_line(rid(0), 0, "x,y"), b"", s.index_line(rid(1), 1, 7), b"  ", s.index_line(rid(2), 2)]
    index = write_index(tmp_path, lines)

    out = tmp_path / "out.csv"
    collect_results(LocalOutputSource(tmp_path), [job], index, out)
    rows = list(iter_results(LocalOutputSource(tmp_path), [job], [line.decode() for line in lines]))

    assert [(r["id"], r["status"]) for r in rows] == [("x,y", "missing"), (7, "succeeded"), (None, "missing")]
    assert out.read_bytes().split(b"\r\n")[1:4] == [
        b'R0000000000,"x,y",0,missing,,,,,,,',
        b"R0000000001,7,1,succeeded,one,end_turn,21,9,,," + OLD.encode(),
        b"R0000000002,,2,missing,,,,,,,",
    ]


def test_a_broken_index_line_is_still_a_clear_error(tmp_path: Path) -> None:
    index = write_index(tmp_path, [s.index_line(rid(0), 0), b"{not json"])

    with pytest.raises(Exception, match="line 2 is not valid JSON"):
        list(iter_results(LocalOutputSource(tmp_path), [], index))


def test_spool_partitions_hold_consecutive_rows(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    source, jobs, index = run
    single = list(iter_results(source, jobs, index))
    monkeypatch.setattr(join_module, "PARTITION_BYTES", 64)

    with join_results(source, jobs, index) as joined:
        assert len(joined._parts) > 4
        assert list(joined.records()) == single
        # Read twice: the spool stays until the join's context ends.
        assert list(joined.records()) == single


def test_the_join_reads_the_planners_index_lines_by_row() -> None:
    """The planner's index lines (records.py encodes each entry with orjson) take the fast layout."""
    import orjson

    from batch_runner.prepare.record_ids import runner_record_id

    for row in (0, 7, 1234567, 10**10 - 1):
        for user in (None, "user-7", 42):
            line = orjson.dumps({"recordId": runner_record_id(row), "row": row, "id": user, "input": {}})
            found = row_join_module._PLANNED_INDEX_LINE.match(line)
            assert found is not None and int(found.group(1)) == int(found.group(2)) == row


def test_rows_joined_for_csv_are_read_as_csv_lines(run: Any) -> None:
    source, jobs, index = run
    with join_results(source, jobs, index, csv=True) as joined:
        lines = b"".join(joined.csv_lines()).split(b"\r\n")
        assert joined.csv_encoded
        with pytest.raises(Exception, match="csv_lines"):
            next(joined.rows())

    assert lines[0].startswith(b"R0000000000,,0,succeeded,")
    answer = b'"Here:\n```json\n{""label"": ""no"", ""tags"": [], ""score"": 1}\n```"'
    assert lines[1] == b"R0000000001,,1,succeeded,%s,end_turn,21,9,,,%s" % (answer, NEW.encode())
    assert lines[7] == b"R0000000007,,7,missing,,,,,,,"


# Every kind of property column, with values that take each branch of the CSV encoding.
VARIED_SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": ["string", "null"]},
        "flag": {"type": "boolean"},
        "count": {"type": "integer"},
        "score": {"type": "number"},
        "tags": {"type": "array"},
        "any": {},
        "status": {"enum": ["open", "done"]},  # named like a result column: answer_status
    },
    "required": ["flag"],
}
TEXTS = ["", "plain", "a,b", 'say "hi"', "two\nlines", "cr\r", " edge ", "é ü 雪", '"', ","]
ANY = [None, True, False, 0, -3, 2.5, "s,t", [], [1], [1, 2], ["a", 'b"c'], {}, {"k": [1, "x,y"], "n": None}]


def varied_answer(rng: Any) -> str:
    value = {
        "text": rng.choice([*TEXTS, None]),
        "flag": rng.choice([True, False]),
        "count": rng.choice([0, 7, -12, 2**40]),
        "score": rng.choice([0.5, 3, -1e-7, 1e300]),
        "tags": rng.choice([[], ["x"], ["a, b", 'say "hi"'], [1, 2.5], [{"deep": ["é"]}]]),
        "any": rng.choice(ANY),
        "status": rng.choice(["open", "done"]),
    }
    for name in rng.sample(sorted(value), rng.randrange(3)):
        if name != "flag":
            del value[name]  # absent properties are empty fields
    if rng.random() < 0.1:
        return json.dumps(value, indent=2)  # spaces and line breaks are not kept
    return json.dumps(value, ensure_ascii=rng.random() < 0.5)


def shuffled_run(
    tmp_path: Path, seed: int, make_answer: Callable[[Any], str], *, rows: int, answered: int
) -> tuple[LocalOutputSource, list[JobOutputRef], Path]:
    """One job answering ``answered`` of ``rows`` rows in a shuffled order, with random answers."""
    import random

    rng = random.Random(seed)
    order = list(range(rows))
    rng.shuffle(order)
    lines = [s.success_line(rid(row), claude(make_answer(rng))) for row in order[:answered]]
    job = write_job(tmp_path, OLD, {"a.jsonl.out": lines})
    index = write_index(
        tmp_path, [s.index_line(rid(row), row, None, text=rng.choice(TEXTS)) for row in range(rows)]
    )
    return LocalOutputSource(tmp_path), [job], index


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
@pytest.mark.parametrize("include_input", [False, True], ids=["results", "with-input"])
def test_every_kind_of_property_is_written_the_same_through_both_joins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, include_input: bool
) -> None:
    """The row join encodes property columns straight from the parsed answer; the general join
    writes them from values: byte for byte the same file, in every format."""
    run = shuffled_run(tmp_path, 16, varied_answer, rows=80, answered=75)
    options: dict[str, Any] = {"include_input": include_input, "output_schema": VARIED_SCHEMA}

    fast = collect_both_ways(run, tmp_path, monkeypatch, suffix, options)

    assert (fast.succeeded, fast.missing) == (75, 5)


# The same kinds of property, each typed as msgspec decodes it in one pass (``typed_answers``).
TYPED_SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": ["string", "null"]},
        "flag": {"type": "boolean"},
        "count": {"type": "integer", "minimum": -20},
        "score": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "status": {"enum": ["open", "done"]},
    },
    "required": ["flag"],
    "additionalProperties": False,
}


def typed_answer(rng: Any) -> str:
    value = {
        "text": rng.choice([*TEXTS, None]),
        "flag": rng.choice([True, False]),
        "count": rng.choice([0, 7, -12, 2**40, 2**60, -30, 1.0]),  # the last three: general path
        "score": rng.choice([0.5, 3, -1e-7, 1e300, 2**52, 2**60]),  # 2**60 widens the column
        "tags": rng.choice([[], ["x"], ["a, b", 'say "hi"', "é"]]),
        "status": rng.choice(["open", "done", "maybe"]),
    }
    for name in rng.sample(sorted(value), rng.randrange(3)):
        if name != "flag":
            del value[name]
    text = json.dumps(value, ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.1:
        text = text.replace('{"', '{"flag": "no", "', 1)  # a duplicated key: the last one counts
    return text


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
@pytest.mark.parametrize("include_input", [False, True], ids=["results", "with-input"])
def test_typed_answers_are_written_as_the_general_path_writes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, include_input: bool
) -> None:
    """Answers decoded into typed records give the same file as answers parsed by orjson, through
    the row join (in this process and in workers) and the general join; also once a number column
    is widened to JSON text for Parquet part way through (CSV keeps writing numbers as before)."""
    from batch_runner.catalog.output_schema import output_schema
    from batch_runner.results import answers as answers_module
    from batch_runner.results.typed_answers import typed_answers

    assert typed_answers(output_schema(TYPED_SCHEMA).validator) is not None
    run = shuffled_run(tmp_path, 17, typed_answer, rows=120, answered=115)
    options: dict[str, Any] = {"include_input": include_input, "output_schema": TYPED_SCHEMA}
    typed = collect_results(*run, tmp_path / f"typed{suffix}", workers=0, **options)
    monkeypatch.setattr(answers_module, "typed_answers", lambda validator: None)
    untyped = collect_results(*run, tmp_path / f"untyped{suffix}", workers=0, **options)
    monkeypatch.undo()

    both = collect_both_ways(run, tmp_path, monkeypatch, suffix, options)

    assert (tmp_path / f"typed{suffix}").read_bytes() == (tmp_path / f"untyped{suffix}").read_bytes()
    assert (tmp_path / f"typed{suffix}").read_bytes() == (tmp_path / f"fast{suffix}").read_bytes()
    assert typed.to_dict() == untyped.to_dict() == both.to_dict()
    assert 40 < typed.succeeded < 100 and typed.schema_failed > 5
