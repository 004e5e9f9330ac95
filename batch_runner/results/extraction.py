"""Turn one output line into an outcome: status, answer, stop reason, tokens or error.

The answer is found by the SHAPE of ``modelOutput``, never by model ID: output bodies carry no
model field, and the Converse shape is shared by every model. A body of unknown shape keeps its
raw JSON as the answer, so nothing the model said is lost. Every lookup checks types, because a
line is untrusted input: a surprise becomes a failed or raw outcome, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

SUCCEEDED = "succeeded"
FAILED = "failed"
MISSING = "missing"

# error_code values the runner assigns itself (Bedrock's own codes are HTTP-like numbers).
NO_OUTPUT_OR_ERROR = "NoOutputOrError"
MALFORMED_LINE = "MalformedOutputLine"

# A truncated line still usually starts with its recordId; finding it lets the record be
# reported as failed (and retried) instead of missing.
_RECORD_ID_PREFIX = re.compile(rb'"recordId"\s*:\s*"((?:[^"\\]|\\.)*)"')

Answer = str | list[float] | None
_new_tuple = tuple.__new__
_NO_USAGE: dict[str, Any] = {}


class Extracted(NamedTuple):
    answer: Answer
    stop_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


class Outcome(NamedTuple):
    """What one output line says about one record. A tuple: millions are made per run."""

    record_id: str
    status: str  # SUCCEEDED or FAILED
    answer: Answer = None
    stop_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class Malformed:
    """A line that is not a JSON object with a recordId. ``record_id`` is salvaged when possible."""

    reason: str
    record_id: str | None


def parse_output_line(raw: bytes) -> Outcome | Malformed:
    """Parse one non-blank line of a ``*.jsonl.out`` file."""
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        return Malformed(f"invalid JSON ({err})", _salvage_record_id(raw))
    if not isinstance(line, dict):
        return Malformed(f"a JSON {type(line).__name__}, not an object", None)
    record_id = line.get("recordId")
    if isinstance(record_id, int) and not isinstance(record_id, bool):
        record_id = str(record_id)
    if not isinstance(record_id, str) or not record_id:
        return Malformed("no recordId", None)

    model_output = line.get("modelOutput")
    if type(model_output) is dict:
        # tuple.__new__ skips the NamedTuple's Python-level constructor: this runs once a record;
        # so does trying the most common body first, before the loop over every shape.
        found = _claude_messages(model_output) or extract_answer(model_output)
        return _new_tuple(Outcome, (record_id, SUCCEEDED, *found, None, None))
    error = line.get("error")
    if error is not None:
        code, message = _error_fields(error)
        return Outcome(record_id, FAILED, error_code=code, error_message=message)
    return Outcome(
        record_id,
        FAILED,
        error_code=NO_OUTPUT_OR_ERROR,
        error_message="the output line has neither modelOutput nor error",
    )


def extract_answer(body: dict[str, Any]) -> Extracted:
    """Find the answer, stop reason and token counts in a model response body."""
    for extractor in _EXTRACTORS:
        found = extractor(body)
        if found is not None:
            return found
    return Extracted(_raw_json(body))


def _salvage_record_id(raw: bytes) -> str | None:
    match = _RECORD_ID_PREFIX.search(raw, 0, 4096)
    if match is None:
        return None
    try:
        value = orjson.loads(b'"' + match.group(1) + b'"')
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, str) and value else None


def _error_fields(error: object) -> tuple[str | None, str | None]:
    if isinstance(error, dict):
        code = error.get("errorCode")
        message = error.get("errorMessage")
        return (
            None if code is None else str(code),
            None if message is None else _as_text(message),
        )
    return None, _as_text(error)


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else _raw_json(value)


def _raw_json(value: object) -> str:
    return orjson.dumps(value).decode()


def _int(value: object) -> int | None:
    return value if type(value) is int else None  # not isinstance: bool is an int subclass


def _str(value: object) -> str | None:
    return value if type(value) is str else None


def _dict(value: object) -> dict[str, Any]:
    return value if type(value) is dict else {}


def _first_dict(value: object) -> dict[str, Any] | None:
    if type(value) is list and value and type(value[0]) is dict:
        return value[0]
    return None


def _vector(value: object) -> list[float] | None:
    if type(value) is list and all(type(x) is float or type(x) is int for x in value):
        return value
    return None


def _text_blocks(blocks: list[Any], *, typed: bool) -> str:
    """Join every text block; without any, keep the blocks' JSON (e.g. a tool call's input);
    no block at all is empty text."""
    texts = [
        text
        for block in blocks
        if type(block) is dict
        and type(text := block.get("text")) is str
        and (not typed or block.get("type") == "text")
    ]
    if texts:
        return "".join(texts)
    return _raw_json(blocks) if blocks else ""


def _claude_messages(body: dict[str, Any]) -> Extracted | None:
    # The most common body by far: the type checks of the helpers are written out inline.
    content = body.get("content")
    if type(content) is not list or not ("stop_reason" in body or body.get("type") == "message"):
        return None
    usage = body.get("usage")
    if type(usage) is not dict:
        usage = _NO_USAGE
    if (
        len(content) == 1
        and type(block := content[0]) is dict
        and block.get("type") == "text"
        and type(text := block.get("text")) is str
    ):
        answer = text  # the usual single text block, without the general join
    else:
        answer = _text_blocks(content, typed=True)
    stop_reason = body.get("stop_reason")
    input_tokens = usage.get("input_tokens")
    output_tokens = usage.get("output_tokens")
    return _new_tuple(
        Extracted,
        (
            answer,
            stop_reason if type(stop_reason) is str else None,
            input_tokens if type(input_tokens) is int else None,
            output_tokens if type(output_tokens) is int else None,
        ),
    )


def _converse_or_nova(body: dict[str, Any]) -> Extracted | None:
    content = _dict(_dict(body.get("output")).get("message")).get("content")
    if not isinstance(content, list):
        return None
    usage = _dict(body.get("usage"))
    return Extracted(
        _text_blocks(content, typed=False),
        _str(body.get("stopReason")),
        _int(usage.get("inputTokens")),
        _int(usage.get("outputTokens")),
    )


def _titan_embedding(body: dict[str, Any]) -> Extracted | None:
    vector = _vector(body.get("embedding"))
    if vector is None:
        by_type = _dict(body.get("embeddingsByType"))
        vector = _vector(by_type.get("float"))
        if vector is None:
            vector = _vector(by_type.get("binary"))
    if vector is None:
        return None
    return Extracted(vector, None, _int(body.get("inputTextTokenCount")), None)


def _llama(body: dict[str, Any]) -> Extracted | None:
    generation = _str(body.get("generation"))
    if generation is None:
        return None
    return Extracted(
        generation,
        _str(body.get("stop_reason")),
        _int(body.get("prompt_token_count")),
        _int(body.get("generation_token_count")),
    )


def _mistral_text(body: dict[str, Any]) -> Extracted | None:
    first = _first_dict(body.get("outputs"))
    if first is None or not isinstance(first.get("text"), str):
        return None
    return Extracted(first["text"], _str(first.get("stop_reason")))


def _mistral_chat(body: dict[str, Any]) -> Extracted | None:
    first = _first_dict(body.get("choices"))
    if first is None:
        return None
    content = _dict(first.get("message")).get("content")
    if isinstance(content, list):
        text: str | None = _text_blocks(content, typed=False)
    else:
        text = _str(content)
    if text is None:
        return None
    usage = _dict(body.get("usage"))
    return Extracted(
        text,
        _str(first.get("finish_reason")) or _str(first.get("stop_reason")),
        _int(usage.get("prompt_tokens")),
        _int(usage.get("completion_tokens")),
    )


def _titan_text(body: dict[str, Any]) -> Extracted | None:
    first = _first_dict(body.get("results"))
    if first is None or not isinstance(first.get("outputText"), str):
        return None
    return Extracted(
        first["outputText"],
        _str(first.get("completionReason")),
        _int(body.get("inputTextTokenCount")),
        _int(first.get("tokenCount")),
    )


_EXTRACTORS = (
    _claude_messages,
    _converse_or_nova,
    _titan_embedding,
    _llama,
    _mistral_text,
    _mistral_chat,
    _titan_text,
)
