"""Anthropic Claude, Messages API (InvokeModel)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from batch_runner.catalog.model_ids import parse_model_id
from batch_runner.catalog.models.base import ModelAdapter
from batch_runner.catalog.output_schema import JSON_PREFILL, NATIVE, PREFILL, StructuredOutput

# Claude 4.5 and later decode under a JSON Schema (structured outputs); earlier ones do not.
_NATIVE_JSON_SCHEMA = re.compile(r"^anthropic\.claude-(opus|sonnet|haiku)-(4-[5-9]|[5-9]|[1-9]\d)(?!\d)")
NATIVE_FIELD = "output_config.format"


def has_native_json_schema(model_id: str) -> bool:
    """Whether a Claude model constrains its output to a JSON Schema. An ID that does not name the
    model (an application inference profile) counts as not: the prompt mechanisms work everywhere."""
    return _NATIVE_JSON_SCHEMA.match(parse_model_id(model_id).base_model_id or "") is not None


class ClaudeMessages(ModelAdapter):
    family = "anthropic"
    description = "Anthropic Claude (Messages API)"
    required_fields = ("anthropic_version", "max_tokens", "messages")
    native_json = True
    max_tokens_field = ("max_tokens",)

    def requested_max_tokens(self, body: Mapping[str, Any]) -> int | None:
        # A beta flag can raise the ceiling (output-128k-2025-02-19 on Claude 3.7 Sonnet), so a record
        # carrying one is left to the service.
        return None if "anthropic_beta" in body else super().requested_max_tokens(body)

    def ask_for_json(self) -> StructuredOutput:
        choice = self.structured_choice()
        if choice == "native" or (choice is None and has_native_json_schema(self.model_id)):
            return StructuredOutput(NATIVE, detail={"field": NATIVE_FIELD})
        return StructuredOutput(PREFILL, JSON_PREFILL, {"field": "messages"})

    def history_message(self, turn: tuple[str, str]) -> Any:
        return {"role": turn[0], "content": [{"type": "text", "text": turn[1]}]}

    def build(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": self.settings.max_tokens,
        }
        if self.settings.system_prompt:
            body["system"] = self.settings.system_prompt
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": [{"type": "text", "text": self.user_text(text)}]}
        ]
        if self.prefill:
            # A final assistant message: Claude continues it, so the reply can only be the object's rest.
            messages.append({"role": "assistant", "content": [{"type": "text", "text": self.prefill}]})
        body["messages"] = messages
        if self.mechanism == NATIVE:
            body["output_config"] = {"format": {"type": "json_schema", "schema": self.native_schema}}
        return self.with_temperature(body)
