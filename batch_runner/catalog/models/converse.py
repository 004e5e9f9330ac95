"""The Converse request shape, accepted for any text model when the job's invocation type is Converse."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import orjson

from batch_runner.catalog.models.anthropic import has_native_json_schema
from batch_runner.catalog.models.base import ModelAdapter
from batch_runner.catalog.output_schema import NATIVE, StructuredOutput

NATIVE_FIELD = "outputConfig.textFormat"


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
            "outputConfig",
        }
    )

    native_json = True
    max_tokens_field = ("inferenceConfig", "maxTokens")

    def ask_for_json(self) -> StructuredOutput:
        # Converse takes a JSON Schema for every model, but only Claude 4.5 and later are known to
        # decode under it; for the others the instructions are the dependable way.
        choice = self.structured_choice()
        if choice == "native" or (choice is None and has_native_json_schema(self.model_id)):
            return StructuredOutput(NATIVE, detail={"field": NATIVE_FIELD})
        return super().ask_for_json()

    def history_message(self, turn: tuple[str, str]) -> Any:
        return {"role": turn[0], "content": [{"text": turn[1]}]}

    def build(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": [{"role": "user", "content": [{"text": self.user_text(text)}]}]}
        if self.settings.system_prompt:
            body["system"] = [{"text": self.settings.system_prompt}]
        body["inferenceConfig"] = self.with_temperature({"maxTokens": self.settings.max_tokens})
        if self.mechanism == NATIVE:
            body["outputConfig"] = self._text_format
        return body

    @cached_property
    def _text_format(self) -> dict[str, Any]:
        # Converse takes the schema as a JSON string, not an object.
        definition = {"schema": orjson.dumps(self.native_schema).decode(), "name": "output"}
        return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}
