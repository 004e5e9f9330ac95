"""Meta Llama 3.x and Llama 4 Instruct: a single ``prompt`` in the model's chat template."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from batch_runner.catalog.models.base import ModelAdapter
from batch_runner.catalog.output_schema import JSON_PREFILL, PREFILL, StructuredOutput


@dataclass(frozen=True)
class ChatTokens:
    header_start: str
    header_end: str
    end_of_turn: str

    def prompt(
        self,
        text: str,
        system_prompt: str | None,
        prefill: str | None = None,
        history: Sequence[tuple[str, str]] = (),
    ) -> str:
        turns = [("system", system_prompt)] if system_prompt else []
        turns += [*history, ("user", text)]
        parts = ["<|begin_of_text|>"]
        parts += [
            f"{self.header_start}{role}{self.header_end}\n\n{body}{self.end_of_turn}" for role, body in turns
        ]
        parts.append(f"{self.header_start}assistant{self.header_end}\n\n{prefill or ''}")
        return "".join(parts)


LLAMA3 = ChatTokens("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
LLAMA4 = ChatTokens("<|header_start|>", "<|header_end|>", "<|eot|>")


class Llama3(ModelAdapter):
    family = "meta-llama3"
    description = "Meta Llama 3.x Instruct"
    required_fields = ("prompt",)
    text_field = "prompt"
    max_tokens_field = ("max_gen_len",)
    tokens = LLAMA3

    def ask_for_json(self) -> StructuredOutput:
        # The raw prompt holds the assistant turn, so the reply can be started with "{".
        return StructuredOutput(PREFILL, JSON_PREFILL, {"field": self.text_field})

    def build_conversation(self, turns: Sequence[tuple[str, str]]) -> dict[str, Any]:
        *history, (_, text) = turns
        return self._body(text, history)

    def build(self, text: str) -> dict[str, Any]:
        return self._body(text, ())

    def _body(self, text: str, history: Sequence[tuple[str, str]]) -> dict[str, Any]:
        prompt = self.tokens.prompt(self.user_text(text), self.settings.system_prompt, self.prefill, history)
        body: dict[str, Any] = {"prompt": prompt, "max_gen_len": self.settings.max_tokens}
        return self.with_temperature(body)


class Llama4(Llama3):
    family = "meta-llama4"
    description = "Meta Llama 4 Instruct"
    tokens = LLAMA4
