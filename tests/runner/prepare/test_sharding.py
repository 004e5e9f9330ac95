"""Sharding limits, exactly at and one past each one, and the minimum-records rebalance."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from batch_runner.catalog.quotas import ModelQuotas
from batch_runner.exceptions import PlanError
from batch_runner.prepare.background_writer import BackgroundWriter
from batch_runner.prepare.plan import Plan
from batch_runner.prepare.planning import build_plan
from batch_runner.prepare.shards import UnsplittableError, packable, split_point
from tests.runner.planning_helpers import conversation_rows, options, read_lines, write_csv

BIG = ModelQuotas(min_records_per_job=1, max_records_per_file=10**6, max_records_per_job=10**6)


def plan_rows(tmp_path: Path, count: int, quotas: ModelQuotas) -> Plan:
    # equal-length rows, so every request line has the same size
    rows = [[f"q{n:05d}", "answer"] for n in range(count)]
    data = write_csv(tmp_path / f"d{count}.csv", ["Context", "Response"], rows)
    return build_plan(data, options(), quotas=quotas, workdir=tmp_path / f"w{count}-{id(quotas)}")


def line_size(tmp_path: Path) -> int:
    plan = plan_rows(tmp_path, 1, BIG)
    return plan.byte_size


def shard_counts(plan: Plan) -> list[int]:
    return [shard.record_count for shard in plan.shards]


@pytest.mark.parametrize("field", ["max_records_per_file", "max_records_per_job"])
@pytest.mark.parametrize(("count", "expected"), [(10, [10]), (11, [6, 5]), (20, [10, 10]), (21, [10, 6, 5])])
def test_record_limits_at_and_past_the_limit(
    tmp_path: Path, field: str, count: int, expected: list[int]
) -> None:
    quotas = replace(BIG, min_records_per_job=2, **{field: 10})
    assert shard_counts(plan_rows(tmp_path, count, quotas)) == expected


@pytest.mark.parametrize("field", ["max_file_bytes", "max_job_bytes"])
@pytest.mark.parametrize(("count", "expected"), [(3, [3]), (4, [2, 2]), (7, [3, 2, 2])])
def test_byte_limits_at_and_past_the_limit(
    tmp_path: Path, field: str, count: int, expected: list[int]
) -> None:
    size = line_size(tmp_path)
    quotas = replace(BIG, min_records_per_job=2, **{field: 3 * size})
    plan = plan_rows(tmp_path, count, quotas)
    assert shard_counts(plan) == expected
    assert max(shard.byte_size for shard in plan.shards) <= 3 * size


def test_byte_limit_one_byte_short_moves_the_last_record(tmp_path: Path) -> None:
    size = line_size(tmp_path)
    quotas = replace(BIG, min_records_per_job=1, max_file_bytes=3 * size - 1)
    assert shard_counts(plan_rows(tmp_path, 3, quotas)) == [2, 1]


def test_shard_metadata_matches_the_files(tmp_path: Path) -> None:
    plan = plan_rows(tmp_path, 25, replace(BIG, min_records_per_job=2, max_records_per_file=10))
    for shard in plan.shards:
        content = shard.path.read_bytes()
        assert shard.byte_size == len(content)
        assert shard.sha256 == hashlib.sha256(content).hexdigest()
        assert shard.record_count == len(read_lines(shard.path))
    ids = [record["recordId"] for shard in plan.shards for record in read_lines(shard.path)]
    assert ids == [entry["recordId"] for entry in read_lines(plan.record_index_path)]
    assert plan.byte_size == sum(shard.byte_size for shard in plan.shards)


def test_a_record_larger_than_a_file_is_refused(tmp_path: Path) -> None:
    size = line_size(tmp_path)
    rows = [["short", "a"]] * 3 + [["long" * 50, "b"]]
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], rows)
    quotas = replace(BIG, max_file_bytes=size + 10)
    with pytest.raises(PlanError, match=r"row 4: the request is \d+ bytes, larger than the .*-byte limit"):
        build_plan(data, options(), quotas=quotas, workdir=tmp_path / "w")


def test_when_no_split_meets_the_minimum_planning_says_so_and_how_to_fix_it(tmp_path: Path) -> None:
    quotas = replace(BIG, min_records_per_job=5, max_records_per_file=6)
    with pytest.raises(UnsplittableError) as refused:
        plan_rows(tmp_path, 7, quotas)
    assert str(refused.value) == (
        "7 records cannot be split into jobs of 5 to 6 records each (one job is too big, two too "
        "small); raise --max-records-per-job to 7 or more"
    )


def test_a_limit_close_to_the_minimum_spreads_the_last_shards_evenly(tmp_path: Path) -> None:
    """Two shards cannot both reach the minimum (10 + 1), three can: 150 + 150 + 10 at scale."""
    quotas = replace(BIG, min_records_per_job=10, max_records_per_file=15)
    plan = plan_rows(tmp_path, 31, quotas)
    assert shard_counts(plan) == [11, 10, 10]
    ids = [record["recordId"] for shard in plan.shards for record in read_lines(shard.path)]
    assert ids == [entry["recordId"] for entry in read_lines(plan.record_index_path)]
    for shard in plan.shards:
        assert shard.sha256 == hashlib.sha256(shard.path.read_bytes()).hexdigest()
    assert shard_counts(plan_rows(tmp_path, 46, quotas)) == [15, 11, 10, 10]


@pytest.mark.parametrize(
    ("records", "minimum", "maximum", "expected"),
    [(160, 100, 150, 150), (310, 100, 150, 310), (99, 100, 150, 0), (250, 100, 100, 200), (7, 5, 6, 6)],
)
def test_packable(records: int, minimum: int, maximum: int, expected: int) -> None:
    assert packable(records, minimum, maximum) == expected


@pytest.mark.parametrize(
    ("sizes", "last_bytes", "total", "minimum", "max_bytes", "expected"),
    [
        ([1] * 10, 1, 11, 2, 100, 6),  # balanced halves
        ([1] * 10, 0, 10, 2, 100, 5),
        ([1] * 8 + [50, 50], 10, 12, 2, 60, 9),  # halves too big: keep more in the previous shard
        ([1] * 6, 1, 7, 5, 100, None),  # both cannot reach the minimum
    ],
)
def test_split_point(
    sizes: list[int], last_bytes: int, total: int, minimum: int, max_bytes: int, expected: int | None
) -> None:
    assert split_point(sizes, last_bytes, total, minimum, max_bytes) == expected


def test_background_write_failures_surface_in_the_planning_thread(tmp_path: Path) -> None:
    sink = BackgroundWriter()
    handle = (tmp_path / "f").open("wb")
    handle.close()  # writing to it fails on the background thread
    try:
        sink.write(handle, hashlib.sha256(), b"data")
        with pytest.raises(ValueError, match="closed file"):
            sink.drain()
    finally:
        sink.stop()


def test_background_writes_keep_their_order_and_hash(tmp_path: Path) -> None:
    sink = BackgroundWriter()
    digest = hashlib.sha256()
    handle = (tmp_path / "f").open("wb")
    for number in range(50):
        sink.write(handle, digest, f"{number}\n".encode())
    sink.close(handle, digest)
    sink.drain()
    sink.stop()
    content = (tmp_path / "f").read_bytes()
    assert content == "".join(f"{number}\n" for number in range(50)).encode()
    assert digest.hexdigest() == hashlib.sha256(content).hexdigest()


def test_a_remainder_that_cannot_be_balanced_goes_on_demand_when_allowed(tmp_path: Path) -> None:
    quotas = replace(BIG, min_records_per_job=5, max_records_per_file=6)
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(7))
    plan = build_plan(data, options(), quotas=quotas, workdir=tmp_path / "w", on_demand_below_minimum=True)
    assert [(s.record_count, s.on_demand) for s in plan.shards] == [(6, False), (1, True)]
    assert plan.on_demand_records == plan.estimate.on_demand_records == 1


def test_a_dataset_below_the_minimum_is_one_on_demand_shard_when_allowed(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(3))
    quotas = replace(BIG, min_records_per_job=100)
    with pytest.raises(
        PlanError, match=r"below the minimum of 100 per batch job .*add --on-demand-below-minimum"
    ):
        build_plan(data, options(), quotas=quotas, workdir=tmp_path / "a")
    plan = build_plan(data, options(), quotas=quotas, workdir=tmp_path / "b", on_demand_below_minimum=True)
    assert [(s.record_count, s.on_demand) for s in plan.shards] == [(3, True)]
    # Full price for every record: the "batch" figure is the on-demand one.
    assert plan.estimate.max_batch_usd == plan.estimate.max_on_demand_usd
