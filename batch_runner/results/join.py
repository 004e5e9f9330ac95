"""Join output records back to input rows by recordId, in bounded memory, newest outcome first.

A grace hash join on local temp files, so memory depends on the partition size, not the run size:

1. The record index is split into P partition files by hash(recordId), keeping row order.
2. Every output line of every job (in the caller's job order, oldest first) is parsed, its outcome
   reduced to the result fields (the echoed ``modelInput`` is dropped) and appended to the
   partition of its recordId. A later line therefore always means a newer outcome.
3. Per partition, the outcomes are loaded into a dict (the newest overwrites older ones: retries
   win) and the index partition is streamed against it: each input row gets its outcome or
   ``missing``. Outcomes no row claims are ``unexpected``. Joined rows go to a partition file,
   still in row order, and the counts make the reconciliation.
4. Reading the results merges the P row-ordered files back into input row order.

With an output schema (``AnswerCheck``), step 2 also parses and validates each succeeded answer:
the outcome carries the parsed object (a column per top-level property when read), or becomes a
``schema`` failure that keeps the raw text. Job tallies still count what the service returned.

P is chosen so a partition holds about ``PARTITION_BYTES`` of output lines.
"""

from __future__ import annotations

import heapq
import math
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

import orjson

from batch_runner.catalog.output_schema import SCHEMA_ERROR_CODE
from batch_runner.exceptions import RecordIndexError
from batch_runner.results.answers import AnswerCheck
from batch_runner.results.extraction import (
    FAILED,
    MALFORMED_LINE,
    MISSING,
    SUCCEEDED,
    Malformed,
    Outcome,
    parse_output_line,
)
from batch_runner.results.manifest import Manifest
from batch_runner.results.outputs import (
    JobObjects,
    JobOutputRef,
    OutputSource,
    file_lines,
    list_job_objects,
)
from batch_runner.results.reconcile import EXAMPLE_LIMIT, JobTally, LineProblem, Reconciliation

# The result columns, in output order. With an output schema, one column per top-level property
# follows (``answer_`` prefixed when its name is a result column's); input columns
# (``include_input``) come last under their own names; one whose name is taken by an earlier
# column gets an ``input_`` prefix, so a dataset column called ``id`` or ``status`` never clobbers
# a result.
RESULT_COLUMNS = (
    "record_id",
    "id",
    "row",
    "status",
    "answer",
    "stop_reason",
    "input_tokens",
    "output_tokens",
    "error_code",
    "error_message",
    "job_id",
)
_ROW = RESULT_COLUMNS.index("row")
PARTITION_BYTES = 16 << 20
MAX_PARTITIONS = 256
TERMINAL_STATUSES = frozenset({"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"})
_BUFFER = 1 << 16
# Many partition files are open at once while splitting and merging: small buffers keep that flat.
_MANY_BUFFER = 1 << 14
# The planner writes index lines as {"recordId":"…","row":N,"id":…,"input":{…}}; recognising that
# form with a regex spares parsing every line twice. Anything else takes the parsing path, as do
# the lines of rows planning left out, which carry "skipped" before "input" on purpose.
_PLANNED_INDEX_LINE = re.compile(
    rb'\{"recordId":("[^"\\]*"),"row":(\d+),"id":(null|"[^"\\]*"|-?\d+),"input":'
)
_JSON_SCALAR_TYPES: dict[int, type] = {ord("n"): type(None), ord('"'): str}
_JSON_SCALAR_TYPES.update(dict.fromkeys(b"-0123456789", int))
_MISSING_FIELDS = b'"%s",null,null,null,null,null,null,null' % MISSING.encode()
_SUCCEEDED_PREFIX = b'"%s"' % SUCCEEDED.encode()
_JOB_ID = 7  # position of job_id in an outcome's fields
# With a schema, an outcome's fields end with the parsed answer: an object, null, or false for an
# answer that failed the schema (so the join counts those without parsing the line).
_SCHEMA_FAILED_SUFFIX = b",false"

_AWKWARD_NAME = re.compile(r'[,"\\]|^$')

RecordIndex = Path | str | Iterable[bytes]


