"""Collecting results: stream each job's output, join it to the input rows, write, reconcile."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from batch_runner.catalog.output_schema import OutputSchema, output_schema
from batch_runner.results.answers import AnswerCheck
from batch_runner.results.join import RecordIndex, join_results
from batch_runner.results.outputs import JobOutputRef, OutputSource
from batch_runner.results.reconcile import Reconciliation
from batch_runner.results.sinks import Destination, S3ClientFactory
from batch_runner.results.writers import (
    JSON_LINE_FORMATS,
    check_output_path,
    write_csv_lines,
    write_json_lines,
    write_rows,
)

SchemaArgument = OutputSchema | Mapping[str, Any] | str | Path | None


def collect_results(
    source: OutputSource,
    jobs: Sequence[JobOutputRef],
    record_index: RecordIndex,
    out_path: Path | str | Destination,
    *,
    include_input: bool = False,
    work_dir: Path | None = None,
    output_schema: SchemaArgument = None,
    prefill: str | None = None,
    s3: S3ClientFactory | None = None,
    model_id: str = "",
    workers: int | None = None,
) -> Reconciliation:
    """Write one row per input record to ``out_path`` (a path, ``-`` or an s3:// URI written with
    ``s3``'s client; the format from its extension, or a ``Destination``'s). ``workers``: how many
    processes parse the outputs (0: this one; default: one per CPU when the outputs are large)."""
    destination = check_output_path(out_path)
    answers = answer_check(output_schema, prefill)
    csv = destination.file_format == "csv"
    with join_results(
        source,
        jobs,
        record_index,
        include_input=include_input,
        work_dir=work_dir,
        answers=answers,
        csv=csv,
        workers=workers,
    ) as joined:
        if joined.csv_encoded:
            write_csv_lines(destination, joined.columns, joined.csv_lines(), s3=s3)
        elif joined.json_encoded and destination.file_format in JSON_LINE_FORMATS:
            write_json_lines(destination, joined.columns, joined.kinds, joined.json_blocks(), s3=s3)
        else:
            write_rows(destination, joined.columns, joined.kinds, joined.rows(), s3=s3, model_id=model_id)
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
    workers: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one dict per input record, in input row order (keys: ``RESULT_COLUMNS``, the schema's
    properties, inputs; ``workers`` as for ``collect_results``)."""
    answers = answer_check(output_schema, prefill)
    with join_results(
        source,
        jobs,
        record_index,
        include_input=include_input,
        work_dir=work_dir,
        answers=answers,
        workers=workers,
    ) as joined:
        yield from joined.records()


def answer_check(schema: SchemaArgument, prefill: str | None = None) -> AnswerCheck | None:
    """The check for a schema given as a dict, a file path or an ``OutputSchema`` (None: none)."""
    return None if schema is None else AnswerCheck(output_schema(schema), prefill)
