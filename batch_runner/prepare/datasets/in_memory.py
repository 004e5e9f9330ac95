"""Datasets already in memory: pandas DataFrames, Arrow tables and streams (pyarrow, polars, DuckDB,
anything with ``__arrow_c_stream__``), Hugging Face datasets, and iterables of dicts.

None of these libraries is imported here: a source is recognised by what it is or offers, so the
core never pays for (or needs) pandas, polars or ``datasets``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pyarrow as pa

from batch_runner.exceptions import DatasetError
from batch_runner.prepare.datasets.arrow_batches import CHUNK_ROWS, arrow_chunks
from batch_runner.prepare.datasets.chunk import Chunk, check_unique_columns


class DataFrameDataset:
    label = "DataFrame"

    def __init__(self, frame: Any) -> None:
        self.frame = frame

    def chunks(self) -> Iterator[Chunk]:
        # Names as the template sees them: 1 and "1" are the same variable.
        check_unique_columns(self.label, [str(name) for name in self.frame.columns])
        try:
            table = pa.Table.from_pandas(self.frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            # Columns of mixed Python objects have no Arrow type: go row by row instead.
            yield from self._row_chunks()
            return
        yield from arrow_chunks(table.to_batches(max_chunksize=CHUNK_ROWS), self.label)

    def _row_chunks(self) -> Iterator[Chunk]:
        pandas = sys.modules["pandas"]
        for start in range(0, len(self.frame), CHUNK_ROWS):
            rows = self.frame.iloc[start : start + CHUNK_ROWS].to_dict("records")
            yield Chunk(
                start, rows=[{str(k): _missing_as_none(pandas, v) for k, v in row.items()} for row in rows]
            )


def _missing_as_none(pandas: Any, value: Any) -> Any:
    """pandas marks a missing value NaN, NaT or NA; Arrow (the other path) makes each of them null."""
    if isinstance(value, str | list | dict | tuple):
        return value
    try:
        return None if pandas.isna(value) is True else value
    except (TypeError, ValueError):  # an array-like value has no single truth
        return value


class ArrowDataset:
    """A pyarrow Table, RecordBatch or RecordBatchReader, or any object exporting an Arrow C stream
    (``__arrow_c_stream__``: polars, DuckDB relations, pandas, nanoarrow, ...)."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.label = f"{type(source).__module__.split('.')[0]} {type(source).__name__}"

    def chunks(self) -> Iterator[Chunk]:
        source = self.source
        if isinstance(source, pa.Table):
            batches: Iterable[pa.RecordBatch] = source.to_batches(max_chunksize=CHUNK_ROWS)
        elif isinstance(source, pa.RecordBatch):
            batches = [source]
        elif isinstance(source, pa.RecordBatchReader):
            batches = source
        else:
            batches = pa.RecordBatchReader.from_stream(source)
        yield from arrow_chunks(batches, self.label)


class HuggingFaceDataset:
    """A Hugging Face ``datasets.Dataset``: its rows in order (after ``select``, ``shuffle`` or
    ``filter`` too), read as Arrow tables of ``CHUNK_ROWS`` rows."""

    label = "Hugging Face Dataset"

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def chunks(self) -> Iterator[Chunk]:
        tables = self.dataset.with_format("arrow").iter(batch_size=CHUNK_ROWS)
        yield from arrow_chunks((batch for table in tables for batch in table.to_batches()), self.label)


def is_hugging_face_dataset(source: Any) -> bool:
    return type(source).__module__.startswith("datasets.") and hasattr(source, "with_format")


def is_arrow_source(source: Any) -> bool:
    return isinstance(source, pa.Table | pa.RecordBatch | pa.RecordBatchReader) or hasattr(
        source, "__arrow_c_stream__"
    )


class RecordsDataset:
    label = "records"
    json_rows = True

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        self.records = records

    def chunks(self) -> Iterator[Chunk]:
        rows: list[dict[str, Any]] = []
        first_row = 0
        for record in self.records:
            if not isinstance(record, Mapping) or not all(isinstance(key, str) for key in record):
                raise DatasetError(
                    f"record {first_row + len(rows) + 1} is {type(record).__name__}, not a dict with "
                    "text keys; pass dicts that map column names to values"
                )
            rows.append(dict(record))
            if len(rows) >= CHUNK_ROWS:
                yield Chunk(first_row, rows=rows)
                first_row += len(rows)
                rows = []
        if rows:
            yield Chunk(first_row, rows=rows)
