"""The collector on the emulator: a finished run's results land in S3 as Parquet (parts for large
runs), with the reconciliation beside them and the location in the registry."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch_runner.local import Emulator
from batch_runner.orchestration.collector import collect_run
from batch_runner.orchestration.registry import Registry
from batch_runner.orchestration.settings import OrchestrationSettings
from tests.orchestration.helpers import queued_run, registry_table, scheduler


@pytest.fixture
def table(emulator: Emulator) -> str:
    return registry_table(emulator)


def _finished_run(emulator: Emulator, tmp_path: Path, table: str, run: str, shards: int) -> None:
    queued_run(emulator, tmp_path, table, run, shards, records_per_shard=50)
    passes = scheduler(emulator, table)
    for _ in range(3):
        passes.run_pass()
        emulator.run_until_idle()


def _collect(emulator: Emulator, tmp_path: Path, table: str, run: str, **options: object) -> object:
    fmt = str(options.pop("results_format", "parquet"))
    settings = OrchestrationSettings(
        registry_table=table, input_bucket=emulator.stack_outputs["InputBucketName"], results_format=fmt
    )
    clients = {name: emulator.client(name) for name in ("s3", "dynamodb")}
    return collect_run(clients, settings, run, tmp_path / "lambda", **options)  # type: ignore[arg-type]


def _objects(emulator: Emulator, prefix: str) -> dict[str, bytes]:
    s3, bucket = emulator.client("s3"), emulator.stack_outputs["InputBucketName"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    return {key[len(prefix) :]: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def test_a_finished_run_is_collected_into_s3_with_its_reconciliation(
    emulator: Emulator, tmp_path: Path, table: str
) -> None:
    emulator.configure(record_error_rate=0.1)
    _finished_run(emulator, tmp_path, table, "collect-one", 2)
    emulator.configure(record_error_rate=0.0)
    collected = _collect(emulator, tmp_path, table, "collect-one")
    stored = _objects(emulator, "runs/collect-one/results/")
    assert sorted(stored) == ["reconciliation.json", "results.parquet"]
    rows = pq.read_table(io.BytesIO(stored["results.parquet"])).to_pylist()
    assert [row["id"] for row in rows] == [f"collect-one-{n}" for n in range(100)]  # input order
    statuses = [row["status"] for row in rows]
    reconciliation = json.loads(stored["reconciliation.json"])
    assert reconciliation["total"] == 100 == len(rows)
    assert reconciliation["failed"] == statuses.count("failed") > 0
    assert reconciliation["succeeded"] == statuses.count("succeeded")
    bucket = emulator.stack_outputs["InputBucketName"]
    assert collected.results_uri == f"s3://{bucket}/runs/collect-one/results/results.parquet"  # type: ignore[attr-defined]
    entry = Registry(emulator.client("dynamodb"), table).get("collect-one")
    assert entry is not None and entry.results_uri == collected.results_uri  # type: ignore[attr-defined]
    assert entry.results_summary.startswith("total 100 = succeeded")


def test_a_large_run_becomes_parts_that_read_as_one_table(
    emulator: Emulator, tmp_path: Path, table: str
) -> None:
    _finished_run(emulator, tmp_path, table, "collect-parts", 3)
    whole = _collect(emulator, tmp_path, table, "collect-parts")
    single = pq.read_table(io.BytesIO(_objects(emulator, "runs/collect-parts/results/")["results.parquet"]))
    collected = _collect(emulator, tmp_path, table, "collect-parts", part_rows=60)
    stored = _objects(emulator, "runs/collect-parts/results/")
    parts = sorted(key for key in stored if key.startswith("part-"))
    assert parts == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    tables = [pq.read_table(io.BytesIO(stored[key])) for key in parts]
    assert [t.num_rows for t in tables] == [60, 60, 30]
    assert pa.concat_tables(tables).equals(single)
    assert collected.results_uri.endswith("/runs/collect-parts/results/")  # type: ignore[attr-defined]
    assert (collected.parts, whole.parts) == (3, 1)  # type: ignore[attr-defined]
    # Collected again as one file (fewer rows than a part): no part of the earlier collection stays.
    _collect(emulator, tmp_path, table, "collect-parts")
    assert not [key for key in _objects(emulator, "runs/collect-parts/results/") if key.startswith("part-")]


def test_csv_when_the_environment_asks_for_it(emulator: Emulator, tmp_path: Path, table: str) -> None:
    _finished_run(emulator, tmp_path, table, "collect-csv", 1)
    collected = _collect(emulator, tmp_path, table, "collect-csv", results_format="csv")
    stored = _objects(emulator, "runs/collect-csv/results/")
    lines = stored["results.csv"].decode().splitlines()
    assert lines[0].startswith("record_id,id,row,status,answer") and len(lines) == 51
    assert collected.results_uri.endswith("results.csv")  # type: ignore[attr-defined]


def test_a_collection_overtaken_by_a_newer_round_does_not_claim_the_registry(
    emulator: Emulator, tmp_path: Path, table: str
) -> None:
    _finished_run(emulator, tmp_path, table, "collect-round", 1)
    registry = Registry(emulator.client("dynamodb"), table)
    registry.update("collect-round", {"workflows_started": 2, "results_uri": ""})  # a retry started round 2
    stale = _collect(emulator, tmp_path, table, "collect-round", round_number=1)
    entry = registry.get("collect-round")
    assert entry is not None and entry.results_uri == ""  # round 2's collection will say where
    current = _collect(emulator, tmp_path, table, "collect-round", round_number=2)
    entry = registry.get("collect-round")
    assert entry is not None and entry.results_uri == current.results_uri == stale.results_uri  # type: ignore[attr-defined]
