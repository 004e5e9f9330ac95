"""`retry` from the command line against the emulator: submit -> results -> retry -> results,
every record accounted for; the minimum-records rule and --on-demand; exit codes and --json."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from batch_runner.local import Emulator
from tests.cli.test_submit import HAIKU, write_csv


def submitted(emulator: Emulator, cli: Any, tmp_path: Path, rows: int, minimum: int) -> str:
    emulator.configure(min_records_per_job=minimum)
    name = f"cli-retry-{uuid.uuid4().hex[:8]}"
    dataset = str(write_csv(tmp_path / f"{name}.csv", rows))
    code, _, err = cli(
        "submit", dataset, "--model", HAIKU, "--prompt-text", "{{ text }}", "--run", name,
        "--min-records", str(minimum), "--yes", "--json",
    )  # fmt: skip
    assert code == 0, err
    return name


def reconciled(cli: Any, tmp_path: Path, name: str, out: str) -> dict[str, Any]:
    code, report, err = cli("results", name, "--out", str(tmp_path / out), "--json")
    assert code == 0, err
    assert report["total"] == report["succeeded"] + report["failed"] + report["missing"]
    return dict(report)


def test_journey_submit_results_retry_results(emulator: Emulator, cli: Any, tmp_path: Path) -> None:
    emulator.configure(record_error_rate=0.2)
    name = submitted(emulator, cli, tmp_path, 60, minimum=5)
    emulator.run_until_idle()
    first = reconciled(cli, tmp_path, name, "first.csv")
    assert first["total"] == 60 and first["failed"] >= 5
    code, _, err = cli("wait", name)
    assert code == 3 and f"{first['failed']} record(s) failed and 0 are missing" in err

    emulator.configure(record_error_rate=0.0)
    code, report, err = cli("retry", name, "--json")
    assert code == 0, err
    assert report["mode"] == "batch" and report["records"] == first["failed"]
    (job,) = report["jobs"]
    assert job["job_name"] == f"dev.{name}-s00001" and job["status"] == "Submitted"
    assert report["queued"] == [] and report["on_demand"] is None

    code, out, _ = cli("retry", name)
    assert code == 2  # the child job has not finished
    emulator.run_until_idle()
    second = reconciled(cli, tmp_path, name, "second.csv")
    assert (second["total"], second["succeeded"], second["superseded"]) == (60, 60, first["failed"])
    assert cli("wait", name)[0] == 0  # every record succeeded, the first job's failures retried

    code, out, _ = cli("retry", name)
    assert code == 0 and "nothing to retry" in out


def test_below_minimum_exit_2_then_on_demand(emulator: Emulator, cli: Any, tmp_path: Path) -> None:
    emulator.configure(record_error_rate=0.15)
    name = submitted(emulator, cli, tmp_path, 40, minimum=30)
    emulator.run_until_idle()
    failed = reconciled(cli, tmp_path, name, "first.jsonl")["failed"]
    assert 0 < failed < 30
    emulator.configure(record_error_rate=0.0)

    code, _, err = cli("retry", name)
    assert code == 2
    assert err.startswith("error: ") and f"{failed} record(s) to retry, fewer than the 30" in err
    assert "--on-demand" in err

    code, report, err = cli("retry", name, "--on-demand", "--yes", "--json")
    assert code == 0, err
    assert report["mode"] == "on-demand" and report["records"] == failed
    assert report["on_demand"]["succeeded"] == failed and report["on_demand"]["on_demand_usd"] > 0
    assert report["jobs"][0]["status"] == "Completed"
    final = reconciled(cli, tmp_path, name, "final.parquet")
    assert (final["succeeded"], final["missing"], final["failed"]) == (40, 0, 0)
    assert [job.name for job in emulator.jobs()] == [f"dev.{name}-s00000"]  # no batch job for the rest


def test_retry_failed_schema_from_the_command_line(emulator: Emulator, cli: Any, tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"label": {"enum": ["a", "b"]}}}))
    emulator.configure(min_records_per_job=5, schema_invalid_rate=0.3, record_error_rate=0.1)
    name = f"cli-retry-schema-{uuid.uuid4().hex[:8]}"
    code, _, err = cli(
        "submit", str(write_csv(tmp_path / "rows.csv", 50)), "--model", HAIKU, "--prompt-text", "{{ text }}",
        "--output-schema", str(schema), "--run", name, "--min-records", "5", "--yes", "--json",
    )  # fmt: skip
    assert code == 0, err
    emulator.run_until_idle()
    first = reconciled(cli, tmp_path, name, "first.csv")
    assert first["schema_failed"] >= 5 and first["failed"] > first["schema_failed"]
    emulator.configure(schema_invalid_rate=0.0, record_error_rate=0.0)

    code, out, err = cli("retry", name, "--failed-schema")
    assert code == 0, err
    assert f"retrying {first['schema_failed']} record(s) whose answer failed the output schema (batch)" in out
    emulator.run_until_idle()
    second = reconciled(cli, tmp_path, name, "second.csv")
    assert second["schema_failed"] == 0 and second["failed"] == first["failed"] - first["schema_failed"]

    code, out, _ = cli("retry", name, "--failed-schema")
    assert code == 0 and "nothing to retry, no answer failed the output schema" in out


def test_retry_failed_schema_of_a_run_without_schema_is_a_usage_error(
    emulator: Emulator, cli: Any, tmp_path: Path
) -> None:
    name = submitted(emulator, cli, tmp_path, 10, minimum=5)
    emulator.run_until_idle()
    code, _, err = cli("retry", name, "--failed-schema")
    assert code == 2
    assert err.startswith(f"error: run {name} has no output schema") and len(err.splitlines()) == 1


def test_after_an_on_demand_retry_status_wait_and_runs_count_as_results_does(
    emulator: Emulator, cli: Any, tmp_path: Path
) -> None:
    emulator.configure(record_error_rate=0.15)
    name = submitted(emulator, cli, tmp_path, 40, minimum=30)
    emulator.run_until_idle()
    failed = reconciled(cli, tmp_path, name, "first.csv")["failed"]
    code, before, _ = cli("status", name, "--json")
    assert (before["records"], before["succeeded"], before["failed"]) == (40, 40 - failed, failed)
    emulator.configure(record_error_rate=0.0)
    assert cli("retry", name, "--on-demand", "--yes", "--json")[0] == 0

    code, status, _ = cli("status", name, "--json")
    assert code == 0
    assert (status["records"], status["succeeded"], status["failed"], status["state"]) == (
        40,
        40,
        0,
        "Completed",
    )
    assert [job["kind"] for job in status["jobs"]] == ["batch", "on-demand"]
    code, waited, _ = cli("wait", name, "--json")
    assert code == 0 and waited["succeeded"] == 40
    code, runs, _ = cli("runs", "--json")
    (listed,) = [run for run in runs if run["run"] == name]
    assert (listed["records"], listed["succeeded"], listed["failed"]) == (40, 40, 0)
    assert reconciled(cli, tmp_path, name, "final.csv")["succeeded"] == 40
