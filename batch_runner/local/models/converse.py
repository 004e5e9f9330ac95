"""The Converse request and response shape (``modelInvocationType=Converse``), for any model."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from batch_runner.local.models.base import (
    Invocation,
    ModelError,
    approximate_tokens,
    check_model_limit,
    text_of_content,
)
from batch_runner.local.models.schema_answers import (
    SchemaAsk,
    check_native_schema,
    claude_structured_outputs,
    reply,
    schema_in_text,
)
from batch_runner.local.shape_validation import member_problems, runtime_operation

_ALLOWED = (
    "messages",
    "system",
    "inferenceConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
    "outputConfig",
)


def _validation(detail: str) -> ModelError:
    return ModelError(f"1 validation error detected: {detail}")


def converse_messages(body: Any) -> tuple[list[Mapping[str, Any]], str, int | None]:
    """Messages, system text and maxTokens of a Converse-style body (also Nova's native body)."""
    if not isinstance(body, Mapping):
        raise _validation("Value at 'modelInput' failed to satisfy constraint: Member must be an object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _validation("Value null at 'messages' failed to satisfy constraint: Member must not be null")
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or message.get("role") not in ("user", "assistant"):
            raise _validation(
                f"Value at 'messages.{index + 1}.member.role' failed to satisfy constraint: "
                "Member must satisfy enum value set: [user, assistant]"
            )
        content = message.get("content")
        if not isinstance(content, list) or not all(isinstance(block, Mapping) for block in content):
            raise _validation(
                f"Value at 'messages.{index + 1}.member.content' failed to satisfy constraint: "
                "Member must be a list of content blocks"
            )
    if messages[0]["role"] != "user":
        raise ModelError(
            "A conversation must start with a user message. "
            "Try again with a conversation that starts with a user message."
        )
    system = body.get("system", [])
    system_text = text_of_content(system) if isinstance(system, list) else ""
    config = body.get("inferenceConfig") or {}
    max_tokens = config.get("maxTokens") if isinstance(config, Mapping) else None
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
    ):
        raise _validation(
            f"Value '{max_tokens}' at 'inferenceConfig.maxTokens' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1"
        )
    return messages, system_text, max_tokens


_SCHEMA_FIELD = "outputConfig.textFormat.structure.jsonSchema.schema"


class Converse:
    def __init__(self, model_id: str, base_model: str) -> None:
        self.model_id = model_id
        self._base_model = base_model

    def invoke(self, body: Any, schema_fault: str | None = None) -> Invocation:
        if isinstance(body, Mapping) and "toolConfig" in body:
            raise ModelError("toolConfig is not supported for batch inference with the Converse API.")
        if isinstance(body, Mapping):
            for key in body:
                if key not in _ALLOWED:
                    raise ModelError(
                        f'Unknown parameter in modelInput: "{key}", must be one of: {", ".join(_ALLOWED)}'
                    )
        messages, system_text, max_tokens = converse_messages(body)
        check_model_limit(self.model_id, max_tokens)
        schema = self._native_schema(body.get("outputConfig"))
        return message_invocation(
            self.model_id, body, messages, system_text, max_tokens, schema_fault, native_schema=schema
        )

    def _native_schema(self, config: Any) -> Mapping[str, Any] | None:
        """The schema of ``outputConfig.textFormat`` (a JSON string, checked against the service
        model), or None without one."""
        if config is None:
            return None
        problems = member_problems(runtime_operation("Converse"), "outputConfig", config)
        if problems:
            noun = "error" if len(problems) == 1 else "errors"
            raise ModelError(f"{len(problems)} validation {noun} detected: " + "; ".join(problems))
        text_format = config.get("textFormat")
        if text_format is None:
            return None
        claude = self._base_model.startswith("anthropic.")
        if claude and not claude_structured_outputs(self._base_model):
            raise ModelError(
                "This model doesn't support structured outputs (outputConfig.textFormat). "
                "Remove outputConfig or use a model that supports it."
            )
        try:
            schema = json.loads(text_format["structure"]["jsonSchema"]["schema"])
        except ValueError as err:
            raise ModelError(f"{_SCHEMA_FIELD}: the schema is not valid JSON: {err}") from err
        check_native_schema(schema, _SCHEMA_FIELD)
        return dict(schema)


def message_invocation(
    model_id: str,
    body: Any,
    messages: list[Mapping[str, Any]],
    system_text: str,
    max_tokens: int | None,
    schema_fault: str | None,
    native_schema: Mapping[str, Any] | None = None,
) -> Invocation:
    """The ``output.message`` response Converse and Nova share; a schema in the prompt (or given
    natively) gets a schema answer that continues a final assistant message."""
    prompt = "\n".join([system_text, *(text_of_content(m["content"]) for m in messages)])
    schema = native_schema if native_schema is not None else schema_in_text(prompt)
    last = messages[-1]
    prefill = text_of_content(last["content"]) if last["role"] == "assistant" else ""
    ask = SchemaAsk(schema, prefill) if schema is not None else None
    answer = reply(model_id, text_of_content(last["content"]), body, max_tokens, ask, schema_fault)
    input_tokens = approximate_tokens(prompt)
    response = {
        "output": {"message": {"role": "assistant", "content": [{"text": answer.text}]}},
        "stopReason": "max_tokens" if answer.truncated else "end_turn",
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": answer.output_tokens,
            "totalTokens": input_tokens + answer.output_tokens,
        },
        "metrics": {"latencyMs": 100 + answer.output_tokens},
    }
    return Invocation(body=response, input_tokens=input_tokens, output_tokens=answer.output_tokens)
