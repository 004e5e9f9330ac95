"""Meta Llama 3.x and Llama 4 Instruct: a single ``prompt`` in the model's chat template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from batch_runner.models.base import ModelAdapter


@dataclass(frozen=True)
class ChatTokens:
    header_start: str
    header_end: str
    end_of_turn: str

    def prompt(self, text: str, system_prompt: str | None) -> str:
        turns = [("system", system_prompt)] if system_prompt else []
        turns.append(("user", text))
        parts = ["<|begin_of_text|>"]
        parts += [
            f"{self.header_start}{role}{self.header_end}\n\n{body}{self.end_of_turn}" for role, body in turns
        ]
        parts.append(f"{self.header_start}assistant{self.header_end}\n\n")
        return "".join(parts)


LLAMA3 = ChatTokens("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
LLAMA4 = ChatTokens("<|header_start|>", "<|header_end|>", "<|eot|>")


class Llama3(ModelAdapter):
    family = "meta-llama3"
    description = "Meta Llama 3.x Instruct"
    required_fields = ("prompt",)
    tokens = LLAMA3

    def build(self, text: str) -> dict[str, Any]:
        prompt = self.tokens.prompt(text, self.settings.system_prompt)
        body: dict[str, Any] = {"prompt": prompt, "max_gen_len": self.settings.max_tokens}
        return self.with_temperature(body)


class Llama4(Llama3):
    family = "meta-llama4"
    description = "Meta Llama 4 Instruct"
    tokens = LLAMA4
