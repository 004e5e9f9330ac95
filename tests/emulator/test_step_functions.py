"""Step Functions state machines execute in the emulator, their Lambda tasks running real handlers
in-process, their aws-sdk tasks reaching the emulated Bedrock (batch_runner.local.step_functions)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.awslambda_simple.models import LambdaSimpleBackend

from batch_runner.local import Emulator
from batch_runner.local.step_functions import check_moto
from tests.emulator.helpers import CLAUDE, claude_records, create_job, job_request, jsonl, unique, upload
from tests.emulator.test_serve import start_serve

HANDLERS = "tests.emulator.lambda_handlers"


@dataclass(frozen=True)
class Setup:
    role: str
    tokens: str  # a DynamoDB table the parking handler writes task tokens to


@pytest.fixture(scope="module")
def setup(emulator_session: Emulator) -> Setup:
    role = emulator_session.client("iam").create_role(
        RoleName=unique("sfn"),
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    table = unique("tokens")
    emulator_session.client("dynamodb").create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
    )
    return Setup(role=role, tokens=table)


def function(client: Any, setup: Setup, handler: str, **environ: str) -> str:
    """A Lambda function whose handler is one in ``tests.emulator.lambda_handlers``; returns its ARN."""
    arn: str = client.create_function(
        FunctionName=unique(handler.replace("_", "-")),
        Runtime="python3.12",
        Role=setup.role,
        Handler=f"{HANDLERS}.{handler}",
        Code={"ZipFile": b"# runs in-process in the emulator"},
        Environment={"Variables": environ},
    )["FunctionArn"]
    return arn


def machine(client: Any, setup: Setup, states: dict[str, Any], start_at: str) -> str:
    arn: str = client.create_state_machine(
        name=unique("machine"),
        definition=json.dumps({"StartAt": start_at, "States": states}),
        roleArn=setup.role,
    )["stateMachineArn"]
    return arn


def start(client: Any, state_machine: str, data: dict[str, Any]) -> str:
    arn: str = client.start_execution(
        stateMachineArn=state_machine, name=unique("run"), input=json.dumps(data)
    )["executionArn"]
    return arn


def entered(client: Any, execution: str) -> list[str]:
    events = client.get_execution_history(executionArn=execution)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]


def parked_token(emulator: Emulator, setup: Setup, key: str) -> str:
    item = emulator.client("dynamodb").get_item(TableName=setup.tokens, Key={"key": {"S": key}})["Item"]
    token: str = item["token"]["S"]
    return token


def token_task(park: str, key: str, **timing: int) -> dict[str, Any]:
    """A task that hands its token to the parking handler and waits for someone to send it back."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": park, "Payload": {"key": key, "token.$": "$$.Task.Token"}},
        **timing,
    }


@pytest.fixture
def topic_messages(emulator: Emulator) -> Iterator[tuple[str, Any]]:
    """An SNS topic with a queue subscribed: (topic ARN, a function returning what reached the queue)."""
    sns, sqs = emulator.client("sns"), emulator.client("sqs")
    topic = sns.create_topic(Name=unique("notify"))["TopicArn"]
    queue = sqs.create_queue(QueueName=unique("inbox"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )

    def received() -> list[str]:
        return [
            m["Body"] for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        ]

    yield topic, received


def test_a_run_shaped_machine_waits_for_its_token_and_notifies(
    emulator: Emulator, setup: Setup, topic_messages: tuple[str, Any]
) -> None:
    topic, received = topic_messages
    lam, sfn = emulator.client("lambda"), emulator.client("stepfunctions")
    count = function(lam, setup, "count", LABEL="shards")
    park = function(lam, setup, "park_token", TABLE=setup.tokens)
    key = unique("run")
    states = {
        "Register": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": count, "Payload.$": "$"},
            "ResultSelector": {"count.$": "$.Payload.count", "label.$": "$.Payload.label"},
            "ResultPath": "$.registered",
            "Next": "Wait for the run",
        },
        "Wait for the run": {**token_task(park, key), "ResultPath": "$.run", "Next": "Notify"},
        "Notify": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": topic, "Message.$": "States.Format('results at {}', $.run.results)"},
            "ResultPath": None,
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    }
    execution = start(sfn, machine(sfn, setup, states, "Register"), {"items": ["a", "b", "c"]})

    emulator.quiesce()
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert entered(sfn, execution) == ["Register", "Wait for the run"]
    assert received() == []

    sfn.send_task_success(
        taskToken=parked_token(emulator, setup, key), output=json.dumps({"results": "s3://b/r"})
    )
    emulator.quiesce()
    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {
        "items": ["a", "b", "c"],
        "registered": {"count": 3, "label": "shards"},
        "run": {"results": "s3://b/r"},
    }
    assert entered(sfn, execution) == ["Register", "Wait for the run", "Notify", "Done"]
    assert received() == ["results at s3://b/r"]


