"""The run manifest: valid run names, atomic writes, and reading back what any version wrote."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from batch_runner.exceptions import RunNotFoundError, UsageError
from batch_runner.jobs.run_state import (
    FORMAT_VERSION,
    MAX_RUN_NAME,
    RunManifest,
    ShardState,
    default_run_name,
    local_manifest_path,
    read_local,
    require_local,
    validate_run_name,
    write_local,
)
from batch_runner.jobs.submission import job_name


def _manifest(run: str = "reviews-jan") -> RunManifest:
    return RunManifest(
        run=run,
        created_at="2026-01-01T00:00:00+00:00",
        tool_version="0.1.0",
        dataset={"source": "/data/reviews.csv", "fingerprint": "abc"},
        options={"model_id": "m"},
        settings={"region": "us-east-1"},
        quotas={"max_concurrent_jobs": 20, "source": "defaults"},
        plan={"model_id": "m", "invocation_type": "InvokeModel"},
        record_index={"local_path": "x", "s3_key": "runs/reviews-jan/record-index.ndjson"},
        shards=[
            ShardState(
                index=0,
                local_path="/tmp/s0.jsonl",
                s3_key="runs/reviews-jan/input/shard-00000.jsonl",
                sha256="00",
                record_count=100,
                byte_size=1000,
                client_token="t0",
                job_name="reviews-jan-s00000",
                job_arn="arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefghijkl",
            )
        ],
    )


@pytest.mark.parametrize("name", ["a", "reviews-jan", "Run2026-01-02", "x" * MAX_RUN_NAME])
def test_valid_run_names(name: str) -> None:
    assert validate_run_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "-lead", "trail-", "has space", "under_score", "a=b", "plus+", "tilde~", "dot.ted", "x" * 41]
)
def test_invalid_run_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(UsageError, match="letters, digits and inner hyphens"):
        validate_run_name(name)


def test_default_run_name_is_valid_and_keeps_the_longest_job_name_legal() -> None:
    name = default_run_name(
        "My Survey (final) v2 + extra stuff.2026", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    )
    assert name == "My-Survey-final-v2-extra-20260304-050607"
    assert validate_run_name(name) == name
    assert len(job_name("x" * MAX_RUN_NAME, 99999)) <= 63
    assert validate_run_name(default_run_name("___")).startswith("run-")


def test_roundtrip_keeps_every_field(tmp_path: Path) -> None:
    manifest = _manifest()
    write_local(manifest, tmp_path)
    loaded = require_local(tmp_path, "reviews-jan")
    assert loaded == manifest
    assert loaded.shards[0].job_id == "abcdefghijkl"
    assert loaded.fingerprint == "abc"


def test_a_failed_write_leaves_the_previous_manifest_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _manifest()
    write_local(manifest, tmp_path)
    before = local_manifest_path(tmp_path, "reviews-jan").read_bytes()

    def fail(*args: object) -> None:
        raise OSError("disk full")

    manifest.shards[0].state = "submitted"
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_local(manifest, tmp_path)
    assert local_manifest_path(tmp_path, "reviews-jan").read_bytes() == before
    assert [p.name for p in local_manifest_path(tmp_path, "reviews-jan").parent.iterdir()] == [
        "manifest.json"
    ]


def test_fields_from_a_newer_minor_version_are_ignored(tmp_path: Path) -> None:
    data = json.loads(_manifest().to_json())
    data["future_field"] = 1
    data["shards"][0]["future_shard_field"] = 2
    path = local_manifest_path(tmp_path, "reviews-jan")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    assert read_local(tmp_path, "reviews-jan") == _manifest()


def test_a_newer_format_or_a_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    path = local_manifest_path(tmp_path, "reviews-jan")
    path.parent.mkdir(parents=True)
    data = json.loads(_manifest().to_json())
    data["format_version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(data))
    with pytest.raises(UsageError, match="newer batch_runner"):
        read_local(tmp_path, "reviews-jan")
    path.write_text('{"run": "reviews-jan", "shards": [')
    with pytest.raises(UsageError, match="is damaged"):
        read_local(tmp_path, "reviews-jan")


def test_a_missing_run_names_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(RunNotFoundError, match="no run 'nope' under"):
        require_local(tmp_path, "nope")


def test_the_manifest_is_the_same_indented_json_as_earlier_versions_wrote() -> None:
    """orjson writes it now (20 times faster at 5,000 shards); readers and diffs see no change."""
    manifest = _manifest()
    manifest.shards[0].final_counts = {"processedRecordCount": 1, "successRecordCount": 1}
    assert manifest.to_json() == json.dumps(asdict(manifest), indent=2) + "\n"
