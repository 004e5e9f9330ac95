"""The unit datasets are read in: a bounded run of consecutive rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from batch_runner.exceptions import DatasetError


@dataclass(frozen=True)
class Chunk:
    """Rows ``first_row .. first_row + len(chunk) - 1`` (0-based) of a dataset.

    Columnar sources (CSV, Parquet, DataFrames, Arrow data) fill ``batch``; row sources (JSONL,
    iterables of dicts) fill ``rows`` and, for files, ``lines`` (the source line of each row, for
    messages).
    """

    first_row: int
    batch: pa.RecordBatch | None = None
    rows: list[dict[str, Any]] | None = None
    lines: list[int] | None = None
    part: str | None = None  # the file these rows came from, when a dataset has several

    def __len__(self) -> int:
        if self.batch is not None:
            return self.batch.num_rows
        return len(self.rows or ())

    def records(self) -> list[dict[str, Any]]:
        if self.rows is not None:
            return self.rows
        assert self.batch is not None
        return self.batch.to_pylist()

    def where(self, index: int) -> str:
        """Names row ``index`` of this chunk for error messages (1-based, as people count)."""
        row = f"row {self.first_row + index + 1}"
        of_part = f" of {self.part}" if self.part is not None else ""
        if self.lines is not None:
            return f"{row} (line {self.lines[index]}{of_part})"
        return f"{row} (in {self.part})" if self.part is not None else row


def check_unique_columns(label: str, names: Sequence[str]) -> None:
    """Every column must be one template variable: a repeated name would silently lose a column."""
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DatasetError(
            f"{label}: duplicate column name(s) {', '.join(map(repr, duplicates))}; "
            "rename them so each column can be used in the template"
        )
