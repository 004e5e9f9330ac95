"""Schema requests through boto3 over HTTP: every family answers in batch output lines and on
bedrock-runtime with JSON valid against the schema, continuing a prefill; the native fields are
refused where the real service refuses them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batch_runner.catalog.models import RequestSettings, adapter_for
from batch_runner.catalog.output_schema import SCHEMA_OPEN
from batch_runner.local import Emulator
from batch_runner.local.models import resolve
from tests.emulator.helpers import create_job, job_outputs, output_lines
from tests.emulator.schema_cases import (
    AUDIT,
    CLAUDE_NATIVE,
    CLAUDE_OLD,
    CONVERSE,
    INVOKE,
    LLAMA,
    MISTRAL,
    NOVA,
    READERS,
    Case,
    cases,
    claude,
    converse,
    llama,
)
from tests.emulator.test_runtime import runtime

CASES = {case.name: case for case in cases(AUDIT)}
TEXTS = [f"Client: I could not sleep again, night {index}. Therapist: tell me more." for index in range(6)]


def batch_bodies(emulator: Emulator, case: Case, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run one job of ``bodies``; the output lines in input order."""
    emulator.configure(min_records_per_job=1)
    records = [{"recordId": f"S{index:05d}", "modelInput": body} for index, body in enumerate(bodies)]
    arn = create_job(emulator, records, modelId=case.model_id, modelInvocationType=case.invocation_type)
    emulator.run_until_idle()
    job = emulator.client("bedrock").get_model_invocation_job(jobIdentifier=arn)
    assert job["status"] == "Completed", job.get("message")
    return output_lines(job_outputs(emulator, arn)["records.jsonl.out"])


def on_demand(emulator: Emulator, case: Case, body: dict[str, Any]) -> dict[str, Any]:
    client = runtime(emulator)
    if case.invocation_type == CONVERSE:
        response: dict[str, Any] = client.converse(modelId=case.model_id, **body)
        response.pop("ResponseMetadata")
        return response
    answer: dict[str, Any] = json.loads(
        client.invoke_model(modelId=case.model_id, body=json.dumps(body))["body"].read()
    )
    return answer


@pytest.mark.parametrize("name", CASES)
def test_batch_answers_are_schema_valid_json_after_the_prefill(emulator: Emulator, name: str) -> None:
    case = CASES[name]
    lines = batch_bodies(emulator, case, [case.request(text) for text in TEXTS])
    answers = []
    for line in lines:
        assert "error" not in line, line
        text = case.text(line["modelOutput"])
        assert case.stop_reason(line["modelOutput"]) != case.truncated
        if case.prefill:
            assert not text.startswith(case.prefill)  # the reply continues the prefill
        answer = json.loads(case.prefill + text)
        assert AUDIT.validator.is_valid(answer), (name, answer)
        answers.append(answer)
    assert len({json.dumps(answer) for answer in answers}) == len(TEXTS)  # one answer per row


@pytest.mark.parametrize("name", CASES)
def test_on_demand_answers_match_the_batch_answer_for_the_same_body(emulator: Emulator, name: str) -> None:
    case = CASES[name]
    body = case.request(TEXTS[0])
    batch_text = case.text(batch_bodies(emulator, case, [body])[0]["modelOutput"])
    response = on_demand(emulator, case, body)
    assert case.text(response) == batch_text
    assert AUDIT.validator.is_valid(json.loads(case.prefill + case.text(response)))


@pytest.mark.parametrize("name", ["claude-native", "claude-prefill", "llama-prefill", "converse-native"])
def test_max_tokens_truncates_the_json_answer(emulator: Emulator, name: str) -> None:
    case = CASES[name]
    full = case.text(on_demand(emulator, case, case.request(TEXTS[0])))
    short = on_demand(emulator, case, case.request(TEXTS[0], max_tokens=6))
    text = case.text(short)
    assert text == full[:24]  # 6 tokens of about 4 characters
    assert case.stop_reason(short) == case.truncated
    with pytest.raises(ValueError):
        json.loads(case.prefill + text)
    usage = short.get("usage") or {}
    assert usage.get("output_tokens", usage.get("outputTokens", short.get("generation_token_count"))) == 6


def test_a_longer_prefill_is_continued_where_it_stops(emulator: Emulator) -> None:
    prefill = '{"concerns":'
    body = claude(TEXTS[0], schema=AUDIT, prefill=prefill)
    text = CASES["claude-prefill"].text(on_demand(emulator, CASES["claude-prefill"], body))
    assert text.startswith(" [")
    assert AUDIT.validator.is_valid(json.loads(prefill + text))
    raw = on_demand(emulator, CASES["llama-prefill"], llama(TEXTS[0], schema=AUDIT, prefill=""))["generation"]
    assert raw.startswith("{") and AUDIT.validator.is_valid(json.loads(raw))  # no prefill: the whole object


def test_requests_without_a_schema_get_the_usual_reply(emulator: Emulator) -> None:
    body = claude("Hello?", schema=AUDIT)
    body["messages"][0]["content"][0]["text"] = f"Hello? {SCHEMA_OPEN} not a schema"
    text = CASES["claude-instructions"].text(on_demand(emulator, CASES["claude-instructions"], body))
    assert text.startswith(f"[emulated {CLAUDE_OLD}] Reply ")


def error_line(emulator: Emulator, case: Case, body: dict[str, Any]) -> dict[str, Any]:
    line = batch_bodies(emulator, case, [body])[0]
    assert "modelOutput" not in line
    error: dict[str, Any] = line["error"]
    return error


