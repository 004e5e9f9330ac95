"""Listing runs: every manifest in the input bucket and on this machine, nothing else."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from batch_runner.jobs.run_catalog import list_runs
from batch_runner.jobs.run_state import write_local
from batch_runner.local import Emulator
from tests.runner.tracking_helpers import submit_api


def test_runs_in_the_bucket_and_on_this_machine(emulator: Emulator, tmp_path: Path) -> None:
    s3, bucket = emulator.client("s3"), emulator.stack_outputs["InputBucketName"]
    done = submit_api(emulator, tmp_path / "here", "catalog-done", 150)
    emulator.run_until_idle()
    done.status()
    elsewhere = submit_api(emulator, tmp_path / "elsewhere", "catalog-elsewhere", 100)
    shutil.rmtree(tmp_path / "elsewhere")  # started on another machine
    write_local(replace(done.manifest, run="catalog-local-only"), tmp_path / "here")
    s3.put_object(Bucket=bucket, Key="runs/catalog-damaged/manifest.json", Body=b"{not json")
    s3.put_object(Bucket=bucket, Key="runs/catalog-no-manifest/input/shard-00000.jsonl", Body=b"{}\n")

    listed = {item.run: item for item in list_runs(s3, bucket, tmp_path / "here") if "catalog" in item.run}

    assert sorted(listed) == ["catalog-damaged", "catalog-done", "catalog-elsewhere", "catalog-local-only"]
    assert (listed["catalog-done"].state, listed["catalog-done"].location) == ("Completed", "s3+local")
    assert listed["catalog-done"].counts == {"Completed": 2}
    assert (listed["catalog-done"].records, listed["catalog-done"].shards) == (150, 2)
    assert listed["catalog-done"].estimated_batch_usd == done.manifest.plan["estimate"]["batch_usd"] > 0
    assert (listed["catalog-elsewhere"].location, listed["catalog-elsewhere"].state) == ("s3", "InProgress")
    assert listed["catalog-elsewhere"].model_id == elsewhere.model_id
    assert listed["catalog-local-only"].location == "local"
    assert listed["catalog-damaged"].state == "unreadable"
    assert "damaged" in str(listed["catalog-damaged"].problem)
