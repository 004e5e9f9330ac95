"""Records processed one by one with bedrock-runtime, at full price: the way out when fewer records
remain to retry than a batch job's minimum.

Each request line (``recordId`` + ``modelInput``, exactly as uploaded) goes to InvokeModel, or to
Converse when the run's invocation type is Converse, from a small thread pool. "Later" answers
(throttling, 5xx) are retried with backoff; any other error becomes the record's ``error``, as in a
batch job. The result is written like a batch job's output, so results reads it like any other:
``<job prefix><input file>.out`` with one line per record, then ``manifest.json.out`` (counters and
token totals), each a single PUT.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from batch_runner.aws.errors import aws_error, error_code, error_message
from batch_runner.catalog.invocation import CONVERSE
from batch_runner.catalog.pricing import estimate_cost
from batch_runner.jobs.submission import Backoff

WORKERS = 4
MAX_ATTEMPTS = 8
# Runtime errors that mean "not now" rather than "this request is wrong".
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelTimeoutException",
    }
)
_MANIFEST = "manifest.json.out"


@dataclass(frozen=True)
class RecordResult:
    line: bytes  # the output line, as Bedrock writes it in a batch job
    succeeded: bool
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class OnDemandResult:
    records: int
    succeeded: int
    failed: int
    input_tokens: int
    output_tokens: int
    on_demand_usd: float | None  # full price; None when the model has no listed price


@dataclass(frozen=True)
class OnDemandTarget:
    """The model and invocation type of the run, and the client that calls bedrock-runtime."""

    runtime: Any
    model_id: str
    invocation_type: str
    backoff: Backoff = field(default_factory=Backoff)


def process(target: OnDemandTarget, lines: Sequence[bytes], *, workers: int = WORKERS) -> list[RecordResult]:
    """Every request line's output line, in input order."""
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="on-demand") as pool:
        return list(pool.map(lambda raw: process_line(target, raw), lines))


def process_line(target: OnDemandTarget, raw: bytes) -> RecordResult:
    request = orjson.loads(raw)
    record_id, model_input = request["recordId"], request["modelInput"]
    line: dict[str, Any] = {"recordId": record_id, "modelInput": model_input}
    try:
        output, input_tokens, output_tokens = _invoke(target, model_input)
    except _RecordFailed as err:
        line["error"] = {"errorCode": err.status, "errorMessage": err.message}
        return RecordResult(orjson.dumps(line), False, 0, 0)
    line["modelOutput"] = output
    return RecordResult(orjson.dumps(line), True, input_tokens, output_tokens)


def summarize(target: OnDemandTarget, results: Sequence[RecordResult]) -> OnDemandResult:
    succeeded = sum(1 for r in results if r.succeeded)
    input_tokens = sum(r.input_tokens for r in results)
    output_tokens = sum(r.output_tokens for r in results)
    return OnDemandResult(
        records=len(results),
        succeeded=succeeded,
        failed=len(results) - succeeded,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        on_demand_usd=estimate_cost(target.model_id, input_tokens, output_tokens).on_demand_usd,
    )


def write_output(
    s3: Any, bucket: str, job_prefix: str, file_name: str, results: Sequence[RecordResult]
) -> None:
    """Put ``<file_name>.out`` then ``manifest.json.out`` under ``job_prefix`` (ends with ``/``)."""
    body = b"".join(r.line + b"\n" for r in results)
    succeeded = sum(1 for r in results if r.succeeded)
    manifest = {
        "totalRecordCount": len(results),
        "processedRecordCount": len(results),
        "successRecordCount": succeeded,
        "errorRecordCount": len(results) - succeeded,
        "inputTokenCount": sum(r.input_tokens for r in results),
        "outputTokenCount": sum(r.output_tokens for r in results),
    }
    for key, data in (
        (f"{job_prefix}{file_name}.out", body),
        (f"{job_prefix}{_MANIFEST}", json.dumps(manifest).encode()),
    ):
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/jsonl")
        except (ClientError, BotoCoreError) as err:
            raise aws_error(err, f"writing s3://{bucket}/{key}") from err


class _RecordFailed(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _invoke(target: OnDemandTarget, model_input: Any) -> tuple[dict[str, Any], int, int]:
    """(modelOutput, input tokens, output tokens) of one record; ``_RecordFailed`` otherwise."""
    delays = iter(target.backoff.delays())
    attempt = 1
    while True:
        try:
            return _call(target, model_input)
        except ClientError as err:
            code = error_code(err)
            status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
            delay = next(delays, None) if code in RETRYABLE_CODES and attempt < MAX_ATTEMPTS else None
            if delay is None:
                raise _RecordFailed(status, f"{code}: {error_message(err)}") from err
            target.backoff.sleep(delay)
            attempt += 1
        except ParamValidationError as err:  # the body does not fit the operation's shape
            raise _RecordFailed(400, f"ValidationException: {err}") from err
        except BotoCoreError as err:
            raise _RecordFailed(500, str(err)) from err


def _call(target: OnDemandTarget, model_input: Any) -> tuple[dict[str, Any], int, int]:
    if target.invocation_type == CONVERSE:
        if not isinstance(model_input, dict):
            raise _RecordFailed(400, "modelInput of a Converse record must be a JSON object")
        response = dict(target.runtime.converse(modelId=target.model_id, **model_input))
        response.pop("ResponseMetadata", None)
        usage = response.get("usage") or {}
        return response, int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0)
    response = target.runtime.invoke_model(
        modelId=target.model_id,
        body=orjson.dumps(model_input),
        contentType="application/json",
        accept="application/json",
    )
    body = orjson.loads(response["body"].read())
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return (
        body,
        int(headers.get("x-amzn-bedrock-input-token-count") or 0),
        int(headers.get("x-amzn-bedrock-output-token-count") or 0),
    )
