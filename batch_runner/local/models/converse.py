"""The Converse request and response shape (``modelInvocationType=Converse``), for any model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batch_runner.local.models.base import (
    Invocation,
    ModelError,
    approximate_tokens,
    emulated_reply,
    text_of_content,
)

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


class Converse:
    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def invoke(self, body: Any) -> Invocation:
        if isinstance(body, Mapping) and "toolConfig" in body:
            raise ModelError("toolConfig is not supported for batch inference with the Converse API.")
        if isinstance(body, Mapping):
            for key in body:
                if key not in _ALLOWED:
                    raise ModelError(
                        f'Unknown parameter in modelInput: "{key}", must be one of: {", ".join(_ALLOWED)}'
                    )
        messages, system_text, max_tokens = converse_messages(body)
        return message_invocation(self.model_id, body, messages, system_text, max_tokens)


def message_invocation(
    model_id: str, body: Any, messages: list[Mapping[str, Any]], system_text: str, max_tokens: int | None
) -> Invocation:
    """The ``output.message`` response Converse and Nova share."""
    prompt = "\n".join([system_text, *(text_of_content(m["content"]) for m in messages)])
    reply = emulated_reply(model_id, text_of_content(messages[-1]["content"]), body, max_tokens)
    input_tokens = approximate_tokens(prompt)
    response = {
        "output": {"message": {"role": "assistant", "content": [{"text": reply.text}]}},
        "stopReason": "max_tokens" if reply.truncated else "end_turn",
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": reply.output_tokens,
            "totalTokens": input_tokens + reply.output_tokens,
        },
        "metrics": {"latencyMs": 100 + reply.output_tokens},
    }
    return Invocation(body=response, input_tokens=input_tokens, output_tokens=reply.output_tokens)