@dataclass(frozen=True)
class JoinedResults:
    """The joined rows (read with ``rows()``/``records()``) and their reconciliation.

    ``kinds`` gives each column's value kind for typed writers: ``string``, ``int``, ``float``,
    ``bool``, ``vector`` (list of numbers), ``json`` (mixed or nested: text in typed formats)
    or ``null`` (no value at all).
    """

    columns: tuple[str, ...]
    kinds: dict[str, str]
    reconciliation: Reconciliation
    _input_names: tuple[str, ...]
    _parts: tuple[Path, ...]
    _properties: tuple[str, ...] = ()  # the output schema's top-level properties

    def rows(self) -> Iterator[list[Any]]:
        """Every input row once, as values in ``columns`` order, in input row order (partitions
        keep the index's order and are merged by ``row``; the planner writes rows ascending)."""
        with ExitStack() as stack:
            streams = [
                _read_joined(stack.enter_context(open(p, "rb", buffering=_MANY_BUFFER))) for p in self._parts
            ]
            merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=itemgetter(_ROW))
            names = self._input_names
            properties = self._properties
            no_answer = [None] * len(properties)
            for joined in merged:
                if properties:
                    parsed = joined.pop(-2)
                    values = joined[:-1]
                    if type(parsed) is dict:
                        values.extend(parsed.get(name) for name in properties)
                    else:
                        values.extend(no_answer)
                else:
                    values = joined[:-1]
                if names:
                    given = joined[-1] or {}
                    values.extend(given.get(name) for name in names)
                yield values

    def records(self) -> Iterator[dict[str, Any]]:
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
) -> Iterator[JoinedResults]:
    """Read every job's output and join it to the record index; temp files live until exit.

    ``jobs`` go oldest first: for a record found in several jobs (retries), the last one wins.
    ``record_index`` is the run's record index file, or its lines. ``answers`` checks succeeded
    answers against an output schema.
    """
    with tempfile.TemporaryDirectory(prefix="batch-results-", dir=work_dir) as tmp:
        yield _Join(source, jobs, include_input, Path(tmp), answers).run(record_index)


