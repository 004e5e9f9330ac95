"""Mistral models: text completion (``prompt``) and chat completion (``messages``) bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batch_runner.local.models.base import (
    Invocation,
    approximate_tokens,
    check_keys,
    check_range,
    check_type,
    digest,
    malformed,
    output_ceiling_exceeded,
    require_object,
)
from batch_runner.local.models.schema_answers import SchemaAsk, reply, schema_in_text

_COMPLETION_KEYS = ("max_tokens", "stop", "temperature", "top_p", "top_k")
_CHAT_KEYS = ("max_tokens", "temperature", "top_p", "tools", "tool_choice", "response_format")


class Mistral:
    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def invoke(self, body: Any, schema_fault: str | None = None) -> Invocation:
        request = require_object(body)
        if "messages" in request:
            return self._chat(request, schema_fault)
        return self._completion(request, schema_fault)

    def _completion(self, request: Mapping[str, Any], schema_fault: str | None) -> Invocation:
        check_keys(request, required=("prompt",), allowed=_COMPLETION_KEYS)
        check_type(request, "prompt", str, "String")
        self._check_sampling(request)
        prompt: str = request["prompt"]
        user_text = prompt.removeprefix("<s>").removeprefix("[INST]").split("[/INST]", 1)[0]
        schema = schema_in_text(prompt)
        # Text after the last [/INST] starts the reply: the model continues it.
        prefill = prompt.rsplit("[/INST]", 1)[1] if "[/INST]" in prompt else ""
        ask = SchemaAsk(schema, prefill) if schema is not None else None
        answer = reply(self.model_id, user_text, request, request.get("max_tokens", 512), ask, schema_fault)
        stop_reason = "length" if answer.truncated else "stop"
        response = {"outputs": [{"text": answer.text, "stop_reason": stop_reason}]}
        return Invocation(
            body=response, input_tokens=approximate_tokens(prompt), output_tokens=answer.output_tokens
        )

    def _chat(self, request: Mapping[str, Any], schema_fault: str | None) -> Invocation:
        check_keys(request, required=("messages",), allowed=_CHAT_KEYS)
        check_type(request, "messages", list, "JSONArray")
        self._check_sampling(request)
        messages = request["messages"]
        if not messages:
            raise malformed("#/messages: expected minimum item count: 1, found: 0")
        for index, message in enumerate(messages):
            if not isinstance(message, Mapping) or message.get("role") not in (
                "system",
                "user",
                "assistant",
                "tool",
            ):
                raise malformed(f"#/messages/{index}/role: not a valid enum value")
            if not isinstance(message.get("content"), str):
                raise malformed(f"#/messages/{index}/content: expected type: String")
        prompt = "\n".join(message["content"] for message in messages)
        schema = schema_in_text(prompt)
        prefill = messages[-1]["content"] if messages[-1]["role"] == "assistant" else ""
        ask = SchemaAsk(schema, prefill) if schema is not None else None
        answer = reply(
            self.model_id, messages[-1]["content"], request, request.get("max_tokens", 512), ask, schema_fault
        )
        input_tokens = approximate_tokens(prompt)
        response = {
            "id": digest(self.model_id, request)[:32],
            "object": "chat.completion",
            "model": self.model_id,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": "length" if answer.truncated else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": input_tokens,
                "completion_tokens": answer.output_tokens,
                "total_tokens": input_tokens + answer.output_tokens,
            },
        }
        return Invocation(body=response, input_tokens=input_tokens, output_tokens=answer.output_tokens)

    def _check_sampling(self, request: Mapping[str, Any]) -> None:
        check_type(request, "max_tokens", int, "Integer")
        check_range(request, "max_tokens", 1, 32_768)
        ceiling = output_ceiling_exceeded(self.model_id, request.get("max_tokens"))
        if ceiling is not None:
            raise malformed(f"#/max_tokens: {request['max_tokens']} is not less or equal to {ceiling}")
        check_range(request, "temperature", 0, 1)
        check_range(request, "top_p", 0, 1)
