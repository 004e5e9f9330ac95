"""A run's results: its jobs from the manifest and its record index, handed to the results core.

Jobs go oldest first, in manifest order (child jobs of retries are appended to the manifest, so
the newest outcome of a record wins). The record index is read from the local copy when its hash
matches the manifest, else downloaded from the input bucket into the run's state directory, so
``results`` works on a machine that never saw the run. A run submitted with an output schema has
its answers parsed and validated with the schema and prefill recorded in its manifest.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.aws.errors import aws_error
from batch_runner.catalog.context_windows import OVERSIZED_ERROR_CODE
from batch_runner.catalog.output_schema import OutputSchema, StructuredOutput, output_schema
from batch_runner.exceptions import UsageError
from batch_runner.jobs.run_context import RunContext, file_sha256
from batch_runner.prepare.plan import RECORD_INDEX_NAME
from batch_runner.results import (
    FAILED,
    MISSING,
    JobOutputRef,
    Reconciliation,
    S3OutputSource,
    collect_results,
    iter_results,
)
from batch_runner.results.sinks import check_bucket
from batch_runner.results.writers import check_output_path


def job_refs(run: RunContext) -> list[JobOutputRef]:
    """Every job the run has created, oldest first, with its last known status."""
    return [
        JobOutputRef(shard.job_arn, run.output_uri, shard.job_status) for shard in run.shards if shard.job_arn
    ]


def record_index_path(run: RunContext) -> Path:
    """A local copy of the run's record index, downloaded if this machine does not have it."""
    index = run.manifest.record_index
    local = Path(str(index.get("local_path", "")))
    if local.is_file() and file_sha256(local) == index.get("sha256"):
        return local
    target = run.directory / RECORD_INDEX_NAME
    if target.is_file() and file_sha256(target) == index.get("sha256"):
        return target
    bucket, key = str(run.manifest.settings["input_bucket"]), str(index["s3_key"])
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".record-index-", dir=target.parent)
    os.close(fd)
    try:
        run.client("s3").download_file(bucket, key, tmp)
        os.replace(tmp, target)
    except (ClientError, BotoCoreError) as err:
        raise aws_error(err, f"downloading the record index s3://{bucket}/{key}") from err
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def run_output_schema(run: RunContext) -> OutputSchema | None:
    """The schema the run's answers must match (``submit --output-schema``), if any."""
    document = run.manifest.options.get("output_schema")
    return None if document is None else output_schema(document, origin=f"of run {run.name}")


def run_prefill(run: RunContext) -> str | None:
    """The text the run's requests started each reply with (the answers lack it)."""
    structured = StructuredOutput.from_dict(run.manifest.plan.get("structured_output"))
    return structured.prefill if structured else None


def answer_options(run: RunContext) -> dict[str, Any]:
    """``output_schema`` and ``prefill`` keyword arguments for the results core."""
    return {"output_schema": run_output_schema(run), "prefill": run_prefill(run)}


def unfinished_records(run: RunContext) -> tuple[int, int]:
    """(failed, missing): records whose newest outcome over every job of the run, as the service
    reported it (answers are not checked against an output schema here), is not a success. Rows
    planning left out as too large for the model (``--skip-oversized``) do not count: no retry
    can change them."""
    rows = iter_results(output_source(run), job_refs(run), record_index_path(run))
    counts = {FAILED: 0, MISSING: 0}
    for row in rows:
        if row["status"] in counts and row["error_code"] != OVERSIZED_ERROR_CODE:
            counts[row["status"]] += 1
    return counts[FAILED], counts[MISSING]


def _require_jobs(run: RunContext) -> list[JobOutputRef]:
    refs = job_refs(run)
    if not refs:
        raise UsageError(f"run {run.name} has no jobs yet: submit them with `resume {run.name}`")
    return refs


def output_source(run: RunContext) -> S3OutputSource:
    """The run's job outputs in S3; worker processes read them with clients of their own."""
    return S3OutputSource(run.client("s3"), new_client=run.new_client("s3"))


def write_results(
    run: RunContext,
    out: Path | str,
    *,
    include_input: bool = False,
    file_format: str | None = None,
    workers: int | None = None,
) -> Reconciliation:
    """Write one row per input record to ``out``: a path, ``-`` (standard output) or an s3:// URI;
    CSV, JSONL, Parquet or ``openai`` (the OpenAI Batch API's output shape), by ``file_format`` or
    the extension; atomically. ``workers``: processes that parse the outputs (0: this one;
    default: one per CPU when the outputs are large)."""
    destination = check_output_path(out, file_format)
    s3 = run.client("s3")
    check_bucket(destination, s3)  # before the join: a typo costs nothing
    return collect_results(
        output_source(run),
        _require_jobs(run),
        record_index_path(run),
        destination,
        include_input=include_input,
        s3=lambda: s3,
        model_id=str(run.manifest.plan.get("model_id", "")),
        workers=workers,
        **answer_options(run),
    )


@dataclass
class RunResults:
    """The results of a run as records: iterate for dicts, ``to_pandas()``, or ``save(path)``.

    Each iteration reads the outputs from S3 again (streamed, bounded memory). With an output
    schema, each record also has one key per top-level property of the schema.
    """

    run: RunContext
    include_input: bool = False
    workers: int | None = None  # processes that parse the outputs (see ``write_results``)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from iter_results(
            output_source(self.run),
            _require_jobs(self.run),
            record_index_path(self.run),
            include_input=self.include_input,
            workers=self.workers,
            **answer_options(self.run),
        )

    def save(self, path: Path | str, *, format: str | None = None) -> Reconciliation:
        """Write the results to ``path`` (a local path, ``-`` or an s3:// URI); ``format`` is csv,
        jsonl, parquet or openai (default: from the extension)."""
        return write_results(
            self.run, path, include_input=self.include_input, file_format=format, workers=self.workers
        )

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one row per input record (needs pandas installed)."""
        try:
            import pandas as pd
        except ImportError as err:
            raise UsageError("to_pandas() needs pandas: pip install pandas") from err
        return pd.DataFrame.from_records(list(self))
