"""Writes request lines into shard files that each fit one batch job.

One file per job: per-job record and byte limits then equal per-file limits, each job's
idempotency token can hash exactly one file, and a failed job maps to exactly one file to retry.
(A job may read several files, which would only help if per-file record quotas were raised below
per-job ones; not worth the bookkeeping.)

Shards are filled to the record and byte limits in order. The last shard may end up below the
service's minimum records per job; then the last two shards are rebalanced into two of nearly
equal size, so no job is ever below the minimum and nothing is padded. When a record limit close
to the minimum makes two too few (150 records per job at most, 100 at least: 310 records are
150 + 150 + 10), the last few shards are spread evenly (104 + 103 + 103). When no split exists at
all (160 records: one job is too big, two too small), ``UnsplittableError`` says how many records
fit jobs within the limits (``packable``), so retry can send the rest on demand.
With ``small_on_demand``, a last shard below the minimum that cannot be made up (the only one, or
one no split can fill) is marked ``on_demand``: its records go through the runtime API instead.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from batch_runner.catalog.quotas import ModelQuotas
from batch_runner.exceptions import PlanError
from batch_runner.prepare.background_writer import BackgroundWriter
from batch_runner.prepare.plan import ShardPlan

SHARD_NAME = "shard-{index:05d}.jsonl"


@dataclass(frozen=True)
class Lines:
    """JSONL lines in one buffer; ``ends[i]`` is where line ``i`` ends (``ends[i-1]:ends[i]`` is line i)."""

    data: bytes | memoryview
    ends: list[int]

    @property
    def count(self) -> int:
        return len(self.ends)


@dataclass
class _Shard:
    index: int
    path: Path
    handle: BinaryIO | None
    records: int = 0
    size: int = 0
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)


class ShardWriter:
    def __init__(
        self, directory: Path, quotas: ModelQuotas, sink: BackgroundWriter, *, small_on_demand: bool = False
    ) -> None:
        self.directory = directory
        self.small_on_demand = small_on_demand
        self.quotas = quotas
        self.sink = sink
        self.max_records = min(quotas.max_records_per_file, quotas.max_records_per_job)
        self.max_bytes = min(quotas.max_file_bytes, quotas.max_job_bytes)
        self._shards: list[_Shard] = []
        self.records = 0

    def add(self, lines: Lines, where: Callable[[int], str]) -> None:
        """Appends ``lines``; ``where(i)`` names line ``i``'s input row in error messages."""
        if not lines.count:
            return
        self.records += lines.count
        shard = self._current()
        if shard.records + lines.count <= self.max_records and shard.size + len(lines.data) <= self.max_bytes:
            self._write(shard, memoryview(lines.data), lines.count)  # the common case: no line ends needed
            return
        ends = lines.ends
        self._check_sizes(ends, where)
        view = memoryview(lines.data)
        done = 0  # lines of this call already written
        while done < lines.count:
            shard = self._current()
            start_byte = ends[done - 1] if done else 0
            limit = min(lines.count, done + self.max_records - shard.records)
            # the furthest line that still fits the byte budget; ends are increasing
            fit = bisect.bisect_right(ends, start_byte + self.max_bytes - shard.size, done, limit)
            if fit == done:
                self._close(shard)
                continue
            self._write(shard, view[start_byte : ends[fit - 1]], fit - done)
            done = fit

    def finish(self) -> list[ShardPlan]:
        if self._shards:
            self._close(self._shards[-1])
        self.sink.drain()
        last = self._shards[-1] if self._shards else None
        small = last is not None and last.records < self.quotas.min_records_per_job
        if small and len(self._shards) > 1:
            try:
                self._rebalance(self._shards[-2], self._shards[-1])
                small = False
            except UnsplittableError:  # raised before any file is rewritten
                if not self.small_on_demand:
                    raise
        return [
            ShardPlan(
                shard.index,
                shard.path,
                shard.records,
                shard.size,
                shard.digest.hexdigest(),
                on_demand=small and self.small_on_demand and shard is self._shards[-1],
            )
            for shard in self._shards
        ]

    def abandon(self) -> None:
        """Closes any file still open (after an error; call once the background writer has stopped)."""
        for shard in self._shards:
            if shard.handle is not None:
                shard.handle.close()
                shard.handle = None

    def _check_sizes(self, ends: list[int], where: Callable[[int], str]) -> None:
        previous = 0
        for position, end in enumerate(ends):
            if end - previous > self.max_bytes:
                raise PlanError(
                    f"{where(position)}: the request is {end - previous:,} bytes, larger than the "
                    f"{self.max_bytes:,}-byte limit of one batch input file; shorten the row's text"
                )
            previous = end

    def _current(self) -> _Shard:
        if (
            not self._shards
            or self._shards[-1].handle is None
            or self._shards[-1].records >= self.max_records
        ):
            if self._shards:
                self._close(self._shards[-1])
            path = self.directory / SHARD_NAME.format(index=len(self._shards))
            self._shards.append(_Shard(len(self._shards), path, path.open("wb")))
        return self._shards[-1]

    def _write(self, shard: _Shard, data: memoryview, records: int) -> None:
        assert shard.handle is not None
        self.sink.write(shard.handle, shard.digest, data)
        shard.records += records
        shard.size += len(data)

    def _close(self, shard: _Shard) -> None:
        if shard.handle is not None:
            self.sink.close(shard.handle, shard.digest)
            shard.handle = None

    def _rebalance(self, previous: _Shard, last: _Shard) -> None:
        """Moves lines from the end of ``previous`` to the front of ``last``; when two shards cannot
        both reach the minimum, spreads the last few evenly instead."""
        minimum, total = self.quotas.min_records_per_job, previous.records + last.records
        if total < 2 * minimum:
            self._spread_tail()
            return
        with previous.path.open("rb") as handle:
            sizes = [len(line) for line in handle]
        keep = split_point(sizes, last.size, total, minimum, self.max_bytes)
        if keep is None:
            raise self._too_large(total)
        self._rewrite(2, [keep, total - keep])

    def _spread_tail(self) -> None:
        """The fewest last shards whose records, spread evenly, give every job the minimum."""
        minimum, records = self.quotas.min_records_per_job, 0
        for count, shard in enumerate(reversed(self._shards), 1):
            records += shard.records
            if count > 1 and records >= count * minimum:
                share, extra = divmod(records, count)
                self._rewrite(count, [share + 1] * extra + [share] * (count - extra))
                return
        raise UnsplittableError(self.records, minimum, self.max_records)

    def _rewrite(self, count: int, records: list[int]) -> None:
        """Rewrites the last ``count`` shards, in order, with ``records[i]`` lines in the i-th."""
        tail = self._shards[-count:]
        old_paths = [shard.path.replace(shard.path.with_suffix(".old")) for shard in tail]
        new = [_Shard(shard.index, shard.path, None) for shard in tail]
        targets = iter(zip(new, records, strict=True))
        target, wanted = next(targets)
        out = target.path.open("wb")
        try:
            for old in old_paths:
                with old.open("rb") as source:
                    for line in source:
                        while target.records == wanted:
                            out.close()
                            target, wanted = next(targets)
                            out = target.path.open("wb")
                        _append(target, out, line, 1)
        finally:
            out.close()
        for old in old_paths:
            old.unlink()
        oversized = next((shard for shard in new if shard.size > self.max_bytes), None)
        if oversized is not None:
            raise self._too_large(sum(records))
        self._shards[-count:] = new

    def _too_large(self, records: int) -> PlanError:
        return PlanError(
            f"cannot split the last {records:,} records into jobs of at least "
            f"{self.quotas.min_records_per_job:,} records within the {self.max_bytes:,}-byte job "
            "limit: the records are unusually large; shorten them or send the remainder on demand"
        )


