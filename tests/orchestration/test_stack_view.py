"""`status`, `wait` and `runs` of an orchestrated run show what the stack recorded in the run
registry (state, why shards wait, the last pass, where the results are), read-only."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from batch_runner.cli import main
from batch_runner.local import Emulator
from batch_runner.orchestration.registry import Registry
from tests.cli.run_schemas import RUNS, STATUS
from tests.orchestration.helpers import submit_orchestrated

SLOTS = "1 of 1 job slots for anthropic.claude-3-haiku-20240307-v1:0 in use account-wide"


def _registry(emulator: Emulator) -> Registry:
    return Registry(emulator.client("dynamodb"), emulator.stack_outputs["RunRegistryTableName"])


def _cli(emulator: Emulator, tmp_path: Path) -> list[str]:
    return ["--endpoint-url", emulator.endpoint_url, "--state-dir", str(tmp_path)]


def test_status_shows_why_shards_wait_and_the_last_pass(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = submit_orchestrated(emulator, tmp_path, "view-wait", 3, quota=1)
    emulator.deliveries.join()  # one pass: one job live, two shards queued behind the quota

    status = run.status()
    view = status.orchestration
    assert view is not None and (view["registered"], view["state"]) == (True, "active")
    assert view["waiting_reason"] == status.waiting_reason == SLOTS
    assert view["last_pass_at"] and not status.finished

    capsys.readouterr()
    assert main(["status", run.name, *_cli(emulator, tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "  stack: active, last pass " in out and "team default, priority 0" in out
    assert f"  queued shards wait: {SLOTS}" in out
    assert "  owner: arn:aws:iam::123456789012:user/batch-runner-local" in out
    assert main(["status", run.name, "--json", *_cli(emulator, tmp_path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    jsonschema.validate(shown, STATUS)
    assert shown["orchestration"]["waiting_reason"] == SLOTS

    # `wait` polls the same view: its progress line names the stack's reason.
    assert main(["wait", run.name, "--timeout", "0", *_cli(emulator, tmp_path)]) == 124
    assert f"stack: {SLOTS}, last pass " in capsys.readouterr().err
    emulator.settle()  # the session's registry keeps no active run for later tests


def test_a_run_is_finished_when_the_stack_says_so(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_orchestrated(emulator, tmp_path, "view-retry", 1, quota=1)
    emulator.settle()
    assert run.status().finished
    run.retry()  # every job ended, but the stack has a retry to do: not finished yet
    status = run.status()
    assert all(job.finished for job in status.jobs) and not status.finished
    emulator.settle()
    status = run.status()
    assert status.finished and status.orchestration is not None
    assert (status.orchestration["state"], status.orchestration["outcome"]) == ("finished", "Completed")


def test_results_location_and_registry_state_in_status_and_runs(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = submit_orchestrated(emulator, tmp_path, "view-results", 1, quota=1)
    emulator.settle()
    uri = f"s3://{emulator.stack_outputs['InputBucketName']}/runs/view-results/results/results.parquet"
    _registry(emulator).update(run.name, {"results_uri": uri})  # what the collector records

    capsys.readouterr()
    assert main(["status", run.name, *_cli(emulator, tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "  stack: finished (Completed), last pass " in out and f"  results: {uri}" in out

    assert main(["runs", "--json", *_cli(emulator, tmp_path)]) == 0
    listed = json.loads(capsys.readouterr().out)
    jsonschema.validate(listed, RUNS)
    (mine,) = [item for item in listed if item["run"] == run.name]
    assert mine["orchestrated"] and mine["orchestration"]["results_uri"] == uri
    assert main(["runs", *_cli(emulator, tmp_path)]) == 0
    table = capsys.readouterr().out.splitlines()
    row = next(n for n, line in enumerate(table) if line.startswith(f"{run.name} "))
    assert table[row].split()[2:4] == ["Completed", "finished"] and table[row + 1] == f"  results: {uri}"


def test_runs_reads_an_orchestrated_manifest_from_the_bucket_not_the_local_copy(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    submit_orchestrated(emulator, tmp_path, "view-stale", 2, quota=2)
    emulator.settle()  # the stack ran every job; the local copy still says queued
    capsys.readouterr()
    assert main(["runs", "--json", *_cli(emulator, tmp_path)]) == 0
    (mine,) = [item for item in json.loads(capsys.readouterr().out) if item["run"] == "view-stale"]
    assert (mine["state"], mine["location"], mine["orchestration"]["state"]) == (
        "Completed",
        "s3+local",
        "finished",
    )
