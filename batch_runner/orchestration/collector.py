"""The collector: a finished orchestrated run's results, written once into S3 for everyone.

The run's workflow calls it when the scheduler reports the run finished. It runs the same join as
``results`` on a laptop (one row per input row in input order, the newest outcome of a record wins,
reconciled) and writes, under ``runs/<run>/results/`` in the input bucket, next to the manifest:

- ``results.parquet`` (or ``.csv`` / ``.jsonl``, the environment's ``results_format``), streamed as
  one multipart upload; a Parquet run of more than ``PART_ROWS`` rows becomes a dataset of parts,
  ``part-00000.parquet`` and on, in input order, readable as one table by pyarrow, pandas, polars,
  DuckDB or Athena;
- ``reconciliation.json``: total = succeeded + failed + missing, tokens, per-job tallies, warnings.

The registry item gets the location. Collecting again (after a retry round) rewrites the same keys
and removes parts the new collection did not write, so the folder always holds one collection.
Imports pyarrow (through ``results``) only when called: the scheduler stays light.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from batch_runner.exceptions import RunNotFoundError
from batch_runner.jobs.run_results import write_results
from batch_runner.jobs.run_state import run_prefix, utc_now
from batch_runner.orchestration.cloud_run import CloudRun
from batch_runner.orchestration.registry import Registry
from batch_runner.orchestration.settings import OrchestrationSettings

RESULTS_FOLDER = "results/"
RECONCILIATION_NAME = "reconciliation.json"
PART_PREFIX = "part-"
# Rows per part of a large Parquet collection: a part is then a few hundred MB at most, which one
# machine of a downstream job reads comfortably, and a 100-million-row run is 100 objects.
PART_ROWS = 1_000_000
EXTENSIONS = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}


@dataclass(frozen=True)
class Collected:
    """Where a run's results are and what they hold (the workflow's notification says this)."""

    run: str
    results_uri: str  # the file, or the folder of parts (ending in "/")
    reconciliation_uri: str
    parts: int
    total: int
    succeeded: int
    failed: int
    missing: int
    complete: bool
    summary: str
    collected_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def results_prefix(run: str) -> str:
    return f"{run_prefix(run)}{RESULTS_FOLDER}"


def collect_run(
    clients: Mapping[str, Any],
    settings: OrchestrationSettings,
    run_name: str,
    workdir: Path,
    *,
    round_number: int | None = None,
    part_rows: int = PART_ROWS,
) -> Collected:
    """Collect ``run_name`` into its results folder and record where in the registry, unless a
    newer round than ``round_number`` (the workflow's) started meanwhile: its collection will."""
    run = CloudRun.load(dict(clients), settings.input_bucket, run_name, workdir)
    if run is None:
        raise RunNotFoundError(f"run {run_name}: no manifest in s3://{settings.input_bucket}")
    bucket, prefix = settings.input_bucket, results_prefix(run_name)
    file_format = settings.results_format
    records = int(run.manifest.plan.get("record_count") or 0)
    s3 = clients["s3"]
    if file_format == "parquet" and records > part_rows:
        from batch_runner.orchestration.result_parts import write_parts

        local = run.directory / "results.parquet"
        reconciliation = write_results(run, local, file_format="parquet")
        parts = write_parts(s3, local, bucket, prefix, part_rows)
        local.unlink(missing_ok=True)
        results_uri = f"s3://{bucket}/{prefix}"
    else:
        key = f"{prefix}results{EXTENSIONS[file_format]}"
        reconciliation = write_results(run, f"s3://{bucket}/{key}", file_format=file_format)
        parts = 1
        results_uri = f"s3://{bucket}/{key}"
    _remove_stale(s3, bucket, prefix, keep=parts if results_uri.endswith("/") else 0)
    reconciliation_key = f"{prefix}{RECONCILIATION_NAME}"
    s3.put_object(
        Bucket=bucket,
        Key=reconciliation_key,
        Body=json.dumps(reconciliation.to_dict(), indent=2, default=str).encode(),
        ContentType="application/json",
    )
    collected = Collected(
        run=run_name,
        results_uri=results_uri,
        reconciliation_uri=f"s3://{bucket}/{reconciliation_key}",
        parts=parts,
        total=reconciliation.total,
        succeeded=reconciliation.succeeded,
        failed=reconciliation.failed,
        missing=reconciliation.missing,
        complete=reconciliation.complete,
        summary=reconciliation.summary(),
        collected_at=utc_now(),
    )
    registry = Registry(clients["dynamodb"], settings.registry_table)
    if round_number is None:
        registry.update(run_name, {"results_uri": results_uri, "results_summary": collected.summary})
    else:
        registry.record_results(run_name, round_number, results_uri, collected.summary)
    return collected


def _remove_stale(s3: Any, bucket: str, prefix: str, *, keep: int) -> None:
    """Remove parts numbered ``keep`` and above: left by an earlier, larger collection (or all
    parts, when this collection is one file)."""
    stale = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}{PART_PREFIX}"):
        for item in page.get("Contents", []):
            number = item["Key"][len(prefix) + len(PART_PREFIX) :].partition(".")[0]
            if not number.isdigit() or int(number) >= keep:
                stale.append({"Key": item["Key"]})
    for start in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": stale[start : start + 1000], "Quiet": True})
