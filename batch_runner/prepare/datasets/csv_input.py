"""How pyarrow gets a CSV file's bytes, and how the quote checker sees the same bytes.

A plain local file (or standard input's copy) is opened by pyarrow itself: its read-ahead thread
reads it with no Python in between, so it never waits for the interpreter lock the planning
thread holds while it encodes. The checker reads the file a second time on the planning thread,
a block behind pyarrow (so from the page cache), into one reused buffer. Other sources (S3,
compressed files) are Python streams; pyarrow reads those through a wrapper that shows the checker
every byte it hands out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from batch_runner.prepare.datasets.csv_quotes import QuoteChecker
from batch_runner.prepare.datasets.sources import ByteSource, plain_file


class CsvInput(Protocol):
    stream: Any  # what pyarrow's reader reads

    def after_batch(self) -> None:
        """pyarrow has handed out a batch (about a block of the file)."""

    def finish(self) -> bool:
        """Whether the bytes need the strict scan (call after the last batch)."""
        ...

    def close(self) -> None: ...


def open_input(source: ByteSource, block_bytes: int) -> CsvInput:
    """pyarrow's input for ``source``, which it reads ``block_bytes`` at a time."""
    path = plain_file(source)
    return _WrappedStream(source, block_bytes) if path is None else _NativeFile(path, block_bytes)


class _NativeFile:
    def __init__(self, path: Path, block_bytes: int) -> None:
        self.stream = pa.OSFile(str(path))
        self._again = path.open("rb", buffering=0)
        self._buffer = bytearray(block_bytes)
        self.checker = QuoteChecker(block_bytes)

    def after_batch(self) -> None:
        if not self.checker.suspect:
            self._read()

    def finish(self) -> bool:
        while not self.checker.suspect and self._read():
            pass
        self.checker.finish()
        return self.checker.suspect

    def _read(self) -> bool:
        size = self._again.readinto(self._buffer)
        if size:
            self.checker.feed(self._buffer if size == len(self._buffer) else self._buffer[:size])
        return bool(size)

    def close(self) -> None:
        self.stream.close()
        self._again.close()


class _WrappedStream:
    """A read-only file for pyarrow that shows the quote checker every byte it hands out."""

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
