"""Dataset readers: every source type, streaming in chunks, and one precise error per bad input."""

from __future__ import annotations

import gzip
import mmap
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch_runner.exceptions import DatasetError
from batch_runner.prepare.datasets import open_dataset
from batch_runner.prepare.datasets.csv_file import MAPPED_BLOCK_BYTES
from tests.readme_commands import ROOT
from tests.runner.planning_helpers import write_csv


def read_all(source: Any) -> list[dict[str, Any]]:
    return [row for chunk in open_dataset(source).chunks() for row in chunk.records()]


def test_csv_columns_are_text_with_quoted_newlines_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes('\ufeffid,text\n007,"a ""quoted""\nline"\n8,\n'.encode())
    assert read_all(path) == [{"id": "007", "text": 'a "quoted"\nline'}, {"id": "8", "text": ""}]


def test_bare_quotes_inside_unquoted_values_are_text(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b'size,label\n5" screen,x\n')
    assert read_all(path) == [{"size": '5" screen', "label": "x"}]


def test_large_csv_is_read_in_bounded_chunks(tmp_path: Path) -> None:
    rows = [[str(n), "x" * 1000] for n in range(3 * MAPPED_BLOCK_BYTES // 1000)]
    path = write_csv(tmp_path / "d.csv", ["n", "text"], rows)
    chunks = list(open_dataset(path).chunks())
    assert len(chunks) >= 3
    assert [chunk.first_row for chunk in chunks] == [
        0,
        *[sum(map(len, chunks[:k])) for k in range(1, len(chunks))],
    ]
    assert sum(map(len, chunks)) == len(rows)


_RSS_GROWTH = """
import os, sys
from pathlib import Path
from batch_runner.prepare.datasets import csv_file, open_dataset

def resident():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

csv_file.MAPPED_BLOCK_BYTES = 64 << 10
dataset = open_dataset(Path(sys.argv[1]))
before, peak, rows = resident(), 0, 0
for chunk in dataset.chunks():
    rows += len(chunk)
    peak = max(peak, resident())
assert rows == int(sys.argv[2])
print(peak - before)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/statm")
def test_a_memory_mapped_csv_file_leaves_memory_as_it_is_read(tmp_path: Path) -> None:
    rows = [[str(n), f'"{n}" ' + "x" * 1000] for n in range(60_000)]
    path = write_csv(tmp_path / "d.csv", ["n", "text"], rows)
    run = subprocess.run(
        [sys.executable, "-c", _RSS_GROWTH, str(path), str(len(rows))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    # Pages pyarrow and the quote check are done with are dropped: resident memory grows by the
    # read-ahead and Arrow's allocations (~15 MB), not by the file (60 MB).
    assert int(run.stdout) < path.stat().st_size // 2


def test_a_file_system_without_memory_maps_is_read_as_a_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise OSError("no memory maps here")

    monkeypatch.setattr(mmap, "mmap", refuse)
    path = tmp_path / "d.csv"
    path.write_bytes(b'id,text\n007,"a ""quoted""\nline"\n8,\n')
    assert read_all(path) == [{"id": "007", "text": 'a "quoted"\nline'}, {"id": "8", "text": ""}]
    path.write_bytes(b'a,b,c\nb0,ok,w\nb1,"she said "stop" and left",x\n')
    with pytest.raises(DatasetError, match="line 3: a quote inside a quoted value must be doubled"):
        read_all(path)


def test_jsonl_rows_keep_json_types_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"a": 1, "b": [1, 2]}\n\n{"a": "x"}\n', encoding="utf-8")
    (chunk,) = open_dataset(path).chunks()
    assert chunk.records() == [{"a": 1, "b": [1, 2]}, {"a": "x"}]
    assert chunk.where(1) == "row 2 (line 3)"


def test_jsonl_may_start_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n{"a": 2}\r\n')
    assert read_all(path) == [{"a": 1}, {"a": 2}]


def test_csv_with_windows_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b'a,b\r\n1,"x\r\ny"\r\n2,z\r\n')
    assert read_all(path) == [{"a": "1", "b": "x\r\ny"}, {"a": "2", "b": "z"}]


def test_parquet_is_read_batch_by_batch(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"n": list(range(20_000)), "t": ["x"] * 20_000}), path, row_group_size=5000)
    chunks = list(open_dataset(path).chunks())
    assert len(chunks) > 1
    assert chunks[-1].records()[-1] == {"n": 19_999, "t": "x"}


def test_dataframe_and_iterables_of_dicts(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": ["x", "y"], "n": [1, 2]})
    assert read_all(frame) == [{"a": "x", "n": 1}, {"a": "y", "n": 2}]
    mixed = pd.DataFrame({"a": [1, "two"]})  # no Arrow type: read row by row
    assert read_all(mixed) == [{"a": 1}, {"a": "two"}]
    assert read_all(iter([{"a": 1}, {"a": 2}])) == [{"a": 1}, {"a": 2}]


def write(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        path = directory / name
        path.write_bytes(content)
        return path

    return make


def _parquet_with_columns(*names: str) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        path = directory / "d.parquet"
        pq.write_table(pa.Table.from_arrays([pa.array(["x"])] * len(names), names=list(names)), path)
        return path

    return make


BAD_FILES = [
    ("missing", lambda d: d / "nope.csv", r"dataset file not found: .*nope\.csv; check the path"),
    ("missing, no extension", lambda d: d / "nope", r"dataset file not found: .*nope; check the path"),
    ("directory", lambda d: (d / "x.csv").mkdir() or d / "x.csv", r"x\.csv is not a file"),
    ("directory, no extension", lambda d: (d / "x").mkdir() or d / "x", r"x is not a file; pass .* a \.csv"),
    ("unsupported", write("d.xlsx", b"x"), r"unsupported file type '\.xlsx'; use one of \.csv, \.jsonl"),
    ("empty csv", write("d.csv", b""), r"d\.csv is empty: it has no header row"),
    (
        "csv wrong field count",
        write("d.csv", b"a,b\n1,2\n3,4,5\n"),
        r"line 3: malformed CSV row with 3 fields",
    ),
    (
        "csv unclosed quote",
        write("d.csv", b'a,b\n1,"2\n3,4\n'),
        r"line 2: a quoted value starts in this record and is never closed",
    ),
    (
        "csv quote inside a quoted value not doubled",
        write("d.csv", b'a,b,c\nb0,ok,w\nb1,"she said "stop" and left",x\n'),
        r'line 3: a quote inside a quoted value must be doubled \(write "" for each "\)',
    ),
    (
        "csv text after a closing quote",
        write("d.csv", b'a,b\n"a,"b",c\n'),
        r"line 2: a quote inside a quoted value must be doubled",
    ),
    ("csv text after the last quote", write("d.csv", b'a,b\n"abc"def,x\n'), r"line 2: a quote inside"),
    (
        "csv nul byte",
        write("d.csv", b'a,b\n1,2\n3,"x\x00y"\n'),
        r"line 3, byte 5: a NUL byte \(is the file UTF-16\?\)",
    ),
    ("csv utf-16", write("d.csv", "a,b\n1,2\n".encode("utf-16-le")), r"line 1, byte 2: a NUL byte"),
    ("csv bad utf-8", write("d.csv", b"a,b\n1,2\n3,\xff4\n"), r"line 3, byte 3: invalid UTF-8"),
    ("csv bad utf-8 header", write("d.csv", b"a,\xe9\n1,2\n"), r"line 1, byte 3: invalid UTF-8"),
    ("csv duplicate header", write("d.csv", b"a,b,a\n1,2,3\n"), r"duplicate column name\(s\) 'a'"),
    ("jsonl not json", write("d.jsonl", b'{"a": 1}\n{"a": \n'), r"d\.jsonl line 2: not valid JSON"),
    ("jsonl bad utf-8", write("d.jsonl", b'{"a": 1}\n{"a": "\xc3"}\n'), r"line 2, byte 8: invalid UTF-8"),
    (
        "jsonl not object",
        write("d.jsonl", b'{"a": 1}\n[1, 2]\n'),
        r"line 2: expected a JSON object, found list",
    ),
    ("parquet garbage", write("d.parquet", b"not parquet"), r"cannot be read as Parquet"),
    ("parquet duplicate column", _parquet_with_columns("text", "text"), r"duplicate column name\(s\) 'text'"),
]


@pytest.mark.parametrize(("make", "message"), [case[1:] for case in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_bad_files_give_one_line_errors(tmp_path: Path, make: Callable[[Path], Path], message: str) -> None:
    with pytest.raises(DatasetError, match=message) as caught:
        read_all(make(tmp_path))
    assert "\n" not in str(caught.value)


BAD_CSV = [case for case in BAD_FILES if case[0].startswith("csv ")]


@pytest.mark.parametrize(("make", "message"), [case[1:] for case in BAD_CSV], ids=[c[0] for c in BAD_CSV])
def test_compressed_bad_csv_gives_the_same_error(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    plain = make(tmp_path)  # read by pyarrow from a memory map; compressed, through a Python stream
    compressed = plain.with_name(plain.name + ".gz")
    compressed.write_bytes(gzip.compress(plain.read_bytes()))
    with pytest.raises(DatasetError, match=message):
        read_all(compressed)


@pytest.mark.parametrize(("columns", "repeated"), [(["text", "text"], "'text'"), ([1, "1"], "'1'")])
def test_a_dataframe_with_repeated_column_names_is_refused(columns: list[Any], repeated: str) -> None:
    frame = pd.DataFrame([["a", "b"]], columns=columns)
    with pytest.raises(DatasetError, match=rf"^DataFrame: duplicate column name\(s\) {repeated}; rename"):
        read_all(frame)


@pytest.mark.parametrize("source", [{"a": 1}, 42, [1, 2]])
def test_sources_that_are_not_datasets_are_refused(source: Any) -> None:
    with pytest.raises(
        DatasetError,
        match=r"pass a file path, an s3:// URI, a pandas or polars DataFrame|not a dict with text keys",
    ):
        read_all(source)
