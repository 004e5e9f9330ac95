"""Model adapters: family detection from any model ID form, and each family's request body."""

from __future__ import annotations

from typing import Any

import pytest

from batch_runner.catalog.invocation import CONVERSE, INVOKE_MODEL
from batch_runner.catalog.models import (
    SUPPORTED_FAMILIES,
    RequestSettings,
    adapter_for,
    model_family,
    parse_model_id,
)
from batch_runner.catalog.output_schema import OutputSchema
from batch_runner.exceptions import ModelNotSupportedError, UsageError


@pytest.mark.parametrize(
    ("model_id", "family"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", "anthropic"),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic"),
        ("apac.anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic"),
        ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", "anthropic"),
        (
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0",
            "anthropic",
        ),
        ("amazon.nova-lite-v1:0", "nova"),
        ("us.amazon.nova-pro-v1:0", "nova"),
        ("global.amazon.nova-2-lite-v1:0", "nova"),
        ("amazon.titan-embed-text-v2:0", "titan-embed"),
        ("meta.llama3-1-70b-instruct-v1:0", "meta-llama3"),
        ("us.meta.llama3-3-70b-instruct-v1:0", "meta-llama3"),
        ("us.meta.llama4-scout-17b-instruct-v1:0", "meta-llama4"),
        ("mistral.mistral-7b-instruct-v0:2", "mistral-text"),
        ("mistral.mixtral-8x7b-instruct-v0:1", "mistral-text"),
        ("mistral.mistral-large-2407-v1:0", "mistral-chat"),
        ("cohere.command-r-v1:0", None),
        ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6", None),
    ],
)
def test_family_is_told_from_ids_profiles_and_arns(model_id: str, family: str | None) -> None:
    assert model_family(model_id) == family


def test_geo_prefix_and_base_model_are_separated() -> None:
    ref = parse_model_id("eu.anthropic.claude-3-haiku-20240307-v1:0")
    assert (ref.geo_prefix, ref.base_model_id) == ("eu", "anthropic.claude-3-haiku-20240307-v1:0")


def body(model_id: str, invocation_type: str = INVOKE_MODEL, **settings: Any) -> dict[str, Any]:
    return adapter_for(model_id, invocation_type, RequestSettings(**settings)).build("Hello")


def test_claude_messages_body() -> None:
    assert body("us.anthropic.claude-3-5-haiku-20241022-v1:0", system_prompt="Be brief", temperature=0.2) == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1024,
        "system": "Be brief",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        "temperature": 0.2,
    }


def test_nova_v1_body_carries_schema_version_and_camel_case_config() -> None:
    assert body("us.amazon.nova-lite-v1:0", system_prompt="S", max_tokens=300, temperature=0.5) == {
        "schemaVersion": "messages-v1",
        "system": [{"text": "S"}],
        "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
        "inferenceConfig": {"maxTokens": 300, "temperature": 0.5},
    }


def test_nova_2_body_has_no_schema_version() -> None:
    assert "schemaVersion" not in body("global.amazon.nova-2-lite-v1:0")


