"""`submit --on-demand-below-minimum`: a dataset below the per-job minimum goes through on-demand
InvokeModel with the same request bodies and comes back like a job's output: status, wait,
results, cost and the reconciliation all count it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from batch_runner.local import Emulator
from tests.cli.test_submit import HAIKU, input_keys, write_csv


def test_without_the_flag_the_refusal_names_it_and_nothing_is_uploaded(
    emulator: Emulator,
    cli: Any,
    tmp_path: Path,
) -> None:
    before = input_keys(emulator)
    dataset = str(write_csv(tmp_path / "small.csv", 30))
    code, _, err = cli(
        "submit", dataset, "--model", HAIKU, "--prompt-text", "{{ text }}", "--run", "small-no", "--yes"
    )
    assert code == 2
    assert err == (
        f"error: {tmp_path / 'small.csv'} has 30 records, below the minimum of 100 per batch job for "
        f"{HAIKU}; "
        "add --on-demand-below-minimum to send them through the runtime API at full price "
        "(batch jobs are never padded)\n"
    )
    assert input_keys(emulator) == before and emulator.jobs() == []


def test_a_small_dataset_runs_on_demand_and_is_counted_like_a_job(
    emulator: Emulator,
    cli: Any,
    tmp_path: Path,
) -> None:
    dataset = str(write_csv(tmp_path / "small.csv", 30))
    argv = ["submit", dataset, "--model", HAIKU, "--prompt-text", "Answer: {{ text }}", "--run", "small-od"]
    code, plan, _ = cli(*argv, "--on-demand-below-minimum", "--dry-run")
    assert code == 0
    assert "shard-00000.jsonl: 30 records" in plan and "(on demand, below the per-job minimum)" in plan
    assert "on demand: 30 record(s) below the per-job minimum go through the runtime API" in plan

    code, summary, err = cli(*argv, "--on-demand-below-minimum", "--yes", "--json")
    assert code == 0, err
    assert summary["jobs"] == {"Completed": 1} and emulator.jobs() == []  # no batch job at all

    code, status, _ = cli("status", "small-od", "--json")
    assert (status["state"], status["records"], status["succeeded"], status["failed"]) == (
        "Completed",
        30,
        30,
        0,
    )
    assert status["jobs"][0]["kind"] == "on-demand"
    code, waited, _ = cli("wait", "small-od", "--json")
    assert code == 0 and waited["finished"]

    code, report, _ = cli("results", "small-od", "--out", str(tmp_path / "out.csv"), "--json")
    assert code == 0 and (report["total"], report["succeeded"]) == (30, 30)
    code, cost, _ = cli("cost", "small-od", "--json")
    assert cost["jobs"][0]["kind"] == "on-demand" and cost["input_tokens"] > 0
    assert cost["batch_usd"] == cost["on_demand_usd"]  # full price: no batch discount
    assert cost["estimate"]["on_demand_records"] == 30


def test_an_interrupted_on_demand_shard_is_finished_by_resume(
    emulator: Emulator,
    cli: Any,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    import batch_runner.jobs.on_demand_shards

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_runner.jobs.on_demand_shards, "process", crash)
    dataset = str(write_csv(tmp_path / "small.csv", 20))
    argv = ["submit", dataset, "--model", HAIKU, "--prompt-text", "{{ text }}", "--run", "small-resume"]
    code, _, err = cli(*argv, "--on-demand-below-minimum", "--yes")
    assert code == 130
    monkeypatch.undo()

    code, _, err = cli("wait", "small-resume")
    assert code == 2 and "finish them with `resume small-resume`" in err
    assert cli("resume", "small-resume")[0] == 0
    code, status, _ = cli("status", "small-resume", "--json")
    assert (status["state"], status["succeeded"]) == ("Completed", 20)
