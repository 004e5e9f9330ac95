"""Mistral AI: text completion (``<s>[INST] ... [/INST]``) and chat completion (``messages``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from batch_runner.catalog.models.base import ModelAdapter
from batch_runner.catalog.output_schema import JSON_PREFILL, PREFILL, StructuredOutput


class MistralText(ModelAdapter):
    family = "mistral-text"
    description = "Mistral AI text completion"
    required_fields = ("prompt", "max_tokens")
    text_field = "prompt"
    max_tokens_field = ("max_tokens",)

    def ask_for_json(self) -> StructuredOutput:
        # The raw prompt ends where the reply starts, so the reply can be started with "{".
        return StructuredOutput(PREFILL, JSON_PREFILL, {"field": self.text_field})

    def build(self, text: str) -> dict[str, Any]:
        # The instruct template has no system role: the system prompt leads the instruction.
        text = self.user_text(text)
        instruction = f"{self.settings.system_prompt}\n\n{text}" if self.settings.system_prompt else text
        body: dict[str, Any] = {
            "prompt": f"<s>[INST] {instruction} [/INST]{self.prefill or ''}",
            "max_tokens": self.settings.max_tokens,
        }
        return self.with_temperature(body)


class MistralChat(ModelAdapter):
    family = "mistral-chat"
    description = "Mistral AI chat completion"
    required_fields = ("messages",)
    max_tokens_field = ("max_tokens",)

    def history_message(self, turn: tuple[str, str]) -> Any:
        return {"role": turn[0], "content": turn[1]}

    def build_conversation(self, turns: Sequence[tuple[str, str]]) -> dict[str, Any]:
        body = super().build_conversation(turns)
        # The system message, when there is one, must stay first.
        body["messages"].sort(key=lambda message: message["role"] != "system")
        return body

    def build(self, text: str) -> dict[str, Any]:
        messages = []
        if self.settings.system_prompt:
            messages.append({"role": "system", "content": self.settings.system_prompt})
        messages.append({"role": "user", "content": self.user_text(text)})
        body: dict[str, Any] = {"messages": messages, "max_tokens": self.settings.max_tokens}
        return self.with_temperature(body)