class UnsplittableError(PlanError):
    """No split of ``records`` gives every job ``minimum`` to ``maximum`` records."""

    def __init__(self, records: int, minimum: int, maximum: int) -> None:
        jobs = records // minimum
        needed = -(-records // jobs) if jobs else minimum
        super().__init__(
            f"{records:,} records cannot be split into jobs of {minimum:,} to {maximum:,} records "
            f"each (one job is too big, two too small); raise --max-records-per-job to {needed:,} "
            "or more"
        )
        self.records, self.minimum, self.maximum = records, minimum, maximum


def packable(records: int, minimum: int, maximum: int) -> int:
    """How many of ``records`` fit jobs of ``minimum`` to ``maximum`` records each (all of them when
    some number of jobs fits exactly; else as many full jobs as the minimum allows)."""
    jobs = records // minimum
    return records if jobs * maximum >= records else jobs * maximum


def _append(shard: _Shard, handle: BinaryIO, data: bytes, records: int) -> None:
    handle.write(data)
    shard.digest.update(data)
    shard.records += records
    shard.size += len(data)


def split_point(sizes: list[int], last_bytes: int, total: int, minimum: int, max_bytes: int) -> int | None:
    """How many of its lines (byte sizes ``sizes``) the previous shard keeps so that both shards
    are near-equal, hold at least ``minimum`` records and fit ``max_bytes``; None when impossible."""
    keep = total - total // 2  # the previous shard keeps the larger half
    moved = sum(sizes[keep:])
    while keep <= len(sizes):
        if moved + last_bytes <= max_bytes and keep >= minimum and total - keep >= minimum:
            return keep
        if keep == len(sizes):
            return None
        moved -= sizes[keep]
        keep += 1
    return None