def test_a_handler_error_is_a_function_error_that_catch_and_retry_see(
    emulator: Emulator, setup: Setup
) -> None:
    lam, sfn = emulator.client("lambda"), emulator.client("stepfunctions")
    fail = function(lam, setup, "fail")
    answer = lam.invoke(FunctionName=fail, Payload=json.dumps({"what": "the shard"}))
    assert answer["FunctionError"] == "Unhandled"
    payload = json.loads(answer["Payload"].read())
    assert (payload["errorType"], payload["errorMessage"]) == ("ValueError", "cannot handle the shard")
    assert "lambda_handlers.py" in payload["stackTrace"][0]

    states = {
        "Collect": {
            "Type": "Task",
            "Resource": fail,  # a bare function ARN
            "Retry": [
                {"ErrorEquals": ["KeyError"], "MaxAttempts": 3},
                {"ErrorEquals": ["ValueError"], "MaxAttempts": 1, "IntervalSeconds": 1},  # real time
            ],
            "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.error", "Next": "Report"}],
            "End": True,
        },
        "Report": {"Type": "Pass", "End": True},
    }
    execution = start(sfn, machine(sfn, setup, states, "Collect"), {"what": "run 7"})
    emulator.quiesce()
    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "SUCCEEDED"
    error = json.loads(described["output"])["error"]
    assert error["Error"] == "ValueError"
    assert json.loads(error["Cause"])["errorMessage"] == "cannot handle run 7"
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert [e["type"] for e in history].count("LambdaFunctionFailed") == 2  # the first try and one retry


def test_a_plain_invoke_runs_the_handler_with_the_function_environment(
    emulator: Emulator, setup: Setup
) -> None:
    lam = emulator.client("lambda")
    count = function(lam, setup, "count", LABEL="plain")
    answer = lam.invoke(FunctionName=count, Payload=json.dumps({"items": [1, 2]}))
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"count": 2, "label": "plain"}


def test_an_event_invoke_runs_later_on_the_delivery_queue(emulator: Emulator, setup: Setup) -> None:
    lam = emulator.client("lambda")
    park = function(lam, setup, "park_token", TABLE=setup.tokens)
    key = unique("event")
    answer = lam.invoke(
        FunctionName=park, InvocationType="Event", Payload=json.dumps({"key": key, "token": "t-1"})
    )
    assert answer["StatusCode"] == 202
    emulator.quiesce()
    assert parked_token(emulator, setup, key) == "t-1"
    assert [invocation.function_arn for invocation in emulator.deliveries.delivered] == [park]


