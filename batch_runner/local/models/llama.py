"""Meta Llama 3.x Instruct through its native text-generation body."""

from __future__ import annotations

from typing import Any

from batch_runner.local.models.base import (
    Invocation,
    approximate_tokens,
    check_keys,
    check_range,
    check_type,
    malformed,
    require_object,
)
from batch_runner.local.models.schema_answers import SchemaAsk, reply, schema_in_text

_HEADER = "<|start_header_id|>user<|end_header_id|>"
# Llama 3 and Llama 4 assistant headers: text after the last one is a prefill the reply continues.
_ASSISTANT_HEADERS = (
    "<|start_header_id|>assistant<|end_header_id|>",
    "<|header_start|>assistant<|header_end|>",
)


class Llama:
    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def invoke(self, body: Any, schema_fault: str | None = None) -> Invocation:
        request = require_object(body)
        check_keys(request, required=("prompt",), allowed=("temperature", "top_p", "max_gen_len", "images"))
        check_type(request, "prompt", str, "String")
        check_type(request, "max_gen_len", int, "Integer")
        check_range(request, "max_gen_len", 1, 8192)
        check_range(request, "temperature", 0, 1)
        check_range(request, "top_p", 0, 1)
        prompt: str = request["prompt"]
        if not prompt:
            raise malformed("#/prompt: expected minLength: 1, actual: 0")
        # Quote the user turn of a chat-templated prompt, not the template tokens.
        user_text = prompt.split(_HEADER, 1)[-1].split("<|eot_id|>", 1)[0]
        schema = schema_in_text(prompt)
        ask = SchemaAsk(schema, _prefill(prompt)) if schema is not None else None
        answer = reply(self.model_id, user_text, request, request.get("max_gen_len", 512), ask, schema_fault)
        input_tokens = approximate_tokens(prompt)
        response = {
            "generation": answer.text,
            "prompt_token_count": input_tokens,
            "generation_token_count": answer.output_tokens,
            "stop_reason": "length" if answer.truncated else "stop",
        }
        return Invocation(body=response, input_tokens=input_tokens, output_tokens=answer.output_tokens)


def _prefill(prompt: str) -> str:
    cut = max(prompt.rfind(header) + len(header) if header in prompt else -1 for header in _ASSISTANT_HEADERS)
    return prompt[cut:] if cut >= 0 else ""
