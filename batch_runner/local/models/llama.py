"""Meta Llama 3.x Instruct through its native text-generation body."""

from __future__ import annotations

from typing import Any

from batch_runner.local.models.base import (
    Invocation,
    approximate_tokens,
    check_keys,
    check_range,
    check_type,
    emulated_reply,
    malformed,
    require_object,
)

_HEADER = "<|start_header_id|>user<|end_header_id|>"


class Llama:
    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def invoke(self, body: Any) -> Invocation:
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
        reply = emulated_reply(self.model_id, user_text, request, request.get("max_gen_len", 512))
        input_tokens = approximate_tokens(prompt)
        response = {
            "generation": reply.text,
            "prompt_token_count": input_tokens,
            "generation_token_count": reply.output_tokens,
            "stop_reason": "length" if reply.truncated else "stop",
        }
        return Invocation(body=response, input_tokens=input_tokens, output_tokens=reply.output_tokens)
