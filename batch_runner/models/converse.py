"""The Converse request shape, accepted for any text model when the job's invocation type is Converse."""

from __future__ import annotations

from typing import Any

from batch_runner.models.base import ModelAdapter


class Converse(ModelAdapter):
    family = "converse"
    description = "Converse (any text model)"
    required_fields = ("messages",)

    def build(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": [{"role": "user", "content": [{"text": text}]}]}
        if self.settings.system_prompt:
            body["system"] = [{"text": self.settings.system_prompt}]
        body["inferenceConfig"] = self.with_temperature({"maxTokens": self.settings.max_tokens})
        return body
