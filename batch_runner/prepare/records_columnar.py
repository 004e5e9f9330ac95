"""The column-wise twin of ``records.RowEncoder`` for plain-substitution templates over text columns.

Batches it cannot encode exactly (a non-text or null value, a control character, an ID that fails
validation, a column the template needs but the batch lacks) are handed to the row encoder, which
either encodes them the same way or raises the precise error.
"""

from __future__ import annotations

from functools import cache, reduce

import pyarrow as pa
import pyarrow.compute as pc

from batch_runner.catalog.models import ModelAdapter
from batch_runner.prepare.datasets import Chunk
from batch_runner.prepare.jsonl_lines import (
    Piece,
    Slot,
    escape_column,
    escape_text,
    int_range,
    join_lines,
    layout,
    line_bytes,
    line_data,
    slot,
    text_scalar,
)
from batch_runner.prepare.prompts import Column, PromptTemplate
from batch_runner.prepare.record_ids import MAX_USER_ID_LENGTH, RUNNER_ID_DIGITS, RUNNER_ID_PREFIX
from batch_runner.prepare.records import EncodedChunk, RowEncoder
from batch_runner.prepare.shards import Lines


class ColumnEncoder:
    def __init__(self, adapter: ModelAdapter, template: PromptTemplate, fallback: RowEncoder) -> None:
        assert template.parts is not None, "only plain-substitution templates are encoded column-wise"
        self.parts = template.parts
        self.fallback = fallback
        # Only a template without text of its own can render blank: when all its columns are blank.
        self.can_render_blank = not any(isinstance(part, str) and part.strip() for part in self.parts)
        self.request_layout = layout({"recordId": slot("id"), "modelInput": adapter.build(slot("text"))})
        self.literal_chars = sum(len(part) for part in self.parts if isinstance(part, str))
        self.id_column = fallback.id_column

    def encode(self, chunk: Chunk) -> EncodedChunk:
        batch = chunk.batch
        escaped = self._escaped_columns(batch) if batch is not None else None
        prompt_chars = self._prompt_chars(batch) if batch is not None and escaped is not None else None
        if batch is None or escaped is None or prompt_chars is None:
            return self.fallback.encode(chunk)
        rows = batch.num_rows
        numbers = pc.cast(int_range(chunk.first_row, rows), pa.string())
        values: dict[str, list[Piece]] = {
            "id": [join_lines([RUNNER_ID_PREFIX, pc.utf8_lpad(numbers, RUNNER_ID_DIGITS, "0")])],
            "row": [numbers],
            "text": [
                escape_text(part) if isinstance(part, str) else escaped[part.name] for part in self.parts
            ],
            "user_id": [escaped[self.id_column]] if self.id_column is not None else [],
        }
        values.update({f"c{k}": [escaped[name]] for k, name in enumerate(batch.schema.names)})
        requests, request_ends = line_data(join_lines(_fill(self.request_layout, values)))
        index_layout = _index_layout(tuple(batch.schema.names), self.id_column is not None)
        index = line_bytes(join_lines(_fill(index_layout, values)))
        if self.id_column is not None and self.fallback.ids is not None:
            self.fallback.ids.add_column(batch.column(self.id_column), chunk.first_row)
        return EncodedChunk(Lines(requests, request_ends), index, prompt_chars)

    def _escaped_columns(self, batch: pa.RecordBatch) -> dict[str, pa.Array] | None:
        """Every column JSON-escaped, or None when the batch needs the per-row encoder."""
        names = set(batch.schema.names)
        template_columns = [part.name for part in self.parts if isinstance(part, Column)]
        needed = [*template_columns, *([self.id_column] if self.id_column is not None else [])]
        if not all(name in names for name in needed):
            return None
        if not all(_plain_text(column) for column in batch.columns):
            return None
        if self.id_column is not None and not _valid_ids(batch.column(self.id_column)):
            return None
        if self.can_render_blank and _some_row_blank(batch, template_columns):
            return None  # the row encoder names the row
        escaped = {}
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            escaped_column = escape_column(column)
            if escaped_column is None:
                return None
            escaped[name] = escaped_column
        return escaped

    def _prompt_chars(self, batch: pa.RecordBatch) -> int | None:
        """The batch's prompt characters; None when a record may not fit the context window (the
        row encoder then names it, or leaves it out)."""
        fixed = self.literal_chars + self.fallback.fixed_chars
        lengths = [pc.utf8_length(batch.column(part.name)) for part in self.parts if isinstance(part, Column)]
        oversize = self.fallback.oversize
        if oversize is not None:
            longest = (pc.max(reduce(pc.add, lengths)).as_py() or 0) if lengths else 0
            if longest + fixed > oversize.char_limit():
                return None
        return fixed * batch.num_rows + sum(pc.sum(length).as_py() or 0 for length in lengths)


@cache
def _index_layout(columns: tuple[str, ...], has_user_id: bool) -> list[str | Slot]:
    line = {
        "recordId": slot("id"),
        "row": slot("row"),
        "id": slot("user_id") if has_user_id else None,
        "input": {name: slot(f"c{k}") for k, name in enumerate(columns)},
    }
    return layout(line, raw=("row",))


def _fill(pieces: list[str | Slot], values: dict[str, list[Piece]]) -> list[Piece]:
    filled: list[Piece] = []
    for piece in pieces:
        filled += values[piece.name] if isinstance(piece, Slot) else [piece]
    return filled


def _plain_text(column: pa.Array) -> bool:
    # Readers hand large and view strings over as ``string`` (``arrow_batches``); one left over
    # (too large to convert) goes the per-row way, whose encoder takes any type.
    return pa.types.is_string(column.type) and column.null_count == 0


def _some_row_blank(batch: pa.RecordBatch, names: list[str]) -> bool:
    """Whether any row has only whitespace in every one of these (non-null text) columns."""
    blank = pa.array([True] * batch.num_rows)
    for name in names:
        empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(batch.column(name))), 0)
        blank = pc.and_(blank, empty)
    return bool(pc.any(blank).as_py())


def _valid_ids(ids: pa.Array) -> bool:
    """The checks ``record_ids.user_id`` makes, column-wise (control characters are caught later)."""
    blank = pc.any(pc.equal(pc.utf8_trim_whitespace(ids), text_scalar(""))).as_py()
    too_long = (pc.max(pc.utf8_length(ids)).as_py() or 0) > MAX_USER_ID_LENGTH
    return not blank and not too_long