class _Join:
    def __init__(
        self,
        source: OutputSource,
        jobs: Sequence[JobOutputRef],
        include_input: bool,
        tmp: Path,
        answers: AnswerCheck | None,
    ) -> None:
        self.source = source
        self.jobs = tuple(jobs)
        self.include_input = include_input
        self.tmp = tmp
        self.answers = answers
        self.properties = answers.schema.properties if answers else ()
        self.property_columns = property_columns(self.properties)
        self.missing_fields = _MISSING_FIELDS + b",null" if answers else _MISSING_FIELDS
        self.tallies = [JobTally(job.job_id, job.job_arn, job.status) for job in self.jobs]
        self.input_types: dict[str, set[type]] = {}
        self.id_types: set[type] = set()
        self.answer_types: set[type] = set()
        self.malformed_lines: list[LineProblem] = []
        # Rows planning left out of the jobs (index lines with "skipped"): their outcome, as an
        # outcome partition line, written before any job's so the join counts them failed.
        self.skipped_outcomes: list[bytes] = []

    def run(self, record_index: RecordIndex) -> JoinedResults:
        listings = [list_job_objects(self.source, job) for job in self.jobs]
        output_bytes = sum(obj.size for listing in listings for obj in listing.record_objects)
        count = min(MAX_PARTITIONS, max(1, math.ceil(output_bytes / PARTITION_BYTES)))
        index_parts = [self.tmp / f"index-{p}" for p in range(count)]
        outcome_parts = [self.tmp / f"outcomes-{p}" for p in range(count)]
        self._partition_index(_index_lines(record_index), index_parts)
        self._partition_outcomes(listings, outcome_parts)
        joined_parts = [self.tmp / f"joined-{p}" for p in range(count)]
        totals = {SUCCEEDED: 0, FAILED: 0, MISSING: 0, SCHEMA_ERROR_CODE: 0}
        superseded = unexpected = 0
        unexpected_examples: list[str] = []
        for index_part, outcome_part, joined_part in zip(
            index_parts, outcome_parts, joined_parts, strict=True
        ):
            part_superseded, part_unexpected = self._join_partition(
                index_part, outcome_part, joined_part, totals
            )
            superseded += part_superseded
            unexpected += len(part_unexpected)
            unexpected_examples = sorted(unexpected_examples + part_unexpected)[:EXAMPLE_LIMIT]
            # Deleted at once: dirty pages of a deleted file need never reach the disk.
            index_part.unlink()
            outcome_part.unlink()
        return JoinedResults(
            columns=RESULT_COLUMNS + self.property_columns + self._input_columns(),
            kinds=self._kinds(),
            reconciliation=self._reconciliation(totals, superseded, unexpected, unexpected_examples),
            _input_names=tuple(self.input_types) if self.include_input else (),
            _parts=tuple(joined_parts),
            _properties=self.properties,
        )

    def _partition_index(self, lines: Iterable[bytes], parts: list[Path]) -> None:
        """Write ``key \t row \t id \t input`` lines (JSON fields) to the recordId's partition."""
        with ExitStack() as stack:
            handles = [stack.enter_context(open(p, "wb", buffering=_MANY_BUFFER)) for p in parts]
            count = len(handles)
            include_input = self.include_input
            for number, raw in enumerate(lines, 1):
                match = None if include_input else _PLANNED_INDEX_LINE.match(raw)
                if match is not None:
                    key, row, user_id = match.groups()
                    self.id_types.add(_JSON_SCALAR_TYPES[user_id[0]])
                    given = b"null"
                elif not raw or raw.isspace():
                    continue
                else:
                    key, row, user_id, given = self._parse_index_line(raw, number)
                handles[hash(key) % count].write(b"%s\t%s\t%s\t%s\n" % (key, row, user_id, given))

    def _parse_index_line(self, raw: bytes, number: int) -> tuple[bytes, bytes, bytes, bytes]:
        try:
            entry = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise RecordIndexError(f"record index line {number} is not valid JSON: {err}") from err
        if not isinstance(entry, dict) or not isinstance(entry.get("recordId"), str):
            raise RecordIndexError(f"record index line {number} has no recordId")
        row = entry.get("row")
        if type(row) is not int:
            raise RecordIndexError(f"record index line {number} has no integer row")
        user_id = entry.get("id")
        self.id_types.add(type(user_id))
        key = orjson.dumps(entry["recordId"])
        skipped = entry.get("skipped")
        if isinstance(skipped, dict):
            reason = (skipped.get("error_code"), skipped.get("error_message"), None)
            fields = (FAILED, None, None, None, None, *reason, *((None,) if self.answers else ()))
            self.skipped_outcomes.append(b"%s\t%s\n" % (key, orjson.dumps(fields)))
        given = entry.get("input") if self.include_input else None
        if given is not None:
            self._track_input(given)
        return key, b"%d" % row, orjson.dumps(user_id), orjson.dumps(given)

    def _track_input(self, given: object) -> None:
        if not isinstance(given, dict):
            return
        types = self.input_types
        for name, value in given.items():
            seen = types.get(name)
            if seen is None:
                types[name] = seen = set()
            seen.add(type(value))

    def _partition_outcomes(self, listings: list[JobObjects], parts: list[Path]) -> None:
        with ExitStack() as stack:
            handles = [stack.enter_context(open(p, "wb", buffering=_MANY_BUFFER)) for p in parts]
            for line in self.skipped_outcomes:
                handles[hash(line.partition(b"\t")[0]) % len(handles)].write(line)
            for job, listing, tally in zip(self.jobs, listings, self.tallies, strict=True):
                bucket, _ = job.output_prefix()
                if listing.manifest is not None:
                    try:
                        tally.manifest = Manifest.parse(self.source.iter_lines(bucket, listing.manifest.key))
                    except ValueError as err:
                        tally.manifest_error = str(err)
                for obj in listing.record_objects:
                    tally.objects += 1
                    self._partition_object(bucket, obj.key, tally, handles)

    def _partition_object(self, bucket: str, key: str, tally: JobTally, handles: Sequence[IO[bytes]]) -> None:
        # The hot loop of a collection (once per output line): locals only, one parse per line.
        job_id = tally.job_id
        count = len(handles)
        answer_types = self.answer_types
        checked = None if self.answers is None else self._checked
        succeeded = failed = input_tokens = output_tokens = 0
        for number, raw in enumerate(self.source.iter_lines(bucket, key), 1):
            outcome = parse_output_line(raw)
            if type(outcome) is Outcome:
                if outcome.status is SUCCEEDED:
                    succeeded += 1
                    answer_types.add(type(outcome.answer))
                else:
                    failed += 1
                input_tokens += outcome.input_tokens or 0
                output_tokens += outcome.output_tokens or 0
                record_id = outcome.record_id
                data = orjson.dumps((*outcome[1:], job_id) if checked is None else checked(outcome, job_id))
            elif not raw or raw.isspace():
                continue
            else:
                assert isinstance(outcome, Malformed)
                tally.malformed += 1
                if len(self.malformed_lines) < EXAMPLE_LIMIT:
                    self.malformed_lines.append(LineProblem(key, number, outcome.reason))
                if outcome.record_id is None:
                    continue
                record_id = outcome.record_id
                fields = (FAILED, None, None, None, None, MALFORMED_LINE, outcome.reason, job_id)
                data = orjson.dumps(fields if checked is None else (*fields, None))
            record_key = orjson.dumps(record_id)
            handles[hash(record_key) % count].write(b"%s\t%s\n" % (record_key, data))
        tally.succeeded += succeeded
        tally.failed += failed
        tally.input_tokens += input_tokens
        tally.output_tokens += output_tokens

    def _checked(self, outcome: Outcome, job_id: str) -> tuple[Any, ...]:
        """An outcome's fields with its parsed answer last; an answer that fails the schema turns
        the outcome into a ``schema`` failure that keeps the text, tokens and stop reason."""
        _, status, answer, stop_reason, input_tokens, output_tokens, code, message = outcome
        if status is not SUCCEEDED:
            return (status, answer, stop_reason, input_tokens, output_tokens, code, message, job_id, None)
        assert self.answers is not None
        value, text, problem = self.answers(answer, stop_reason)
        if value is None:
            return (
                FAILED,
                text,
                stop_reason,
                input_tokens,
                output_tokens,
                SCHEMA_ERROR_CODE,
                problem,
                job_id,
                False,
            )
        return (SUCCEEDED, text, stop_reason, input_tokens, output_tokens, None, None, job_id, value)

    def _join_partition(
        self, index_part: Path, outcome_part: Path, joined_part: Path, totals: dict[str, int]
    ) -> tuple[int, list[str]]:
        # Joined lines are spliced from the partitions' JSON fields, without parsing: a JSON
        # array [record_id, id, row, status, answer, ..., job_id, input].
        newest: dict[bytes, bytes] = {}
        superseded = 0
        with open(outcome_part, "rb", buffering=_BUFFER) as outcomes:
            for line in outcomes:
                key, _, outcome = line.partition(b"\t")
                if key in newest:
                    superseded += 1
                newest[key] = outcome
        seen: set[bytes] = set()
        succeeded = failed = missing = schema_failed = 0
        missing_fields = self.missing_fields
        with (
            open(index_part, "rb", buffering=_BUFFER) as index,
            open(joined_part, "wb", buffering=_BUFFER) as out,
        ):
            for line in index:
                key, row, user_id, given = line.split(b"\t", 3)
                if key in seen:
                    raise RecordIndexError(f"record index lists recordId {orjson.loads(key)} twice")
                seen.add(key)
                data = newest.pop(key, None)
                if data is None:
                    missing += 1
                    fields = missing_fields
                else:
                    fields = data[1:-2]  # the outcome array's items, without brackets and newline
                    if fields.startswith(_SUCCEEDED_PREFIX):
                        succeeded += 1
                    else:
                        failed += 1
                        if fields.endswith(_SCHEMA_FAILED_SUFFIX):
                            schema_failed += 1
                out.write(b"[%s,%s,%s,%s,%s]\n" % (key, user_id, row, fields, given[:-1]))
        totals[SUCCEEDED] += succeeded
        totals[FAILED] += failed
        totals[MISSING] += missing
        totals[SCHEMA_ERROR_CODE] += schema_failed
        unexpected = []
        tally_of_job = {tally.job_id: tally for tally in self.tallies}
        for key, data in newest.items():
            tally_of_job[orjson.loads(data)[_JOB_ID]].unexpected += 1
            unexpected.append(orjson.loads(key))
        return superseded, unexpected

    def _reconciliation(
        self, totals: dict[str, int], superseded: int, unexpected: int, unexpected_examples: list[str]
    ) -> Reconciliation:
        tallies = self.tallies
        return Reconciliation(
            total=totals[SUCCEEDED] + totals[FAILED] + totals[MISSING],
            succeeded=totals[SUCCEEDED],
            failed=totals[FAILED],
            missing=totals[MISSING],
            unexpected=unexpected,
            malformed=sum(t.malformed for t in tallies),
            superseded=superseded,
            input_tokens=sum(t.input_tokens for t in tallies),
            output_tokens=sum(t.output_tokens for t in tallies),
            manifest_input_tokens=_sum_known(t.manifest.input_token_count for t in tallies if t.manifest),
            manifest_output_tokens=_sum_known(t.manifest.output_token_count for t in tallies if t.manifest),
            jobs=tuple(tallies),
            malformed_lines=tuple(self.malformed_lines),
            unexpected_record_ids=tuple(unexpected_examples),
            non_terminal_jobs=tuple(
                t.job_id for t in tallies if t.status is not None and t.status not in TERMINAL_STATUSES
            ),
            schema_failed=totals[SCHEMA_ERROR_CODE],
        )

    def _input_columns(self) -> tuple[str, ...]:
        if not self.include_input:
            return ()
        return _unique(tuple(self.input_types), {*RESULT_COLUMNS, *self.property_columns}, "input_")

    def _kinds(self) -> dict[str, str]:
        kinds = dict.fromkeys(RESULT_COLUMNS, "string")
        kinds.update(row="int", input_tokens="int", output_tokens="int", id=_kind(self.id_types))
        kinds["answer"] = _kind(self.answer_types, vectors=True)
        if self.answers is not None:
            for column, name in zip(self.property_columns, self.properties, strict=True):
                kinds[column] = self.answers.kinds[name]
        for column, types in zip(self._input_columns(), self.input_types.values(), strict=True):
            kinds[column] = _kind(types)
        return kinds


