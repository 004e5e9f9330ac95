"""A look at a CSV file's quotes and NUL bytes, block by block, cheap enough to run on every read.

pyarrow reads a quote that breaks the CSV rules without complaint: ``b1,"she said "stop" and
left",x`` becomes ``she said stop" and left"``, and ``"abc"def`` becomes ``abcdef`` (Python's csv
module does the same unless ``strict``). It also passes NUL bytes through, which no text holds (a
UTF-16 file read as UTF-8 is full of them). Such files are refused, with the line, by the strict
scan in ``csv_file.find_csv_problem``; this class only says when that scan is needed, so clean
files never pay for it.

In a file without such problems, the quotes take turns opening and closing a quoted value (a
doubled quote inside a value closes and opens again), so whether a quote opens or closes follows
from how many came before it. A quote that opens follows a delimiter, a line break, another quote
or the start of the file; a quote that closes is followed by one of these or the end of the file.
Each block's quotes are located by pyarrow (``split_pattern``: the stretches between them end where
they are) and the byte on the side that matters is looked up for all of them at once, with no
Python step per quote. A bare quote inside an unquoted value (``12" screen``) also fails the test;
the strict scan accepts it, as both readers take it literally.
"""

from __future__ import annotations

import mmap
from array import array
from functools import cache
from typing import TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from batch_runner.prepare.jsonl_lines import int_range

Buffer: TypeAlias = bytes | bytearray | mmap.mmap  # each has find() and indexes to ints

_UTF8_BOM = b"\xef\xbb\xbf"
_QUOTE = '"'
_AROUND_QUOTES = b',\r\n"'  # what may come before a quote that opens and after one that closes


class QuoteChecker:
    """Fed the file's bytes in order; ``suspect`` once they need the strict scan. Bytes are
    checked ``check_bytes`` or more at a time (each check costs a few pyarrow calls, whatever its
    size)."""

    def __init__(self, check_bytes: int) -> None:
        self._check_bytes = check_bytes
        self._pending = bytearray()  # bytes fed but not yet checked
        self._before = ord("\n")  # the byte before the pending ones; the file starts as after a line break
        self._inside = False  # whether the pending bytes start inside a quoted value
        self._closed_last = False  # whether the last byte checked is a quote that closes a value
        self._first_bytes: bytes | None = b""  # until the byte order mark is ruled in or out
        self.suspect = False

    def feed(self, data: Buffer, start: int = 0, end: int | None = None) -> None:
        """Takes the next bytes, ``data[start:end]`` (the caller may reuse ``data`` afterwards)."""
        end = len(data) if end is None else end
        if self._first_bytes is not None:
            self._first_bytes += data[start:end]
            if len(self._first_bytes) < len(_UTF8_BOM) and end > start:
                return
            data, self._first_bytes = self._first_bytes.removeprefix(_UTF8_BOM), None
            start, end = 0, len(data)
        if self.suspect:
            return
        if self._pending or end - start < self._check_bytes:
            self._pending += memoryview(data)[start:end]
            if len(self._pending) < self._check_bytes:
                return
            data, self._pending = self._pending, bytearray()
            start, end = 0, len(data)
        self._check(data, start, end)

    def finish(self) -> None:
        """At the end of the file: a quoted value left open, or text after a closing quote."""
        self.feed(b"")  # a file shorter than a byte order mark
        if not self.suspect:
            self._check(self._pending, 0, len(self._pending))
            self._pending = bytearray()
        if self._inside:
            self.suspect = True

    def _check(self, data: Buffer, start: int, end: int) -> None:
        if start == end:
            return
        if data.find(b"\x00", start, end) >= 0 or (self._closed_last and data[start] not in _AROUND_QUOTES):
            self.suspect = True
            return
        view = memoryview(data)[start:end]
        quotes = _quote_positions(view)
        count = len(quotes)
        self._closed_last = False
        if count:
            opens_first = not self._inside
            self._inside ^= count % 2 == 1
            # A quote at either end has its neighbour outside ``data``: the byte before it was
            # checked last time, the byte after it comes next time.
            first = int(quotes[0].as_py() == 0 and opens_first)
            if first and self._before not in _AROUND_QUOTES:
                self.suspect = True
                return
            self._closed_last = quotes[count - 1].as_py() == len(view) - 1 and not self._inside
            last = count - int(self._closed_last)
            self.suspect = not _neighbours_allowed(
                view, quotes.slice(first, last - first), first, opens_first
            )
        self._before = data[end - 1]


def _quote_positions(data: memoryview) -> pa.Array:
    """Where the quotes are in ``data`` (int64)."""
    whole = pa.Array.from_buffers(
        pa.large_binary(), 1, [None, pa.py_buffer(array("q", [0, len(data)])), pa.py_buffer(data)]
    )
    stretches = pc.split_pattern(whole, _QUOTE).values
    count = len(stretches) - 1
    # Stretch i ends where quote i is, less the i quotes before it.
    ends = pa.Array.from_buffers(pa.int64(), count, [None, stretches.buffers()[1]], 0, stretches.offset + 1)
    return pc.add(ends, int_range(0, count))


def _neighbours_allowed(data: memoryview, quotes: pa.Array, first: int, opens_first: bool) -> bool:
    """Whether the byte before each of these quotes that opens and after each that closes is
    allowed; ``first`` is the number of the first of them among the quotes of ``data``."""
    if not len(quotes):
        return True
    steps = _steps(first + len(quotes) + 1).slice(first + (0 if opens_first else 1), len(quotes))
    view = pa.Array.from_buffers(pa.uint8(), len(data), [None, pa.py_buffer(data)])
    around = pc.take(view, pc.add(quotes, steps))
    return bool(pc.all(pc.is_in(around, value_set=_allowed())).as_py())


@cache
def _allowed() -> pa.Array:
    return pa.Array.from_buffers(pa.uint8(), len(_AROUND_QUOTES), [None, pa.py_buffer(_AROUND_QUOTES)])


def _steps(count: int) -> pa.Array:
    """``-1, +1, -1, ...`` (the side to look at for quotes that open, close, open, ...), at least
    ``count`` long."""
    return _steps_of(max(1024, 1 << count.bit_length()))  # powers of two: few sizes are kept


@cache
def _steps_of(size: int) -> pa.Array:
    return pa.Array.from_buffers(pa.int64(), size, [None, pa.py_buffer(array("q", [-1, 1] * (size // 2)))])
