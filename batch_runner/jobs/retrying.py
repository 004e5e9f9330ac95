"""Retry: the failed and missing records of a run's finished jobs, sent again as child jobs.

The records to retry are those whose newest outcome (the results join over every job of the run,
oldest first) is ``failed`` or ``missing``; for a run with an output schema, failed includes
answers that did not parse or validate (``error_code`` ``schema``). ``failed_schema`` retries only
those. Their request lines are copied byte for byte from the
run's uploaded shard files (the original prompt bodies, never re-rendered), in input order, into new
shards appended to the manifest, so ``results`` reads their outcomes as the newest. The new shards
respect the run's recorded quotas and are submitted like any other (queued beyond the concurrency
quota); job names and idempotency tokens follow from the shard index and content, so a retry killed
at any point and run again adopts what it already created instead of creating it twice.

When fewer records remain than the model's minimum per job, a batch job is impossible: with
``on_demand`` they go through bedrock-runtime at full price (``batch_runner.jobs.on_demand``) and are
recorded as an ``on-demand`` shard whose output has the batch layout. When a per-job record limit
close to the minimum leaves no split of the records into valid jobs (160 records, 100 to 150 per
job), as many as fill whole jobs go as batch jobs and the rest on demand (``batch+on-demand``).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from batch_runner.catalog.context_windows import OVERSIZED_ERROR_CODE
from batch_runner.catalog.output_schema import SCHEMA_ERROR_CODE
from batch_runner.exceptions import InternalError, UsageError
from batch_runner.jobs.on_demand import WORKERS, OnDemandResult
from batch_runner.jobs.on_demand_shards import finish_on_demand, mark_started, on_demand_target, shard_lines
from batch_runner.jobs.run_context import RunContext, file_sha256
from batch_runner.jobs.run_results import (
    answer_options,
    job_refs,
    output_source,
    record_index_path,
    run_output_schema,
)
from batch_runner.jobs.run_state import (
    ON_DEMAND,
    PLANNED,
    QUEUED,
    RETRY,
    SUBMITTED,
    ShardState,
    shard_key,
)
from batch_runner.jobs.submission import Backoff, SubmitReport, client_token, job_name, run_job_name_prefix
from batch_runner.jobs.tracking import CANCELLED as CANCELLED_SHARD
from batch_runner.jobs.tracking import COMPLETED, TERMINAL_STATUSES, refresh
from batch_runner.jobs.uploads import Upload, upload_files
from batch_runner.prepare.background_writer import BackgroundWriter
from batch_runner.prepare.shards import Lines, ShardWriter, packable
from batch_runner.results import SUCCEEDED, S3OutputSource, iter_results

ON_DEMAND_DONE = COMPLETED

NOTHING = "nothing"  # every record already succeeded (with failed_schema: no schema failure left)
BATCH_JOBS = "batch"
ON_DEMAND_RUN = "on-demand"
BATCH_AND_ON_DEMAND = "batch+on-demand"  # jobs for as many as fit, the rest (below a job's minimum) on demand
RESUMED = "resumed"  # an earlier retry stopped half-way and was finished
CANCELLED = "cancelled"  # the caller declined on-demand processing
REQUESTED = "requested"  # an orchestrated run: the stack's scheduler retries it once every job ended

_CHUNK_BYTES = 4 << 20
# The planner writes request lines as {"recordId":"…","modelInput":…}: reading the ID from that
# prefix spares parsing every request of the run; any other form is parsed.
_PLANNED_LINE = re.compile(rb'\{"recordId":"([^"\\]*)"')


@dataclass
class RetryReport:
    mode: str
    records: int = 0  # records that needed another attempt
    shards: list[int] = field(default_factory=list)  # indexes of the shards created or finished
    submit: SubmitReport | None = None
    on_demand: OnDemandResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def retry_run(
    run: RunContext,
    *,
    on_demand: bool = False,
    failed_schema: bool = False,
    backoff: Backoff | None = None,
    runtime: Any = None,
    workers: int = WORKERS,
    confirm: Callable[[int], bool] | None = None,
) -> RetryReport:
    """Send the failed and missing records again (only the schema failures with
    ``failed_schema``); see the module docstring.

    ``runtime`` is a bedrock-runtime client (default: the run's); ``confirm(records)`` is asked
    before records are processed on demand, at full price.
    """
    if failed_schema and run_output_schema(run) is None:
        raise UsageError(
            f"run {run.name} has no output schema, so no answer can fail one: --failed-schema is for "
            "runs submitted with --output-schema; plain retry resends failed and missing records"
        )
    backoff = backoff or Backoff()
    unsent = [s for s in run.shards if s.kind == RETRY and s.state in (PLANNED, QUEUED)]
    if unsent:
        return RetryReport(
            RESUMED,
            sum(s.record_count for s in unsent),
            [s.index for s in unsent],
            run.resume(backoff=backoff),
        )
    unfinished = [s for s in run.shards if s.kind == ON_DEMAND and s.job_status != ON_DEMAND_DONE]
    if unfinished:
        result = finish_on_demand(run, unfinished[0], on_demand_target(run, runtime, backoff), workers)
        return RetryReport(RESUMED, result.records, [unfinished[0].index], on_demand=result)

    refresh(run, submit=False, backoff=backoff)
    _check_all_finished(run)
    wanted = records_to_retry(run, failed_schema=failed_schema)
    if not wanted:
        return RetryReport(NOTHING)
    quotas = run.quotas
    minimum, most = quotas.min_records_per_job, min(quotas.max_records_per_job, quotas.max_records_per_file)
    in_jobs = packable(len(wanted), minimum, most)
    if in_jobs == len(wanted):
        shards = _plan_retry_shards(run, wanted)
        run.manifest.shards.extend(shards)
        run.save()
        return RetryReport(BATCH_JOBS, len(wanted), [s.index for s in shards], run.resume(backoff=backoff))
    left = len(wanted) - in_jobs
    if not on_demand:
        raise UsageError(_needs_on_demand(run, len(wanted), in_jobs, minimum, most))
    if confirm is not None and not confirm(left):
        return RetryReport(CANCELLED, len(wanted))
    # The first records in input order fill whole jobs; the rest, fewer than a job's minimum, go on demand.
    ordered = sorted(wanted)  # runner record IDs sort in input order
    report = RetryReport(ON_DEMAND_RUN if not in_jobs else BATCH_AND_ON_DEMAND, len(wanted))
    attempt = _next_attempt(run)  # one attempt for both parts: status counts a retry by its attempt
    if in_jobs:
        shards = _plan_retry_shards(run, set(ordered[:in_jobs]))
        run.manifest.shards.extend(shards)
        run.save()
        report.shards, report.submit = [s.index for s in shards], run.resume(backoff=backoff)
    shard = _start_on_demand(run, set(ordered[in_jobs:]), attempt)
    report.on_demand = finish_on_demand(run, shard, on_demand_target(run, runtime, backoff), workers)
    report.shards.append(shard.index)
    return report


def _needs_on_demand(run: RunContext, records: int, in_jobs: int, minimum: int, most: int) -> str:
    if not in_jobs:
        return (
            f"run {run.name}: {records} record(s) to retry, fewer than the {minimum} a batch job "
            f"of {run.model_id} needs; add --on-demand to process them with the runtime API at full price"
        )
    return (
        f"run {run.name}: {records} records to retry cannot all go in batch jobs of {minimum} to {most} "
        f"records: {in_jobs} can, the other {records - in_jobs} are fewer than a job's minimum; add "
        "--on-demand to send those with the runtime API at full price (the rest go as batch jobs)"
    )


def records_to_retry(run: RunContext, *, failed_schema: bool = False) -> set[str]:
    """Record IDs whose newest outcome over every job of the run is failed or missing (an answer
    that fails the run's output schema is failed); with ``failed_schema``, only schema failures."""
    rows = iter_results(
        output_source(run),
        job_refs(run),
        record_index_path(run),
        work_dir=run.directory,
        **answer_options(run),
    )
    if failed_schema:
        return {str(row["record_id"]) for row in rows if row["error_code"] == SCHEMA_ERROR_CODE}
    # Rows planning left out as too large for the model were never sent and would fail again.
    return {
        str(row["record_id"])
        for row in rows
        if row["status"] != SUCCEEDED and row["error_code"] != OVERSIZED_ERROR_CODE
    }


def _check_all_finished(run: RunContext) -> None:
    busy = [
        s
        for s in run.shards
        if s.is_bedrock_job
        and s.state != CANCELLED_SHARD
        and (s.state != SUBMITTED or s.job_status not in TERMINAL_STATUSES)
    ]
    if busy:
        first = busy[0]
        status = first.job_status if first.state == SUBMITTED else first.state
        raise UsageError(
            f"run {run.name}: {len(busy)} job(s) not finished yet (e.g. {first.job_name}: {status}); "
            f"only finished jobs' records can be retried: run `python -m batch_runner wait {run.name}` first"
        )


def _original_lines(run: RunContext, wanted: set[str]) -> Iterator[tuple[int, bytes]]:
    """(shard index, request line) of the wanted records, in input order, as uploaded."""
    source = S3OutputSource(run.client("s3"))
    found = 0
    for shard in run.shards:
        if shard.attempt:  # the dataset's own shards (batch, or on demand below the minimum) only
            continue
        for raw in shard_lines(run, shard, source):
            if raw.strip() and _record_id(raw) in wanted:
                found += 1
                yield shard.index, raw
    if found != len(wanted):
        raise InternalError(
            f"run {run.name}: {len(wanted) - found} record(s) to retry are in no shard of the run"
        )


def _record_id(raw: bytes) -> str:
    match = _PLANNED_LINE.match(raw)
    return match.group(1).decode() if match else str(orjson.loads(raw).get("recordId"))


def _plan_retry_shards(run: RunContext, wanted: set[str]) -> list[ShardState]:
    """Write the wanted records into new shard files within the run's quotas."""
    attempt = _next_attempt(run)
    directory = _fresh_dir(run, f"retry-{attempt}")
    sink = BackgroundWriter()
    writer = ShardWriter(directory, run.quotas, sink)
    parents: set[int] = set()
    try:
        data, ends = bytearray(), []
        for parent, raw in _original_lines(run, wanted):
            parents.add(parent)
            data += raw + b"\n"
            ends.append(len(data))
            if len(data) >= _CHUNK_BYTES:
                writer.add(Lines(bytes(data), ends), lambda _: "a retried record")
                data, ends = bytearray(), []
        writer.add(Lines(bytes(data), ends), lambda _: "a retried record")
        plans = writer.finish()
    finally:
        sink.stop()
        writer.abandon()
    base = len(run.shards)
    return [
        _child_shard(
            run,
            base + plan.index,
            plan.path,
            plan.sha256,
            plan.record_count,
            plan.byte_size,
            kind=RETRY,
            attempt=attempt,
            parents=sorted(parents),
        )
        for plan in plans
    ]


def _start_on_demand(run: RunContext, wanted: set[str], attempt: int) -> ShardState:
    """Write and upload the records' input file, and record the on-demand shard as in progress."""
    index = len(run.shards)
    lines = list(_original_lines(run, wanted))
    path = _fresh_dir(run, f"on-demand-{attempt}") / f"shard-{index:05d}.jsonl"
    path.write_bytes(b"".join(raw + b"\n" for _, raw in lines))
    shard = _child_shard(
        run,
        index,
        path,
        file_sha256(path),
        len(lines),
        path.stat().st_size,
        kind=ON_DEMAND,
        attempt=attempt,
        parents=sorted({parent for parent, _ in lines}),
    )
    upload_files(run.client("s3"), _input_bucket(run), [Upload(path, shard.s3_key, shard.sha256)])
    run.manifest.shards.append(shard)
    mark_started(run, shard)
    return shard


def _child_shard(
    run: RunContext,
    index: int,
    path: Path,
    sha256: str,
    records: int,
    size: int,
    *,
    kind: str,
    attempt: int,
    parents: list[int],
) -> ShardState:
    return ShardState(
        index=index,
        local_path=str(path.resolve()),
        s3_key=shard_key(run.name, index, sha256),
        sha256=sha256,
        record_count=records,
        byte_size=size,
        client_token=client_token(run.name, index, sha256),
        job_name=job_name(run.name, index, run_job_name_prefix(run.manifest)),
        kind=kind,
        attempt=attempt,
        parents=parents,
    )


def _next_attempt(run: RunContext) -> int:
    return 1 + max((s.attempt for s in run.shards), default=0)


def _fresh_dir(run: RunContext, name: str) -> Path:
    """An empty directory for this attempt's files (a killed earlier try may have left some)."""
    directory = run.directory / "input" / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def _input_bucket(run: RunContext) -> str:
    return str(run.manifest.settings["input_bucket"])
