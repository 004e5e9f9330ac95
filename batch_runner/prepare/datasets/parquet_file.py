"""Parquet, read batch by batch with pyarrow (never the whole file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from batch_runner.exceptions import DatasetError
from batch_runner.prepare.datasets.chunk import Chunk, check_unique_columns

BATCH_ROWS = 8192


class ParquetDataset:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = str(path)

    def chunks(self) -> Iterator[Chunk]:
        try:
            parquet = pq.ParquetFile(self.path)
            check_unique_columns(self.label, parquet.schema_arrow.names)
            first_row = 0
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
                if batch.num_rows:
                    yield Chunk(first_row, batch=batch)
                    first_row += batch.num_rows
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as err:
            raise DatasetError(
                f"{self.label} cannot be read as Parquet ({str(err).splitlines()[0]}); "
                "check that it is a complete Parquet file"
            ) from err
