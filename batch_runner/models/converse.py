"""The Converse request shape, accepted for any text model when the job's invocation type is Converse."""

from __future__ import annotations

from typing import Any

from batch_runner.models.base import ModelAdapter


class Converse(ModelAdapter):
    family = "converse"
    description = "Converse (any text model)"
    required_fields = ("messages",)
    # The Converse request body without modelId. Converse rejects other fields, so a native
    # InvokeModel body (anthropic_version, max_tokens, ...) in a Converse job fails every record.
    allowed_fields = frozenset(
        {
            "messages",
            "system",
            "inferenceConfig",
            "toolConfig",
            "guardrailConfig",
            "additionalModelRequestFields",
            "additionalModelResponseFieldPaths",
            "promptVariables",
            "requestMetadata",
            "performanceConfig",
        }
    )

    def build(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": [{"role": "user", "content": [{"text": text}]}]}
        if self.settings.system_prompt:
            body["system"] = [{"text": self.settings.system_prompt}]
        body["inferenceConfig"] = self.with_temperature({"maxTokens": self.settings.max_tokens})
        return body
