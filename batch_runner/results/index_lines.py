"""Reading the run's record index: one line per input row, ``{"recordId", "row", "id", "input"}``.

A row planning left out of the jobs (``--skip-oversized``) has ``skipped`` before ``input``:
``{"error_code", "error_message"}``, the reason results list it as failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from batch_runner.exceptions import RecordIndexError
from batch_runner.results.outputs import CHUNK_BYTES

RecordIndex = Path | str | Iterable[bytes]
# Why planning left a row out: (error_code, error_message) of its ``skipped`` field.
SkipReason = tuple[Any, Any]
# The type of an ``id`` the planner writes (null, a string, an integer), by its first byte.
JSON_SCALAR_TYPES: dict[int, type] = {ord("n"): type(None), ord('"'): str}
JSON_SCALAR_TYPES.update(dict.fromkeys(b"-0123456789", int))


@dataclass
class IndexTypes:
    """The Python types seen in the ``id`` and each input column, for the columns' kinds."""

    ids: set[type] = field(default_factory=set)
    inputs: dict[str, set[type]] = field(default_factory=dict)

    def track_input(self, given: object) -> None:
        if not isinstance(given, dict):
            return
        types = self.inputs
        for name, value in given.items():
            seen = types.get(name)
            if seen is None:
                types[name] = seen = set()
            seen.add(type(value))


def parse_index_line(
    raw: bytes, number: int, types: IndexTypes, include_input: bool
) -> tuple[str, int, Any, Any, SkipReason | None]:
    """``(recordId, row, id, input, skipped)`` of index line ``number`` (input None unless
    included; skipped None unless planning left the row out)."""
    try:
        entry = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise RecordIndexError(f"record index line {number} is not valid JSON: {err}") from err
    if not isinstance(entry, dict) or not isinstance(entry.get("recordId"), str):
        raise RecordIndexError(f"record index line {number} has no recordId")
    row = entry.get("row")
    if type(row) is not int:
        raise RecordIndexError(f"record index line {number} has no integer row")
    user_id = entry.get("id")
    types.ids.add(type(user_id))
    given = entry.get("input") if include_input else None
    if given is not None:
        types.track_input(given)
    skipped = entry.get("skipped")
    reason = (skipped.get("error_code"), skipped.get("error_message")) if isinstance(skipped, dict) else None
    return entry["recordId"], row, user_id, given, reason


def index_lines(record_index: RecordIndex) -> Iterator[bytes]:
    """The index's lines, from its file or as given (text lines are encoded)."""
    if isinstance(record_index, Path | str):
        for block in index_blocks(record_index):
            yield from block_lines(block)
    else:
        for line in record_index:
            yield line.encode() if isinstance(line, str) else line


def index_blocks(path: Path | str) -> Iterator[bytes]:
    """The index file in blocks of whole lines (each ends with a newline but maybe the last)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the generator below
    except OSError as err:
        raise RecordIndexError(f"cannot read the record index {path}: {err}") from err
    with handle:
        while chunk := handle.read(CHUNK_BYTES):
            # The rest of the last line read on: one copy of the chunk, not two.
            rest = b"" if chunk.endswith(b"\n") else handle.readline()
            yield chunk + rest if rest else chunk


def block_lines(block: bytes) -> list[bytes]:
    """A block's lines without their newlines."""
    lines = block.split(b"\n")
    if not lines[-1]:
        lines.pop()
    return lines
