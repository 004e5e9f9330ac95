"""Encoded outcomes addressed by row: a spool of partition files, each of consecutive rows.

Outcomes arrive in output order (a job's rows shuffled, retries later), from one or several
writers (worker processes each have their own files). Each outcome is appended to its writer's
file for the partition of its row, with the row's offset in the partition and the sequence
number of its chunk (chunks are numbered in the order the outputs are read, oldest job first).
Reading a partition back fills one slot per row from every writer's file, the outcome of the
latest chunk winning (within a file, entries are in read order: the later one wins), so memory
holds one partition at a time and the rows come out in order without a sort or merge. Jobs cover
consecutive rows, so each writer writes to one or two partitions at a time.
"""

from __future__ import annotations

import math
import struct
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import IO

# Per outcome: the row's offset in its partition, the chunk's sequence number and the length of
# the encoded outcome (which may hold line breaks: CSV fields keep them inside quotes).
_HEADER = struct.Struct("<III")
_BUFFER = 1 << 16
# Open files per writer: enough for the partitions a writer is between, few enough that several
# writers stay far below the usual limit of 1,024 descriptors.
_OPEN_FILES = 16
MAX_PARTITIONS = 256


class RowSpool:
    """Spool for rows ``0 .. rows - 1``: ``writer(name)`` for each writer, closed before
    ``windows()`` reads the rows back."""

    def __init__(self, folder: Path, rows: int, partition_rows: int) -> None:
        self.folder = folder
        self.rows = rows
        self.partition_rows = max(1, partition_rows, math.ceil(rows / MAX_PARTITIONS))
        self.partitions = math.ceil(rows / self.partition_rows)
        self.writers: list[str] = []

    def writer(self, name: str) -> SpoolWriter:
        """A writer of its own files (create it before any process it is handed to starts)."""
        self.writers.append(name)
        return SpoolWriter(self, name)

    def path(self, partition: int, writer: str) -> Path:
        return self.folder / f"rows-{partition}-{writer}"

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(
            path
            for partition in range(self.partitions)
            for name in self.writers
            if (path := self.path(partition, name)).exists()
        )

    def windows(self) -> Iterator[tuple[int, list[bytes | None]]]:
        """``(first row, slots)`` per partition in row order: a slot holds the newest outcome of
        its row, or None."""
        for partition in range(self.partitions):
            first = partition * self.partition_rows
            size = min(self.partition_rows, self.rows - first)
            slots: list[bytes | None] = [None] * size
            files = [p for name in self.writers if (p := self.path(partition, name)).exists()]
            if len(files) == 1:
                _fill(files[0], slots)
            elif files:
                _fill_newest(files, slots, [0] * size)
            yield first, slots


def _fill(path: Path, slots: list[bytes | None]) -> None:
    """One writer's entries: each later one is newer."""
    header, read_header = _HEADER.size, _HEADER.unpack
    with open(path, "rb", buffering=_BUFFER) as handle:
        read = handle.read
        while entry := read(header):
            offset, _, size = read_header(entry)
            slots[offset] = read(size)


def _fill_newest(paths: list[Path], slots: list[bytes | None], chunks: list[int]) -> None:
    """Several writers' entries: the one of the latest chunk wins (``chunks``: each slot's)."""
    header, read_header = _HEADER.size, _HEADER.unpack
    for path in paths:
        with open(path, "rb", buffering=_BUFFER) as handle:
            read = handle.read
            while entry := read(header):
                offset, chunk, size = read_header(entry)
                data = read(size)
                if slots[offset] is None or chunk >= chunks[offset]:
                    slots[offset] = data
                    chunks[offset] = chunk


class SpoolWriter:
    """Appends outcomes to its own partition files, a few open at a time."""

    def __init__(self, spool: RowSpool, name: str) -> None:
        self._spool = spool
        self._name = name
        self._partition_rows = spool.partition_rows
        self._open: OrderedDict[int, IO[bytes]] = OrderedDict()

    def add(self, row: int, chunk: int, data: bytes) -> None:
        partition, offset = divmod(row, self._partition_rows)
        handle = self._open.get(partition) or self._reopen(partition)
        handle.write(_HEADER.pack(offset, chunk, len(data)) + data)

    def _reopen(self, partition: int) -> IO[bytes]:
        if len(self._open) >= _OPEN_FILES:
            self._open.popitem(last=False)[1].close()  # the partition written longest ago
        handle = open(self._spool.path(partition, self._name), "ab", buffering=_BUFFER)  # noqa: SIM115 - closed by close()
        self._open[partition] = handle
        return handle

    def close(self) -> None:
        while self._open:
            self._open.popitem()[1].close()
