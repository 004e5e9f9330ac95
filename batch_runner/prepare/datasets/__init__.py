"""Datasets, read once and streamed in bounded chunks: CSV, JSONL, Parquet, DataFrames, dicts."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from batch_runner.exceptions import DatasetError
from batch_runner.prepare.datasets.chunk import Chunk
from batch_runner.prepare.datasets.csv_file import BlocksTooSmall, CsvDataset
from batch_runner.prepare.datasets.in_memory import DataFrameDataset, RecordsDataset
from batch_runner.prepare.datasets.jsonl_file import JsonlDataset
from batch_runner.prepare.datasets.parquet_file import ParquetDataset

READERS: dict[str, type[CsvDataset] | type[JsonlDataset] | type[ParquetDataset]] = {
    ".csv": CsvDataset,
    ".jsonl": JsonlDataset,
    ".ndjson": JsonlDataset,
    ".parquet": ParquetDataset,
}

DatasetSource = Any  # a path (str or Path), a pandas DataFrame or an iterable of dicts


class Dataset(Protocol):
    label: str

    def chunks(self) -> Iterator[Chunk]: ...


def open_dataset(source: DatasetSource) -> Dataset:
    """A dataset reader for a file path (by extension), a pandas DataFrame or an iterable of dicts."""
    if isinstance(source, str | Path):
        return _open_file(Path(source))
    pandas = sys.modules.get("pandas")  # a DataFrame implies pandas is already imported
    if pandas is not None and isinstance(source, pandas.DataFrame):
        return DataFrameDataset(source)
    if isinstance(source, Mapping) or not isinstance(source, Iterable):
        raise DatasetError(
            f"cannot read a dataset from {type(source).__name__}; pass a file path, a pandas DataFrame "
            "or an iterable of dicts"
        )
    return RecordsDataset(source)


def is_jsonl(source: DatasetSource) -> bool:
    return isinstance(source, str | Path) and Path(source).suffix.lower() in (".jsonl", ".ndjson")


def _open_file(path: Path) -> Dataset:
    # Existence first: a mistyped path is "not found", whatever its ending.
    if not path.exists():
        raise DatasetError(f"dataset file not found: {path}; check the path")
    if not path.is_file():
        raise DatasetError(f"{path} is not a file; pass the path of a {', '.join(READERS)} file")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DatasetError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; use one of {', '.join(READERS)}"
        )
    return reader(path)


__all__ = ["BlocksTooSmall", "Chunk", "Dataset", "DatasetSource", "is_jsonl", "open_dataset"]
