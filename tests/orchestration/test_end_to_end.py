"""The deployed stack in the emulator drives a run to the end: the laptop uploads, registers and
leaves; EventBridge wakes the in-process scheduler Lambda; `status` on the laptop only reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from batch_runner.local import Emulator
from batch_runner.orchestration.registry import FINISHED, Registry
from batch_runner.orchestration.requests import choose_mode, request_cancel
from batch_runner.runs import Run
from tests.cli.test_submit import HAIKU
from tests.orchestration.helpers import submit_orchestrated


def _registry(emulator: Emulator) -> Registry:
    return Registry(emulator.client("dynamodb"), emulator.stack_outputs["RunRegistryTableName"])


def test_the_stack_drains_a_run_with_the_laptop_gone(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_orchestrated(emulator, tmp_path, "e2e-drain", 3, quota=1)
    assert run.manifest.settings["orchestrated"] and [s.state for s in run.shards] == ["queued"] * 3
    emulator.settle()
    entry = _registry(emulator).get("e2e-drain")
    assert entry is not None and (entry.state, entry.outcome) == (FINISHED, "Completed")
    assert len(emulator.jobs()) == 3 and not emulator.deliveries.failures
    # A new machine, read-only: the manifest the stack wrote.
    status = Run.load("e2e-drain", state_dir=tmp_path / "other", endpoint_url=emulator.endpoint_url).status()
    assert (status.state, status.succeeded, status.records) == ("Completed", 300, 300)


def test_a_lost_event_is_made_up_by_the_sweep(emulator: Emulator, tmp_path: Path) -> None:
    emulator.deliveries.lose_next(1)  # the "Run Submitted" event
    run = submit_orchestrated(emulator, tmp_path, "e2e-lost", 1, quota=2)
    emulator.settle()
    assert emulator.jobs() == []
    assert emulator.fire_schedules() == 1
    emulator.settle()
    assert run.status().state == "Completed"


def test_cancel_is_a_request_the_stack_carries_out(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_orchestrated(emulator, tmp_path, "e2e-cancel", 3, quota=1)
    emulator.deliveries.join()
    request_cancel(run)
    emulator.settle()
    status = run.status()
    assert status.state == "Stopped" and len(emulator.jobs()) == 1
    assert [job.state for job in status.jobs] == ["submitted", "cancelled", "cancelled"]


def test_the_default_follows_the_stack_unless_told() -> None:
    assert choose_mode(None, "registry", environ={}) is True
    assert choose_mode(None, None, environ={}) is False
    assert choose_mode(None, "registry", environ={"BATCH_RUNNER_ORCHESTRATED": "false"}) is False
    assert choose_mode(False, "registry", environ={}) is False
    with pytest.raises(Exception, match="does not orchestrate runs"):
        choose_mode(True, None, environ={})


def test_a_partially_completed_job_is_retried_and_every_row_collected(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.configure(job_outcome="PartiallyCompleted")
    run = submit_orchestrated(emulator, tmp_path, "e2e-retry", 2, quota=2)
    emulator.deliveries.join()  # the scheduler created both jobs, bound to end partially
    emulator.configure(job_outcome=None)
    emulator.settle()
    entry = _registry(emulator).get("e2e-retry")
    assert entry is not None and (entry.state, entry.retries_done) == (FINISHED, 1)
    run.status()  # read-only: the manifest the stack wrote, retry shards included
    assert {s.kind for s in run.shards} == {"batch", "retry"}
    rows = list(run.results())
    assert len(rows) == 200 and {row["status"] for row in rows} == {"succeeded"}
    # The workflow collected after the retry round: the stack's file has every row, succeeded.
    assert run.fetch_results(tmp_path / "collected.csv") is None  # Parquet was collected, not CSV
    assert run.fetch_results(tmp_path / "collected.parquet") is not None
    collected = pq.read_table(tmp_path / "collected.parquet").to_pylist()
    assert len(collected) == 200 and {row["status"] for row in collected} == {"succeeded"}


def test_the_cli_hands_the_run_over_and_asks_for_a_retry(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from batch_runner.cli import main
    from tests.cli.test_submit import write_csv

    monkeypatch.chdir(tmp_path)
    emulator.configure(min_records_per_job=1)
    dataset = write_csv(tmp_path / "rows.csv", 150)
    endpoint = ["--endpoint-url", emulator.endpoint_url, "--state-dir", str(tmp_path / "state")]
    args = [
        "submit",
        str(dataset),
        "--model",
        HAIKU,
        "--prompt-text",
        "Answer: {{ text }}",
        "--run",
        "e2e-cli",
    ]
    assert (
        main(
            [
                *args,
                "--max-records-per-job",
                "100",
                "--min-records",
                "1",
                "--orchestrated",
                "--yes",
                *endpoint,
            ]
        )
        == 0
    )
    handed_over = capsys.readouterr().out
    assert "this machine may go away" in handed_over
    assert "queued: 2; the stack's scheduler submits them" in handed_over
    assert "`status`/`wait` submit them" not in handed_over
    emulator.settle()
    assert main(["status", "e2e-cli", *endpoint]) == 0
    assert "Completed" in capsys.readouterr().out
    assert main(["retry", "e2e-cli", "--yes", *endpoint]) == 0
    assert "retry requested" in capsys.readouterr().out
    emulator.settle()
    entry = _registry(emulator).get("e2e-cli")
    assert entry is not None and (entry.retry_requested, entry.state) == (0, FINISHED)


def _machine(emulator: Emulator) -> str:
    (machine,) = [
        m["stateMachineArn"]
        for m in emulator.client("stepfunctions").list_state_machines()["stateMachines"]
        if m["name"] == f"{emulator.stack_name}-runs"
    ]
    return str(machine)


def _alert_inbox(emulator: Emulator, name: str) -> Callable[[], list[str]]:
    """A queue subscribed to the stack's alert topic: a function returning what reached it."""
    sns, sqs = emulator.client("sns"), emulator.client("sqs")
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=emulator.stack_outputs["NotificationTopicArn"],
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )

    def received() -> list[str]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [m["Body"] for m in messages]

    return received


