"""Shards run through bedrock-runtime instead of a batch job: a dataset (or its final remainder)
below the model's minimum records per job (``submit --on-demand-below-minimum``), and the records
a retry sends on demand.

Such a shard is recorded like a job: ``submitted`` with the pseudo-ARN
``on-demand:<run>/on-demand-<index>`` and status ``InProgress`` before its first request, then
``Completed`` with its record counters once its output (the batch layout, see
``batch_runner.jobs.on_demand``) is written, so ``status``, ``results`` and ``cost`` read it like a
job. A shard interrupted half-way is processed again from the start by ``resume`` (or ``retry``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from batch_runner.jobs.on_demand import (
    WORKERS,
    OnDemandResult,
    OnDemandTarget,
    process,
    summarize,
    write_output,
)
from batch_runner.jobs.run_context import RunContext
from batch_runner.jobs.run_state import ON_DEMAND, QUEUED, SUBMITTED, ShardState, utc_now
from batch_runner.jobs.submission import Backoff
from batch_runner.jobs.tracking import COMPLETED
from batch_runner.results import JobOutputRef, S3OutputSource


def pending_on_demand(run: RunContext) -> list[ShardState]:
    """On-demand shards uploaded but not processed, or interrupted half-way."""
    return [
        s
        for s in run.shards
        if s.kind == ON_DEMAND and (s.state == QUEUED or (s.state == SUBMITTED and s.job_status != COMPLETED))
    ]


def run_on_demand(
    run: RunContext, *, runtime: Any = None, backoff: Backoff | None = None, workers: int = WORKERS
) -> list[OnDemandResult]:
    """Process every pending on-demand shard of ``run`` (uploaded first), one after another."""
    shards = pending_on_demand(run)
    if not shards:
        return []
    target = on_demand_target(run, runtime, backoff or Backoff())
    results = []
    for shard in shards:
        if shard.state == QUEUED:
            mark_started(run, shard)
        results.append(finish_on_demand(run, shard, target, workers))
    return results


def mark_started(run: RunContext, shard: ShardState) -> None:
    """Record the shard as in progress (saved before the first request is sent)."""
    shard.state, shard.job_status, shard.submitted_at = SUBMITTED, "InProgress", utc_now()
    shard.job_arn = f"on-demand:{run.name}/on-demand-{shard.index:05d}"
    run.save()


def on_demand_target(run: RunContext, runtime: Any, backoff: Backoff) -> OnDemandTarget:
    return OnDemandTarget(
        runtime=runtime if runtime is not None else run.client("bedrock-runtime"),
        model_id=run.model_id,
        invocation_type=str(run.manifest.plan["invocation_type"]),
        backoff=backoff,
    )


def finish_on_demand(
    run: RunContext, shard: ShardState, target: OnDemandTarget, workers: int = WORKERS
) -> OnDemandResult:
    """Send the shard's records, write their output where a job's would be, record the counts."""
    lines = [raw for raw in shard_lines(run, shard, S3OutputSource(run.client("s3"))) if raw.strip()]
    results = process(target, lines, workers=workers)
    bucket, prefix = JobOutputRef(str(shard.job_arn), run.output_uri).output_prefix()
    write_output(run.client("s3"), bucket, prefix, shard.s3_key.rsplit("/", 1)[-1], results)
    result = summarize(target, results)
    shard.job_status = COMPLETED
    shard.message = f"on demand: {result.succeeded} succeeded, {result.failed} failed"
    shard.final_counts = {
        "processedRecordCount": result.records,
        "successRecordCount": result.succeeded,
        "errorRecordCount": result.failed,
    }
    run.save()
    return result


def shard_lines(run: RunContext, shard: ShardState, source: S3OutputSource) -> Iterator[bytes]:
    """The shard's request lines: from the local file, else from the input bucket."""
    local = Path(shard.local_path)
    if local.is_file():
        with local.open("rb") as handle:
            for line in handle:
                yield line.rstrip(b"\n")
    else:
        yield from source.iter_lines(str(run.manifest.settings["input_bucket"]), shard.s3_key)
