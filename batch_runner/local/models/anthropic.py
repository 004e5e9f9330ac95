"""Anthropic Claude through the Messages API body (``anthropic.*`` models and profiles)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batch_runner.local.models.base import (
    Invocation,
    ModelError,
    approximate_tokens,
    check_keys,
    check_model_limit,
    check_range,
    check_type,
    digest,
    malformed,
    require_object,
    text_of_content,
)
from batch_runner.local.models.schema_answers import (
    SchemaAsk,
    check_native_schema,
    claude_structured_outputs,
    reply,
    schema_in_text,
)

ANTHROPIC_VERSION = "bedrock-2023-05-31"
_ALLOWED = (
    "anthropic_beta",
    "system",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "tools",
    "tool_choice",
    "metadata",
    "thinking",
)
_OUTPUT_CONFIG_KEYS = ("format", "effort")
# Newer Claude models take temperature or top_p, not both.
_ONE_SAMPLING_PARAMETER = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5", "claude-sonnet-4-6")


class ClaudeMessages:
    def __init__(self, model_id: str, base_model: str) -> None:
        self.model_id = model_id
        self._base_model = base_model

    def invoke(self, body: Any, schema_fault: str | None = None) -> Invocation:
        request = require_object(body)
        # Only models with structured outputs know output_config; older ones refuse it as extraneous.
        native = claude_structured_outputs(self._base_model)
        allowed = (*_ALLOWED, "output_config") if native else _ALLOWED
        check_keys(request, required=("anthropic_version", "max_tokens", "messages"), allowed=allowed)
        if request["anthropic_version"] != ANTHROPIC_VERSION:
            raise ModelError(f"invalid anthropic_version: {request['anthropic_version']!r}")
        check_type(request, "max_tokens", int, "Integer")
        check_range(request, "max_tokens", 1, 128_000)
        if "anthropic_beta" not in request:  # a beta flag can raise the limit (output-128k-2025-02-19)
            check_model_limit(self.model_id, request["max_tokens"])
        check_type(request, "temperature", (int, float), "Number")
        check_range(request, "temperature", 0, 1)
        check_type(request, "messages", list, "JSONArray")
        if (
            "temperature" in request
            and "top_p" in request
            and self._base_model.removeprefix("anthropic.").startswith(_ONE_SAMPLING_PARAMETER)
        ):
            raise ModelError(
                "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
            )
        messages = request["messages"]
        if not messages:
            raise ModelError("messages: at least one message is required")
        for index, message in enumerate(messages):
            _check_message(index, message)
        if messages[0]["role"] != "user":
            raise ModelError('messages: first message must use the "user" role')
        system = request.get("system", "")
        prompt = "\n".join([text_of_content(system), *(text_of_content(m["content"]) for m in messages)])
        last_user = text_of_content(messages[-1]["content"])
        ask = _schema_ask(request, prompt)
        answer = reply(self.model_id, last_user, request, request["max_tokens"], ask, schema_fault)
        input_tokens = approximate_tokens(prompt)
        response = {
            "id": f"msg_bdrk_{digest(self.model_id, request)[:24]}",
            "type": "message",
            "role": "assistant",
            "model": self._base_model.removeprefix("anthropic.").split(":")[0].removesuffix("-v1"),
            "content": [{"type": "text", "text": answer.text}],
            "stop_reason": "max_tokens" if answer.truncated else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": answer.output_tokens},
        }
        return Invocation(body=response, input_tokens=input_tokens, output_tokens=answer.output_tokens)


def _schema_ask(request: Mapping[str, Any], prompt: str) -> SchemaAsk | None:
    """The schema a request asks for (``output_config.format`` or quoted in the prompt), and the
    prefill a final assistant message puts before the reply."""
    schema = _native_schema(request["output_config"]) if "output_config" in request else None
    if schema is None:
        schema = schema_in_text(prompt)
    if schema is None:
        return None
    last = request["messages"][-1]
    prefill = text_of_content(last["content"]) if last["role"] == "assistant" else ""
    return SchemaAsk(schema, prefill)


def _native_schema(config: Any) -> Mapping[str, Any] | None:
    if not isinstance(config, Mapping):
        raise malformed(f"#/output_config: expected type: JSONObject, found: {type(config).__name__}")
    for key in config:
        if key not in _OUTPUT_CONFIG_KEYS:
            raise ModelError(f"output_config.{key}: Extra inputs are not permitted")
    output_format = config.get("format")
    if output_format is None:
        return None
    if not isinstance(output_format, Mapping):
        raise ModelError("output_config.format: Input should be a valid dictionary")
    if output_format.get("type") != "json_schema":
        raise ModelError("output_config.format.type: Input should be 'json_schema'")
    if "schema" not in output_format:
        raise ModelError("output_config.format.schema: Field required")
    schema = output_format["schema"]
    check_native_schema(schema, "output_config.format.schema")
    return dict(schema)


def _check_message(index: int, message: Any) -> None:
    if not isinstance(message, Mapping):
        raise malformed(f"#/messages/{index}: expected type: JSONObject, found: {type(message).__name__}")
    for key in ("role", "content"):
        if key not in message:
            raise malformed(f"#/messages/{index}: required key [{key}] not found")
    if message["role"] not in ("user", "assistant"):
        raise malformed(f"#/messages/{index}/role: {message['role']} is not a valid enum value")
    content = message["content"]
    if isinstance(content, list):
        for block_index, block in enumerate(content):
            if not isinstance(block, Mapping) or "type" not in block:
                raise malformed(f"#/messages/{index}/content/{block_index}: required key [type] not found")
    elif not isinstance(content, str):
        raise malformed(
            f"#/messages/{index}/content: expected type: JSONArray, found: {type(content).__name__}"
        )