def test_aws_sdk_bedrock_tasks_see_the_emulators_jobs_and_its_quota(emulator: Emulator, setup: Setup) -> None:
    emulator.configure(max_active_jobs_per_model=1, min_records_per_job=1)
    sfn = emulator.client("stepfunctions")
    request = job_request(emulator, upload(emulator, jsonl(claude_records(5))))
    prefix = request["jobName"]
    states = {
        "Create": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:bedrock:createModelInvocationJob",
            "Parameters": {
                "JobName.$": "$.name",
                "RoleArn": request["roleArn"],
                "ModelId": CLAUDE,
                "InputDataConfig": {
                    "S3InputDataConfig": {"S3Uri": request["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]}
                },
                "OutputDataConfig": {
                    "S3OutputDataConfig": {
                        "S3Uri": request["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"]
                    }
                },
            },
            "ResultSelector": {"arn.$": "$.JobArn"},
            "ResultPath": "$.created",
            "Catch": [
                {
                    "ErrorEquals": ["Bedrock.ServiceQuotaExceededException"],
                    "ResultPath": "$.refused",
                    "Next": "List",
                }
            ],
            "Next": "List",
        },
        "List": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:bedrock:listModelInvocationJobs",
            "Parameters": {"NameContains": prefix},
            "ResultSelector": {
                "names.$": "$.InvocationJobSummaries[*].JobName",
                "statuses.$": "$.InvocationJobSummaries[*].Status",
            },
            "ResultPath": "$.listed",
            "End": True,
        },
    }
    state_machine = machine(sfn, setup, states, "Create")
    first = start(sfn, state_machine, {"name": f"{prefix}-1"})
    emulator.quiesce()
    second = start(sfn, state_machine, {"name": f"{prefix}-2"})  # the model's one slot is taken
    emulator.quiesce()

    created = json.loads(sfn.describe_execution(executionArn=first)["output"])
    assert [job.arn for job in emulator.jobs()] == [created["created"]["arn"]]
    assert created["listed"] == {"names": [f"{prefix}-1"], "statuses": ["Submitted"]}
    refused = json.loads(sfn.describe_execution(executionArn=second)["output"])
    assert refused["refused"]["Error"] == "Bedrock.ServiceQuotaExceededException"
    assert "maximum number of batch inference jobs (1)" in refused["refused"]["Cause"]
    assert refused["listed"]["names"] == [f"{prefix}-1"]


def test_aws_sdk_tasks_for_pascal_case_apis_still_work(emulator: Emulator, setup: Setup) -> None:
    """S3 and DynamoDB name their members in PascalCase already; the casing patch leaves them be."""
    sfn = emulator.client("stepfunctions")
    bucket = emulator.stack_outputs["InputBucketName"]
    key = f"{unique('sdk')}/marker.json"
    put_marker = {"TableName": setup.tokens, "Item": {"key": {"S": key}, "token": {"S": "-"}}}
    states = {
        "Put": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
            "Parameters": {"Bucket": bucket, "Key": key, "Body": {"run": 7}},
            "ResultPath": None,
            "Next": "Once",
        },
        "Once": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem",
            "Parameters": {
                **put_marker,
                "ConditionExpression": "attribute_not_exists(#k)",
                "ExpressionAttributeNames": {"#k": "key"},
            },
            "ResultPath": None,
            "Next": "Twice",
        },
        "Twice": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem",
            "Parameters": {
                **put_marker,
                "ConditionExpression": "attribute_not_exists(#k)",
                "ExpressionAttributeNames": {"#k": "key"},
            },
            "ResultPath": None,
            "Catch": [
                {
                    "ErrorEquals": ["DynamoDb.ConditionalCheckFailedException"],
                    "ResultPath": "$.again",
                    "Next": "Done",
                }
            ],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    }
    execution = start(sfn, machine(sfn, setup, states, "Put"), {})
    emulator.quiesce()
    output = json.loads(sfn.describe_execution(executionArn=execution)["output"])
    assert output["again"]["Error"] == "DynamoDb.ConditionalCheckFailedException"
    assert json.loads(emulator.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()) == {"run": 7}


def test_a_state_machine_created_by_cloudformation_executes(emulator: Emulator, setup: Setup) -> None:
    lam, sfn = emulator.client("lambda"), emulator.client("stepfunctions")
    count = function(lam, setup, "count", LABEL="from the stack")
    definition = {"StartAt": "Count", "States": {"Count": {"Type": "Task", "Resource": count, "End": True}}}
    template = {
        "Resources": {
            "Lifecycle": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"DefinitionString": json.dumps(definition), "RoleArn": setup.role},
            }
        },
        "Outputs": {"Machine": {"Value": {"Ref": "Lifecycle"}}},
    }
    cloudformation = emulator.client("cloudformation")
    stack = unique("machines")
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    state_machine = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "Machine")
    execution = start(sfn, state_machine, {"items": [1]})
    emulator.quiesce()
    described = sfn.describe_execution(executionArn=execution)
    assert (described["status"], json.loads(described["output"])) == (
        "SUCCEEDED",
        {"count": 1, "label": "from the stack"},
    )


