"""Every Arrow text and value type, from every producer: pyarrow, pandas 3, polars, Hugging Face.

Text columns of any layout (string, large_string, string_view, dictionary) must plan byte for byte
like the same data as CSV, on the column-wise path; other types render as the README's table says.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch_runner.prepare import records
from batch_runner.prepare.datasets import open_dataset
from batch_runner.prepare.planning import build_plan
from tests.runner.planning_helpers import SMALL_QUOTAS, conversation_rows, options, read_lines, write_csv

TEXT_TYPES = {
    "string": pa.string(),
    "large_string": pa.large_string(),
    "string_view": pa.string_view(),
    "dictionary": pa.dictionary(pa.int32(), pa.string()),
}
COLUMNS = ["Context", "Response"]


def texts(plan: Any) -> list[str]:
    return [r["modelInput"]["messages"][0]["content"][0]["text"] for r in read_lines(plan.shards[0].path)]


def plan_bytes(plan: Any) -> tuple[list[bytes], bytes]:
    return [s.path.read_bytes() for s in plan.shards], plan.record_index_path.read_bytes()


@pytest.fixture
def csv_reference(tmp_path: Path) -> tuple[list[bytes], bytes]:
    data = write_csv(tmp_path / "d.csv", COLUMNS, conversation_rows(12))
    return plan_bytes(build_plan(data, options(), quotas=SMALL_QUOTAS, workdir=tmp_path / "csv"))


@pytest.fixture
def column_wise_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails a test whose batches leave the column-wise path (the fast path must keep its speed)."""

    def refuse(self: Any, chunk: Any) -> Any:
        raise AssertionError(f"batch at row {chunk.first_row} went the per-row way")

    monkeypatch.setattr(records.RowEncoder, "encode", refuse)


def conversation_table(text_type: pa.DataType) -> pa.Table:
    rows = conversation_rows(12)
    arrays = [pa.array([row[k] for row in rows]).cast(text_type) for k in range(2)]
    return pa.table(arrays, names=COLUMNS)


