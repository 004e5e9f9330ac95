"""A streaming look at a CSV file's quotes and NUL bytes, cheap enough to run on every read.

pyarrow reads a quote that breaks the CSV rules without complaint: ``b1,"she said "stop" and
left",x`` becomes ``she said stop" and left"``, and ``"abc"def`` becomes ``abcdef`` (Python's csv
module does the same unless ``strict``). It also passes NUL bytes through, which no text holds (a
UTF-16 file read as UTF-8 is full of them). Such files are refused, with the line, by the strict
scan in ``csv_file.find_csv_problem``; this class only says when that scan is needed, so clean
files never pay for it.

In a file without such problems, the text between a closing quote and the next opening quote (the
text outside quoted values) is empty, or starts and ends with a delimiter or line break; pairs of
quotes inside a quoted value (``""``) leave an empty stretch. So the file is split at its quotes
and every second stretch is checked (one ``bytes.split`` and two regex searches per block, about
5% of planning's CPU). A bare quote inside an unquoted value (``12" screen``) also fails the test;
the strict scan accepts it, as both readers take it literally.
"""

from __future__ import annotations

import re

_UTF8_BOM = b"\xef\xbb\xbf"
# A stretch outside quotes that starts with anything but a delimiter, line break or (empty) quote.
_BAD_START = re.compile(rb'"[^,\r\n"]')


class QuoteChecker:
    """Fed the file's bytes in order; ``suspect`` once they need the strict scan."""

    def __init__(self) -> None:
        # The first and last byte of the stretch after the last quote seen (it may continue in the
        # next block); the file starts as if after a line break.
        self._open_stretch = b"\n"
        self._inside = False  # whether that stretch is inside a quoted value
        self._first_bytes: bytes | None = b""  # until the byte order mark is ruled in or out
        self.suspect = False

    def feed(self, data: bytes) -> None:
        if self._first_bytes is not None:
            self._first_bytes += data
            if len(self._first_bytes) < len(_UTF8_BOM) and data:
                return
            data, self._first_bytes = self._first_bytes.removeprefix(_UTF8_BOM), None
        if self.suspect or not data:
            return
        if b"\x00" in data:
            self.suspect = True
            return
        stretches = data.split(b'"')
        # The first stretch continues the one left open: only its first and last byte matter.
        head, carried = stretches[0], self._open_stretch
        stretches[0] = (carried[:1] or head[:1]) + (head[-1:] or carried[-1:])
        last = stretches.pop()
        self._open_stretch = last[:1] + last[-1:]
        outside = stretches[1 if self._inside else 0 :: 2]
        self._inside ^= len(stretches) % 2 == 1
        if outside:
            joined = b'"' + b'"'.join(outside) + b'"'
            self.suspect = bool(_BAD_START.search(joined) or _BAD_START.search(joined[::-1]))

    def finish(self) -> None:
        """At the end of the file: a quoted value left open, or text after a closing quote."""
        self.feed(b"")  # a file shorter than a byte order mark
        if self._inside or (self._open_stretch[:1] not in (b"", b",", b"\r", b"\n")):
            self.suspect = True