def test_each_run_has_a_workflow_that_collects_and_notifies(emulator: Emulator, tmp_path: Path) -> None:
    inbox = _alert_inbox(emulator, "e2e-flow-inbox")
    run = submit_orchestrated(emulator, tmp_path, "e2e-flow", 3, quota=1)
    emulator.settle()
    entry = _registry(emulator).get("e2e-flow")
    assert entry is not None and entry.state == FINISHED
    sfn = emulator.client("stepfunctions")
    (execution,) = [
        e
        for e in sfn.list_executions(stateMachineArn=_machine(emulator))["executions"]
        if e["name"] == "e2e-flow-1"
    ]
    assert emulator.wait_for_execution(execution["executionArn"]) == "SUCCEEDED"
    states = [
        event["stateEnteredEventDetails"]["name"]
        for event in sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
        if "stateEnteredEventDetails" in event
    ]
    assert states == ["WaitForRun", "Collect", "Notify"]
    entry = _registry(emulator).get("e2e-flow")
    assert entry is not None and entry.results_uri.endswith("/runs/e2e-flow/results/results.parquet")
    assert (entry.task_token, entry.execution) == ("", "")  # handed back: a retry starts round 2
    notices = [n for n in map(json.loads, inbox()) if n.get("run") == "e2e-flow"]
    assert [(n["run"], n["total"], n["succeeded"]) for n in notices] == [("e2e-flow", 300, 300)]
    # A laptop fetches the collection rather than joining again.
    fetched = run.fetch_results(tmp_path / "out.parquet")
    assert fetched is not None and fetched.reconciliation["total"] == 300
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [row["id"] for row in rows] == [f"e2e-flow-{n}" for n in range(300)]


