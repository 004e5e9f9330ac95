"""Retry through the Python API against the emulator over HTTP: failed and missing records go
again as child jobs (or on demand below the minimum), and results end with every record done."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

import batch_runner.jobs.on_demand_shards
import batch_runner.jobs.retrying
import batch_runner.jobs.submission
from batch_runner import Run, submit
from batch_runner.api import QuotaOverrides
from batch_runner.catalog.output_schema import SCHEMA_ERROR_CODE
from batch_runner.catalog.pricing import estimate_cost
from batch_runner.exceptions import UsageError
from batch_runner.jobs.retrying import BATCH_AND_ON_DEMAND, BATCH_JOBS, NOTHING, ON_DEMAND_RUN, RESUMED
from batch_runner.jobs.run_state import BATCH, ON_DEMAND, QUEUED, RETRY, SUBMITTED
from batch_runner.jobs.submission import Backoff
from batch_runner.local import Emulator
from batch_runner.results import FAILED, MISSING, SUCCEEDED
from tests.runner.test_runs import HAIKU, run_jobs, write_csv

FAST = Backoff(base_seconds=0.0, max_seconds=0.0, deadline_seconds=5.0, sleep=lambda _: None)


class Crash(Exception):
    """Stands for the process dying at a chosen point."""


@pytest.fixture
def where(emulator: Emulator, tmp_path: Path) -> dict[str, Any]:
    return {"endpoint_url": emulator.endpoint_url, "state_dir": tmp_path / "state"}


def start(emulator: Emulator, tmp_path: Path, where: dict[str, Any], rows: int, **quotas: int) -> Run:
    """Submit ``rows`` CSV rows; the emulator enforces the same minimum records per job."""
    emulator.configure(min_records_per_job=quotas["min_records_per_job"])
    return submit(
        write_csv(tmp_path / "rows.csv", rows),
        model=HAIKU,
        prompt="Answer briefly: {{ text }}",
        run=f"retry-{uuid.uuid4().hex[:8]}",
        quotas=QuotaOverrides(**quotas),
        **where,
    )


def finished_with_failures(emulator: Emulator, tmp_path: Path, where: dict[str, Any]) -> Run:
    """A one-job run of 40 records, about half failed, its job finished; later records succeed.

    Record faults are drawn per job ID, which is random: at half the records, fewer failures than
    the minimum of 5 has a chance below one in a million (at 30% it was one in two hundred).
    """
    emulator.configure(record_error_rate=0.5)
    run = start(emulator, tmp_path, where, 40, min_records_per_job=5)
    emulator.run_until_idle()
    emulator.configure(record_error_rate=0.0)
    return run


def outcomes(run: Run) -> dict[str, str]:
    return {str(r["record_id"]): str(r["status"]) for r in run.results()}


def shard_lines(emulator: Emulator, key: str) -> list[bytes]:
    body = emulator.client("s3").get_object(Bucket=emulator.stack_outputs["InputBucketName"], Key=key)
    return body["Body"].read().splitlines()


def test_failed_records_go_again_as_child_jobs_with_their_original_bodies(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    emulator.configure(record_error_rate=0.25)
    run = start(emulator, tmp_path, where, 80, min_records_per_job=5, max_records_per_job=40)
    emulator.run_until_idle()
    before = outcomes(run)
    failed = sorted(rid for rid, status in before.items() if status == FAILED)
    assert len(before) == 80 and 5 <= len(failed) < 40
    originals = {
        orjson.loads(line)["recordId"]: line for s in run.shards for line in shard_lines(emulator, s.s3_key)
    }

    emulator.configure(record_error_rate=0.0)
    report = run.retry(backoff=FAST)

    assert report.mode == BATCH_JOBS and report.records == len(failed)
    (child,) = [s for s in run.shards if s.kind == RETRY]
    assert (child.index, child.attempt, child.parents, child.state) == (2, 1, [0, 1], SUBMITTED)
    assert [s.kind for s in run.shards[:2]] == [BATCH, BATCH]
    assert run_jobs(emulator, run.name) == [
        f"dev.{run.name}-s00000",
        f"dev.{run.name}-s00001",
        f"dev.{run.name}-s00002",
    ]
    lines = shard_lines(emulator, child.s3_key)
    assert sorted(orjson.loads(line)["recordId"] for line in lines) == failed
    assert all(line == originals[orjson.loads(line)["recordId"]] for line in lines)  # byte for byte

    emulator.run_until_idle()
    after = outcomes(run)
    assert len(after) == 80 and set(after.values()) == {SUCCEEDED}
    assert run.retry(backoff=FAST).mode == NOTHING
    assert len(run_jobs(emulator, run.name)) == 3


def test_partially_completed_job_missing_records_are_retried(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    emulator.configure(job_outcome="PartiallyCompleted", partial_fraction=0.5)
    run = start(emulator, tmp_path, where, 40, min_records_per_job=5)
    emulator.run_until_idle()
    missing = {rid for rid, status in outcomes(run).items() if status == MISSING}
    assert len(missing) == 20

    emulator.configure(job_outcome=None)
    report = run.retry(backoff=FAST)
    assert report.mode == BATCH_JOBS and report.records == 20
    emulator.run_until_idle()
    assert set(outcomes(run).values()) == {SUCCEEDED}


def test_retry_refuses_while_jobs_run(emulator: Emulator, where: dict[str, Any], tmp_path: Path) -> None:
    run = start(emulator, tmp_path, where, 20, min_records_per_job=5)
    with pytest.raises(UsageError, match=r"1 job\(s\) not finished.*wait"):
        run.retry(backoff=FAST)
    assert len(run.shards) == 1


def test_below_minimum_needs_on_demand_then_runs_at_full_price(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    emulator.configure(record_error_rate=0.2)
    run = start(emulator, tmp_path, where, 30, min_records_per_job=20)
    emulator.run_until_idle()
    failed = {rid for rid, status in outcomes(run).items() if status == FAILED}
    assert 0 < len(failed) < 20
    emulator.configure(record_error_rate=0.0, throttle_rate=0.3)

    with pytest.raises(UsageError) as raised:
        run.retry(backoff=FAST)
    assert f"{len(failed)} record(s) to retry, fewer than the 20" in str(raised.value)
    assert "--on-demand" in str(raised.value)
    assert len(run.shards) == 1

    report = run.retry(on_demand=True, backoff=FAST)
    assert report.mode == ON_DEMAND_RUN and report.on_demand is not None
    assert report.on_demand.succeeded == len(failed) and report.on_demand.failed == 0
    price = estimate_cost(HAIKU, report.on_demand.input_tokens, report.on_demand.output_tokens)
    assert report.on_demand.on_demand_usd == price.on_demand_usd
    assert price.batch_usd is not None and report.on_demand.on_demand_usd > price.batch_usd
    (child,) = [s for s in run.shards if s.kind == ON_DEMAND]
    assert (child.job_status, child.job_id) == ("Completed", f"on-demand-{child.index:05d}")
    assert run_jobs(emulator, run.name) == [f"dev.{run.name}-s00000"]  # no batch job was created

    s3, bucket = emulator.client("s3"), emulator.stack_outputs["OutputBucketName"]
    prefix = f"runs/{run.name}/output/{child.job_id}/"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"])
    assert keys == [prefix + "manifest.json.out", prefix + child.s3_key.rsplit("/", 1)[-1] + ".out"]
    lines = [
        orjson.loads(line) for line in s3.get_object(Bucket=bucket, Key=keys[1])["Body"].read().splitlines()
    ]
    assert {line["recordId"] for line in lines} == failed
    assert all(set(line) == {"recordId", "modelInput", "modelOutput"} for line in lines)
    assert all(line["modelOutput"]["content"][0]["text"].startswith("[emulated") for line in lines)
    totals = orjson.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
    assert totals["successRecordCount"] == len(failed)
    assert totals["inputTokenCount"] == report.on_demand.input_tokens > 0

    assert set(outcomes(run).values()) == {SUCCEEDED}
    assert run.retry(on_demand=True, backoff=FAST).mode == NOTHING


def test_records_no_split_fits_fill_whole_jobs_and_the_rest_go_on_demand(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5 to 6 records per job: 8 records make one job too big and two too small."""
    run = start(emulator, tmp_path, where, 12, min_records_per_job=5, max_records_per_job=6)
    emulator.run_until_idle()
    chosen = sorted(outcomes(run))[1:9]  # as if these had failed
    monkeypatch.setattr(batch_runner.jobs.retrying, "records_to_retry", lambda run, **_: set(chosen))

    with pytest.raises(UsageError) as refused:
        run.retry(backoff=FAST)
    assert str(refused.value) == (
        f"run {run.name}: 8 records to retry cannot all go in batch jobs of 5 to 6 records: 6 can, the "
        "other 2 are fewer than a job's minimum; add --on-demand to send those with the runtime API at "
        "full price (the rest go as batch jobs)"
    )
    assert len(run.shards) == 2

    report = run.retry(on_demand=True, backoff=FAST)
    assert (report.mode, report.records) == (BATCH_AND_ON_DEMAND, 8)
    batch_child, on_demand_child = run.shards[2:]
    assert (batch_child.kind, batch_child.record_count, on_demand_child.kind) == (RETRY, 6, ON_DEMAND)
    sent = [orjson.loads(line)["recordId"] for line in Path(batch_child.local_path).read_bytes().splitlines()]
    assert sent == chosen[:6]  # input order: the first ones fill the job
    assert report.on_demand is not None and report.on_demand.succeeded == 2
    assert report.shards == [batch_child.index, on_demand_child.index]

    emulator.run_until_idle()
    run.status()
    monkeypatch.undo()
    rows = list(run.results())
    assert [row["status"] for row in rows] == [SUCCEEDED] * 12
    newest = {str(row["record_id"]): str(row["job_id"]) for row in rows}
    assert {newest[rid] for rid in chosen[:6]} == {batch_child.job_id}
    assert {newest[rid] for rid in chosen[6:]} == {on_demand_child.job_id}


