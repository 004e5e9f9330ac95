"""Fault injection on the wire: throttling and 5xx on bedrock calls, SlowDown on S3 reads."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from batch_runner.local import Emulator
from tests.emulator.helpers import claude_records, jsonl, upload

NO_RETRIES = Config(retries={"mode": "standard", "max_attempts": 1})


def client(emulator: Emulator, service: str) -> Any:
    return boto3.client(
        service, region_name="us-east-1", endpoint_url=emulator.endpoint_url, config=NO_RETRIES
    )


def outcomes(call: Any, attempts: int) -> list[str]:
    seen = []
    for _ in range(attempts):
        try:
            call()
            seen.append("ok")
        except ClientError as err:
            seen.append(err.response["Error"]["Code"])
    return seen


def test_throttling_is_a_429_that_botocore_recognises(emulator: Emulator) -> None:
    emulator.configure(throttle_rate=1.0)
    with pytest.raises(ClientError) as excinfo:
        client(emulator, "bedrock").list_model_invocation_jobs()
    assert excinfo.value.response["Error"]["Code"] == "ThrottlingException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_server_errors_and_their_share(emulator: Emulator) -> None:
    emulator.configure(server_error_rate=0.5, seed=11)
    bedrock = client(emulator, "bedrock")
    seen = outcomes(bedrock.list_model_invocation_jobs, 40)
    assert set(seen) == {"ok", "InternalServerException"}
    assert 8 <= seen.count("InternalServerException") <= 32
    emulator.configure(seed=11)  # the same seed replays the same sequence
    assert outcomes(bedrock.list_model_invocation_jobs, 40) == seen


def test_default_retries_ride_out_occasional_throttling(emulator: Emulator) -> None:
    emulator.configure(throttle_rate=0.3, seed=5)
    retrying = boto3.client(
        "bedrock",
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": 10}),
    )
    for _ in range(10):
        assert retrying.list_model_invocation_jobs()["invocationJobSummaries"] == []


def test_s3_get_object_answers_slow_down(emulator: Emulator) -> None:
    uri = upload(emulator, jsonl(claude_records(1)))
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    emulator.configure(s3_get_error_rate=1.0)
    s3 = client(emulator, "s3")
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key=key)
    assert excinfo.value.response["Error"]["Code"] == "SlowDown"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert s3.list_objects_v2(Bucket=bucket, Prefix=key)["KeyCount"] == 1  # listing is unaffected
    emulator.configure(s3_get_error_rate=0.0)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == jsonl(claude_records(1))


def test_runtime_faults_follow_the_request_and_its_attempt_not_the_call_order(emulator: Emulator) -> None:
    runtime = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),  # one send per call
    )
    bodies = [
        f'{{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20, '
        f'"messages": [{{"role": "user", "content": "Hi {n}"}}]}}'
        for n in range(8)
    ]

    def send_all(order: list[int]) -> dict[int, list[str]]:
        emulator.configure(throttle_rate=0.5, seed=3)  # restarts the attempt counts too
        seen: dict[int, list[str]] = {n: [] for n in order}
        for _ in range(3):
            for n in order:
                call = lambda n=n: runtime.invoke_model(  # noqa: E731
                    modelId="anthropic.claude-3-haiku-20240307-v1:0", body=bodies[n]
                )
                seen[n] += outcomes(call, 1)
        return seen

    forwards = send_all(list(range(8)))
    backwards = send_all(list(reversed(range(8))))
    assert forwards == backwards
    assert "ThrottlingException" in str(forwards) and "ok" in str(forwards)
