"""Write joined rows as CSV, JSONL, Parquet or OpenAI batch output, streaming, and atomically.

CSV is the stdlib ``csv`` module's default ("excel") dialect. Where the bytes go is ``sinks``' job:
a local file appears only once complete (an interrupted write leaves any previous file untouched),
an S3 object is one multipart upload, standard output is streamed. Embedding vectors are JSON
arrays in CSV and JSONL, and ``list<float>`` in Parquet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import IO, Any

import orjson

from batch_runner.results.csv_fields import csv_field
from batch_runner.results.openai_output import write_openai
from batch_runner.results.sinks import Destination, S3ClientFactory, destination, open_sink

SUPPORTED_SUFFIXES = (".csv", ".jsonl", ".parquet")
_PARQUET_ROWS = 8192
_PARQUET_BYTES = 16 << 20


Writer = Callable[[IO[bytes], Sequence[str], dict[str, str], Iterable[list[Any]]], int]


def check_output_path(path: Path | str | Destination, file_format: str | None = None) -> Destination:
    """Fail before any work when the results could not be written to ``path`` (a local path, ``-``
    or an s3:// URI); returns where and how they will be."""
    return destination(path, file_format)


def write_rows(
    out: Path | str | Destination,
    columns: Sequence[str],
    kinds: dict[str, str],
    rows: Iterable[list[Any]],
    *,
    s3: S3ClientFactory | None = None,
    model_id: str = "",
) -> int:
    """Write ``rows`` (values in ``columns`` order) to ``out``; returns the number of rows.
    ``model_id`` names the model in OpenAI-shaped output."""
    dest = destination(out)
    writers: dict[str, Writer] = {
        "csv": _write_csv,
        "jsonl": _write_jsonl,
        "parquet": _write_parquet,
        "openai": partial(write_openai, model_id=model_id),
    }
    with open_sink(dest, s3) as handle:
        return writers[dest.file_format](handle, columns, kinds, rows)


def _json_text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else orjson.dumps(value).decode()


def write_csv_lines(
    out: Path | str | Destination,
    columns: Sequence[str],
    lines: Iterable[bytes],
    *,
    s3: S3ClientFactory | None = None,
) -> None:
    """Write CSV rows already encoded (``row_encoding.CsvParts``) under the header ``columns``."""
    with open_sink(destination(out), s3) as handle:
        handle.write(_csv_header(columns))
        handle.writelines(lines)


# Formats written straight from JSONL lines (``row_encoding.JsonParts``).
JSON_LINE_FORMATS = frozenset({"jsonl", "parquet"})


def write_json_lines(
    out: Path | str | Destination,
    columns: Sequence[str],
    kinds: dict[str, str],
    blocks: Iterable[list[bytes]],
    *,
    s3: S3ClientFactory | None = None,
) -> None:
    """Write rows already encoded as JSONL lines without their newlines, in blocks: as they are
    for JSONL; for Parquet, parsed column-wise by Arrow's JSON reader (rows are decoded one by one
    only when a column holds JSON text, which that reader cannot make from a nested value)."""
    dest = destination(out)
    with open_sink(dest, s3) as handle:
        if dest.file_format == "jsonl":
            for block in blocks:
                if block:
                    handle.write(b"\n".join(block) + b"\n")
        elif "json" in (kinds[column] for column in columns):
            rows = (list(orjson.loads(line).values()) for block in blocks for line in block)
            _write_parquet(handle, columns, kinds, rows)
        else:
            _write_parquet_lines(handle, columns, kinds, blocks)


def _csv_header(columns: Sequence[str]) -> bytes:
    return (",".join(map(csv_field, columns)) + "\r\n").encode()


def _write_csv(
    handle: IO[bytes], columns: Sequence[str], kinds: dict[str, str], rows: Iterable[list[Any]]
) -> int:
    # The stdlib csv writer spends ~13 µs on a 1 KB row, more than the whole join; fields are
    # encoded here instead, byte for byte as csv.writer's default dialect does (tested): "excel",
    # QUOTE_MINIMAL, CRLF line ends, UTF-8.
    as_json = [i for i, column in enumerate(columns) if kinds[column] in ("vector", "json", "bool")]
    count = 0
    handle.write(_csv_header(columns))
    for values in rows:
        for i in as_json:
            values[i] = _json_text(values[i])
        handle.write((",".join(map(csv_field, values)) + "\r\n").encode())
        count += 1
    return count


def _write_jsonl(
    handle: IO[bytes], columns: Sequence[str], kinds: dict[str, str], rows: Iterable[list[Any]]
) -> int:
    count = 0
    for values in rows:
        handle.write(orjson.dumps(dict(zip(columns, values, strict=True)), option=orjson.OPT_APPEND_NEWLINE))
        count += 1
    return count


def _parquet_schema(columns: Sequence[str], kinds: dict[str, str]) -> Any:
    import pyarrow as pa  # imported here: only Parquet output pays its start-up cost

    arrow_types = {
        "string": pa.string(),
        "null": pa.string(),
        "json": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "vector": pa.list_(pa.float32()),
    }
    return pa.schema([(column, arrow_types[kinds[column]]) for column in columns])


def _write_parquet_lines(
    handle: IO[bytes], columns: Sequence[str], kinds: dict[str, str], blocks: Iterable[list[bytes]]
) -> None:
    """Parquet from JSONL lines, Arrow's JSON reader parsing a batch of lines at a time (row
    groups as ``_write_parquet`` cuts them: at most ``_PARQUET_ROWS`` rows or about
    ``_PARQUET_BYTES``)."""
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    schema = _parquet_schema(columns, kinds)
    parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")

    def table(lines: list[bytes]) -> Any:
        data = b"\n".join(lines)
        # A line may not straddle two of the reader's blocks: a block holds the longest line.
        block_size = max(1 << 20, 2 * max(map(len, lines)))
        options = pj.ReadOptions(block_size=block_size)
        return pj.read_json(pa.BufferReader(data), read_options=options, parse_options=parse)

    with pq.ParquetWriter(handle, schema) as writer:
        batch: list[bytes] = []
        size = 0
        for block in blocks:
            for line in block:
                batch.append(line)
                size += len(line)
                if len(batch) >= _PARQUET_ROWS or size >= _PARQUET_BYTES:
                    writer.write_table(table(batch))
                    batch, size = [], 0
        if batch:
            writer.write_table(table(batch))
        else:  # no rows: one empty row group, as ``_write_parquet`` writes
            writer.write_batch(pa.record_batch([[] for _ in columns], schema=schema))


def _write_parquet(
    handle: IO[bytes], columns: Sequence[str], kinds: dict[str, str], rows: Iterable[list[Any]]
) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema(columns, kinds)
    as_json = [i for i, column in enumerate(columns) if kinds[column] == "json"]
    count = 0
    with pq.ParquetWriter(handle, schema) as writer:
        batch: list[list[Any]] = [[] for _ in columns]
        batch_rows = batch_bytes = 0
        for values in rows:
            for i in as_json:
                values[i] = _json_text(values[i])
            for column_values, value in zip(batch, values, strict=True):
                column_values.append(value)
                if isinstance(value, str | list):
                    batch_bytes += len(value) * (8 if isinstance(value, list) else 1)
            batch_rows += 1
            count += 1
            if batch_rows >= _PARQUET_ROWS or batch_bytes >= _PARQUET_BYTES:
                writer.write_batch(pa.record_batch(batch, schema=schema))
                batch = [[] for _ in columns]
                batch_rows = batch_bytes = 0
        if batch_rows or not count:
            writer.write_batch(pa.record_batch(batch, schema=schema))
    return count
