"""Writes request lines into shard files that each fit one batch job.

One file per job: per-job record and byte limits then equal per-file limits, each job's
idempotency token can hash exactly one file, and a failed job maps to exactly one file to retry.
(A job may read several files, which would only help if per-file record quotas were raised below
per-job ones; not worth the bookkeeping.)

Shards are filled to the record and byte limits in order. The last shard may end up below the
service's minimum records per job; then the last two shards are rebalanced into two of nearly
equal size, so no job is ever below the minimum and nothing is padded.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from batch_runner.exceptions import PlanError
from batch_runner.plan import ModelQuotas, ShardPlan

SHARD_NAME = "shard-{index:05d}.jsonl"


@dataclass
class _Shard:
    index: int
    path: Path
    handle: BinaryIO | None
    records: int = 0
    size: int = 0
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)


class ShardWriter:
    def __init__(self, directory: Path, quotas: ModelQuotas) -> None:
        self.directory = directory
        self.quotas = quotas
        self.max_records = min(quotas.max_records_per_file, quotas.max_records_per_job)
        self.max_bytes = min(quotas.max_file_bytes, quotas.max_job_bytes)
        self._shards: list[_Shard] = []

    def add(self, data: bytes, ends: Sequence[int], where: Callable[[int], str]) -> None:
        """Appends records; record ``i`` is ``data[ends[i-1]:ends[i]]`` (``ends[-1]`` = 0)."""
        self._check_sizes(ends, where)
        view = memoryview(data)
        done = 0  # records of this call already written
        while done < len(ends):
            shard = self._current()
            start_byte = ends[done - 1] if done else 0
            room_records = self.max_records - shard.records
            limit = min(len(ends), done + room_records)
            # the furthest record that still fits the byte budget; ends are increasing
            fit = bisect.bisect_right(ends, start_byte + self.max_bytes - shard.size, done, limit)
            if fit == done:
                self._close(shard)
                self._shards.append(self._open(len(self._shards)))
                continue
            end_byte = ends[fit - 1]
            self._write(shard, view[start_byte:end_byte], fit - done)
            done = fit

    def finish(self) -> list[ShardPlan]:
        if self._shards:
            self._close(self._shards[-1])
        last = self._shards[-1] if self._shards else None
        if last is not None and len(self._shards) > 1 and last.records < self.quotas.min_records_per_job:
            self._rebalance(self._shards[-2], last)
        return [
            ShardPlan(shard.index, shard.path, shard.records, shard.size, shard.digest.hexdigest())
            for shard in self._shards
        ]

    @property
    def records(self) -> int:
        return sum(shard.records for shard in self._shards)

    def _check_sizes(self, ends: Sequence[int], where: Callable[[int], str]) -> None:
        previous = 0
        for position, end in enumerate(ends):
            if end - previous > self.max_bytes:
                raise PlanError(
                    f"{where(position)}: the request is {end - previous:,} bytes, larger than the "
                    f"{self.max_bytes:,}-byte limit of one batch input file; shorten the row's text"
                )
            previous = end

    def _current(self) -> _Shard:
        if not self._shards or self._shards[-1].handle is None:
            self._shards.append(self._open(len(self._shards)))
        shard = self._shards[-1]
        if shard.records >= self.max_records:
            self._close(shard)
            shard = self._open(len(self._shards))
            self._shards.append(shard)
        return shard

    def _open(self, index: int) -> _Shard:
        path = self.directory / SHARD_NAME.format(index=index)
        return _Shard(index, path, path.open("wb"))

    def _write(self, shard: _Shard, data: memoryview, records: int) -> None:
        assert shard.handle is not None
        shard.handle.write(data)
        shard.digest.update(data)
        shard.records += records
        shard.size += len(data)

    def _close(self, shard: _Shard) -> None:
        if shard.handle is not None:
            shard.handle.close()
            shard.handle = None

    def _rebalance(self, previous: _Shard, last: _Shard) -> None:
        """Moves records from the end of ``previous`` to the front of ``last`` (streaming, by line)."""
        with previous.path.open("rb") as handle:
            sizes = [len(line) for line in handle]
        total = previous.records + last.records
        keep = split_point(sizes, last.size, total, self.quotas.min_records_per_job, self.max_bytes)
        if keep is None:
            raise PlanError(
                f"cannot split the last {total:,} records into jobs of at least "
                f"{self.quotas.min_records_per_job:,} records within the {self.max_bytes:,}-byte job limit; "
                "records are unusually large: shorten them or send the remainder on demand"
            )
        old_last = last.path.with_suffix(".tail")
        last.path.replace(old_last)
        old_previous = previous.path.with_suffix(".head")
        previous.path.replace(old_previous)
        new_previous = _Shard(previous.index, previous.path, previous.path.open("wb"))
        new_last = _Shard(last.index, last.path, last.path.open("wb"))
        with old_previous.open("rb") as source:
            for number, line in enumerate(source):
                self._write(new_previous if number < keep else new_last, memoryview(line), 1)
        with old_last.open("rb") as source:
            for block in iter(lambda: source.read(1 << 20), b""):
                self._write(new_last, memoryview(block), 0)
        new_last.records += last.records
        for shard in (new_previous, new_last):
            self._close(shard)
        old_previous.unlink()
        old_last.unlink()
        self._shards[-2:] = [new_previous, new_last]


def split_point(
    previous_sizes: list[int], last_bytes: int, total: int, minimum: int, max_bytes: int
) -> int | None:
    """How many records the previous shard keeps so both shards are near-equal, at least ``minimum``
    records, and within ``max_bytes``; None when impossible."""
    count = len(previous_sizes)
    keep = total - total // 2  # the previous shard keeps the larger half
    suffix = sum(previous_sizes[keep:])
    while keep <= count:
        moved_fits = suffix + last_bytes <= max_bytes
        if moved_fits and keep >= minimum and total - keep >= minimum:
            return keep
        if keep == count:
            return None
        suffix -= previous_sizes[keep]
        keep += 1
    return None
