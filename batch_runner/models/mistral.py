"""Mistral AI: text completion (``<s>[INST] ... [/INST]``) and chat completion (``messages``)."""

from __future__ import annotations

from typing import Any

from batch_runner.models.base import ModelAdapter


class MistralText(ModelAdapter):
    family = "mistral-text"
    description = "Mistral AI text completion"
    required_fields = ("prompt", "max_tokens")

    def build(self, text: str) -> dict[str, Any]:
        # The instruct template has no system role: the system prompt leads the instruction.
        instruction = f"{self.settings.system_prompt}\n\n{text}" if self.settings.system_prompt else text
        body: dict[str, Any] = {
            "prompt": f"<s>[INST] {instruction} [/INST]",
            "max_tokens": self.settings.max_tokens,
        }
        return self.with_temperature(body)


class MistralChat(ModelAdapter):
    family = "mistral-chat"
    description = "Mistral AI chat completion"
    required_fields = ("messages",)

    def build(self, text: str) -> dict[str, Any]:
        messages = []
        if self.settings.system_prompt:
            messages.append({"role": "system", "content": self.settings.system_prompt})
        messages.append({"role": "user", "content": text})
        body: dict[str, Any] = {"messages": messages, "max_tokens": self.settings.max_tokens}
        return self.with_temperature(body)
