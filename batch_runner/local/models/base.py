"""What every emulated model shares: errors, token approximation, deterministic emulated text.

Token counts are an approximation, documented here once: ``ceil(characters / 4)`` of the text the
model reads or writes (at least 1 for non-empty text). Replies are a pure function of the model ID
and the request, and always start with ``[emulated <model>]`` so they can never be mistaken for
real model output.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from batch_runner.catalog.models.output_limits import max_output_tokens


class ModelError(Exception):
    """The model rejected a record: becomes an output line ``{"error": {errorCode, errorMessage}}``."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Invocation:
    """A model's native response body and the tokens it counts toward the manifest."""

    body: dict[str, Any]
    input_tokens: int
    output_tokens: int


class EmulatedModel(Protocol):
    model_id: str

    def invoke(self, body: Any, schema_fault: str | None = None) -> Invocation:
        """The response body for one request body; raises ``ModelError`` for an invalid body.

        ``schema_fault`` (one of ``schema_answers.SCHEMA_FAULTS``) spoils the answer to a request
        that asks for JSON matching a schema; other requests ignore it."""
        ...


def approximate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def digest(*parts: Any) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Reply:
    text: str
    output_tokens: int
    truncated: bool  # the token limit cut the reply short


def emulated_reply(model_id: str, prompt: str, request: Any, max_tokens: int | None) -> Reply:
    """A deterministic reply that quotes the start of the prompt, cut to ``max_tokens``."""
    fingerprint = digest(model_id, request)[:12]
    excerpt = " ".join(prompt.split())[:80]
    return limited_reply(f'[emulated {model_id}] Reply {fingerprint} to: "{excerpt}"', max_tokens)


def limited_reply(text: str, max_tokens: int | None) -> Reply:
    """``text`` as the model writes it: cut where ``max_tokens`` runs out."""
    tokens = approximate_tokens(text)
    if max_tokens is not None and tokens > max_tokens:
        text = text[: max_tokens * 4]
        return Reply(text=text, output_tokens=max_tokens, truncated=True)
    return Reply(text=text, output_tokens=tokens, truncated=False)


def malformed(detail: str) -> ModelError:
    """Bedrock's wording for a body that breaks the model's request schema."""
    return ModelError(f"Malformed input request: {detail}, please reformat your input and try again.")


def output_ceiling_exceeded(model_id: str, requested: Any) -> int | None:
    """The model's output-token ceiling when ``requested`` is an integer above it, else None. The
    ceilings are the documented ones the runner checks too (``data/output_limits.yaml``)."""
    if not isinstance(requested, int) or isinstance(requested, bool):
        return None
    ceiling = max_output_tokens(model_id)
    return ceiling if ceiling is not None and requested > ceiling else None


def check_model_limit(model_id: str, requested: Any) -> None:
    """Bedrock's ValidationException for a Claude or Converse request over the model's output limit."""
    ceiling = output_ceiling_exceeded(model_id, requested)
    if ceiling is not None:
        raise ModelError(
            f"The maximum tokens you requested exceeds the model limit of {ceiling}. "
            f"Try again with a maximum tokens value that is lower than {ceiling}."
        )


def require_object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise malformed(f"#: expected type: JSONObject, found: {_json_type(body)}")
    return body


def check_keys(body: Mapping[str, Any], *, required: Iterable[str], allowed: Iterable[str]) -> None:
    """Required and extraneous top-level keys, reported like Bedrock's JSON-schema validation:
    one violation is named, several are counted."""
    required = tuple(required)
    allowed_set = set(allowed) | set(required)
    violations = [f"#: required key [{key}] not found" for key in required if key not in body]
    violations += [f"#: extraneous key [{key}] is not permitted" for key in body if key not in allowed_set]
    if len(violations) == 1:
        raise malformed(violations[0])
    if violations:
        raise malformed(f"{len(violations)} schema violations found")


def check_type(body: Mapping[str, Any], key: str, expected: type | tuple[type, ...], label: str) -> None:
    value = body.get(key)
    if value is None:
        return
    is_bool = isinstance(value, bool)
    wants_number = expected in (int, float, (int, float))
    if not isinstance(value, expected) or (is_bool and wants_number):
        raise malformed(f"#/{key}: expected type: {label}, found: {_json_type(value)}")


def check_range(body: Mapping[str, Any], key: str, low: float, high: float) -> None:
    value = body.get(key)
    if value is None:
        return
    if value < low:
        raise malformed(f"#/{key}: {value} is not greater or equal to {low:g}")
    if value > high:
        raise malformed(f"#/{key}: {value} is not less or equal to {high:g}")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list | tuple):
        return "JSONArray"
    if value is None:
        return "Null"
    return "JSONObject"


def text_of_content(content: Any) -> str:
    """The text of a message's content: a string, or blocks carrying ``text``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(block.get("text", "")) for block in content if isinstance(block, Mapping))
    return ""
