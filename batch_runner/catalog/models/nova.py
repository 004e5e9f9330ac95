"""Amazon Nova understanding models (InvokeModel, Nova messages schema)."""

from __future__ import annotations

import re
from typing import Any

from batch_runner.catalog.model_ids import parse_model_id
from batch_runner.catalog.models.base import ModelAdapter

# AWS examples for the first Nova generation carry this field; Nova 2 examples do not.
_NOVA_V1 = re.compile(r"^amazon\.nova-(micro|lite|pro|premier)-v1")


class NovaMessages(ModelAdapter):
    family = "nova"
    description = "Amazon Nova"
    required_fields = ("messages",)
    max_tokens_field = ("inferenceConfig", "maxTokens")  # its ceiling: data/output_limits.yaml

    def first_generation(self) -> bool:
        return _NOVA_V1.match(parse_model_id(self.model_id).base_model_id or "") is not None

    def history_message(self, turn: tuple[str, str]) -> Any:
        return {"role": turn[0], "content": [{"text": turn[1]}]}

    def build(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.first_generation():
            body["schemaVersion"] = "messages-v1"
        if self.settings.system_prompt:
            body["system"] = [{"text": self.settings.system_prompt}]
        body["messages"] = [{"role": "user", "content": [{"text": self.user_text(text)}]}]
        body["inferenceConfig"] = self.with_temperature({"maxTokens": self.settings.max_tokens})
        return body
