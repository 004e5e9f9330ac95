"""Collect a run's results: stream every job's output from S3, join it to the input rows by
recordId, write CSV/JSONL/Parquet atomically, and account for every record.

    reconciliation = collect_results(S3OutputSource(s3), jobs, "record-index.jsonl", Path("out.csv"))

``jobs`` go oldest first; for a record in several jobs (retries) the newest outcome wins. With
``output_schema`` (and the run's ``prefill``, when its requests started the reply), each answer is
parsed and validated: a column per top-level property, or a ``schema`` failure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from batch_runner.catalog.output_schema import OutputSchema, output_schema
from batch_runner.results.answers import AnswerCheck, check_answer
from batch_runner.results.extraction import FAILED, MISSING, SUCCEEDED
from batch_runner.results.join import (
    RESULT_COLUMNS,
    JoinedResults,
    RecordIndex,
    join_results,
    property_columns,
)
from batch_runner.results.manifest import Manifest
from batch_runner.results.outputs import (
    JobOutputRef,
    LocalOutputSource,
    OutputSource,
    S3OutputSource,
)
from batch_runner.results.reconcile import JobTally, LineProblem, Reconciliation
from batch_runner.results.writers import SUPPORTED_SUFFIXES, check_output_path, write_rows

__all__ = [
    "FAILED",
    "MISSING",
    "RESULT_COLUMNS",
    "SUCCEEDED",
    "SUPPORTED_SUFFIXES",
    "AnswerCheck",
    "JobOutputRef",
    "JobTally",
    "JoinedResults",
    "LineProblem",
    "LocalOutputSource",
    "Manifest",
    "OutputSource",
    "Reconciliation",
    "S3OutputSource",
    "answer_check",
    "check_answer",
    "collect_results",
    "iter_results",
    "join_results",
    "property_columns",
]


SchemaArgument = OutputSchema | Mapping[str, Any] | str | Path | None


def collect_results(
    source: OutputSource,
    jobs: Sequence[JobOutputRef],
    record_index: RecordIndex,
    out_path: Path | str,
    *,
    include_input: bool = False,
    work_dir: Path | None = None,
    output_schema: SchemaArgument = None,
    prefill: str | None = None,
) -> Reconciliation:
    """Write one row per input record to ``out_path`` (format from its extension)."""
    out_path = Path(out_path)
    check_output_path(out_path)
    answers = answer_check(output_schema, prefill)
    with join_results(
        source, jobs, record_index, include_input=include_input, work_dir=work_dir, answers=answers
    ) as joined:
        write_rows(out_path, joined.columns, joined.kinds, joined.rows())
        return joined.reconciliation


def iter_results(
    source: OutputSource,
    jobs: Sequence[JobOutputRef],
    record_index: RecordIndex,
    *,
    include_input: bool = False,
    work_dir: Path | None = None,
    output_schema: SchemaArgument = None,
    prefill: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one dict per input record, in input row order (keys: ``RESULT_COLUMNS``, the schema's
    properties, inputs)."""
    answers = answer_check(output_schema, prefill)
    with join_results(
        source, jobs, record_index, include_input=include_input, work_dir=work_dir, answers=answers
    ) as joined:
        yield from joined.records()


def answer_check(schema: SchemaArgument, prefill: str | None = None) -> AnswerCheck | None:
    """The check for a schema given as a dict, a file path or an ``OutputSchema`` (None: none)."""
    return None if schema is None else AnswerCheck(output_schema(schema), prefill)
