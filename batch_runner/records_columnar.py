"""The column-wise twin of ``records.RowEncoder`` for plain-substitution templates over text columns.

Batches it cannot encode exactly (a non-text or null value, a control character, an ID that fails
validation, a column the template needs but the batch lacks) are handed to the row encoder, which
either encodes them the same way or raises the precise error.
"""

from __future__ import annotations

from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from batch_runner.datasets import Chunk
from batch_runner.jsonl_lines import Slot, Value, encode_lines, layout, slot
from batch_runner.models import ModelAdapter
from batch_runner.prompts import Column, PromptTemplate
from batch_runner.record_ids import MAX_USER_ID_LENGTH, RUNNER_ID_DIGITS, RUNNER_ID_PREFIX
from batch_runner.records import EncodedChunk, RowEncoder
from batch_runner.shards import Lines


class ColumnEncoder:
    def __init__(self, adapter: ModelAdapter, template: PromptTemplate, fallback: RowEncoder) -> None:
        assert template.parts is not None, "only plain-substitution templates are encoded column-wise"
        self.parts = template.parts
        self.template = template
        self.fallback = fallback
        self.request_layout = layout({"recordId": slot("id"), "modelInput": adapter.build(slot("text"))})
        self.literal_chars = sum(len(part) for part in self.parts if isinstance(part, str))
        self.system_chars = fallback.system_chars
        self.id_column = fallback.id_column

    def encode(self, chunk: Chunk) -> EncodedChunk:
        batch = chunk.batch
        if batch is None or not self._eligible(batch):
            return self.fallback.encode(chunk)
        rows = batch.num_rows
        numbers = pc.cast(pa.array(range(chunk.first_row, chunk.first_row + rows), pa.int64()), pa.string())
        record_ids = pc.binary_join_element_wise(
            RUNNER_ID_PREFIX, pc.utf8_lpad(numbers, RUNNER_ID_DIGITS, "0"), ""
        )
        user_ids = batch.column(self.id_column) if self.id_column is not None else None
        if user_ids is not None and not _valid_ids(user_ids):
            return self.fallback.encode(chunk)
        values: dict[str, list[Value]] = {
            "id": [record_ids],
            "row": [numbers],
            "text": [part if isinstance(part, str) else batch.column(part.name) for part in self.parts]
            or [""],
            "user_id": [user_ids] if user_ids is not None else [],
        }
        values.update({f"c{k}": [column] for k, column in enumerate(batch.columns)})
        requests = encode_lines(_fill(self.request_layout, values), rows)
        index = encode_lines(
            _fill(_index_layout(tuple(batch.schema.names), user_ids is not None), values), rows
        )
        if requests is None or index is None:
            return self.fallback.encode(chunk)
        if user_ids is not None and self.fallback.ids is not None:
            self.fallback.ids.add_column(user_ids, chunk.first_row)
        return EncodedChunk(Lines(requests, rows), index, self._prompt_chars(batch))

    def _eligible(self, batch: pa.RecordBatch) -> bool:
        text_types = all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in batch.schema.types)
        needed = [part.name for part in self.parts if isinstance(part, Column)]
        if self.id_column is not None:
            needed.append(self.id_column)
        names = set(batch.schema.names)
        present = all(name in names for name in needed)
        return text_types and present and all(column.null_count == 0 for column in batch.columns)

    def _prompt_chars(self, batch: pa.RecordBatch) -> int:
        total = (self.literal_chars + self.system_chars) * batch.num_rows
        for part in self.parts:
            if isinstance(part, Column):
                total += pc.sum(pc.utf8_length(batch.column(part.name))).as_py() or 0
        return total


@cache
def _index_layout(columns: tuple[str, ...], has_user_id: bool) -> list[bytes | Slot]:
    line = {
        "recordId": slot("id"),
        "row": slot("row"),
        "id": slot("user_id") if has_user_id else None,
        "input": {name: slot(f"c{k}") for k, name in enumerate(columns)},
    }
    return layout(line, raw=("row",))


def _fill(pieces: list[bytes | Slot], values: dict[str, list[Value]]) -> list[bytes | Value]:
    filled: list[bytes | Value] = []
    for piece in pieces:
        filled += values[piece.name] if isinstance(piece, Slot) else [piece]
    return filled


def _valid_ids(ids: pa.Array) -> bool:
    """The checks ``record_ids.user_id`` makes, column-wise (control characters are caught later)."""
    blank = pc.any(pc.equal(pc.utf8_trim_whitespace(ids), "")).as_py()
    too_long = (pc.max(pc.utf8_length(ids)).as_py() or 0) > MAX_USER_ID_LENGTH
    return not blank and not too_long