def test_killed_retry_run_again_creates_no_duplicate_job(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = finished_with_failures(emulator, tmp_path, where)
    real_create = batch_runner.jobs.submission.create_job

    def create_then_die(*args: Any, **kwargs: Any) -> str:
        real_create(*args, **kwargs)
        raise Crash  # the child job exists; its ARN is never written down

    monkeypatch.setattr(batch_runner.jobs.submission, "create_job", create_then_die)
    with pytest.raises(Crash):
        run.retry(backoff=FAST)
    monkeypatch.setattr(batch_runner.jobs.submission, "create_job", real_create)
    assert len(run_jobs(emulator, run.name)) == 2

    again = Run.load(run.name, state_dir=where["state_dir"], endpoint_url=emulator.endpoint_url)
    report = again.retry(backoff=FAST)
    assert report.mode == RESUMED
    assert run_jobs(emulator, run.name) == [f"dev.{run.name}-s00000", f"dev.{run.name}-s00001"]
    assert again.shards[1].job_arn == next(
        j.arn for j in emulator.jobs() if j.name == f"dev.{run.name}-s00001"
    )
    emulator.run_until_idle()
    assert set(outcomes(again).values()) == {SUCCEEDED}


def test_retry_killed_between_planning_and_saving_plans_the_same_shard_again(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = finished_with_failures(emulator, tmp_path, where)
    real_plan = batch_runner.jobs.retrying._plan_retry_shards
    planned: list[str] = []

    def plan_then_die(*args: Any) -> Any:
        planned.extend(s.client_token for s in real_plan(*args))
        raise Crash

    monkeypatch.setattr(batch_runner.jobs.retrying, "_plan_retry_shards", plan_then_die)
    with pytest.raises(Crash):
        run.retry(backoff=FAST)
    monkeypatch.undo()

    again = Run.load(run.name, state_dir=where["state_dir"], endpoint_url=emulator.endpoint_url)
    assert len(again.shards) == 1
    again.retry(backoff=FAST)
    assert [s.client_token for s in again.shards[1:]] == planned
    assert run_jobs(emulator, run.name) == [f"dev.{run.name}-s00000", f"dev.{run.name}-s00001"]


def test_on_demand_retry_killed_mid_way_is_finished_by_the_next_retry(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.configure(record_error_rate=0.2)
    run = start(emulator, tmp_path, where, 30, min_records_per_job=20)
    emulator.run_until_idle()
    emulator.configure(record_error_rate=0.0)

    def die(*args: Any) -> None:
        raise Crash  # processed, but nothing written

    monkeypatch.setattr(batch_runner.jobs.on_demand_shards, "write_output", die)
    with pytest.raises(Crash):
        run.retry(on_demand=True, backoff=FAST)
    monkeypatch.undo()
    (child,) = [s for s in run.shards if s.kind == ON_DEMAND]
    assert child.job_status == "InProgress"

    again = Run.load(run.name, state_dir=where["state_dir"], endpoint_url=emulator.endpoint_url)
    report = again.retry(backoff=FAST)  # no --on-demand needed to finish what was started
    assert report.mode == RESUMED and report.shards == [child.index]
    assert [s.kind for s in again.shards] == [BATCH, ON_DEMAND]
    assert again.shards[1].job_status == "Completed"
    assert set(outcomes(again).values()) == {SUCCEEDED}


def test_retry_shards_follow_the_run_quotas_and_queue_beyond_the_concurrency_limit(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    emulator.configure(job_outcome="Failed")  # every record of both jobs is missing
    run = start(emulator, tmp_path, where, 40, min_records_per_job=5, max_records_per_job=20)
    emulator.run_until_idle()
    emulator.configure(job_outcome=None)
    run.manifest.quotas["max_records_per_job"] = 15
    run.manifest.quotas["max_concurrent_jobs"] = 2

    report = run.retry(backoff=FAST)

    children = [s for s in run.shards if s.kind == RETRY]
    assert report.records == 40 and [s.record_count for s in children] == [15, 15, 10]
    assert [s.state for s in children] == [SUBMITTED, SUBMITTED, QUEUED]
    assert report.submit is not None and report.submit.queued == [children[2].index]
    emulator.run_until_idle()
    run.status()  # a later pass submits the queued shard
    emulator.run_until_idle()
    run.status()
    assert set(outcomes(run).values()) == {SUCCEEDED}
    assert len(run_jobs(emulator, run.name)) == 5


def test_converse_run_retried_on_demand_through_the_converse_operation(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    emulator.configure(record_error_rate=0.2, min_records_per_job=20)
    run = submit(
        write_csv(tmp_path / "rows.csv", 30),
        model="us.amazon.nova-lite-v1:0",
        prompt="{{ text }}",
        invocation_type="Converse",
        run=f"retry-{uuid.uuid4().hex[:8]}",
        quotas=QuotaOverrides(min_records_per_job=20),
        **where,
    )
    emulator.run_until_idle()
    emulator.configure(record_error_rate=0.0)
    report = run.retry(on_demand=True, backoff=FAST)
    assert report.on_demand is not None and report.on_demand.failed == 0 and report.on_demand.succeeded > 0
    rows = list(run.results())
    assert {r["status"] for r in rows} == {SUCCEEDED}
    assert all(r["answer"].startswith("[emulated us.amazon.nova-lite-v1:0]") for r in rows)


LABEL_SCHEMA = {
    "type": "object",
    "properties": {"label": {"enum": ["billing", "other"]}, "urgent": {"type": "boolean"}},
    "required": ["label", "urgent"],
    "additionalProperties": False,
}


def schema_run(emulator: Emulator, tmp_path: Path, where: dict[str, Any], rows: int, minimum: int) -> Run:
    """A finished schema run: some answers break the schema, some records fail at the service."""
    emulator.configure(min_records_per_job=minimum, record_error_rate=0.15, schema_invalid_rate=0.3)
    run = submit(
        write_csv(tmp_path / "rows.csv", rows),
        model=HAIKU,
        prompt="Label this message: {{ text }}",
        output_schema=LABEL_SCHEMA,
        run=f"retry-schema-{uuid.uuid4().hex[:8]}",
        quotas=QuotaOverrides(min_records_per_job=minimum),
        **where,
    )
    emulator.run_until_idle()
    emulator.configure(record_error_rate=0.0, schema_invalid_rate=0.0)
    return run


def error_codes(run: Run) -> dict[str, str | None]:
    return {str(r["record_id"]): r["error_code"] for r in run.results()}


def test_failed_schema_resends_exactly_the_schema_failures(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    run = schema_run(emulator, tmp_path, where, 60, minimum=5)
    before = error_codes(run)
    schema_failed = sorted(rid for rid, code in before.items() if code == SCHEMA_ERROR_CODE)
    service_failed = sorted(rid for rid, code in before.items() if code not in (None, SCHEMA_ERROR_CODE))
    assert len(schema_failed) >= 5 and service_failed

    report = run.retry(failed_schema=True, backoff=FAST)

    assert report.mode == BATCH_JOBS and report.records == len(schema_failed)
    (child,) = [s for s in run.shards if s.kind == RETRY]
    assert (
        sorted(orjson.loads(line)["recordId"] for line in shard_lines(emulator, child.s3_key))
        == schema_failed
    )
    emulator.run_until_idle()
    after = error_codes(run)
    assert sorted(rid for rid, code in after.items() if code is not None) == service_failed
    assert run.retry(failed_schema=True, backoff=FAST).mode == NOTHING

    report = run.retry(backoff=FAST)  # plain retry: every failed record, whatever failed it
    assert report.records == len(service_failed)


def test_plain_retry_includes_schema_failures(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    run = schema_run(emulator, tmp_path, where, 40, minimum=5)
    failed = {rid for rid, code in error_codes(run).items() if code is not None}
    assert SCHEMA_ERROR_CODE in error_codes(run).values()
    assert run.retry(backoff=FAST).records == len(failed)
    emulator.run_until_idle()
    assert set(error_codes(run).values()) == {None}


def test_failed_schema_below_the_minimum_goes_on_demand(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    run = schema_run(emulator, tmp_path, where, 30, minimum=20)
    schema_failed = {rid for rid, code in error_codes(run).items() if code == SCHEMA_ERROR_CODE}
    assert 0 < len(schema_failed) < 20

    with pytest.raises(UsageError, match=rf"{len(schema_failed)} record\(s\) to retry.*--on-demand"):
        run.retry(failed_schema=True, backoff=FAST)
    report = run.retry(failed_schema=True, on_demand=True, backoff=FAST)

    assert report.mode == ON_DEMAND_RUN and report.records == len(schema_failed)
    assert report.on_demand is not None and report.on_demand.succeeded == len(schema_failed)
    assert SCHEMA_ERROR_CODE not in error_codes(run).values()


def test_failed_schema_needs_a_run_with_a_schema(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    run = finished_with_failures(emulator, tmp_path, where)
    with pytest.raises(UsageError, match=r"has no output schema.*--output-schema"):
        run.retry(failed_schema=True, backoff=FAST)
    assert len(run.shards) == 1
