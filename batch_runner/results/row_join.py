"""The row-addressed join, for record indexes of the runner's own record IDs (the usual case).

The planner gives input row N the recordId ``R`` + N in ten digits and writes the record index in
row order, one line per row from row 0. When the index is exactly that (``scan_index`` checks every
line before any output is read), an output line's recordId names its row: no hash partitions, no
per-partition dicts, no merge. Each outcome is encoded for the output format as soon as its line
is parsed (``row_encoding``) and spooled by row (``RowSpool``); the rows are then put together in
input order from their index columns and their newest outcome, each encoded once.

Parsing, encoding and spooling is the bulk of the work, and each output object's part is
independent of the others': worker processes (``worker_pool``, forked) can take an object each,
spooling into files of their own; the chunk number on each spooled outcome keeps the newest one
winning whichever worker wrote it. The rows' states and the counts come back to this process,
which applies them in read order, so the reconciliation is the same as with no workers.

Rows planning left out of the jobs (``--skip-oversized``: index lines with ``skipped``) are
spooled as failed before any output is read, so an outcome from a job would still be the newest.

Output record IDs that name no row of the index are unexpected, counted as the general join
counts them. Many distinct ones (outputs of another run?) would all be held in memory, so past
``MAX_STRANGERS`` the join stops (``TooManyStrangers``) and the general join takes over.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from batch_runner.catalog.output_schema import SCHEMA_ERROR_CODE
from batch_runner.results.extraction import FAILED, MISSING, SUCCEEDED
from batch_runner.results.index_lines import (
    JSON_SCALAR_TYPES,
    IndexTypes,
    SkipReason,
    block_lines,
    parse_index_line,
)
from batch_runner.results.outcome_stream import Chunk, ChunkCounts, OutcomeStream, OutputRef
from batch_runner.results.outputs import worker_source
from batch_runner.results.reconcile import EXAMPLE_LIMIT, Reconciliation
from batch_runner.results.row_encoding import RowParts
from batch_runner.results.row_spool import RowSpool, SpoolWriter
from batch_runner.results.runner_ids import (
    RUNNER_ID_DIGITS,
    RUNNER_ID_LENGTH,
    RUNNER_ID_PREFIX,
    format_runner_id,
)
from batch_runner.results.worker_pool import ordered_map

MAX_STRANGERS = 100_000
# The planner's index line layout (a match never leaves its line); anything else is parsed as JSON.
_PLANNED_INDEX_LINE = re.compile(
    rb'\{"recordId":"'
    + RUNNER_ID_PREFIX.encode()
    + rb"(\d{%d})" % RUNNER_ID_DIGITS
    + rb'","row":(\d+),"id":(null|"[^"\\\n]*"|-?\d+),"input":'
)
# A row's state while outcomes are spooled: none yet, or the status of its newest outcome.
_NONE, _SUCCEEDED, _FAILED, _SCHEMA_FAILED = 0, 1, 2, 3


class TooManyStrangers(Exception):
    """More distinct unexpected record IDs than the row join keeps: use the general join."""


@dataclass
class IndexScan:
    rows: int
    types: IndexTypes
    has_ids: bool  # any row has a user ID: writing reads the index again for them
    skipped: list[tuple[int, SkipReason]]  # rows planning left out, with why


def scan_index(blocks: Iterable[bytes], include_input: bool) -> IndexScan | None:
    """Whether line N of the index is row N with the runner's ID (None: not so), with the types of
    its IDs and input columns and the rows planning left out. A line that is not an index line
    raises ``RecordIndexError``. ``blocks``: the index in blocks of whole lines."""
    types = IndexTypes()
    rows = number = 0
    has_ids = False
    skipped: list[tuple[int, SkipReason]] = []
    for block in blocks:
        found = None if include_input else _planned_lines(block)
        if found is not None:
            # Whole-block comparisons of lists, not a check per line.
            end = rows + len(found)
            digits, row_numbers, user_ids = zip(*found, strict=True) if found else ((), (), ())
            expected = list(range(rows, end))
            if list(map(int, digits)) != expected or list(map(int, row_numbers)) != expected:
                return None
            distinct = set(user_ids)
            types.ids.update(JSON_SCALAR_TYPES[user_id[0]] for user_id in distinct)
            has_ids = has_ids or bool(distinct - {b"null"})
            rows, number = end, number + len(found)
            continue
        for raw in block_lines(block):
            number += 1
            if not raw or raw.isspace():
                continue
            record_id, row_number, user_value, _, reason = parse_index_line(raw, number, types, include_input)
            if row_number != rows or record_id != format_runner_id(rows):
                return None
            has_ids = has_ids or user_value is not None
            if reason is not None:
                skipped.append((rows, reason))
            rows += 1
    return IndexScan(rows, types, has_ids, skipped)


def _planned_lines(block: bytes) -> list[tuple[bytes, bytes, bytes]] | None:
    """``(ID digits, row, id)`` of every line of ``block`` if all are in the planner's layout.
    Only each line's start is read (``find`` skips the input columns), and nothing is copied."""
    found: list[tuple[bytes, bytes, bytes]] = []
    match = _PLANNED_INDEX_LINE.match
    find = block.find
    start, end = 0, len(block)
    while start < end:
        line = match(block, start)
        if line is None:
            return None
        found.append(line.groups())  # type: ignore[arg-type] # three groups, all bytes
        start = find(b"\n", line.end()) + 1
        if not start:
            break  # a last line without a newline
    return found