def property_columns(properties: Sequence[str]) -> tuple[str, ...]:
    """The result columns of an output schema's top-level properties, in order: a property named
    like a result column (``status``) becomes ``answer_status``."""
    return _unique(tuple(properties), set(RESULT_COLUMNS), "answer_")


def shown_columns(properties: Sequence[str]) -> list[str]:
    """``property_columns`` as a line of text names them: a name with a comma, quote, control
    character or edge space is written as a JSON string, so the list reads unambiguously."""
    return [
        column
        if column.isprintable() and column == column.strip() and not _AWKWARD_NAME.search(column)
        else orjson.dumps(column).decode()
        for column in property_columns(properties)
    ]


def _unique(names: tuple[str, ...], taken: set[str], prefix: str) -> tuple[str, ...]:
    """``names`` as columns: one already taken (or taken by an earlier name) gets ``prefix``."""
    taken = set(taken)
    columns = []
    for name in names:
        column = name
        while column in taken:
            column = prefix + column
        taken.add(column)
        columns.append(column)
    return tuple(columns)


def _kind(types: set[type], *, vectors: bool = False) -> str:
    present = types - {type(None)}
    if not present:
        return "null"
    if present == {str}:
        return "string"
    if present == {bool}:
        return "bool"
    if present == {int}:
        return "int"
    if present <= {int, float}:
        return "float"
    if vectors and present == {list}:
        return "vector"  # extraction only ever returns lists of numbers as answers
    return "json"


def _sum_known(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _read_joined(handle: IO[bytes]) -> Iterator[list[Any]]:
    for line in handle:
        yield orjson.loads(line)


def _index_lines(record_index: RecordIndex) -> Iterator[bytes]:
    if isinstance(record_index, Path | str):
        try:
            handle = open(record_index, "rb")  # noqa: SIM115 - closed by the generator below
        except OSError as err:
            raise RecordIndexError(f"cannot read the record index {record_index}: {err}") from err
        with handle:
            yield from file_lines(handle)
    else:
        for line in record_index:
            yield line.encode() if isinstance(line, str) else line
