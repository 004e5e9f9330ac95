"""Column-wise JSONL encoding: whole batches of lines without a Python step per row.

A line layout is the JSON text of one line with slots: fixed pieces (already JSON, written as they
are) and value pieces (text that must be JSON-escaped: a column, or template text). For a batch,
Arrow joins, row by row, a control character standing for each fixed piece with the values. JSON
escaping does not depend on where values start or end, so the whole joined buffer is escaped at
once with ``bytes.replace`` (``\\``, ``"``, newline, carriage return, tab), and then each control
character is replaced by its fixed piece. The result is byte-for-byte what ``orjson.dumps`` gives
per row, as long as no value holds any other control character: that is checked on the joined
buffer, and such batches go the per-row way instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import orjson
import pyarrow as pa
import pyarrow.compute as pc

# Control characters free to stand for fixed pieces: all but tab, newline and carriage return.
_MARKERS = tuple(chr(code) for code in range(1, 32) if code not in (9, 10, 13))
_KEEP_CONTROL = bytes(range(32, 256)) + b"\t\n\r"  # deleted by translate: what is left are markers
_ESCAPES = ((b"\\", b"\\\\"), (b'"', b'\\"'), (b"\n", b"\\n"), (b"\r", b"\\r"), (b"\t", b"\\t"))
_SLOT = re.compile(rb'"?@@slot:([a-z0-9_]+)@@"?')

Value: TypeAlias = pa.Array | str  # a column of text, or text repeated on every row


@dataclass(frozen=True)
class Slot:
    """Where ``slot(name)`` sits in a layout."""

    name: str


def slot(name: str) -> str:
    return f"@@slot:{name}@@"


def layout(template: Mapping[str, Any], *, raw: Sequence[str] = ()) -> list[bytes | Slot]:
    """Splits ``orjson.dumps(template)`` plus newline at its slots.

    Slots named in ``raw`` hold JSON numbers, so their quotes are dropped; the others sit inside
    JSON strings and are filled with escaped text.
    """
    text = orjson.dumps(template) + b"\n"
    pieces: list[bytes | Slot] = []
    position = 0
    for match in _SLOT.finditer(text):
        name = match[1].decode()
        quoted = match[0].startswith(b'"') and match[0].endswith(b'"')
        start, end = match.span()
        if not (name in raw and quoted):
            start, end = match.start(1) - len(b"@@slot:"), match.end(1) + len(b"@@")
        pieces += [text[position:start], Slot(name)]
        position = end
    pieces.append(text[position:])
    found = [piece.name for piece in pieces if isinstance(piece, Slot)]
    if len(found) != len(set(found)):
        raise ValueError(f"a slot appears more than once in {text!r}")
    return [piece for piece in pieces if piece != b""]


def encode_lines(pieces: Sequence[bytes | Value], rows: int) -> bytes | None:
    """One JSONL line per row from fixed pieces (bytes) and values; None if a value has a control
    character that forces per-row encoding, or the layout needs more markers than exist.

    The last piece must be fixed and end with a newline.
    """
    fixed = [piece for piece in pieces if isinstance(piece, bytes)]
    if len(fixed) > len(_MARKERS) or not fixed or not isinstance(pieces[-1], bytes):
        return None
    markers = dict(zip(range(len(fixed)), _MARKERS, strict=False))
    arguments: list[Value] = []
    expected: list[str] = []
    for piece in pieces:
        if isinstance(piece, bytes):
            marker = markers[len(expected)]
            expected.append(marker)
            arguments.append(marker)
        else:
            arguments.append(piece)
    joined = pc.binary_join_element_wise(*_broadcastable(arguments, rows), "")
    offsets = joined.buffers()[1]
    start, end = _first_last_offset(joined, offsets)
    buffer = joined.buffers()[2].to_pybytes()[start:end]
    if buffer.translate(None, _KEEP_CONTROL) != "".join(expected).encode() * rows:
        return None
    for plain, escaped in _ESCAPES:
        buffer = buffer.replace(plain, escaped)
    for marker, piece in zip(expected, fixed, strict=True):
        buffer = buffer.replace(marker.encode(), piece)
    return buffer


def _broadcastable(arguments: list[Value], rows: int) -> list[Value]:
    # binary_join_element_wise needs at least one array to know the length
    if any(isinstance(argument, pa.Array) for argument in arguments):
        return arguments
    return [
        pa.array([argument] * rows, pa.string()) if isinstance(argument, str) else argument
        for argument in arguments
    ]


def _first_last_offset(array: pa.Array, offsets: pa.Buffer) -> tuple[int, int]:
    width = 8 if pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type) else 4
    view = memoryview(offsets).cast("q" if width == 8 else "i")
    return view[array.offset], view[array.offset + len(array)]
