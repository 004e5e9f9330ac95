"""bedrock-runtime InvokeModel and Converse on the emulator, through boto3 as against AWS."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from batch_runner.local import Emulator
from tests.emulator.helpers import CLAUDE, claude_body, create_job, job_outputs, output_lines

NOVA = "us.amazon.nova-lite-v1:0"
LLAMA = "meta.llama3-1-8b-instruct-v1:0"
MISTRAL = "mistral.mistral-large-2407-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"


def runtime(emulator: Emulator) -> Any:
    """No SDK retries: each call the test makes is exactly one request."""
    return boto3.client(
        "bedrock-runtime",
        region_name=emulator.region,
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def invoke(emulator: Emulator, model: str, body: Any) -> tuple[dict[str, Any], dict[str, str]]:
    response = runtime(emulator).invoke_model(modelId=model, body=json.dumps(body))
    return json.loads(response["body"].read()), response["ResponseMetadata"]["HTTPHeaders"]


NATIVE = [
    pytest.param(CLAUDE, claude_body("Hello?"), lambda b: b["content"][0]["text"], id="claude"),
    pytest.param(
        NOVA,
        {
            "messages": [{"role": "user", "content": [{"text": "Hello?"}]}],
            "inferenceConfig": {"maxTokens": 50},
        },
        lambda b: b["output"]["message"]["content"][0]["text"],
        id="nova",
    ),
    pytest.param(LLAMA, {"prompt": "Hello?", "max_gen_len": 50}, lambda b: b["generation"], id="llama"),
    pytest.param(
        MISTRAL,
        {"messages": [{"role": "user", "content": "Hello?"}], "max_tokens": 50},
        lambda b: b["choices"][0]["message"]["content"],
        id="mistral",
    ),
]


@pytest.mark.parametrize(("model", "body", "text_of"), NATIVE)
def test_invoke_model_answers_each_family_natively_with_token_headers(
    emulator: Emulator, model: str, body: dict[str, Any], text_of: Any
) -> None:
    answer, headers = invoke(emulator, model, body)
    assert text_of(answer).startswith(f"[emulated {model}]")
    assert headers["content-type"] == "application/json"
    assert int(headers["x-amzn-bedrock-input-token-count"]) > 0
    assert int(headers["x-amzn-bedrock-output-token-count"]) > 0


def test_titan_embeddings_vector_and_token_header(emulator: Emulator) -> None:
    answer, headers = invoke(emulator, TITAN, {"inputText": "Hello there", "dimensions": 256})
    assert len(answer["embedding"]) == 256
    assert int(headers["x-amzn-bedrock-input-token-count"]) == answer["inputTextTokenCount"] > 0
    assert headers["x-amzn-bedrock-output-token-count"] == "0"


def test_on_demand_reply_equals_the_batch_reply_for_the_same_body(emulator: Emulator) -> None:
    emulator.configure(min_records_per_job=1)
    records = [{"recordId": "R1", "modelInput": claude_body("Same question?")}]
    arn = create_job(emulator, records)
    emulator.run_until_idle()
    (batch_line,) = output_lines(job_outputs(emulator, arn)["records.jsonl.out"])
    answer, _ = invoke(emulator, CLAUDE, claude_body("Same question?"))
    assert answer == batch_line["modelOutput"]


@pytest.mark.parametrize("model", [CLAUDE, NOVA, LLAMA, MISTRAL])
def test_converse_answers_every_text_model_in_one_shape(emulator: Emulator, model: str) -> None:
    response = runtime(emulator).converse(
        modelId=model,
        messages=[{"role": "user", "content": [{"text": "Hello?"}]}],
        system=[{"text": "Be brief."}],
        inferenceConfig={"maxTokens": 8},
    )
    message = response["output"]["message"]
    assert message["role"] == "assistant" and message["content"][0]["text"].startswith("[emulated")
    assert response["stopReason"] == "max_tokens"
    assert response["usage"]["outputTokens"] == 8
    assert response["usage"]["totalTokens"] == response["usage"]["inputTokens"] + 8


def _error(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Message"]


ERRORS = [
    pytest.param(CLAUDE, b"{not json", "Malformed input request", id="not-json"),
    pytest.param(CLAUDE, json.dumps({"messages": []}).encode(), "2 schema violations", id="schema"),
    pytest.param(TITAN, json.dumps({"inputText": ""}).encode(), "minLength", id="titan-empty"),
    pytest.param("acme.unknown-model-v1", b"{}", "model identifier is invalid", id="unknown-model"),
]


@pytest.mark.parametrize(("model", "body", "message"), ERRORS)
def test_invoke_model_rejects_bad_requests_with_validation_exception(
    emulator: Emulator, model: str, body: bytes, message: str
) -> None:
    code, status, text = _error(lambda: runtime(emulator).invoke_model(modelId=model, body=body))
    assert (code, status) == ("ValidationException", 400)
    assert message in text


def test_converse_rejects_embedding_models_and_bad_conversations(emulator: Emulator) -> None:
    client = runtime(emulator)
    hello = [{"role": "user", "content": [{"text": "Hi"}]}]
    code, _, text = _error(lambda: client.converse(modelId=TITAN, messages=hello))
    assert code == "ValidationException" and "doesn't support the model" in text
    assistant_first = [{"role": "assistant", "content": [{"text": "Hi"}]}]
    code, status, text = _error(lambda: client.converse(modelId=CLAUDE, messages=assistant_first))
    assert (code, status) == ("ValidationException", 400) and "start with a user message" in text


@pytest.mark.parametrize(
    ("setting", "code", "status"),
    [("throttle_rate", "ThrottlingException", 429), ("server_error_rate", "InternalServerException", 500)],
)
def test_fault_injection_applies_to_runtime_calls(
    emulator: Emulator, setting: str, code: str, status: int
) -> None:
    emulator.configure(**{setting: 1.0})
    client = runtime(emulator)
    assert _error(lambda: client.invoke_model(modelId=CLAUDE, body=json.dumps(claude_body("Hi"))))[:2] == (
        code,
        status,
    )
    hello = [{"role": "user", "content": [{"text": "Hi"}]}]
    assert _error(lambda: client.converse(modelId=NOVA, messages=hello))[:2] == (code, status)
