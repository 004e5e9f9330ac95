"""Amazon Nova understanding models through their native InvokeModel body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batch_runner.local.models.base import (
    Invocation,
    check_keys,
    malformed,
    output_ceiling_exceeded,
    require_object,
)
from batch_runner.local.models.converse import converse_messages, message_invocation

_ALLOWED = ("schemaVersion", "system", "inferenceConfig", "toolConfig")
_INFERENCE_KEYS = (
    "maxTokens",
    "max_new_tokens",
    "temperature",
    "topP",
    "top_p",
    "topK",
    "top_k",
    "stopSequences",
)


class Nova:
    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def invoke(self, body: Any, schema_fault: str | None = None) -> Invocation:
        request = require_object(body)
        check_keys(request, required=("messages",), allowed=_ALLOWED)
        config = request.get("inferenceConfig") or {}
        if not isinstance(config, Mapping):
            raise malformed("#/inferenceConfig: expected type: JSONObject")
        for key in config:
            if key not in _INFERENCE_KEYS:
                raise malformed(f"#/inferenceConfig: extraneous key [{key}] is not permitted")
        max_tokens = config.get("maxTokens", config.get("max_new_tokens"))
        ceiling = output_ceiling_exceeded(self.model_id, max_tokens)
        if ceiling is not None:
            raise malformed(f"#/inferenceConfig/maxTokens: {max_tokens} is not less or equal to {ceiling}")
        normalized = dict(request)
        normalized["inferenceConfig"] = {"maxTokens": max_tokens} if max_tokens is not None else {}
        messages, system_text, limit = converse_messages(normalized)
        invocation = message_invocation(self.model_id, request, messages, system_text, limit, schema_fault)
        invocation.body["usage"].update({"cacheReadInputTokenCount": 0, "cacheWriteInputTokenCount": 0})
        return invocation
