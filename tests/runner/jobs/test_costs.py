"""Cost: counted tokens from each job's manifest.json.out, priced at the batch rate."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from batch_runner.catalog.pricing import model_price
from batch_runner.jobs.run_state import ON_DEMAND
from batch_runner.local import Emulator
from tests.runner.tracking_helpers import HAIKU, submit_api


def _manifest_tokens(emulator: Emulator, job_id: str, run: str) -> tuple[int, int]:
    s3, bucket = emulator.client("s3"), emulator.stack_outputs["OutputBucketName"]
    body = s3.get_object(Bucket=bucket, Key=f"runs/{run}/output/{job_id}/manifest.json.out")["Body"].read()
    manifest = json.loads(body)
    return manifest["inputTokenCount"], manifest["outputTokenCount"]


def test_cost_from_the_job_manifests_at_the_batch_price(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_api(emulator, tmp_path, "cost-done", 250)
    emulator.run_until_idle()
    run.status()

    cost = run.cost()

    counted = [_manifest_tokens(emulator, str(shard.job_id), "cost-done") for shard in run.shards]
    assert cost.input_tokens == sum(i for i, _ in counted) > 0
    assert cost.output_tokens == sum(o for _, o in counted) > 0
    price = model_price(HAIKU)
    assert price is not None and cost.batch_usd is not None and cost.on_demand_usd is not None
    expected = (
        cost.input_tokens * price.input_per_unit + cost.output_tokens * price.output_per_unit
    ) / price.unit_tokens
    assert cost.on_demand_usd == pytest.approx(expected)
    assert cost.batch_usd == pytest.approx(expected * price.batch_discount)
    assert cost.saving_usd == pytest.approx(cost.on_demand_usd - cost.batch_usd)
    assert cost.estimate == run.manifest.plan["estimate"] and cost.indicative
    assert cost.jobs_without_manifest == 0


def test_a_failed_job_without_manifest_counts_nothing(emulator: Emulator, tmp_path: Path) -> None:
    emulator.configure(job_outcome="Failed")
    run = submit_api(emulator, tmp_path, "cost-failed", 100)
    emulator.run_until_idle()
    run.status()
    cost = run.cost()
    assert (cost.input_tokens, cost.output_tokens, cost.batch_usd) == (0, 0, 0.0)
    assert [(job.status, job.kind, job.note) for job in cost.jobs] == [
        ("Failed", "batch", "no manifest.json.out")
    ]
    assert cost.to_dict()["jobs_without_manifest"] == 1


def test_records_a_retry_sent_on_demand_cost_the_full_price(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_api(emulator, tmp_path, "cost-on-demand", 100)
    emulator.run_until_idle()
    run.status()
    batch_only = run.cost()
    # An on-demand shard whose output (and manifest.json.out) mirrors the batch job's.
    on_demand = replace(
        run.shards[0], index=1, kind=ON_DEMAND, job_arn=f"on-demand:cost-on-demand/{run.shards[0].job_id}"
    )
    run.manifest.shards.append(on_demand)

    cost = run.cost()

    assert [job.kind for job in cost.jobs] == ["batch", ON_DEMAND]
    assert cost.input_tokens == 2 * batch_only.input_tokens
    assert batch_only.batch_usd is not None and batch_only.on_demand_usd is not None
    assert cost.batch_usd == pytest.approx(batch_only.batch_usd + batch_only.on_demand_usd)
    assert cost.on_demand_usd == pytest.approx(2 * batch_only.on_demand_usd)
