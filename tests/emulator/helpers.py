"""Building blocks for emulator tests: input files, job requests, output parsing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.local import Emulator

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"


def claude_body(text: str, max_tokens: int = 200) -> dict[str, Any]:
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    }


def jsonl(records: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


def claude_records(count: int, prefix: str = "R") -> list[dict[str, Any]]:
    return [
        {"recordId": f"{prefix}{index:06d}", "modelInput": claude_body(f"Question {index}?")}
        for index in range(count)
    ]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def upload(emulator: Emulator, body: bytes, key: str | None = None) -> str:
    """Put an input file in the stack's input bucket; returns its S3 URI."""
    bucket = emulator.stack_outputs[OutputKey.INPUT_BUCKET]
    key = key or f"{unique('in')}/records.jsonl"
    emulator.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def output_uri(emulator: Emulator) -> str:
    return f"s3://{emulator.stack_outputs[OutputKey.OUTPUT_BUCKET]}/{unique('out')}/"


def job_request(emulator: Emulator, input_uri: str, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "jobName": unique("job"),
        "roleArn": emulator.stack_outputs[OutputKey.SERVICE_ROLE_ARN],
        "modelId": CLAUDE,
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": input_uri}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": output_uri(emulator)}},
    }
    request.update(overrides)
    return request


def create_job(emulator: Emulator, records: list[dict[str, Any]] | None = None, **overrides: Any) -> str:
    """Upload ``records`` (default: 100 Claude records) and create a job; returns its ARN."""
    input_uri = upload(emulator, jsonl(records if records is not None else claude_records(100)))
    request = job_request(emulator, input_uri, **overrides)
    arn: str = emulator.client("bedrock").create_model_invocation_job(**request)["jobArn"]
    return arn


def job_outputs(emulator: Emulator, job_arn: str) -> dict[str, bytes]:
    """Every object the job wrote, by name relative to ``<output uri>/<job id>/``."""
    bedrock, s3 = emulator.client("bedrock"), emulator.client("s3")
    uri = bedrock.get_model_invocation_job(jobIdentifier=job_arn)["outputDataConfig"]["s3OutputDataConfig"][
        "s3Uri"
    ]
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    base = f"{prefix.rstrip('/')}/{job_arn.rsplit('/', 1)[-1]}/"
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=base).get("Contents", [])
    return {
        item["Key"].removeprefix(base): s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listing
    }


def output_lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]
