"""The per-run workflow of an orchestrated environment: its state machine, functions and grants."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

from batch_runner.orchestration.settings import STATE_MACHINE_VARIABLE
from stacks.orchestration_workflow import ATTACH_HANDLER, COLLECT_HANDLER
from tests.infra.conftest import Synthesized
from tests.infra.iam_simulation import Principal, is_allowed
from tests.infra.template_values import Deployment

MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:BedrockBatch-dev-runs"
# ASL that moto's interpreter (the emulator) cannot run, so the offline tests would prove nothing.
NOT_EMULATED = ('"JSONata"', '"Assign"', '"ItemBatcher"', '"JSONL"', '"Type":"Wait"', '"Type":"Map"')


def _definition(deployed: Deployment) -> dict[str, Any]:
    machine = deployed.only("AWS::StepFunctions::StateMachine", "Workflow")
    text = deployed.properties(machine)["DefinitionString"]
    assert not [construct for construct in NOT_EMULATED if construct in text.replace(" ", "")]
    definition: dict[str, Any] = json.loads(text)
    return definition


def test_wait_then_collect_then_notify_and_every_failure_is_announced(synthesized: Synthesized) -> None:
    states = _definition(synthesized.deployed("dev"))["States"]
    wait = states["WaitForRun"]
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert wait["Parameters"]["Payload"] == {"run.$": "$.run", "token.$": "$$.Task.Token"}
    assert wait["HeartbeatSeconds"] == 3 * 5 * 60 + 120  # three sweeps of 5 minutes and a margin
    assert wait["TimeoutSeconds"] == 90 * 86400
    path = (wait["Next"], states["Collect"]["Next"], states["Notify"].get("End"))
    assert path == ("Collect", "Notify", True)
    for state, announces in (("WaitForRun", "NotifyStalled"), ("Collect", "NotifyCollectFailed")):
        (catch,) = states[state]["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == announces
        assert states[announces]["Resource"] == "arn:aws:states:::sns:publish"
        assert states[states[announces]["Next"]]["Type"] == "Fail"
        retried = [error for rule in states[state]["Retry"] for error in rule["ErrorEquals"]]
        assert "Lambda.TooManyRequestsException" in retried
    assert states["Notify"]["Parameters"]["Message.$"] == "States.JsonToString($.collected)"
    # The round tells the collector whether a newer round started since (then it leaves the registry).
    assert states["Collect"]["Parameters"] == {"run.$": "$.run", "round.$": "$.round"}


def test_the_machine_is_logged_and_traced(synthesized: Synthesized) -> None:
    deployed = synthesized.deployed("dev")
    machine = deployed.properties(deployed.only("AWS::StepFunctions::StateMachine", "Workflow"))
    assert machine["StateMachineName"] == "BedrockBatch-dev-runs"
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["TracingConfiguration"] == {"Enabled": True}


@pytest.mark.parametrize("handler", [ATTACH_HANDLER, COLLECT_HANDLER])
def test_each_task_is_a_function_of_the_package_that_knows_the_machine(
    synthesized: Synthesized, handler: str
) -> None:
    deployed = synthesized.deployed("dev")
    (function,) = [
        deployed.properties(f)
        for f in deployed.logical_ids("AWS::Lambda::Function")
        if deployed.properties(f)["Handler"] == handler
    ]
    module, _, name = handler.rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))
    assert function["Environment"]["Variables"][STATE_MACHINE_VARIABLE] == MACHINE_ARN
    if handler == COLLECT_HANDLER:
        assert (function["MemorySize"], function["Timeout"]) == (2048, 900)
        assert function["EphemeralStorage"] == {"Size": 10240}


def _role(deployed: Deployment, name: str) -> Principal:
    return Principal.of_role(deployed, deployed.only("AWS::IAM::Role", name))


@pytest.mark.parametrize(
    ("action", "key", "allowed"),
    [
        ("s3:PutObject", "runs/r1/results/results.parquet", True),
        ("s3:DeleteObject", "runs/r1/results/part-00003.parquet", True),
        ("s3:GetObject", "runs/r1/record-index.jsonl", True),
        ("s3:PutObject", "runs/r1/manifest.json", False),  # the scheduler is the manifest's one writer
        ("s3:DeleteObject", "runs/r1/results/reconciliation.json", False),
        ("s3:DeleteObject", "runs/r1/input/shard-00000.jsonl", False),
    ],
)
def test_the_collector_writes_only_results(
    synthesized: Synthesized, action: str, key: str, allowed: bool
) -> None:
    deployed = synthesized.deployed("dev")
    bucket = deployed.ref(deployed.only("AWS::S3::Bucket", "Input"))
    resource = f"arn:aws:s3:::{bucket}/{key}"
    assert is_allowed(_role(deployed, "Collector"), action, resource, {}) is allowed


def test_the_attach_function_may_only_hand_back_a_token(synthesized: Synthesized) -> None:
    deployed = synthesized.deployed("dev")
    attach = _role(deployed, "WorkflowAttach")
    assert is_allowed(attach, "states:SendTaskSuccess", MACHINE_ARN, {})
    assert not is_allowed(attach, "states:StartExecution", MACHINE_ARN, {})
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/x"
    assert not is_allowed(attach, "dynamodb:DeleteItem", table, {})
    scheduler = _role(deployed, "SchedulerRole")
    for action in ("states:StartExecution", "states:SendTaskSuccess", "states:SendTaskHeartbeat"):
        assert is_allowed(scheduler, action, MACHINE_ARN, {})
    other = MACHINE_ARN.replace("BedrockBatch-dev-runs", "someone-else")
    assert not is_allowed(scheduler, "states:StartExecution", other, {})
