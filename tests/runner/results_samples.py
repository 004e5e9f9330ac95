"""Output lines and manifests in the documented Bedrock batch formats (reference sections 3 and 6).

Bodies follow the providers' documented response shapes, including fields the runner does not
use, so tests exercise what real output files contain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import orjson
from moto import mock_aws

CLAUDE_INPUT = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 512,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Summarize: the call was short."}]}],
}


def claude_output(text: str, *, input_tokens: int = 21, output_tokens: int = 9) -> dict[str, Any]:
    return {
        "id": "msg_bdrk_01XYZ",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-haiku-20240307",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


CONVERSE_OUTPUT = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Converse says hi."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 30, "outputTokens": 4, "totalTokens": 34},
    "metrics": {"latencyMs": 412},
}
NOVA_OUTPUT = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Nova "}, {"text": "answer."}]}},
    "stopReason": "max_tokens",
    "usage": {"inputTokens": 11, "outputTokens": 2, "totalTokens": 13, "cacheReadInputTokenCount": 0},
}
TITAN_EMBEDDING_OUTPUT = {
    "embedding": [0.125, -0.5, 0.25],
    "inputTextTokenCount": 6,
    "embeddingsByType": {"float": [0.125, -0.5, 0.25]},
}
TITAN_EMBEDDING_BY_TYPE_OUTPUT = {"inputTextTokenCount": 7, "embeddingsByType": {"float": [1.0, 0.5]}}
LLAMA_OUTPUT = {
    "generation": "Llama answer.",
    "prompt_token_count": 17,
    "generation_token_count": 3,
    "stop_reason": "stop",
}
MISTRAL_TEXT_OUTPUT = {"outputs": [{"text": "Mistral text.", "stop_reason": "length"}]}
MISTRAL_CHAT_OUTPUT = {
    "id": "cmpl-1",
    "object": "chat.completion",
    "model": "mistral-large-2407",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Mistral chat."}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 8, "completion_tokens": 3, "total_tokens": 11},
}
TITAN_TEXT_OUTPUT = {
    "inputTextTokenCount": 8,
    "results": [{"tokenCount": 3, "outputText": "blue\n", "completionReason": "FINISH"}],
}
UNKNOWN_OUTPUT = {"images": ["iVBORw0KGgo="], "seeds": [42]}


def success_line(record_id: str, model_output: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps(
        {"recordId": record_id, "modelInput": CLAUDE_INPUT, "modelOutput": model_output, **extra}
    )


def error_line(record_id: str, code: int = 400, message: str = "bad request") -> bytes:
    return orjson.dumps(
        {
            "recordId": record_id,
            "modelInput": CLAUDE_INPUT,
            "error": {"errorCode": code, "errorMessage": message},
        }
    )


def manifest(success: int, error: int, *, input_tokens: int, output_tokens: int, **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "totalRecordCount": success + error,
            "processedRecordCount": success + error,
            "successRecordCount": success,
            "errorRecordCount": error,
            "inputTokenCount": input_tokens,
            "outputTokenCount": output_tokens,
            **extra,
        }
    )


def index_line(record_id: str, row: int, user_id: Any = None, **columns: Any) -> bytes:
    return orjson.dumps({"recordId": record_id, "row": row, "id": user_id, "input": columns})


BUCKET = "bedrock-batch-output-test"
OUTPUT_URI = f"s3://{BUCKET}/runs/demo/output/"


def job_arn(job_id: str) -> str:
    return f"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/{job_id}"


def put_job_output(
    s3: Any, job_id: str, files: dict[str, list[bytes]], manifest_body: bytes | None = None
) -> None:
    """Write a job's output objects where Bedrock puts them: ``<output uri>/<jobId>/<file>.out``."""
    prefix = f"runs/demo/output/{job_id}/"
    for name, lines in files.items():
        s3.put_object(Bucket=BUCKET, Key=prefix + name, Body=b"\n".join(lines) + b"\n")
    if manifest_body is not None:
        s3.put_object(Bucket=BUCKET, Key=prefix + "manifest.json.out", Body=manifest_body)


@contextmanager
def moto_bucket() -> Iterator[Any]:
    """An S3 client on moto with the output bucket; one per test module (moto resets are slow)."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def empty_bucket(s3: Any) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])