def test_titan_embeddings_body_takes_text_and_options() -> None:
    result = body("amazon.titan-embed-text-v2:0", options={"dimensions": 512, "normalize": False})
    assert result == {"inputText": "Hello", "dimensions": 512, "normalize": False}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"options": {"dimensions": 300}}, "dimensions must be one of 256, 512, 1024"),
        ({"options": {"normalize": "yes"}}, "normalize must be true or false"),
        ({"system_prompt": "S"}, "no system prompt"),
        ({"options": {"top_k": 3}}, "do not apply"),
    ],
)
def test_titan_embeddings_reject_bad_options(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        body("amazon.titan-embed-text-v2:0", **settings)


def test_embedding_models_reject_converse() -> None:
    with pytest.raises(UsageError, match=r"embedding model.*--invocation-type InvokeModel"):
        body("amazon.titan-embed-text-v2:0", CONVERSE)


def test_llama3_prompt_uses_the_chat_template_with_system_header() -> None:
    result = body("meta.llama3-1-8b-instruct-v1:0", system_prompt="S", max_tokens=200, temperature=0.1)
    assert result == {
        "prompt": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "max_gen_len": 200,
        "temperature": 0.1,
    }


def test_llama4_prompt_uses_its_own_header_tokens() -> None:
    prompt = body("us.meta.llama4-maverick-17b-instruct-v1:0")["prompt"]
    assert prompt == (
        "<|begin_of_text|><|header_start|>user<|header_end|>\n\nHello<|eot|>"
        "<|header_start|>assistant<|header_end|>\n\n"
    )


def test_mistral_text_completion_wraps_the_instruction() -> None:
    assert body("mistral.mistral-7b-instruct-v0:2", system_prompt="S") == {
        "prompt": "<s>[INST] S\n\nHello [/INST]",
        "max_tokens": 1024,
    }


def test_mistral_chat_completion_uses_messages() -> None:
    assert body("mistral.mistral-large-2407-v1:0", system_prompt="S") == {
        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Hello"}],
        "max_tokens": 1024,
    }


def test_converse_body_works_for_any_text_model() -> None:
    assert body("cohere.command-r-v1:0", CONVERSE, system_prompt="S", max_tokens=50) == {
        "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
        "system": [{"text": "S"}],
        "inferenceConfig": {"maxTokens": 50},
    }


def test_unknown_model_lists_supported_families() -> None:
    with pytest.raises(ModelNotSupportedError) as caught:
        body("cohere.command-r-v1:0")
    message = str(caught.value)
    assert all(family in message for family in SUPPORTED_FAMILIES)
    assert "--invocation-type Converse" in message


def test_family_can_be_named_for_application_inference_profiles() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
    assert body(arn, options={"family": "anthropic"})["anthropic_version"] == "bedrock-2023-05-31"
    with pytest.raises(ModelNotSupportedError, match="unknown model family 'gpt'"):
        body(arn, options={"family": "gpt"})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_tokens": 0}, "max tokens must be a positive integer"),
        ({"temperature": 1.5}, "temperature must be between 0 and 1"),
    ],
)
def test_generation_settings_are_checked(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        body("anthropic.claude-3-haiku-20240307-v1:0", **settings)


def test_invalid_invocation_type_is_rejected() -> None:
    with pytest.raises(UsageError, match="invocation type must be"):
        body("anthropic.claude-3-haiku-20240307-v1:0", "Batch")


@pytest.mark.parametrize(
    "model_id",
    [
        "anthropic.claude-3-haiku-20240307-v1:0",
        "amazon.nova-micro-v1:0",
        "amazon.titan-embed-text-v2:0",
        "meta.llama3-2-3b-instruct-v1:0",
        "mistral.mistral-small-2402-v1:0",
        "mistral.mistral-large-2407-v1:0",
    ],
)
def test_every_built_body_has_its_required_fields(model_id: str) -> None:
    adapter = adapter_for(model_id, INVOKE_MODEL, RequestSettings())
    assert adapter.missing_fields(adapter.build("x")) == []
    assert adapter.missing_fields({}) == list(adapter.required_fields)


@pytest.mark.parametrize(
    ("model_id", "invocation_type"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", INVOKE_MODEL),
        ("anthropic.claude-haiku-4-5-20251001-v1:0", INVOKE_MODEL),
        ("anthropic.claude-haiku-4-5-20251001-v1:0", CONVERSE),
        ("amazon.nova-micro-v1:0", CONVERSE),
        ("amazon.nova-micro-v1:0", INVOKE_MODEL),
        ("meta.llama3-2-3b-instruct-v1:0", INVOKE_MODEL),
        ("mistral.mistral-small-2402-v1:0", INVOKE_MODEL),
        ("mistral.mistral-large-2407-v1:0", INVOKE_MODEL),
    ],
)
def test_bodies_that_ask_for_json_keep_their_required_fields_and_take_no_unknown_ones(
    model_id: str, invocation_type: str
) -> None:
    schema = OutputSchema({"type": "object", "properties": {"a": {"type": "string"}}})
    adapter = adapter_for(model_id, invocation_type, RequestSettings(output_schema=schema))
    built = adapter.build("x")
    assert adapter.structured_output is not None
    assert adapter.missing_fields(built) == []
    assert adapter.unexpected_fields(built) == []
