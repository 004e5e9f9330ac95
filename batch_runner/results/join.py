"""Join output records back to input rows by recordId, in bounded memory, newest outcome first.

Two joins give the same rows and reconciliation:

- ``row_join``, when the record index holds the runner's own record IDs (``R`` + the row number,
  as the planner writes them): an output line's ID names its row, so outcomes are spooled by row
  and the rows come out in order without a hash join. Outcomes are encoded for the output format
  (CSV, or JSON values for the other formats) as they are parsed.
- ``hash_join`` otherwise (an index with other IDs): a grace hash join on temp files.

Both read every job's output once through ``OutcomeStream`` (jobs oldest first, so for a record in
several jobs the newest outcome wins). With an output schema (``AnswerCheck``), each succeeded
answer is parsed and validated there: a column per top-level property when read, or a ``schema``
failure that keeps the raw text. The row join parses large outputs in worker processes, an output
object each (``worker_pool``), as output objects are independent and parsing is all CPU.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from batch_runner.exceptions import InternalError
from batch_runner.results.answers import AnswerCheck
from batch_runner.results.columns import (
    RESULT_COLUMNS,
    input_columns,
    property_columns,
    shown_columns,
    value_kind,
)
from batch_runner.results.hash_join import HashJoin
from batch_runner.results.index_lines import IndexTypes, RecordIndex, index_blocks, index_lines
from batch_runner.results.outcome_stream import OutcomeStream
from batch_runner.results.outputs import JobOutputRef, OutputSource, forkable
from batch_runner.results.reconcile import Reconciliation
from batch_runner.results.row_encoding import CsvParts, JsonParts
from batch_runner.results.row_join import IndexScan, RowJoin, TooManyStrangers, scan_index
from batch_runner.results.worker_pool import default_workers

__all__ = [
    "PARTITION_BYTES",
    "RESULT_COLUMNS",
    "JoinedResults",
    "RecordIndex",
    "join_results",
    "property_columns",
    "shown_columns",
]

# About this many bytes of output lines per partition (of rows, or of record ID hashes).
PARTITION_BYTES = 16 << 20
# Outputs of fewer bytes are parsed in this process: starting workers would cost more than it saves.
PARALLEL_BYTES = 32 << 20


class _Rows(Protocol):
    def rows(self) -> Iterator[list[Any]]: ...

    def csv_lines(self) -> Iterator[bytes]: ...

    def json_blocks(self) -> Iterator[list[bytes]]: ...


@dataclass(frozen=True)
class JoinedResults:
    """The joined rows (read with ``rows()``/``records()``, or ``csv_lines()`` when joined for CSV)
    and their reconciliation.

    ``kinds`` gives each column's value kind for typed writers: ``string``, ``int``, ``float``,
    ``bool``, ``vector`` (list of numbers), ``json`` (mixed or nested: text in typed formats)
    or ``null`` (no value at all).
    """

    columns: tuple[str, ...]
    kinds: dict[str, str]
    reconciliation: Reconciliation
    _parts: tuple[Path, ...]  # the temp files the rows are read from
    _reader: _Rows
    csv_encoded: bool = False  # whether ``csv_lines()`` can be read (else ``rows()``)
    json_encoded: bool = False  # whether ``json_blocks()`` can be read too

    def rows(self) -> Iterator[list[Any]]:
        """Every input row once, as values in ``columns`` order, in input row order."""
        yield from self._reader.rows()

    def csv_lines(self) -> Iterator[bytes]:
        """Every input row once as a CSV line (``writers.write_csv_lines``), in input row order."""
        yield from self._reader.csv_lines()

    def json_blocks(self) -> Iterator[list[bytes]]:
        """Every input row once as its JSONL line without the newline (``writers.write_json_lines``),
        in input row order, a block of lines at a time."""
        yield from self._reader.json_blocks()

    def records(self) -> Iterator[dict[str, Any]]:
        if self.json_encoded:
            for block in self.json_blocks():
                yield from map(JsonParts.decode, block)
            return
        columns = self.columns
        for values in self.rows():
            yield dict(zip(columns, values, strict=True))


@contextmanager
def join_results(
    source: OutputSource,
    jobs: Sequence[JobOutputRef],
    record_index: RecordIndex,
    *,
    include_input: bool = False,
    work_dir: Path | None = None,
    answers: AnswerCheck | None = None,
    csv: bool = False,
    workers: int | None = None,
) -> Iterator[JoinedResults]:
    """Read every job's output and join it to the record index; temp files live until exit.

    ``jobs`` go oldest first: for a record found in several jobs (retries), the last one wins.
    ``record_index`` is the run's record index file, or its lines. ``answers`` checks succeeded
    answers against an output schema. ``csv``: the rows will be written as CSV, so they are
    encoded as CSV while joining (read them with ``csv_lines()``). ``workers``: processes that
    parse the outputs of the row join (0: this process; None: one per CPU for large outputs).
    """
    with tempfile.TemporaryDirectory(prefix="batch-results-", dir=work_dir) as tmp:
        folder = Path(tmp)
        if not isinstance(record_index, Path | str):
            # Lines given in memory or from a generator: the row join reads the index twice.
            record_index = _spill(record_index, folder / "record-index")
        stream = OutcomeStream(source, jobs, answers)
        scan = scan_index(index_blocks(record_index), include_input)
        joined = None
        if scan is not None:
            try:
                if not forkable(source):
                    workers = 0
                elif workers is None:
                    workers = default_workers() if stream.output_bytes >= PARALLEL_BYTES else 0
                joined = _row_join(stream, scan, record_index, include_input, folder, csv, workers)
            except TooManyStrangers:
                stream = OutcomeStream(source, jobs, answers)  # read again, by the general join
        yield joined or _hash_join(stream, record_index, include_input, folder, csv)


def _row_join(
    stream: OutcomeStream,
    scan: IndexScan,
    record_index: Path | str,
    include_input: bool,
    folder: Path,
    csv: bool,
    workers: int,
) -> JoinedResults:
    properties = stream.answers.schema.properties if stream.answers else ()
    typed = stream.answers.typed if stream.answers else None
    input_names = tuple(scan.types.inputs) if include_input else ()
    kinds = _kinds(stream, scan.types, input_names)
    columns = RESULT_COLUMNS + property_columns(properties) + input_columns(input_names, properties)
    if csv:
        parts: CsvParts | JsonParts = CsvParts(
            kinds["id"],
            properties,
            [kinds[c] for c in property_columns(properties)],
            [kinds[c] for c in columns[len(columns) - len(input_names) :]],
            typed,
        )
    else:
        parts = JsonParts(columns, properties, typed)
    join = RowJoin(stream, scan, parts, input_names, folder, PARTITION_BYTES, workers)
    reconciliation = join.run()
    return JoinedResults(
        columns=columns,
        kinds=_kinds(stream, scan.types, input_names),  # the answers' types are known now
        reconciliation=reconciliation,
        _parts=join.spool.paths,
        _reader=_RowReader(join, record_index, csv),
        csv_encoded=csv,
        json_encoded=not csv,
    )


@dataclass(frozen=True)
class _RowReader:
    join: RowJoin
    record_index: Path | str
    csv: bool

    def rows(self) -> Iterator[list[Any]]:
        decode = JsonParts.decode
        for block in self.json_blocks():
            for line in block:
                yield list(decode(line).values())

    def json_blocks(self) -> Iterator[list[bytes]]:
        if self.csv:
            raise InternalError("rows joined for CSV are read with csv_lines()")
        yield from self.join.blocks(index_blocks(self.record_index))

    def csv_lines(self) -> Iterator[bytes]:
        if not self.csv:
            raise InternalError("rows not joined for CSV are read with rows()")
        for block in self.join.blocks(index_blocks(self.record_index)):
            yield from block


def _hash_join(
    stream: OutcomeStream, record_index: Path | str, include_input: bool, folder: Path, csv: bool = False
) -> JoinedResults:
    join = HashJoin(stream, include_input, folder, PARTITION_BYTES)
    reconciliation = join.run(index_lines(record_index))
    properties = join.properties
    return JoinedResults(
        columns=RESULT_COLUMNS + property_columns(properties) + input_columns(join.input_names, properties),
        # CSV holds a number as the row join writes it, whether or not its column was widened to
        # JSON text for Parquet (``AnswerCheck``) after some rows were written.
        kinds=_kinds(stream, join.types, join.input_names, widened=not csv),
        reconciliation=reconciliation,
        _parts=join.parts,
        _reader=_HashReader(join),
    )


@dataclass(frozen=True)
class _HashReader:
    join: HashJoin

    def rows(self) -> Iterator[list[Any]]:
        return self.join.rows()

    def csv_lines(self) -> Iterator[bytes]:
        raise InternalError("rows of the general join are read with rows()")

    def json_blocks(self) -> Iterator[list[bytes]]:
        raise InternalError("rows of the general join are read with rows()")


def _kinds(
    stream: OutcomeStream, types: IndexTypes, input_names: tuple[str, ...], *, widened: bool = True
) -> dict[str, str]:
    kinds = dict.fromkeys(RESULT_COLUMNS, "string")
    kinds.update(row="int", input_tokens="int", output_tokens="int", id=value_kind(types.ids))
    kinds["answer"] = value_kind(stream.answer_types, vectors=True)
    properties: tuple[str, ...] = ()
    if stream.answers is not None:
        properties = stream.answers.schema.properties
        for column, name in zip(property_columns(properties), properties, strict=True):
            kinds[column] = stream.answers.kinds[name] if widened else stream.answers.schema.column_kind(name)
    for column, name in zip(input_columns(input_names, properties), input_names, strict=True):
        kinds[column] = value_kind(types.inputs[name])
    return kinds


def _spill(lines: Any, path: Path) -> Path:
    with open(path, "wb") as handle:
        for line in index_lines(lines):
            handle.write(line + b"\n")
    return path
