"""Parquet, read batch by batch with pyarrow (never the whole file; on S3, by byte ranges)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from batch_runner.exceptions import DatasetError
from batch_runner.prepare.datasets.arrow_batches import CHUNK_ROWS, arrow_chunks
from batch_runner.prepare.datasets.chunk import Chunk
from batch_runner.prepare.datasets.sources import LocalFile, S3Object


class ParquetDataset:
    def __init__(self, path: Path | LocalFile | S3Object) -> None:
        self.source = path.path if isinstance(path, LocalFile) else path
        self.label = str(path) if isinstance(path, Path) else path.label

    def chunks(self) -> Iterator[Chunk]:
        source = self.source
        handle = source.random_access() if isinstance(source, S3Object) else None
        try:
            parquet = pq.ParquetFile(handle if handle is not None else source)
            yield from arrow_chunks(parquet.iter_batches(batch_size=CHUNK_ROWS), self.label)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as err:
            raise DatasetError(
                f"{self.label} cannot be read as Parquet ({str(err).splitlines()[0]}); "
                "check that it is a complete Parquet file"
            ) from err
        finally:
            if handle is not None:
                handle.close()
