"""Every job's output read once, as a stream of ``(record_id, fields)``, tallied per job.

Both joins consume this stream: the row-addressed one (``row_join``) and the general one by hash
of the record ID (``hash_join``). Jobs are read oldest first, so a later outcome of a record is
always a newer one. Output objects are downloaded on a thread while earlier lines are parsed.

``fields`` are the result columns from ``status`` to ``job_id``; with an output schema
(``AnswerCheck``) the parsed answer follows: an object (a dict, or a record of its properties from
``typed_answers``), None, or False for an answer that failed the schema (the outcome then is a
``schema`` failure that keeps the text, tokens and stop reason).
Job tallies count what the service returned, before any schema check.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from batch_runner.catalog.output_schema import SCHEMA_ERROR_CODE
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
from batch_runner.results.outputs import JobObjects, JobOutputRef, OutputSource, list_job_objects, read_ahead
from batch_runner.results.reconcile import EXAMPLE_LIMIT, JobTally, LineProblem, Reconciliation

TERMINAL_STATUSES = frozenset({"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"})
Fields = tuple[Any, ...]


class OutputRef(NamedTuple):
    """An output object of records; ``job`` is its job's position in the stream's jobs."""

    job: int
    bucket: str
    key: str


class Chunk(NamedTuple):
    """Consecutive lines of one output object: ``job`` is the job's position in the stream's
    jobs, ``first_line`` the 1-based number of the first line in its object."""

    job: int
    key: str
    first_line: int
    lines: list[bytes]


@dataclass
class ChunkCounts:
    """What one chunk's lines hold (the stream adds it to the job's tally)."""

    succeeded: int = 0
    failed: int = 0
    malformed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    problems: list[LineProblem] = field(default_factory=list)  # the first EXAMPLE_LIMIT malformed
    answer_types: set[type] = field(default_factory=set)
    # Number properties whose values outgrew their typed column (``AnswerCheck.text_columns``).
    text_columns: frozenset[str] = frozenset()


class OutcomeStream:
    """The jobs' listings up front (``output_bytes``); iterate once for the outcomes."""

    def __init__(
        self, source: OutputSource, jobs: Sequence[JobOutputRef], answers: AnswerCheck | None
    ) -> None:
        self.source = source
        self.jobs = tuple(jobs)
        self.answers = answers
        self.tallies = [JobTally(job.job_id, job.job_arn, job.status) for job in self.jobs]
        self.answer_types: set[type] = set()
        self.malformed_lines: list[LineProblem] = []
        self.listings: list[JobObjects] = [list_job_objects(source, job) for job in self.jobs]
        self.output_bytes = sum(obj.size for listing in self.listings for obj in listing.record_objects)

    def objects(self) -> list[OutputRef]:
        """Every output object of records, oldest job first (read once: it reads the manifests)."""
        objects: list[OutputRef] = []
        for number, (job, listing, tally) in enumerate(
            zip(self.jobs, self.listings, self.tallies, strict=True)
        ):
            bucket, _ = job.output_prefix()
            if listing.manifest is not None:
                try:
                    tally.manifest = Manifest.parse(self.source.iter_lines(bucket, listing.manifest.key))
                except ValueError as err:
                    tally.manifest_error = str(err)
            for obj in listing.record_objects:
                tally.objects += 1
                objects.append(OutputRef(number, bucket, obj.key))
        return objects

    def chunks(self, objects: Sequence[OutputRef], source: OutputSource | None = None) -> Iterator[Chunk]:
        """Every line of ``objects``, a chunk (about 1 MB) at a time, in order, from ``source`` (a
        worker process's own) or the stream's. Objects are downloaded on a thread while earlier
        chunks are parsed."""
        downloads = read_ahead(source or self.source, [(obj.bucket, obj.key) for obj in objects])
        try:
            for obj, batches in zip(objects, downloads, strict=True):
                line = 1
                for lines in batches:
                    yield Chunk(obj.job, obj.key, line, lines)
                    line += len(lines)
        finally:
            downloads.close()

    def __iter__(self) -> Iterator[tuple[str, Fields]]:
        """``(record_id, fields)`` of every outcome, in read order."""
        for chunk in self.chunks(self.objects()):
            counts = ChunkCounts()
            yield from self.outcomes(chunk, counts)
            self.count(chunk.job, counts)

    def outcomes(self, chunk: Chunk, counts: ChunkCounts) -> Iterator[tuple[str, Fields]]:
        """``(record_id, fields)`` of one chunk's outcomes, counted in ``counts``. Needs nothing
        but the chunk, so it can run in another process (``worker_pool``)."""
        # The hot loop of a collection (once per output line): locals only, one parse per line.
        job_id = self.tallies[chunk.job].job_id
        answer_types = counts.answer_types
        checked = None if self.answers is None else self._checked
        valid = None if self.answers is None else self.answers.properties
        succeeded = failed = input_tokens = output_tokens = 0
        number = chunk.first_line - 1
        try:
            for raw in chunk.lines:
                number += 1
                outcome = parse_output_line(raw)
                if type(outcome) is Outcome:
                    input_tokens += outcome.input_tokens or 0
                    output_tokens += outcome.output_tokens or 0
                    if outcome.status is SUCCEEDED:
                        succeeded += 1
                        answer_types.add(type(outcome.answer))
                        if valid is not None:
                            # The usual answer with a schema: a valid object (a dict or a typed
                            # record), its text the answer column as it is (a success has no error
                            # fields).
                            value = valid(outcome.answer)
                            if value is not None:
                                yield outcome.record_id, (*outcome[1:], job_id, value)
                                continue
                    else:
                        failed += 1
                    yield (
                        outcome.record_id,
                        ((*outcome[1:], job_id) if checked is None else checked(outcome, job_id)),
                    )
                elif raw and not raw.isspace():
                    assert isinstance(outcome, Malformed)
                    counts.malformed += 1
                    if len(counts.problems) < EXAMPLE_LIMIT:
                        counts.problems.append(LineProblem(chunk.key, number, outcome.reason))
                    if outcome.record_id is not None:
                        fields = (FAILED, None, None, None, None, MALFORMED_LINE, outcome.reason, job_id)
                        yield outcome.record_id, fields if checked is None else (*fields, None)
        finally:
            counts.succeeded += succeeded
            counts.failed += failed
            counts.input_tokens += input_tokens
            counts.output_tokens += output_tokens
            if self.answers is not None:
                counts.text_columns = self.answers.text_columns()

    def count(self, job: int, counts: ChunkCounts) -> None:
        """Add a chunk's counts to the tally of its job (chunks in read order)."""
        tally = self.tallies[job]
        tally.succeeded += counts.succeeded
        tally.failed += counts.failed
        tally.malformed += counts.malformed
        tally.input_tokens += counts.input_tokens
        tally.output_tokens += counts.output_tokens
        room = EXAMPLE_LIMIT - len(self.malformed_lines)
        if room > 0:
            self.malformed_lines += counts.problems[:room]
        self.answer_types |= counts.answer_types
        if counts.text_columns and self.answers is not None:
            self.answers.widen(counts.text_columns)  # found by a worker process

    def _checked(self, outcome: Outcome, job_id: str) -> Fields:
        """An outcome's fields with its parsed answer last (for all but the usual valid answer,
        which ``outcomes`` takes itself); an answer that fails the schema turns the outcome into a
        ``schema`` failure that keeps the text, tokens and stop reason."""
        _, status, answer, stop_reason, input_tokens, output_tokens, code, message = outcome
        if status is not SUCCEEDED:
            return (status, answer, stop_reason, input_tokens, output_tokens, code, message, job_id, None)
        assert self.answers is not None
        # The stream has tried the answer as the usual valid one (``outcomes``).
        value, text, problem = self.answers.explain(answer, stop_reason)
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

    def skipped(self, reason: tuple[Any, Any]) -> Fields:
        """The fields of a row planning left out of the jobs (its index line's ``skipped``):
        failed with that error code and message, from no job."""
        code, message = reason
        fields = (FAILED, None, None, None, None, code, message, None)
        return fields if self.answers is None else (*fields, None)

    def count_unexpected(self, job_ids: Iterable[str]) -> None:
        """Add each unexpected record (by the job of its newest outcome) to its job's tally."""
        tally_of_job = {tally.job_id: tally for tally in self.tallies}
        for job_id in job_ids:
            tally_of_job[job_id].unexpected += 1

    def reconciliation(
        self, totals: dict[str, int], superseded: int, unexpected: int, unexpected_examples: list[str]
    ) -> Reconciliation:
        """``totals``: rows by ``SUCCEEDED``, ``FAILED``, ``MISSING`` and ``SCHEMA_ERROR_CODE``."""
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


def _sum_known(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None