def test_results_fetches_the_collection_joins_parts_and_collects_here_on_request(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from batch_runner.cli import main
    from batch_runner.orchestration.collector import collect_run
    from batch_runner.orchestration.settings import OrchestrationSettings

    submit_orchestrated(emulator, tmp_path, "e2e-fetch", 3, quota=3)
    emulator.settle()
    endpoint = ["--endpoint-url", emulator.endpoint_url, "--state-dir", str(tmp_path / "laptop")]
    assert main(["results", "e2e-fetch", "--out", str(tmp_path / "one.parquet"), *endpoint]) == 0
    assert "from the stack's collection s3://" in capsys.readouterr().out
    # Collected again as parts of 120 rows: `results` joins them into the one file asked for.
    settings = OrchestrationSettings(
        registry_table=emulator.stack_outputs["RunRegistryTableName"],
        input_bucket=emulator.stack_outputs["InputBucketName"],
    )
    clients = {name: emulator.client(name) for name in ("s3", "dynamodb")}
    assert collect_run(clients, settings, "e2e-fetch", tmp_path / "lambda", part_rows=120).parts == 3
    assert main(["results", "e2e-fetch", "--out", str(tmp_path / "parts.parquet"), *endpoint]) == 0
    assert "/runs/e2e-fetch/results/:" in capsys.readouterr().out
    one, joined = (pq.read_table(tmp_path / name) for name in ("one.parquet", "parts.parquet"))
    assert joined.num_rows == 300 and joined.equals(one)
    # Another format, or --collect-here: joined on this machine, the same rows.
    assert main(["results", "e2e-fetch", "--out", str(tmp_path / "here.csv"), *endpoint]) == 0
    captured = capsys.readouterr()
    assert "the stack collected parquet" in captured.err and "from the stack's" not in captured.out
    assert (
        main(["results", "e2e-fetch", "--out", str(tmp_path / "here.parquet"), "--collect-here", *endpoint])
        == 0
    )
    assert "from the stack's" not in capsys.readouterr().out
    assert pq.read_table(tmp_path / "here.parquet").column("id").equals(one.column("id"))


def test_waiting_workflows_hear_the_scheduler_and_one_stopped_in_the_console_is_let_go(
    emulator: Emulator, tmp_path: Path
) -> None:
    from batch_runner.orchestration.handlers import schedule

    emulator.configure(max_active_jobs_per_model=1)
    submit_orchestrated(emulator, tmp_path, "e2e-beat", 2, quota=1)
    emulator.deliveries.join()
    emulator.quiesce()  # the workflow waits with its token stored
    registry = _registry(emulator)
    entry = registry.get("e2e-beat")
    assert entry is not None and entry.task_token and not entry.heartbeat_at
    environ = _scheduler_environment(emulator)
    aws = emulator.deliveries.aws()
    schedule({}, aws=aws, environ=environ)
    beaten = registry.get("e2e-beat")
    assert beaten is not None and beaten.heartbeat_at  # the pass sent a heartbeat
    schedule({}, aws=aws, environ=environ)
    again = registry.get("e2e-beat")
    assert again is not None and again.heartbeat_at == beaten.heartbeat_at  # at most one a minute
    # Someone stops the execution in the console: the scheduler lets its token go, the run goes on.
    # (AWS then refuses its token; moto keeps answering for it, so the test hands the registry a
    # token Step Functions does not know, which AWS refuses the same way.)
    emulator.client("stepfunctions").stop_execution(executionArn=entry.execution)
    registry.update("e2e-beat", {"heartbeat_at": "", "task_token": "AQB8-token-of-a-stopped-task"})
    report = schedule({}, aws=aws, environ=environ)
    assert any("its workflow stopped waiting" in warning for warning in report["warnings"])
    stopped = registry.get("e2e-beat")
    assert stopped is not None and stopped.task_token == "" and stopped.state == "active"
    emulator.settle()
    finished = registry.get("e2e-beat")
    assert finished is not None and finished.state == FINISHED


def _scheduler_environment(emulator: Emulator) -> dict[str, str]:
    name = emulator.stack_outputs["SchedulerFunctionName"]
    function = emulator.client("lambda").get_function_configuration(FunctionName=name)
    return dict(function["Environment"]["Variables"])
