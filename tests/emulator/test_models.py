"""Emulated models: each family's native response body, token usage, and its request checks."""

from __future__ import annotations

import math
from typing import Any

import pytest

from batch_runner.local import Emulator
from batch_runner.local.models import ModelError, base_model_id, resolve
from batch_runner.local.models.base import approximate_tokens
from tests.emulator.helpers import claude_body, claude_records, create_job, job_outputs, output_lines

USER_TEXT = "Summarize the following call transcript: the customer asked about a refund."


def invoke(model_id: str, body: Any, invocation_type: str = "InvokeModel") -> dict[str, Any]:
    model = resolve(model_id, invocation_type)
    assert model is not None
    return model.invoke(body).body


@pytest.mark.parametrize(
    ("model_id", "base"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("apac.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0"),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
            "amazon.titan-embed-text-v2:0",
        ),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.meta.llama3-2-3b-instruct-v1:0",
            "meta.llama3-2-3b-instruct-v1:0",
        ),
    ],
)
def test_profiles_and_arns_resolve_to_the_base_model(model_id: str, base: str) -> None:
    assert base_model_id(model_id) == base
    assert resolve(model_id) is not None


def test_unknown_models_are_not_emulated() -> None:
    assert resolve("cohere.command-r-v1:0") is None
    assert resolve("cohere.command-r-v1:0", "Converse") is None


