"""Callers that are IAM users are held to their policies, e.g. the stack's submitter policy."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.local import Emulator
from tests.emulator.helpers import claude_records, job_request, jsonl, unique, upload


def submitter_client(emulator: Emulator, service: str = "bedrock") -> Any:
    """A client acting as a new IAM user with only the stack's submitter policy attached."""
    iam = emulator.client("iam")
    user = unique("submitter")
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=emulator.stack_outputs[OutputKey.SUBMITTER_POLICY_ARN])
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        aws_session_token=None,
    )


def test_the_submitter_policy_covers_the_job_lifecycle_for_allowed_models(emulator: Emulator) -> None:
    bedrock = submitter_client(emulator)
    allowed = emulator.stack_outputs[OutputKey.ALLOWED_MODELS].split(",")[0]
    request = job_request(emulator, upload(emulator, jsonl(claude_records(100))), modelId=allowed)
    arn = bedrock.create_model_invocation_job(**request)["jobArn"]
    assert bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] == "Submitted"
    assert [job["jobArn"] for job in bedrock.list_model_invocation_jobs()["invocationJobSummaries"]] == [arn]
    bedrock.stop_model_invocation_job(jobIdentifier=arn)
    emulator.run_until_idle()
    assert bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] == "Stopped"


def test_the_submitter_policy_refuses_models_outside_the_allow_list(emulator: Emulator) -> None:
    bedrock = submitter_client(emulator)
    allowed = emulator.stack_outputs[OutputKey.ALLOWED_MODELS].split(",")
    candidates = [
        "anthropic.claude-3-opus-20240229-v1:0",
        "mistral.mistral-7b-instruct-v0:2",
        "meta.llama3-1-70b-instruct-v1:0",
    ]
    model = next(candidate for candidate in candidates if candidate not in allowed)
    request = job_request(emulator, upload(emulator, jsonl(claude_records(100))), modelId=model)
    with pytest.raises(ClientError) as excinfo:
        bedrock.create_model_invocation_job(**request)
    error = excinfo.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert (
        f"bedrock:CreateModelInvocationJob on resource: arn:aws:bedrock:us-east-1::foundation-model/{model}"
        in error["Message"]
    )
    assert emulator.jobs() == []
