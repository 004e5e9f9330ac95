"""Datasets already in memory: pandas DataFrames (pandas stays optional) and iterables of dicts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pyarrow as pa

from batch_runner.exceptions import DatasetError
from batch_runner.prepare.datasets.chunk import Chunk, check_unique_columns

CHUNK_ROWS = 8192


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
        first_row = 0
        for batch in table.to_batches(max_chunksize=CHUNK_ROWS):
            if batch.num_rows:
                yield Chunk(first_row, batch=batch)
                first_row += batch.num_rows

    def _row_chunks(self) -> Iterator[Chunk]:
        for start in range(0, len(self.frame), CHUNK_ROWS):
            rows = self.frame.iloc[start : start + CHUNK_ROWS].to_dict("records")
            yield Chunk(start, rows=[{str(key): value for key, value in row.items()} for row in rows])


class RecordsDataset:
    label = "records"

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
