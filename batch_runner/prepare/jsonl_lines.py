"""Column-wise JSONL encoding: whole batches of lines without a Python step per row.

A line layout is the JSON text of one line split at its slots: fixed pieces (already JSON) and
slots for values. Each text column is JSON-escaped once per batch: Arrow appends a separator
character to every value, the joined buffer is escaped at once with ``bytes.replace`` (escaping
does not depend on where values start or end), and Arrow splits it at the separators again
(``split_pattern``), which gives the escaped values and their offsets. Lines are then one Arrow
join of fixed pieces and escaped columns, and their boundaries are the join's offsets.

The result is byte for byte what ``orjson.dumps`` writes per row as long as no value holds a
control character other than tab, newline and carriage return (orjson writes those as ``\\u00XX``);
columns that do are reported, and their batches go the per-row way instead.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeAlias

import orjson
import pyarrow as pa
import pyarrow.compute as pc

_SEPARATOR = b"\x1e"  # a control character: escaped values can never contain it
_KEEP = bytes(range(32, 256)) + b"\t\n\r"  # translate deletes these; what is left are control chars
_ESCAPES = ((b"\\", b"\\\\"), (b'"', b'\\"'), (b"\n", b"\\n"), (b"\r", b"\\r"), (b"\t", b"\\t"))
_SLOT = re.compile(rb'"?@@slot:([a-z0-9_]+)@@"?')
_MAX_INT32 = 2**31 - 1

Piece: TypeAlias = str | pa.Array  # fixed JSON text, or a column of JSON-ready values


@dataclass(frozen=True)
class Slot:
    """Where ``slot(name)`` sits in a layout."""

    name: str


def slot(name: str) -> str:
    return f"@@slot:{name}@@"


def layout(template: Mapping[str, Any], *, raw: Sequence[str] = ()) -> list[str | Slot]:
    """Splits ``orjson.dumps(template)`` plus newline at its slots.

    Slots named in ``raw`` hold JSON numbers, so their quotes are dropped; the others sit inside
    JSON strings and take escaped text.
    """
    text = orjson.dumps(template) + b"\n"
    pieces: list[str | Slot] = []
    position = 0
    for match in _SLOT.finditer(text):
        name = match[1].decode()
        start, end = match.span()
        quoted = match[0].startswith(b'"') and match[0].endswith(b'"')
        if not (name in raw and quoted):
            start, end = match.start(1) - len(b"@@slot:"), match.end(1) + len(b"@@")
        pieces += [text[position:start].decode(), Slot(name)]
        position = end
    pieces.append(text[position:].decode())
    names = [piece.name for piece in pieces if isinstance(piece, Slot)]
    if len(names) != len(set(names)):
        raise ValueError(f"a slot appears more than once in {text!r}")
    return [piece for piece in pieces if piece != ""]


def escape_text(text: str) -> str:
    """``text`` as it appears between the quotes of a JSON string written by orjson."""
    return orjson.dumps(text)[1:-1].decode()


# Arrays and scalars below are built from buffers, not Python objects: converting Python objects
# makes pyarrow import pandas when it is installed, which costs 0.3 s and 50 MB for nothing here.


@lru_cache(maxsize=256)
def text_scalar(text: str) -> pa.Scalar:
    data = text.encode()
    offsets = pa.py_buffer(array("i", [0, len(data)]))
    return pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(data)])[0]


def int_range(start: int, count: int) -> pa.Array:
    """The int64 array ``start, start + 1, ..., start + count - 1``."""
    counting = _counting(max(1024, 1 << count.bit_length())).slice(0, count)  # few sizes are kept
    if start == 0:
        return counting
    first = pa.Array.from_buffers(pa.int64(), 1, [None, pa.py_buffer(array("q", [start]))])[0]
    return pc.add(counting, first)


@lru_cache(maxsize=64)
def _counting(size: int) -> pa.Array:
    return pa.Array.from_buffers(pa.int64(), size, [None, pa.py_buffer(array("q", range(size)))])


def escape_column(column: pa.Array) -> pa.Array | None:
    """The JSON-escaped values of a text column without nulls; None if a value holds a control
    character that only per-row encoding writes exactly."""
    rows = len(column)
    joined = pc.binary_join_element_wise(column, text_scalar(_SEPARATOR.decode()), text_scalar(""))
    buffer = bytes(line_bytes(joined))
    if buffer.translate(None, _KEEP) != _SEPARATOR * rows:
        return None
    for plain, escaped in _ESCAPES:
        buffer = buffer.replace(plain, escaped)
    # pyarrow finds the separators and drops them: the values come back with their offsets.
    wide = len(buffer) > _MAX_INT32
    whole = pa.Array.from_buffers(
        pa.large_binary() if wide else pa.binary(),
        1,
        [None, pa.py_buffer(array("q" if wide else "i", [0, len(buffer)])), pa.py_buffer(buffer)],
    )
    values = pc.split_pattern(whole, _SEPARATOR.decode()).values
    text = pa.large_string() if wide else pa.string()
    return pa.Array.from_buffers(text, rows, [None, *values.buffers()[1:3]], 0, values.offset)


def join_lines(pieces: Sequence[Piece]) -> pa.Array:
    """Row-wise concatenation of fixed text and columns; adjacent fixed pieces are merged."""
    merged: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        elif not (isinstance(piece, str) and piece == ""):
            merged.append(piece)
    return pc.binary_join_element_wise(
        *(text_scalar(piece) if isinstance(piece, str) else piece for piece in merged), text_scalar("")
    )


def line_data(lines: pa.Array) -> tuple[memoryview, list[int]]:
    """The bytes of a string array's values, and each value's end offset within them."""
    offsets = _offsets(lines).tolist()
    start = offsets[0]
    ends = offsets[1:] if start == 0 else [end - start for end in offsets[1:]]
    return line_bytes(lines), ends


def line_bytes(lines: pa.Array) -> memoryview:
    """The bytes of a string array's values."""
    offsets = _offsets(lines)
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]]


def _offsets(lines: pa.Array) -> memoryview:
    raw = memoryview(lines.buffers()[1])
    view = raw.cast("q") if pa.types.is_large_string(lines.type) else raw.cast("i")
    return view[lines.offset : lines.offset + len(lines) + 1]
