"""JSONL, read line by line with orjson: one JSON object per line, blank lines skipped."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from batch_runner.exceptions import DatasetError
from batch_runner.prepare.datasets.chunk import Chunk
from batch_runner.prepare.datasets.sources import ByteSource, as_source

CHUNK_BYTES = 8 << 20
CHUNK_ROWS = 8192


class JsonlDataset:
    json_rows = True  # values keep their JSON types; lines may be pre-formatted requests

    def __init__(self, path: Path | ByteSource) -> None:
        self.source = as_source(path)
        self.label = self.source.label

    def chunks(self) -> Iterator[Chunk]:
        rows: list[dict[str, Any]] = []
        lines: list[int] = []
        size = 0
        first_row = 0
        with self.source.open() as handle:
            for line_number, line in enumerate(handle, 1):
                if line_number == 1:
                    line = line.removeprefix(codecs.BOM_UTF8)  # some Windows tools start files with one
                if not line.strip():
                    continue
                rows.append(self._parse(line, line_number))
                lines.append(line_number)
                size += len(line)
                if size >= CHUNK_BYTES or len(rows) >= CHUNK_ROWS:
                    yield Chunk(first_row, rows=rows, lines=lines)
                    first_row += len(rows)
                    rows, lines, size = [], [], 0
        if rows:
            yield Chunk(first_row, rows=rows, lines=lines)

    def _parse(self, line: bytes, line_number: int) -> dict[str, Any]:
        where = f"{self.label} line {line_number}"
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as err:
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as utf8_err:
                raise DatasetError(
                    f"{where}, byte {utf8_err.start + 1}: invalid UTF-8; save the file as UTF-8"
                ) from err
            raise DatasetError(f"{where}: not valid JSON ({err}); fix the line") from err
        if not isinstance(value, dict):
            raise DatasetError(
                f"{where}: expected a JSON object, found {type(value).__name__}; "
                "each line must be one object whose keys are the columns"
            )
        return value