@pytest.mark.parametrize("name", TEXT_TYPES)
def test_parquet_text_of_every_layout_plans_like_csv_on_the_fast_path(
    tmp_path: Path, name: str, csv_reference: Any, column_wise_only: None
) -> None:
    pq.write_table(conversation_table(TEXT_TYPES[name]), tmp_path / "d.parquet")
    plan = build_plan(tmp_path / "d.parquet", options(), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")
    assert plan_bytes(plan) == csv_reference


@pytest.mark.parametrize("name", TEXT_TYPES)
def test_arrow_tables_and_streams_of_every_layout_plan_like_csv(
    tmp_path: Path, name: str, csv_reference: Any, column_wise_only: None
) -> None:
    table = conversation_table(TEXT_TYPES[name])
    for k, source in enumerate([table, table.to_reader(), _CStreamOnly(table)]):
        plan = build_plan(source, options(), quotas=SMALL_QUOTAS, workdir=tmp_path / f"w{k}")
        assert plan_bytes(plan) == csv_reference, type(source).__name__


class _CStreamOnly:
    """An object that offers nothing but the Arrow C stream interface, as polars or DuckDB do."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self._table.__arrow_c_stream__(requested_schema)


def test_pandas_3_frames_from_read_csv_plan_like_csv(
    tmp_path: Path, csv_reference: Any, column_wise_only: None
) -> None:
    # The README's notebook snippet: under pandas 3 read_csv gives `str` columns, large_string in Arrow.
    data = write_csv(tmp_path / "d.csv", COLUMNS, conversation_rows(12))
    frame = pd.read_csv(data)
    assert pa.Table.from_pandas(frame).schema.field("Context").type == pa.large_string()
    plan = build_plan(frame, options(), quotas=SMALL_QUOTAS, workdir=tmp_path / "frame")
    assert plan_bytes(plan) == csv_reference

    frame.to_parquet(tmp_path / "pandas.parquet")
    plan = build_plan(tmp_path / "pandas.parquet", options(), quotas=SMALL_QUOTAS, workdir=tmp_path / "pq")
    assert plan_bytes(plan) == csv_reference


def test_pandas_object_and_categorical_columns_plan_like_csv(
    tmp_path: Path, csv_reference: Any, column_wise_only: None
) -> None:
    rows = conversation_rows(12)
    frame = pd.DataFrame(
        {
            "Context": pd.Series([row[0] for row in rows], dtype=object),
            "Response": pd.Series([row[1] for row in rows]).astype("category"),
        }
    )
    plan = build_plan(frame, options(), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")
    assert plan_bytes(plan) == csv_reference


def test_polars_frames_and_parquet_plan_like_csv(
    tmp_path: Path, csv_reference: Any, column_wise_only: None
) -> None:
    pl = pytest.importorskip("polars")
    rows = conversation_rows(12)
    frame = pl.DataFrame({"Context": [row[0] for row in rows], "Response": [row[1] for row in rows]})
    frame = frame.with_columns(pl.col("Response").cast(pl.Categorical))
    plan = build_plan(frame, options(), quotas=SMALL_QUOTAS, workdir=tmp_path / "frame")
    assert plan_bytes(plan) == csv_reference

    frame.write_parquet(tmp_path / "polars.parquet")
    plan = build_plan(tmp_path / "polars.parquet", options(), quotas=SMALL_QUOTAS, workdir=tmp_path / "pq")
    assert plan_bytes(plan) == csv_reference


def test_hugging_face_datasets_plan_in_their_row_order(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rows = conversation_rows(12)
    dataset = datasets.Dataset.from_dict({"Context": [r[0] for r in rows], "Response": [r[1] for r in rows]})
    shuffled = dataset.select(list(reversed(range(12))))  # an indices mapping over the same table
    plan = build_plan(shuffled, options(), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")
    assert texts(plan)[0].startswith("Context: question 11 ")


def test_a_large_arrow_batch_is_read_in_bounded_chunks() -> None:
    table = pa.table({"text": pa.array([f"row {n}" for n in range(20_000)], pa.large_string())})
    chunks = list(open_dataset(table.combine_chunks().to_batches()[0]).chunks())
    assert [len(chunk) for chunk in chunks] == [8192, 8192, 3616]
    assert [chunk.first_row for chunk in chunks] == [0, 8192, 16384]
    assert {chunk.batch.schema.field("text").type for chunk in chunks if chunk.batch is not None} == {
        pa.string()
    }


TYPED_ROW: dict[str, Any] = {
    "null": None,
    "integer": 42,
    "float": 0.25,
    "boolean": True,
    "date": dt.date(2026, 1, 31),
    "timestamp": dt.datetime(2026, 1, 31, 12, 30, 5),
    "zoned": dt.datetime(2026, 1, 31, 12, 30, 5, tzinfo=dt.UTC),
    "decimal": Decimal("19.90"),
    "list": ["a", "b"],
    "struct": {"city": "Oslo", "zip": 150},
}
RENDERED = (
    "null=[] integer=[42] float=[0.25] boolean=[true] date=[2026-01-31] "
    "timestamp=[2026-01-31 12:30:05] zoned=[2026-01-31 12:30:05+00:00] decimal=[19.90] "
    'list=[["a","b"]] struct=[{"city":"Oslo","zip":150}]'
)
TYPED_TEMPLATE = " ".join(f"{name}=[{{{{ {name} }}}}]" for name in TYPED_ROW)


def typed_table(rows: int) -> pa.Table:
    arrow_types = {"null": pa.string(), "zoned": pa.timestamp("us", tz="UTC"), "decimal": pa.decimal128(6, 2)}
    fields = [(name, arrow_types.get(name) or pa.scalar(value).type) for name, value in TYPED_ROW.items()]
    return pa.Table.from_pylist([TYPED_ROW] * rows, schema=pa.schema(fields))


@pytest.mark.parametrize("template", [TYPED_TEMPLATE, TYPED_TEMPLATE + "{% if boolean %}{% endif %}"])
def test_every_value_type_renders_as_the_readme_table_says(tmp_path: Path, template: str) -> None:
    table = typed_table(3)
    pq.write_table(table, tmp_path / "typed.parquet")
    opts = options(prompt_template=template)
    for k, source in enumerate([tmp_path / "typed.parquet", table, [TYPED_ROW] * 3]):
        plan = build_plan(source, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / f"w{k}")
        assert texts(plan) == [RENDERED] * 3, source


def test_pandas_missing_values_render_as_nothing_on_the_row_path(tmp_path: Path) -> None:
    # A column mixing Python types has no Arrow type, so the frame goes row by row: NaN is still null.
    frame = pd.DataFrame({"mixed": [1, "two", None], "score": [0.5, float("nan"), 2.0]})
    opts = options(prompt_template="{{ mixed }}|{{ score }}")
    plan = build_plan(frame, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "w")
    assert texts(plan) == ["1|0.5", "two|", "|2.0"]
