"""Anthropic Claude, Messages API (InvokeModel)."""

from __future__ import annotations

from typing import Any

from batch_runner.models.base import ModelAdapter


class ClaudeMessages(ModelAdapter):
    family = "anthropic"
    description = "Anthropic Claude (Messages API)"
    required_fields = ("anthropic_version", "max_tokens", "messages")

    def build(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": self.settings.max_tokens,
        }
        if self.settings.system_prompt:
            body["system"] = self.settings.system_prompt
        body["messages"] = [{"role": "user", "content": [{"type": "text", "text": text}]}]
        return self.with_temperature(body)
