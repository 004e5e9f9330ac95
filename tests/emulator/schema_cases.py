"""Schema requests built by hand in each family's shape (as batch_runner/catalog/output_schema.py describes
them), and how to read the answer back: the text after any prefill, and the stop reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batch_runner.catalog.output_schema import OutputSchema

ROOT = Path(__file__).resolve().parents[2]
AUDIT = OutputSchema(json.loads((ROOT / "examples/concern_audit/schema.json").read_text(encoding="utf-8")))
CLASSIFICATION = OutputSchema(
    json.loads((ROOT / "examples/classification/schema.json").read_text(encoding="utf-8"))
)

CLAUDE_NATIVE = "anthropic.claude-sonnet-4-5-20250929-v1:0"
CLAUDE_OLD = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "us.amazon.nova-lite-v1:0"
LLAMA = "meta.llama3-1-8b-instruct-v1:0"
MISTRAL = "mistral.mistral-large-2407-v1:0"
INVOKE, CONVERSE = "InvokeModel", "Converse"


def claude(text: str, *, schema: OutputSchema, native: bool = False, prefill: str = "") -> dict[str, Any]:
    content = text if native else f"{text}\n\n{schema.instructions()}"
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"type": "text", "text": content}]}]
    if prefill:
        messages.append({"role": "assistant", "content": [{"type": "text", "text": prefill}]})
    body: dict[str, Any] = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1024,
        "messages": messages,
    }
    if native:
        body["output_config"] = {"format": {"type": "json_schema", "schema": schema.native_schema()}}
    return body


def nova(text: str, *, schema: OutputSchema) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": [{"text": f"{text}\n\n{schema.instructions()}"}]}],
        "inferenceConfig": {"maxTokens": 1024},
    }


def llama(text: str, *, schema: OutputSchema, prefill: str = "{") -> dict[str, Any]:
    prompt = (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
        f"{text}\n\n{schema.instructions()}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{prefill}"
    )
    return {"prompt": prompt, "max_gen_len": 1024}


def mistral_text(text: str, *, schema: OutputSchema, prefill: str = "{") -> dict[str, Any]:
    return {"prompt": f"<s>[INST] {text}\n\n{schema.instructions()} [/INST]{prefill}", "max_tokens": 1024}


def mistral_chat(text: str, *, schema: OutputSchema) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": f"{text}\n\n{schema.instructions()}"}],
        "max_tokens": 1024,
    }


def converse(text: str, *, schema: OutputSchema, native: bool = False, prefill: str = "") -> dict[str, Any]:
    content = text if native else f"{text}\n\n{schema.instructions()}"
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"text": content}]}]
    if prefill:
        messages.append({"role": "assistant", "content": [{"text": prefill}]})
    body: dict[str, Any] = {"messages": messages, "inferenceConfig": {"maxTokens": 1024}}
    if native:
        structure = {"jsonSchema": {"schema": json.dumps(schema.native_schema()), "name": "output"}}
        body["outputConfig"] = {"textFormat": {"type": "json_schema", "structure": structure}}
    return body


def claude_text(body: dict[str, Any]) -> str:
    return str(body["content"][0]["text"])


def message_text(body: dict[str, Any]) -> str:
    return str(body["output"]["message"]["content"][0]["text"])


# Per response shape: the answer text, the stop reason, and the stop reason when max tokens cut it.
Reader = tuple[Callable[[dict[str, Any]], str], Callable[[dict[str, Any]], str], str]
READERS: dict[str, Reader] = {
    "claude": (claude_text, lambda b: str(b["stop_reason"]), "max_tokens"),
    "message": (message_text, lambda b: str(b["stopReason"]), "max_tokens"),
    "llama": (lambda b: str(b["generation"]), lambda b: str(b["stop_reason"]), "length"),
    "mistral-text": (
        lambda b: str(b["outputs"][0]["text"]),
        lambda b: str(b["outputs"][0]["stop_reason"]),
        "length",
    ),
    "mistral-chat": (
        lambda b: str(b["choices"][0]["message"]["content"]),
        lambda b: str(b["choices"][0]["finish_reason"]),
        "length",
    ),
}


@dataclass(frozen=True)
class Case:
    """One family and mechanism: the request for a text, where the answer text and stop reason are."""

    name: str
    model_id: str
    invocation_type: str
    build: Callable[[str], dict[str, Any]]
    reader: str  # a key of READERS
    prefill: str = ""

    def request(self, text: str, max_tokens: int | None = None) -> dict[str, Any]:
        body = self.build(text)
        if max_tokens is not None:
            _set_max_tokens(body, max_tokens)
        return body

    def text(self, response: dict[str, Any]) -> str:
        return READERS[self.reader][0](response)

    def stop_reason(self, response: dict[str, Any]) -> str:
        return READERS[self.reader][1](response)

    @property
    def truncated(self) -> str:
        return READERS[self.reader][2]


def _set_max_tokens(body: dict[str, Any], max_tokens: int) -> None:
    if "inferenceConfig" in body:
        body["inferenceConfig"]["maxTokens"] = max_tokens
    elif "max_gen_len" in body:
        body["max_gen_len"] = max_tokens
    else:
        body["max_tokens"] = max_tokens


def cases(schema: OutputSchema) -> list[Case]:
    return [
        Case(
            "claude-native", CLAUDE_NATIVE, INVOKE, lambda t: claude(t, schema=schema, native=True), "claude"
        ),
        Case(
            "claude-prefill",
            CLAUDE_OLD,
            INVOKE,
            lambda t: claude(t, schema=schema, prefill="{"),
            "claude",
            "{",
        ),
        Case("claude-instructions", CLAUDE_OLD, INVOKE, lambda t: claude(t, schema=schema), "claude"),
        Case("nova", NOVA, INVOKE, lambda t: nova(t, schema=schema), "message"),
        Case("llama-prefill", LLAMA, INVOKE, lambda t: llama(t, schema=schema), "llama", "{"),
        Case(
            "mistral-text-prefill",
            MISTRAL,
            INVOKE,
            lambda t: mistral_text(t, schema=schema),
            "mistral-text",
            "{",
        ),
        Case("mistral-chat", MISTRAL, INVOKE, lambda t: mistral_chat(t, schema=schema), "mistral-chat"),
        Case(
            "converse-native",
            CLAUDE_NATIVE,
            CONVERSE,
            lambda t: converse(t, schema=schema, native=True),
            "message",
        ),
        Case(
            "converse-prefill",
            CLAUDE_OLD,
            CONVERSE,
            lambda t: converse(t, schema=schema, prefill="{"),
            "message",
            "{",
        ),
        Case("converse-instructions", NOVA, CONVERSE, lambda t: converse(t, schema=schema), "message"),
    ]