@dataclass
class SpooledRows:
    """What spooling a chunk or an object found: the rows of its outcomes with each one's state,
    in line order; the unexpected record IDs with their job; the lines' counts."""

    job: int
    rows: array[int] = field(default_factory=lambda: array("I"))
    states: bytearray = field(default_factory=bytearray)
    strangers: list[tuple[str, str]] = field(default_factory=list)
    counts: ChunkCounts = field(default_factory=ChunkCounts)


class RowJoin:
    """Spool ``stream`` by row (``run``), then read the joined rows as encoded lines (``lines``)."""

    def __init__(
        self,
        stream: OutcomeStream,
        scan: IndexScan,
        parts: RowParts,
        input_names: tuple[str, ...],
        tmp: Path,
        partition_bytes: int,
        workers: int = 0,
    ) -> None:
        self.stream = stream
        self.scan = scan
        self.parts = parts
        self.input_names = input_names
        self.workers = workers
        rows = scan.rows
        # Rows per partition so that one holds about ``partition_bytes`` of output lines (more
        # than their encoded outcomes, which leave out the echoed request).
        per_row = stream.output_bytes / rows if rows else 1
        self.spool = RowSpool(tmp, rows, int(partition_bytes / max(per_row, 1)))

    def run(self) -> Reconciliation:
        """Parse, encode and spool every chunk of output (in ``workers`` processes, or here with
        0), then count each row's newest outcome."""
        rows = self.scan.rows
        states = bytearray(rows)
        strangers: dict[str, str] = {}  # unexpected record ID -> job of its newest outcome
        superseded = 0
        skipped = self.spool.writer("skipped")
        for row, reason in self.scan.skipped:
            states[row] = _FAILED
            skipped.add(row, 0, self.parts.outcome(self.stream.skipped(reason)))
        skipped.close()
        with closing(self._spooled()) as spooled:  # stops any workers on the way out
            for found in spooled:
                for row, state in zip(found.rows, found.states, strict=True):
                    if states[row]:
                        superseded += 1
                    states[row] = state
                for record_id, job_id in found.strangers:
                    if record_id in strangers:
                        superseded += 1
                    elif len(strangers) >= MAX_STRANGERS:
                        raise TooManyStrangers(record_id)
                    strangers[record_id] = job_id
                self.stream.count(found.job, found.counts)
        self.stream.count_unexpected(strangers.values())
        schema_failed = states.count(_SCHEMA_FAILED)
        totals = {
            SUCCEEDED: states.count(_SUCCEEDED),
            FAILED: states.count(_FAILED) + schema_failed,
            MISSING: states.count(_NONE),
            SCHEMA_ERROR_CODE: schema_failed,
        }
        return self.stream.reconciliation(
            totals, superseded, len(strangers), sorted(strangers)[:EXAMPLE_LIMIT]
        )

    def _spooled(self) -> Generator[SpooledRows, None, None]:
        """Every chunk of output spooled, in read order: here, a chunk at a time, or by worker
        processes, an object each (chunk 0 is the skipped rows)."""
        objects = self.stream.objects()
        workers = min(self.workers, len(objects))
        if workers < 2:  # one worker would only add the cost of handing over the results
            writer = self.spool.writer("here")
            try:
                for number, chunk in enumerate(self.stream.chunks(objects), start=1):
                    found = SpooledRows(chunk.job)
                    self._spool_chunk(writer, number, chunk, found)
                    yield found
            finally:
                writer.close()
            return
        writers = [self.spool.writer(f"worker{number}") for number in range(workers)]
        yield from ordered_map(partial(self._worker, writers), enumerate(objects, start=1), workers)

    @contextmanager
    def _worker(
        self, writers: list[SpoolWriter], number: int
    ) -> Iterator[Callable[[tuple[int, OutputRef]], SpooledRows]]:
        """Worker ``number``'s work (in its process): spool whole objects, read with its own
        connection, into its own files."""
        writer, source = writers[number], worker_source(self.stream.source)

        def spool_object(numbered: tuple[int, OutputRef]) -> SpooledRows:
            sequence, obj = numbered
            found = SpooledRows(obj.job)
            for chunk in self.stream.chunks([obj], source):
                self._spool_chunk(writer, sequence, chunk, found)
            return found

        try:
            yield spool_object
        finally:
            writer.close()

    def _spool_chunk(self, writer: SpoolWriter, sequence: int, chunk: Chunk, found: SpooledRows) -> None:
        # The hot loop of a collection, once per outcome (in a worker process when there are).
        rows = self.scan.rows
        encode, add = self.parts.outcome, writer.add
        append_row, append_state = found.rows.append, found.states.append
        strangers = found.strangers
        for record_id, fields in self.stream.outcomes(chunk, found.counts):
            digits = record_id[1:]
            if (
                len(record_id) == RUNNER_ID_LENGTH
                and record_id[0] == RUNNER_ID_PREFIX
                and digits.isdigit()
                and digits.isascii()
            ):
                row = int(digits)
                if row < rows:
                    append_row(row)
                    if fields[0] is SUCCEEDED:
                        append_state(_SUCCEEDED)
                    else:
                        append_state(_SCHEMA_FAILED if fields[-1] is False else _FAILED)
                    add(row, sequence, encode(fields))
                    continue
            strangers.append((record_id, fields[7]))

    def blocks(self, index: Iterable[bytes]) -> Iterator[list[bytes]]:
        """Each row's encoded line, in row order, a spool partition at a time (``index``: the
        record index again, in blocks of whole lines)."""
        parts = self.parts
        missing = parts.missing
        windows = self.spool.windows()
        if not (self.scan.has_ids or self.input_names):
            line = parts.runner_line  # every ID is null and no input columns: the row is enough
            for first, slots in windows:
                yield [line % (row, row, data or missing) for row, data in enumerate(slots, first)]
            return
        entries = self._index_entries(index)
        names = self.input_names
        inputs = None
        for first, slots in windows:
            block = []
            for row, data in enumerate(slots, first):
                user_id, given = next(entries)
                if names:
                    given = given or {}
                    inputs = parts.inputs([given.get(name) for name in names])
                block.append(
                    parts.line(parts.prefix(format_runner_id(row), user_id, row), data or missing, inputs)
                )
            yield block

    def _index_entries(self, blocks: Iterable[bytes]) -> Iterator[tuple[Any, Any]]:
        """``(id, input)`` per row (the scan has checked every line)."""
        include_input = bool(self.input_names)
        types = IndexTypes()
        number = 0
        for block in blocks:
            found = None if include_input else _planned_lines(block)
            if found is not None:
                number += len(found)
                for _, _, user_id in found:
                    yield orjson.loads(user_id), None
                continue
            for raw in block_lines(block):
                number += 1
                if raw and not raw.isspace():
                    _, _, user_id, given, _ = parse_index_line(raw, number, types, include_input)
                    yield user_id, given
