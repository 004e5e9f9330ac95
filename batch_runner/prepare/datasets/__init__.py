"""Datasets, read once and streamed in bounded chunks: CSV, JSONL, Parquet (local, on S3, on
standard input, CSV and JSONL also gzip- or zstd-compressed), DataFrames, Arrow data, dicts."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from batch_runner.exceptions import DatasetError, UsageError
from batch_runner.prepare.datasets.chunk import Chunk
from batch_runner.prepare.datasets.csv_file import BlocksTooSmall, CsvDataset
from batch_runner.prepare.datasets.in_memory import (
    ArrowDataset,
    DataFrameDataset,
    HuggingFaceDataset,
    RecordsDataset,
    is_arrow_source,
    is_hugging_face_dataset,
)
from batch_runner.prepare.datasets.jsonl_file import JsonlDataset
from batch_runner.prepare.datasets.parquet_file import ParquetDataset
from batch_runner.prepare.datasets.sources import (
    FORMATS,
    S3_SCHEME,
    STDIN,
    LocalFile,
    S3ClientFactory,
    S3Object,
    StdinSpool,
    known_endings,
    open_s3,
    split_name,
)

FILE_FORMATS = tuple(sorted(set(FORMATS.values())))

# A path or URI (str or Path), "-" for standard input, a pandas DataFrame, Arrow data (a pyarrow
# Table or RecordBatchReader, a polars DataFrame, anything with __arrow_c_stream__), a Hugging Face
# Dataset, or an iterable of dicts.
DatasetSource = Any


class Dataset(Protocol):
    label: str

    def chunks(self) -> Iterator[Chunk]: ...


def open_dataset(
    source: DatasetSource, *, file_format: str | None = None, s3: S3ClientFactory | None = None
) -> Dataset:
    """A dataset reader for ``source``. Files take their format from their name, or from
    ``file_format`` (``csv``, ``jsonl``, ``parquet``), which standard input may also leave out to
    have it recognised. ``s3`` makes the S3 client for ``s3://`` URIs."""
    if file_format is not None and file_format not in FILE_FORMATS:
        raise UsageError(f"unknown dataset format {file_format!r}; use one of {', '.join(FILE_FORMATS)}")
    if isinstance(source, str) and source == STDIN:
        return _open_stdin(StdinSpool(), file_format)
    if isinstance(source, str) and source.startswith(S3_SCHEME):
        if s3 is None:
            raise UsageError(f"{source}: S3 datasets need AWS settings; submit through the API or the CLI")
        return _open_s3(source, s3(), file_format)
    if isinstance(source, str | Path):
        return _open_file(Path(source), file_format)
    if file_format is not None:
        raise UsageError("a dataset format applies to files only, not to data in memory")
    pandas = sys.modules.get("pandas")  # a DataFrame implies pandas is already imported
    if pandas is not None and isinstance(source, pandas.DataFrame):
        return DataFrameDataset(source)
    if is_arrow_source(source):
        return ArrowDataset(source)
    if is_hugging_face_dataset(source):
        return HuggingFaceDataset(source)
    if isinstance(source, Mapping) or not isinstance(source, Iterable):
        raise DatasetError(
            f"cannot read a dataset from {type(source).__name__}; pass a file path, an s3:// URI, a "
            "pandas or polars DataFrame, Arrow data, a Hugging Face Dataset or an iterable of dicts"
        )
    return RecordsDataset(source)


def has_json_rows(dataset: Dataset) -> bool:
    """Whether rows keep JSON types (JSONL, dicts), so lines may be pre-formatted requests."""
    return bool(getattr(dataset, "json_rows", False))


def _reader(source: LocalFile | S3Object | StdinSpool, file_format: str) -> Dataset:
    if file_format == "parquet":
        if source.compression is not None:
            raise DatasetError(
                f"{source.label}: Parquet is read as it is, not {source.compression}-compressed "
                "(Parquet compresses inside the file); decompress it first"
            )
        return ParquetDataset(source)
    return CsvDataset(source) if file_format == "csv" else JsonlDataset(source)


def _file_format(name: str, given: str | None, label: str) -> tuple[str, str | None]:
    found, compression = split_name(name)
    file_format = given or found
    if file_format is None:
        suffix = Path(name).suffix
        raise DatasetError(
            f"{label}: unsupported file type {suffix or '(none)'!r}; use one of {known_endings()}, "
            "or name the format with --format"
        )
    return file_format, compression


def _open_file(path: Path, given: str | None) -> Dataset:
    # Existence first: a mistyped path is "not found", whatever its ending.
    if not path.exists():
        raise DatasetError(f"dataset file not found: {path}; check the path")
    if not path.is_file():
        raise DatasetError(f"{path} is not a file; pass the path of a {known_endings()} file")
    file_format, compression = _file_format(path.name, given, str(path))
    return _reader(LocalFile(path, compression), file_format)


def _open_stdin(spool: StdinSpool, given: str | None) -> Dataset:
    spool.path  # noqa: B018 - reads standard input now, so an empty pipe is named here
    return _reader(spool, given or spool.sniff_format())


def _open_s3(uri: str, client: Any, given: str | None) -> Dataset:
    objects = open_s3(uri, client)
    readers = []
    formats = set()
    for obj in objects:
        file_format, obj.compression = _file_format(obj.key, given, obj.label)
        formats.add(file_format)
        readers.append(_reader(obj, file_format))
    if len(readers) == 1 and not uri.endswith("/"):
        return readers[0]
    if formats - {"parquet", "jsonl"} or len(formats) > 1:
        raise DatasetError(
            f"{uri} holds {' and '.join(sorted(formats))} parts; a prefix is read as Parquet or JSONL "
            "parts of one format (keep other files elsewhere, or give one object's URI)"
        )
    return PartsDataset(uri, readers)


class PartsDataset:
    """The parts under an S3 prefix, one after the other in key order, rows numbered throughout."""

    def __init__(self, label: str, parts: list[Dataset]) -> None:
        self.label = label
        self.parts = parts
        self.json_rows = all(has_json_rows(part) for part in parts)

    def chunks(self) -> Iterator[Chunk]:
        first_row = 0
        for part in self.parts:
            rows = 0
            for chunk in part.chunks():
                rows = chunk.first_row + len(chunk)
                yield replace(chunk, first_row=first_row + chunk.first_row, part=part.label)
            first_row += rows


__all__ = [
    "FILE_FORMATS",
    "BlocksTooSmall",
    "Chunk",
    "Dataset",
    "DatasetSource",
    "has_json_rows",
    "open_dataset",
]
