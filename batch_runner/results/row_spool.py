"""Encoded outcomes addressed by row: a spool of partition files, each of consecutive rows.

Outcomes arrive in output order (a job's rows shuffled, retries later); each is appended to the
partition of its row with the row's offset in it. Reading a partition back fills one slot per row,
a later outcome overwriting an earlier one (jobs are read oldest first: the newest wins), so
memory holds one partition at a time and the rows come out in order without a sort or merge.
Jobs cover consecutive rows, so writes go to one or two partitions at a time.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

# Per outcome: the row's offset in its partition and the length of the encoded outcome (which may
# hold line breaks: CSV fields keep them inside quotes).
_HEADER = struct.Struct("<II")
_BUFFER = 1 << 16
# Many partitions are open while spooling: small buffers keep that flat.
_MANY_BUFFER = 1 << 14
MAX_PARTITIONS = 256


class RowSpool:
    """Spool for rows ``0 .. rows - 1``; ``add`` outcomes, ``close``, then read ``windows()``."""

    def __init__(self, folder: Path, rows: int, partition_rows: int) -> None:
        self.rows = rows
        self.partition_rows = max(1, partition_rows, math.ceil(rows / MAX_PARTITIONS))
        self.paths = tuple(folder / f"rows-{p}" for p in range(math.ceil(rows / self.partition_rows)))
        self._files = ExitStack()
        self._handles = [
            self._files.enter_context(open(p, "wb", buffering=_MANY_BUFFER))  # noqa: SIM115 - closed by close()
            for p in self.paths
        ]

    def add(self, row: int, data: bytes) -> None:
        partition, offset = divmod(row, self.partition_rows)
        self._handles[partition].write(_HEADER.pack(offset, len(data)) + data)

    def close(self) -> None:
        self._files.close()

    def windows(self) -> Iterator[tuple[int, list[bytes | None]]]:
        """``(first row, slots)`` per partition in row order: a slot holds the newest outcome of
        its row, or None."""
        header, read_header = _HEADER.size, _HEADER.unpack
        for number, path in enumerate(self.paths):
            first = number * self.partition_rows
            slots: list[bytes | None] = [None] * min(self.partition_rows, self.rows - first)
            with open(path, "rb", buffering=_BUFFER) as handle:
                read = handle.read
                while entry := read(header):
                    offset, size = read_header(entry)
                    slots[offset] = read(size)
            yield first, slots
