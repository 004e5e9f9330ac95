"""Parquet, read batch by batch with pyarrow (never the whole file; on S3, by byte ranges)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from batch_runner.exceptions import DatasetError
from batch_runner.prepare.datasets import sources
from batch_runner.prepare.datasets.arrow_batches import CHUNK_ROWS, arrow_chunks
from batch_runner.prepare.datasets.chunk import Chunk
from batch_runner.prepare.datasets.sources import LocalFile, S3Object, StdinSpool


class ParquetDataset:
    def __init__(self, source: Path | LocalFile | S3Object | StdinSpool) -> None:
        self.source = source  # holds standard input's copy for as long as the dataset is read
        self.label = str(source) if isinstance(source, Path) else source.label

    def chunks(self) -> Iterator[Chunk]:
        source = self.source
        handle = source.random_access() if isinstance(source, S3Object) else None
        try:
            file: Any = handle
            if isinstance(source, Path):
                file = source
            elif not isinstance(source, S3Object):
                file = source.path
            # By default pyarrow reads whole row groups (on S3: every row group, before the first
            # batch); streaming each column chunk in ranges keeps memory flat on any file.
            parquet = pq.ParquetFile(file, pre_buffer=False, buffer_size=sources.RANGE_BUFFER)
            yield from arrow_chunks(parquet.iter_batches(batch_size=CHUNK_ROWS), self.label)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as err:
            raise DatasetError(
                f"{self.label} cannot be read as Parquet ({str(err).splitlines()[0]}); "
                "check that it is a complete Parquet file"
            ) from err
        finally:
            if handle is not None:
                handle.close()
