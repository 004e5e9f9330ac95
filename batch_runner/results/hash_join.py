"""The general join: output records to input rows by hash of recordId, in bounded memory.

Used when the record index's IDs are not the runner's own (``row_join`` needs those): a grace
hash join on local temp files, so memory depends on the partition size, not the run size.

1. The record index is split into P partition files by hash(recordId), keeping row order.
2. Every outcome (``OutcomeStream``, oldest job first) is appended to the partition of its
   recordId as JSON. A later line therefore always means a newer outcome. Rows planning left out
   (index lines with ``skipped``) get their failed outcome first, before any job's.
3. Per partition, the outcomes are loaded into a dict (the newest overwrites older ones: retries
   win) and the index partition is streamed against it: each input row gets its outcome or
   ``missing``. Outcomes no row claims are ``unexpected``. Joined rows go to a partition file,
   still in row order, and the counts make the reconciliation.
4. Reading the results merges the P row-ordered files back into input row order.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

import orjson

from batch_runner.catalog.output_schema import SCHEMA_ERROR_CODE
from batch_runner.exceptions import RecordIndexError
from batch_runner.results.columns import RESULT_COLUMNS
from batch_runner.results.extraction import FAILED, MISSING, SUCCEEDED
from batch_runner.results.index_lines import JSON_SCALAR_TYPES, IndexTypes, parse_index_line
from batch_runner.results.outcome_stream import OutcomeStream
from batch_runner.results.reconcile import EXAMPLE_LIMIT, Reconciliation

MAX_PARTITIONS = 256
_ROW = RESULT_COLUMNS.index("row")
_BUFFER = 1 << 16
# Many partition files are open at once while splitting and merging: small buffers keep that flat.
_MANY_BUFFER = 1 << 14
# The planner writes index lines as {"recordId":"…","row":N,"id":…,"input":{…}}; recognising that
# form with a regex spares parsing every line twice. Anything else takes the parsing path, as do
# the lines of rows planning left out, which carry "skipped" before "input" on purpose.
_PLANNED_INDEX_LINE = re.compile(
    rb'\{"recordId":("[^"\\]*"),"row":(\d+),"id":(null|"[^"\\]*"|-?\d+),"input":'
)
_MISSING_FIELDS = b'"%s",null,null,null,null,null,null,null' % MISSING.encode()
_SUCCEEDED_PREFIX = b'"%s"' % SUCCEEDED.encode()
_JOB_ID = 7  # position of job_id in an outcome's fields
# With a schema, an outcome's fields end with the parsed answer: an object, null, or false for an
# answer that failed the schema (so the join counts those without parsing the line).
_SCHEMA_FAILED_SUFFIX = b",false"


class HashJoin:
    """Join ``stream`` to the index lines; ``rows()`` reads the joined rows afterwards."""

    def __init__(self, stream: OutcomeStream, include_input: bool, tmp: Path, partition_bytes: int) -> None:
        self.stream = stream
        self.include_input = include_input
        self.tmp = tmp
        self.partition_bytes = partition_bytes
        self.properties = stream.answers.schema.properties if stream.answers else ()
        self.missing_fields = _MISSING_FIELDS + b",null" if stream.answers else _MISSING_FIELDS
        self.types = IndexTypes()
        self.parts: tuple[Path, ...] = ()
        self.input_names: tuple[str, ...] = ()
        # Rows planning left out of the jobs: their outcome, as an outcome partition line, written
        # before any job's so the join counts them failed.
        self.skipped_outcomes: list[bytes] = []

    def run(self, index_lines: Iterable[bytes]) -> Reconciliation:
        count = min(MAX_PARTITIONS, max(1, math.ceil(self.stream.output_bytes / self.partition_bytes)))
        index_parts = [self.tmp / f"index-{p}" for p in range(count)]
        outcome_parts = [self.tmp / f"outcomes-{p}" for p in range(count)]
        self._partition_index(index_lines, index_parts)
        self._partition_outcomes(outcome_parts)
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
        self.parts = tuple(joined_parts)
        self.input_names = tuple(self.types.inputs) if self.include_input else ()
        return self.stream.reconciliation(totals, superseded, unexpected, unexpected_examples)

    def rows(self) -> Iterator[list[Any]]:
        """Every input row once, as values in column order, in input row order (partitions keep
        the index's order and are merged by ``row``; the planner writes rows ascending)."""
        with ExitStack() as stack:
            streams = [
                _read_joined(stack.enter_context(open(p, "rb", buffering=_MANY_BUFFER))) for p in self.parts
            ]
            merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=itemgetter(_ROW))
            names = self.input_names
            properties = self.properties
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
                    self.types.ids.add(JSON_SCALAR_TYPES[user_id[0]])
                    given = b"null"
                elif not raw or raw.isspace():
                    continue
                else:
                    record_id, row_number, user_value, given_value, skipped = parse_index_line(
                        raw, number, self.types, include_input
                    )
                    key, row = orjson.dumps(record_id), b"%d" % row_number
                    user_id, given = orjson.dumps(user_value), orjson.dumps(given_value)
                    if skipped is not None:
                        outcome = orjson.dumps(self.stream.skipped(skipped))
                        self.skipped_outcomes.append(b"%s\t%s\n" % (key, outcome))
                handles[hash(key) % count].write(b"%s\t%s\t%s\t%s\n" % (key, row, user_id, given))

    def _partition_outcomes(self, parts: list[Path]) -> None:
        with ExitStack() as stack:
            handles = [stack.enter_context(open(p, "wb", buffering=_MANY_BUFFER)) for p in parts]
            count = len(handles)
            for line in self.skipped_outcomes:
                handles[hash(line.partition(b"\t")[0]) % count].write(line)
            dumps = orjson.dumps
            answers = self.stream.answers
            # A typed answer's record (``typed_answers``) is stored as the object it holds.
            as_dict = None if answers is None or answers.typed is None else answers.typed.as_dict
            for record_id, fields in self.stream:
                record_key = dumps(record_id)
                line = dumps(fields, default=as_dict)
                handles[hash(record_key) % count].write(b"%s\t%s\n" % (record_key, line))

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
        self.stream.count_unexpected(orjson.loads(data)[_JOB_ID] for data in newest.values())
        return superseded, [orjson.loads(key) for key in newest]


def _read_joined(handle: IO[bytes]) -> Iterator[list[Any]]:
    for line in handle:
        yield orjson.loads(line)