def rejected(emulator: Emulator, case: Case, body: dict[str, Any]) -> str:
    with pytest.raises(ClientError) as excinfo:
        on_demand(emulator, case, body)
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(excinfo.value.response["Error"]["Message"])


def test_claude_before_4_5_refuses_output_config_like_the_service(emulator: Emulator) -> None:
    old = CASES["claude-instructions"]
    body = claude(TEXTS[0], schema=AUDIT, native=True)
    expected = "Malformed input request: #: extraneous key [output_config] is not permitted"
    assert rejected(emulator, old, body).startswith(expected)
    error = error_line(emulator, old, body)
    assert error["errorCode"] == 400 and error["errorMessage"].startswith(expected)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda schema: schema.pop("additionalProperties"),
            "output_config.format.schema: "
            "For 'object' type, 'additionalProperties' must be explicitly set to false",
        ),
        (
            lambda schema: schema["properties"]["concerns"].update(maxItems=3),
            "output_config.format.schema: For 'array' type, property 'maxItems' is not supported",
        ),
        (
            lambda schema: schema["properties"]["note"].update(minLength=3),
            "output_config.format.schema: For 'string' type, property 'minLength' is not supported",
        ),
    ],
)
def test_claude_4_5_refuses_a_schema_constrained_decoding_cannot_follow(
    emulator: Emulator, change: Any, message: str
) -> None:
    body = claude(TEXTS[0], schema=AUDIT, native=True)
    change(body["output_config"]["format"]["schema"])
    assert rejected(emulator, CASES["claude-native"], body) == message
    assert error_line(emulator, CASES["claude-native"], body) == {"errorCode": 400, "errorMessage": message}


def test_claude_output_config_shape_errors(emulator: Emulator) -> None:
    body = claude(TEXTS[0], schema=AUDIT, native=True)
    body["output_config"]["format"]["type"] = "json_object"
    assert rejected(emulator, CASES["claude-native"], body) == (
        "output_config.format.type: Input should be 'json_schema'"
    )
    del body["output_config"]["format"]
    body["output_config"]["colour"] = "blue"
    assert rejected(emulator, CASES["claude-native"], body) == (
        "output_config.colour: Extra inputs are not permitted"
    )


def test_converse_output_config_follows_the_service_model(emulator: Emulator) -> None:
    case = CASES["converse-native"]
    body = converse(TEXTS[0], schema=AUDIT, native=True)
    body["outputConfig"]["textFormat"]["structure"]["jsonSchema"]["schema"] = AUDIT.native_schema()
    error = error_line(
        emulator, case, body
    )  # boto3 refuses it client-side; a batch record reaches the service
    assert error["errorCode"] == 400
    assert error["errorMessage"] == (
        "1 validation error detected: Value 'dict' at 'outputConfig.textFormat.structure.jsonSchema.schema' "
        "failed to satisfy constraint: Member must be a string"
    )
    body = converse(TEXTS[0], schema=AUDIT, native=True)
    body["outputConfig"]["textFormat"]["type"] = "json_object"
    assert "Member must satisfy enum value set: [json_schema]" in rejected(emulator, case, body)
    body = converse(TEXTS[0], schema=AUDIT, native=True)
    open_object = {key: value for key, value in AUDIT.document.items() if key != "additionalProperties"}
    body["outputConfig"]["textFormat"]["structure"]["jsonSchema"]["schema"] = json.dumps(open_object)
    assert rejected(emulator, case, body) == (
        "outputConfig.textFormat.structure.jsonSchema.schema: "
        "For 'object' type, 'additionalProperties' must be explicitly set to false"
    )


def test_converse_structured_outputs_need_claude_4_5_among_claude_models(emulator: Emulator) -> None:
    body = converse(TEXTS[0], schema=AUDIT, native=True)
    old = CASES["converse-prefill"]  # Claude 3 Haiku
    assert "doesn't support structured outputs" in rejected(emulator, old, body)
    assert "doesn't support structured outputs" in error_line(emulator, old, body)["errorMessage"]
    nova = CASES["converse-instructions"]  # other families: the emulator does not refuse the field
    assert AUDIT.validator.is_valid(json.loads(nova.text(on_demand(emulator, nova, body))))


@pytest.mark.parametrize(
    ("model_id", "invocation_type", "reader"),
    [
        (CLAUDE_NATIVE, INVOKE, "claude"),
        (CLAUDE_OLD, INVOKE, "claude"),
        (NOVA, INVOKE, "message"),
        (LLAMA, INVOKE, "llama"),
        (MISTRAL, INVOKE, "mistral-chat"),
        ("mistral.mistral-7b-instruct-v0:2", INVOKE, "mistral-text"),
        (CLAUDE_NATIVE, CONVERSE, "message"),
        (CLAUDE_OLD, CONVERSE, "message"),
        (LLAMA, CONVERSE, "message"),
    ],
)
def test_the_runners_requests_get_schema_valid_answers(
    model_id: str, invocation_type: str, reader: str
) -> None:
    """The other side of the contract: bodies the runner builds, answered by the emulated model."""
    adapter = adapter_for(model_id, invocation_type, RequestSettings(output_schema=AUDIT))
    model = resolve(model_id, invocation_type)
    assert model is not None
    text = READERS[reader][0](model.invoke(adapter.build(TEXTS[0])).body)
    prefill = adapter.structured_output.prefill or ""
    assert AUDIT.validator.is_valid(json.loads(prefill + text))
