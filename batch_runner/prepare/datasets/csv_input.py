"""How pyarrow gets a CSV file's bytes, and how the quote checker sees the same bytes.

A plain local file (or standard input's copy) is memory-mapped: pyarrow's reader takes its blocks
as slices of the map, with no copy and no Python stream in between (whose reads would wait for the
interpreter lock the planning thread holds while it encodes), and the checker looks at the same
pages, a batch behind pyarrow. Pages both are done with are dropped from the process as
it goes (they stay in the page cache), so memory does not grow with the file. Like every reader of
a memory map (polars and ripgrep map files too), planning would stop with SIGBUS if the file were
cut short while it is read.

Other sources (S3, compressed files) are Python streams; pyarrow reads those through a wrapper that
shows the checker every byte it hands out.
"""

from __future__ import annotations

import contextlib
import mmap
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from batch_runner.prepare.datasets.csv_quotes import QuoteChecker
from batch_runner.prepare.datasets.sources import ByteSource, plain_file


class CsvInput(Protocol):
    stream: Any  # what pyarrow's reader reads
    # Whether pyarrow reads and parses ahead on its threads: for a stream, so downloading and
    # decompressing overlap with encoding; not for a memory map, where there is nothing to wait
    # for and parsed blocks waiting would only hold memory.
    read_ahead: bool

    def after_batch(self) -> None:
        """pyarrow has handed out a batch (about a block of the file)."""

    def finish(self) -> bool:
        """Whether the bytes need the strict scan (call after the last batch)."""
        ...

    def close(self) -> None: ...


def open_input(source: ByteSource, block_bytes: int) -> CsvInput:
    """pyarrow's input for ``source``, which it reads ``block_bytes`` at a time."""
    path = plain_file(source)
    if path is not None:
        with contextlib.suppress(OSError, ValueError):  # an empty file, a file system without maps
            return _MappedFile(path, block_bytes)
    return _WrappedStream(source, block_bytes)


class _MappedFile:
    read_ahead = False

    def __init__(self, path: Path, block_bytes: int) -> None:
        with path.open("rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        self.stream = pa.BufferReader(pa.py_buffer(self._map))
        self._block_bytes = block_bytes
        self._checked = 0  # the checker has seen the bytes before this offset
        self._dropped = 0  # pages before this offset are out of the process's memory
        self.checker = QuoteChecker(block_bytes)

    def after_batch(self) -> None:
        self._check_to(self._checked + self._block_bytes)
        # pyarrow has handed out every row before the checked bytes but the last one (which may
        # straddle into the next block); a page dropped too early would only be read again.
        self._drop_to(self._checked - self._block_bytes)

    def finish(self) -> bool:
        self._check_to(len(self._map))
        self.checker.finish()
        return self.checker.suspect

    def close(self) -> None:
        self.stream.close()
        # Slices pyarrow still holds keep the map open; it then goes with them.
        with contextlib.suppress(BufferError):
            self._map.close()

    def _check_to(self, end: int) -> None:
        end = min(end, len(self._map))
        if self._checked < end and not self.checker.suspect:
            self.checker.feed(self._map, self._checked, end)
        self._checked = end

    def _drop_to(self, end: int) -> None:
        end -= end % mmap.PAGESIZE
        if end > self._dropped and hasattr(self._map, "madvise"):  # not on Windows
            self._map.madvise(mmap.MADV_DONTNEED, self._dropped, end - self._dropped)
            self._dropped = end


class _WrappedStream:
    """A read-only file for pyarrow that shows the quote checker every byte it hands out."""

    read_ahead = True

    def __init__(self, source: ByteSource, block_bytes: int) -> None:
        self.stream = self
        self._file = source.open()
        self.checker = QuoteChecker(block_bytes)
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self.checker.feed(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def after_batch(self) -> None:
        pass

    def finish(self) -> bool:
        self.checker.finish()
        return self.checker.suspect

    def close(self) -> None:
        self._file.close()
        self.closed = True