def test_claude_messages_response() -> None:
    body = invoke(
        "anthropic.claude-3-haiku-20240307-v1:0",
        claude_body(USER_TEXT, max_tokens=300) | {"system": "Be brief."},
    )
    assert set(body) == {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
    assert (body["type"], body["role"], body["stop_reason"]) == ("message", "assistant", "end_turn")
    text = body["content"][0]["text"]
    assert text.startswith("[emulated anthropic.claude-3-haiku-20240307-v1:0] ")
    assert body["usage"] == {
        "input_tokens": math.ceil(len("Be brief.\n" + USER_TEXT) / 4),
        "output_tokens": approximate_tokens(text),
    }
    assert invoke("anthropic.claude-3-haiku-20240307-v1:0", claude_body(USER_TEXT, max_tokens=300)) == invoke(
        "anthropic.claude-3-haiku-20240307-v1:0", claude_body(USER_TEXT, max_tokens=300)
    )


def test_claude_stops_at_max_tokens() -> None:
    body = invoke("anthropic.claude-3-haiku-20240307-v1:0", claude_body(USER_TEXT, max_tokens=5))
    assert body["stop_reason"] == "max_tokens"
    assert body["usage"]["output_tokens"] == 5


CLAUDE_ERRORS = [
    ({"max_tokens": None}, "#: required key [max_tokens] not found"),
    ({"anthropic_version": None}, "#: required key [anthropic_version] not found"),
    ({"inferenceConfig": {"maxTokens": 5}}, "#: extraneous key [inferenceConfig] is not permitted"),
    ({"max_tokens": "ten"}, "#/max_tokens: expected type: Integer, found: String"),
    ({"messages": [{"role": "assistant", "content": "hi"}]}, 'first message must use the "user" role'),
    (
        {"messages": [{"role": "robot", "content": "hi"}]},
        "#/messages/0/role: robot is not a valid enum value",
    ),
]


@pytest.mark.parametrize(("change", "expected"), CLAUDE_ERRORS)
def test_claude_rejects_what_the_model_rejects(change: dict[str, Any], expected: str) -> None:
    body = {key: value for key, value in (claude_body(USER_TEXT) | change).items() if value is not None}
    with pytest.raises(ModelError) as excinfo:
        invoke("anthropic.claude-3-haiku-20240307-v1:0", body)
    assert excinfo.value.code == 400
    assert expected in excinfo.value.message


def test_newer_claude_takes_temperature_or_top_p_not_both() -> None:
    body = claude_body(USER_TEXT) | {"temperature": 0.5, "top_p": 0.9}
    assert invoke("anthropic.claude-3-haiku-20240307-v1:0", body)["stop_reason"] == "end_turn"
    with pytest.raises(ModelError, match="cannot both be specified"):
        invoke("global.anthropic.claude-sonnet-4-5-20250929-v1:0", body)


CONVERSE_BODY = {
    "messages": [{"role": "user", "content": [{"text": USER_TEXT}]}],
    "system": [{"text": "Be brief."}],
    "inferenceConfig": {"maxTokens": 512},
}


@pytest.mark.parametrize(
    "model_id",
    ["anthropic.claude-3-haiku-20240307-v1:0", "amazon.nova-lite-v1:0", "meta.llama3-1-8b-instruct-v1:0"],
)
def test_converse_jobs_answer_in_the_converse_shape_for_any_model(model_id: str) -> None:
    body = invoke(model_id, CONVERSE_BODY, "Converse")
    assert body["output"]["message"]["role"] == "assistant"
    assert body["output"]["message"]["content"][0]["text"].startswith(f"[emulated {model_id}]")
    assert body["stopReason"] == "end_turn"
    usage = body["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]


def test_converse_rejects_native_bodies_and_tool_config() -> None:
    with pytest.raises(ModelError, match="anthropic_version"):
        invoke("anthropic.claude-3-haiku-20240307-v1:0", claude_body(USER_TEXT), "Converse")
    with pytest.raises(ModelError, match="toolConfig"):
        invoke(
            "anthropic.claude-3-haiku-20240307-v1:0",
            CONVERSE_BODY | {"toolConfig": {"tools": []}},
            "Converse",
        )


def test_nova_native_body() -> None:
    body = invoke("us.amazon.nova-lite-v1:0", CONVERSE_BODY | {"schemaVersion": "messages-v1"})
    assert body["output"]["message"]["content"][0]["text"].startswith("[emulated us.amazon.nova-lite-v1:0]")
    assert set(body["usage"]) >= {"inputTokens", "outputTokens", "totalTokens"}
    with pytest.raises(ModelError, match="is not less or equal to 5000"):
        invoke("amazon.nova-lite-v1:0", CONVERSE_BODY | {"inferenceConfig": {"maxTokens": 9000}})
    with pytest.raises(ModelError, match=r"extraneous key \[anthropic_version\]"):
        invoke("amazon.nova-lite-v1:0", CONVERSE_BODY | {"anthropic_version": "bedrock-2023-05-31"})
    with pytest.raises(ModelError, match="2 schema violations found"):
        invoke("amazon.nova-lite-v1:0", claude_body(USER_TEXT))


@pytest.mark.parametrize("dimensions", [1024, 512, 256])
def test_titan_embeddings_have_the_requested_dimensions_and_unit_length(dimensions: int) -> None:
    body = invoke(
        "amazon.titan-embed-text-v2:0", {"inputText": USER_TEXT, "dimensions": dimensions, "normalize": True}
    )
    vector = body["embedding"]
    assert len(vector) == dimensions
    assert math.isclose(math.sqrt(sum(value * value for value in vector)), 1.0, abs_tol=1e-6)
    assert body["embeddingsByType"]["float"] == vector
    assert body["inputTextTokenCount"] == approximate_tokens(USER_TEXT)


def test_titan_embeddings_are_deterministic_per_input_and_support_binary() -> None:
    first = invoke("amazon.titan-embed-text-v2:0", {"inputText": "a"})["embedding"]
    assert first == invoke("amazon.titan-embed-text-v2:0", {"inputText": "a"})["embedding"]
    assert first != invoke("amazon.titan-embed-text-v2:0", {"inputText": "b"})["embedding"]
    unnormalized = invoke("amazon.titan-embed-text-v2:0", {"inputText": "a", "normalize": False})["embedding"]
    assert not math.isclose(math.sqrt(sum(v * v for v in unnormalized)), 1.0, abs_tol=1e-3)
    binary = invoke("amazon.titan-embed-text-v2:0", {"inputText": "a", "embeddingTypes": ["binary"]})
    assert "embedding" not in binary
    assert set(binary["embeddingsByType"]["binary"]) <= {0, 1}
    with pytest.raises(ModelError, match="#/dimensions: 100 is not a valid enum value"):
        invoke("amazon.titan-embed-text-v2:0", {"inputText": "a", "dimensions": 100})
    with pytest.raises(ModelError, match=r"required key \[inputText\] not found, please"):
        invoke("amazon.titan-embed-text-v2:0", {"dimensions": 256})
    with pytest.raises(ModelError, match="Malformed input request: 2 schema violations found, please"):
        invoke("amazon.titan-embed-text-v2:0", {"texts": ["a"]})


def test_llama_generation() -> None:
    prompt = (
        f"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n{USER_TEXT}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>"
    )
    body = invoke("meta.llama3-1-8b-instruct-v1:0", {"prompt": prompt, "max_gen_len": 256})
    assert set(body) == {"generation", "prompt_token_count", "generation_token_count", "stop_reason"}
    assert USER_TEXT[:40] in body["generation"]
    assert body["stop_reason"] == "stop"
    with pytest.raises(ModelError, match=r"extraneous key \[messages\]"):
        invoke("meta.llama3-1-8b-instruct-v1:0", {"prompt": "hi", "messages": []})


def test_mistral_text_and_chat_completion() -> None:
    text = invoke(
        "mistral.mistral-large-2402-v1:0", {"prompt": f"<s>[INST] {USER_TEXT} [/INST]", "max_tokens": 200}
    )
    assert text["outputs"][0]["stop_reason"] == "stop"
    assert text["outputs"][0]["text"].startswith("[emulated mistral.mistral-large-2402-v1:0]")
    chat = invoke(
        "mistral.mistral-large-2407-v1:0",
        {"messages": [{"role": "user", "content": USER_TEXT}], "max_tokens": 200},
    )
    assert chat["choices"][0]["message"]["role"] == "assistant"
    assert (
        chat["usage"]["total_tokens"] == chat["usage"]["prompt_tokens"] + chat["usage"]["completion_tokens"]
    )


LIMIT_4096 = (
    "The maximum tokens you requested exceeds the model limit of 4096. "
    "Try again with a maximum tokens value that is lower than 4096."
)
CONVERSE_HI = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}


@pytest.mark.parametrize(
    ("model_id", "invocation_type", "body_for", "message"),
    [
        (
            "us.anthropic.claude-3-haiku-20240307-v1:0",
            "InvokeModel",
            lambda n: claude_body("hi", n),
            LIMIT_4096,
        ),
        (
            "anthropic.claude-3-haiku-20240307-v1:0",
            "Converse",
            lambda n: CONVERSE_HI | {"inferenceConfig": {"maxTokens": n}},
            LIMIT_4096,
        ),
        (
            "mistral.mixtral-8x7b-instruct-v0:1",
            "InvokeModel",
            lambda n: {"prompt": "<s>[INST] hi [/INST]", "max_tokens": n},
            "Malformed input request: #/max_tokens: 4097 is not less or equal to 4096",
        ),
    ],
)
def test_output_token_ceilings_are_the_runners(
    model_id: str, invocation_type: str, body_for: Any, message: str
) -> None:
    assert invoke(model_id, body_for(4096), invocation_type)
    with pytest.raises(ModelError) as refused:
        invoke(model_id, body_for(4097), invocation_type)
    assert refused.value.message.startswith(message)
    assert refused.value.code == 400


def test_claude_beta_flags_and_models_without_a_known_ceiling_are_not_limited() -> None:
    beta = claude_body("hi", 100_000) | {"anthropic_beta": ["output-128k-2025-02-19"]}
    assert invoke("anthropic.claude-3-7-sonnet-20250219-v1:0", beta)
    # Nova Premier's card gives no exact number, and Nova 2 none at all: not checked.
    assert invoke("amazon.nova-premier-v1:0", CONVERSE_HI | {"inferenceConfig": {"maxTokens": 9000}})
    assert invoke("us.amazon.nova-2-lite-v1:0", CONVERSE_HI | {"inferenceConfig": {"maxTokens": 9000}})


def test_a_record_over_the_ceiling_fails_alone_in_a_job(emulator: Emulator) -> None:
    records = [*claude_records(99), {"recordId": "TOOLONG", "modelInput": claude_body("hi", 4097)}]
    arn = create_job(emulator, records, modelId="anthropic.claude-3-haiku-20240307-v1:0")
    emulator.run_until_idle()
    job = emulator.client("bedrock").get_model_invocation_job(jobIdentifier=arn)
    assert (job["status"], job["successRecordCount"], job["errorRecordCount"]) == ("Completed", 99, 1)
    lines = {line["recordId"]: line for line in output_lines(job_outputs(emulator, arn)["records.jsonl.out"])}
    assert lines["TOOLONG"]["error"] == {"errorCode": 400, "errorMessage": LIMIT_4096}
    assert "modelOutput" not in lines["TOOLONG"]
