"""Answering requests that ask for JSON matching a schema, as the real models and services do.

A request asks for JSON in one of three ways (see ``batch_runner/catalog/output_schema.py``): a native field
(Claude ``output_config.format``, Converse ``outputConfig.textFormat``), instructions in the prompt
quoting the schema between ``SCHEMA_OPEN`` and ``SCHEMA_CLOSE``, or either of those plus a prefill
(the reply is started for the model, e.g. with ``{``). The reply is a deterministic instance of the
schema (``structured.instance``); with a prefill it continues the prefill (prefill ``{`` -> the reply
lacks the leading ``{``), as a real model's does. Token counting and ``max_tokens`` truncation are
those of every emulated reply.

Native fields go through the service's constrained decoder, which accepts a subset of JSON Schema:
``check_native_schema`` rejects what it rejects (an object without ``"additionalProperties": false``,
numeric/length/size constraints, ``minItems`` above 1) with a 400 in the service's words.

Faults (``EmulatorConfig.schema_*_rate``, drawn per record by ``FaultInjector.schema_fault``) change
only schema answers: ``INVALID`` valid JSON that breaks the schema (a required property dropped, an
enum value or a type replaced), ``UNPARSEABLE`` the JSON cut off mid-way (stop reason unchanged: the
model ended early, not the token limit), ``FENCED`` the JSON inside a Markdown json fence with a
sentence before and after (after a prefill, where nothing can come before: a sentence after).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from batch_runner.catalog.output_schema import SCHEMA_CLOSE, SCHEMA_OPEN
from batch_runner.local.models.base import ModelError, Reply, digest, emulated_reply, limited_reply
from batch_runner.local.models.structured import instance, validator

INVALID = "invalid"
UNPARSEABLE = "unparseable"
FENCED = "fenced"
SCHEMA_FAULTS = (INVALID, UNPARSEABLE, FENCED)

FENCE_INTRO = "Here is the JSON object you asked for:"
FENCE_OUTRO = "Let me know if you need anything else."
_NOT_AN_OPTION = "[emulated] not one of the options"

# Keywords the constrained decoder refuses, by the kind of value they constrain (named in its
# message when the node has no single type). The emulator's own list, not the runner's.
_UNSUPPORTED = {
    "number": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    "string": ("minLength", "maxLength"),
    "array": ("maxItems",),
    "object": ("minProperties", "maxProperties"),
}
_SUBSCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")


@dataclass(frozen=True)
class SchemaAsk:
    """What a request asks for: JSON valid against ``schema``, the reply continuing ``prefill``."""

    schema: Mapping[str, Any]
    prefill: str = ""


_CLAUDE_VERSION = re.compile(r"claude-(?:opus|sonnet|haiku)-(\d+)(?:-(\d)(?!\d))?")


def claude_structured_outputs(base_model: str) -> bool:
    """Claude 4.5 and later constrain decoding to a schema; earlier models reject the fields."""
    match = _CLAUDE_VERSION.search(base_model)
    if match is None:
        return False
    major, minor = int(match[1]), int(match[2] or 0)
    return major > 4 or (major == 4 and minor >= 5)


def reply(
    model_id: str, quoted: str, request: Any, max_tokens: int | None, ask: SchemaAsk | None, fault: str | None
) -> Reply:
    """A schema answer for a schema request, otherwise the usual reply quoting ``quoted``."""
    if ask is None:
        return emulated_reply(model_id, quoted, request, max_tokens)
    return structured_reply(model_id, ask, request, max_tokens, fault)


def schema_in_text(text: str) -> Mapping[str, Any] | None:
    """The schema quoted between the markers in a prompt (the last quote wins), if it is a JSON object."""
    end = text.rfind(SCHEMA_CLOSE)
    start = text.rfind(SCHEMA_OPEN, 0, end if end >= 0 else None)
    if start < 0 or end < start:
        return None
    try:
        schema = json.loads(text[start + len(SCHEMA_OPEN) : end])
    except ValueError:
        return None
    return schema if isinstance(schema, dict) else None


def structured_reply(
    model_id: str, ask: SchemaAsk, request: Any, max_tokens: int | None, fault: str | None
) -> Reply:
    """The reply text (after the prefill) for a schema request, cut to ``max_tokens``."""
    seed = digest(model_id, request)
    value = instance(ask.schema, seed)
    if fault == INVALID:
        value = break_schema(ask.schema, value, seed)
    text = json.dumps(value, ensure_ascii=False)
    if fault == UNPARSEABLE:
        text = _cut(text)
    continuation = _continue(text, ask.prefill)
    if fault == FENCED:
        if ask.prefill.strip():
            continuation = f"{continuation}\n\n{FENCE_OUTRO}"
        else:
            continuation = f"{FENCE_INTRO}\n```json\n{text}\n```\n{FENCE_OUTRO}"
    return limited_reply(continuation, max_tokens)


def _continue(text: str, prefill: str) -> str:
    start = prefill.strip()
    return text[len(start) :] if start and text.startswith(start) else text


def _cut(text: str) -> str:
    """About the first half of the JSON text, never parseable on its own."""
    cut = max(1, len(text) // 2)
    while cut > 1 and _parses(text[:cut]):
        cut -= 1
    return text[:cut]


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def break_schema(schema: Mapping[str, Any], value: Any, seed: str) -> Any:
    """Valid JSON that the schema rejects, varied by the seed: a required property dropped, an enum
    value replaced, a property of the wrong type, or an extra property; a list when nothing else
    breaks it (the schema describes an object)."""
    check = validator(schema)
    candidates = list(_broken_variants(schema, value))
    random.Random(f"{seed}/invalid").shuffle(candidates)
    for candidate in candidates:
        if not check.is_valid(candidate):
            return candidate
    return [value]


def _broken_variants(schema: Mapping[str, Any], value: Any) -> Iterator[Any]:
    if not isinstance(value, dict):
        return
    properties = schema.get("properties") if isinstance(schema.get("properties"), Mapping) else {}
    for name in schema.get("required", []):
        if name in value:
            yield {key: item for key, item in value.items() if key != name}
    for name, spec in (properties or {}).items():
        if name not in value or not isinstance(spec, Mapping):
            continue
        if "enum" in spec or "const" in spec:
            yield {**value, name: _NOT_AN_OPTION}
        elif "type" in spec:
            wrong: Any = 12345 if isinstance(value[name], str) else _NOT_AN_OPTION
            yield {**value, name: wrong}
    yield {**value, "emulated_extra": _NOT_AN_OPTION}


def check_native_schema(schema: Any, field: str) -> None:
    """Raise the service's 400 for a schema its constrained decoder does not accept."""
    if not isinstance(schema, Mapping):
        raise ModelError(f"{field}: Input should be a valid dictionary")
    for node in _subschemas(schema):
        kind = node.get("type")
        if (kind == "object" or "properties" in node) and node.get("additionalProperties") is not False:
            raise ModelError(
                f"{field}: For 'object' type, 'additionalProperties' must be explicitly set to false"
            )
        for constrained, keywords in _UNSUPPORTED.items():
            for keyword in keywords:
                if keyword in node:
                    named = kind if isinstance(kind, str) else constrained
                    raise ModelError(f"{field}: For '{named}' type, property '{keyword}' is not supported")
        if node.get("minItems") not in (None, 0, 1):
            raise ModelError(
                f"{field}: For 'array' type, 'minItems' values other than 0 and 1 are not supported"
            )


def _subschemas(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield node
    for key in _SUBSCHEMA_MAPS:
        children = node.get(key)
        if isinstance(children, Mapping):
            for child in children.values():
                if isinstance(child, Mapping):
                    yield from _subschemas(child)
    for key in _SUBSCHEMA_LISTS:
        children = node.get(key)
        if isinstance(children, list):
            for child in children:
                if isinstance(child, Mapping):
                    yield from _subschemas(child)
    for key in ("items", "additionalProperties", "not"):
        child = node.get(key)
        if isinstance(child, Mapping):
            yield from _subschemas(child)