def test_a_token_task_without_an_answer_or_heartbeats_ends_in_states_timeout(
    emulator: Emulator, setup: Setup
) -> None:
    lam, sfn = emulator.client("lambda"), emulator.client("stepfunctions")
    park = function(lam, setup, "park_token", TABLE=setup.tokens)
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Gave up"}]
    silent, beating = unique("silent"), unique("beating")
    timeout_machine = machine(
        sfn,
        setup,
        {
            "Wait": {**token_task(park, silent, TimeoutSeconds=1), "Catch": catch, "End": True},
            "Gave up": {"Type": "Pass", "End": True},
        },
        "Wait",
    )
    heartbeat_machine = machine(
        sfn,
        setup,
        {
            "Wait": {
                **token_task(park, beating, TimeoutSeconds=60, HeartbeatSeconds=1),
                "Catch": catch,
                "End": True,
            },
            "Gave up": {"Type": "Pass", "End": True},
        },
        "Wait",
    )
    timing_out = start(sfn, timeout_machine, {})
    heartbeat = start(sfn, heartbeat_machine, {})
    emulator.quiesce()
    sfn.send_task_heartbeat(taskToken=parked_token(emulator, setup, beating))  # one, then silence

    errors = {}
    for execution in (timing_out, heartbeat):
        assert emulator.wait_for_execution(execution, timeout=10) == "SUCCEEDED"
        errors[execution] = json.loads(sfn.describe_execution(executionArn=execution)["output"])["error"][
            "Error"
        ]
    # AWS matches a missed heartbeat by States.Timeout and States.HeartbeatTimeout; moto only by the first.
    assert errors == {timing_out: "States.Timeout", heartbeat: "States.Timeout"}


def test_a_job_event_starts_a_state_machine_that_reads_the_job_without_deadlock(
    emulator: Emulator, setup: Setup
) -> None:
    """The job store records events under its lock; the execution it starts calls back into Bedrock."""
    emulator.configure(min_records_per_job=1)
    sfn, events = emulator.client("stepfunctions"), emulator.client("events")
    states = {
        "Read": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:bedrock:getModelInvocationJob",
            "Parameters": {"JobIdentifier.$": "$.detail.batchJobArn"},
            "ResultSelector": {"status.$": "$.Status", "name.$": "$.JobName"},
            "End": True,
        }
    }
    state_machine = machine(sfn, setup, states, "Read")
    name = unique("evented")
    rule = unique("job-ended")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {"source": ["aws.bedrock"], "detail": {"batchJobName": [name], "status": ["Completed"]}}
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "lifecycle", "Arn": state_machine, "RoleArn": setup.role}])
    try:
        create_job(emulator, claude_records(3), jobName=name)
        emulator.settle()
        executions = sfn.list_executions(stateMachineArn=state_machine)["executions"]
        assert [e["status"] for e in executions] == ["SUCCEEDED"]
        output = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["output"])
        assert output == {"status": "Completed", "name": name}
    finally:
        events.remove_targets(Rule=rule, Ids=["lifecycle"])
        events.delete_rule(Name=rule)


def test_local_serve_executes_state_machines_for_any_client() -> None:
    process, url, _ = start_serve("--no-stack")
    try:

        def client(service: str) -> Any:
            return boto3.client(service, region_name="us-east-1", endpoint_url=url)

        role = client("iam").create_role(RoleName=unique("served"), AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
        served = Setup(role=role, tokens="")
        count = function(client("lambda"), served, "count", LABEL="served")
        sfn = client("stepfunctions")
        states = {"Count": {"Type": "Task", "Resource": count, "End": True}}
        execution = start(sfn, machine(sfn, served, states, "Count"), {"items": [1, 2, 3]})
        described = sfn.describe_execution(executionArn=execution)
        deadline = time.monotonic() + 30
        while described["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
            described = sfn.describe_execution(executionArn=execution)
        assert described["status"] == "SUCCEEDED"
        assert json.loads(described["output"]) == {"count": 3, "label": "served"}
    finally:
        process.kill()
        process.wait(timeout=10)


def test_the_patches_refuse_a_moto_whose_internals_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    check_moto()  # the pinned moto

    def invoke(self: Any, name: str, body: Any) -> bytes:
        return b""

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)
    with pytest.raises(RuntimeError, match=r"written for moto 5\.2\.5\): LambdaSimpleBackend\.invoke"):
        check_moto()
