"""Arrow record batches from any producer, cut into chunks in the types the encoders expect.

Producers differ in how they lay out text: pandas 3 and Parquet files written by it use
``large_string``, polars exports ``string_view`` through the Arrow C stream interface, categoricals
arrive dictionary-encoded. The encoders work on ``string`` columns, so each of these is turned into
``string`` here (the values are unchanged); every other type is left as it is and reaches the
template as its Python value (see ``prompts.template_text``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from batch_runner.prepare.datasets.chunk import Chunk, check_unique_columns

CHUNK_ROWS = 8192


def arrow_chunks(batches: Iterable[pa.RecordBatch], label: str, first_row: int = 0) -> Iterator[Chunk]:
    """``Chunk``s of at most ``CHUNK_ROWS`` rows, text columns as ``string``, empty batches skipped."""
    checked = False
    for batch in batches:
        if not checked:
            check_unique_columns(label, batch.schema.names)
            checked = True
        for start in range(0, batch.num_rows, CHUNK_ROWS):
            piece = batch.slice(start, CHUNK_ROWS)  # zero-copy
            yield Chunk(first_row, batch=plain_text_columns(piece))
            first_row += piece.num_rows


def plain_text_columns(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with large, view and dictionary-encoded text (and dictionaries of any type) decoded
    to plain columns; the batch itself when there is nothing to change."""
    columns = [_plain(column) for column in batch.columns]
    if all(new is old for new, old in zip(columns, batch.columns, strict=True)):
        return batch
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _plain(column: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(column.type):
        # Decoding takes values by index, which string_view (polars categoricals) cannot yet do.
        values = _plain(column.dictionary)
        return pa.DictionaryArray.from_arrays(column.indices, values).dictionary_decode()
    if pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
        try:
            return pc.cast(column, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return column  # over 2 GiB of text in one chunk: the per-row encoder takes any type
    return column
