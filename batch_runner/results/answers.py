"""Find the JSON object in a model's answer and check it against the run's output schema.

Models wrap JSON in code fences, put a sentence before or after it, or (with a prefilled reply)
leave out the opening ``{`` that the request supplied. The parser accepts all of these, in order
of cost, because it runs once per record on runs of millions:

1. the answer as it is, then the prefill plus the answer, with orjson (the usual case);
2. only when both fail: a scan for the first ``{`` from which a whole JSON object decodes.

An answer that is a JSON array or scalar, holds no object, holds two objects, or breaks the
schema yields a one-line problem (bounded in length), never an exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import orjson

from batch_runner.catalog.output_schema import OutputSchema
from batch_runner.results.fast_schema import Check, quick_check
from batch_runner.results.schema_problems import SchemaProblems, bounded, first_problem
from batch_runner.results.typed_answers import typed_answers

# Stop reasons saying the model ran out of output tokens (Claude and Converse; Llama, Mistral; Titan).
TRUNCATED_STOP_REASONS = frozenset({"max_tokens", "length"})
# At most this many "{" are tried as the start of the object: a bound on a pathological answer.
_MAX_STARTS = 32
_JSON_TYPE_NAMES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
_NO_POSITION = -1
_BRACKETS_AND_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[{}\[\]]')  # strings unrolled: fast
_INT64 = 1 << 63
_EXACT_FLOAT = 1 << 53


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constants)


class Parsed(NamedTuple):
    value: dict[str, Any] | None  # the object, or None with a problem
    text: str  # the text the object was read from (prefill put back when that is what parsed)
    problem: str | None = None


class Checked(NamedTuple):
    value: dict[str, Any] | None  # the valid object, or None with a problem
    answer: str  # the answer as the result's answer column shows it (prefill put back)
    problem: str | None = None


def parse_answer(text: str, prefill: str | None = None) -> Parsed:
    """The JSON object in ``text`` (a reply that may continue after ``prefill``)."""
    candidates = (text, prefill + text) if prefill else (text,)
    not_object = None
    for candidate in candidates:
        try:
            # UTF-8 bytes: orjson reads them about twice as fast as a str with non-ASCII text.
            value = orjson.loads(candidate.encode())
        except (orjson.JSONDecodeError, UnicodeEncodeError):
            continue
        if type(value) is dict:
            return Parsed(value, candidate)
        not_object = not_object or _type_name(value)
    whole = _restore_prefill(text, prefill)
    if not_object is not None:
        return Parsed(None, whole, f"answer is {not_object}, not a JSON object")
    if not text.strip():
        return Parsed(None, whole, "answer is empty")
    return _scan(whole)


def _restore_prefill(text: str, prefill: str | None) -> str:
    if not prefill or text.lstrip().startswith(prefill):
        return text
    return prefill + text


def _type_name(value: object) -> str:
    return _JSON_TYPE_NAMES.get(type(value), "null")


def _scan(text: str) -> Parsed:
    """The slow path: the first decodable object in prose, fences or a concatenation."""
    first_error = None
    cut_off = False
    # A "{" or "[" before this position lies inside a value already tried (up to its closing
    # bracket): an object nested in a malformed one is not the answer.
    inside = 0
    closing: dict[int, int] | None = None
    for tries, start in enumerate(_starts(text)):
        if tries >= _MAX_STARTS:
            break
        if start < inside:
            continue
        found = _decode(text, start)
        if isinstance(found, tuple):
            value, end = found
            if text[start] == "[":
                if any(type(item) is dict for item in value):
                    return Parsed(None, text, "answer is an array, not a JSON object")
                inside = end
                continue
            if any(isinstance(_decode(text, later), tuple) for later in _object_starts(text, end)):
                return Parsed(None, text, "answer holds more than one JSON object")
            try:
                orjson.dumps(value)  # the stdlib decoder allows what results cannot store
            except orjson.JSONEncodeError as err:
                return Parsed(None, text, f"answer has a value results cannot store: {err}")
            return Parsed(value, text)
        if text[start] == "{":
            first_error = first_error or found
            if _runs_to_end(found, text):
                first_error, cut_off = found, True
                break  # every later "{" is inside this cut-off object
        # A malformed value ends at its matching bracket; without one (a stray "{" in prose, as in
        # a reply to a prefill that starts with a sentence) where decoding stopped, so that the
        # object after it is still found.
        closing = closing if closing is not None else _closing_brackets(text, start)
        inside = closing.get(start, max(inside, found.pos))
    if first_error is None:
        return Parsed(None, text, "answer is not JSON: no JSON object in it")
    message = first_error.msg.removesuffix(" starting at")
    if message.split(" ", 1)[0][1:].islower():
        message = message[:1].lower() + message[1:]  # "Expecting value" reads on after a colon
    detail = message if first_error.pos == _NO_POSITION else f"{message} at char {first_error.pos}"
    if cut_off:
        return Parsed(None, text, f"answer is not JSON: the object is cut off ({detail})")
    return Parsed(None, text, f"answer is not JSON: {detail}")


def _closing_brackets(text: str, start: int) -> dict[int, int]:
    """The position after the matching close of each bracket opening at or after ``start``,
    strings skipped: in one pass, whatever the number of candidates."""
    closing: dict[int, int] = {}
    opened: list[int] = []
    for token in _BRACKETS_AND_STRINGS.finditer(text, start):
        char = token.group()[0]
        if char in "{[":
            opened.append(token.start())
        elif char in "}]" and opened:
            closing[opened.pop()] = token.end()
    return closing


def _starts(text: str) -> Iterator[int]:
    """Positions of "{" and "[", in order."""
    position = -1
    while True:
        brace, bracket = text.find("{", position + 1), text.find("[", position + 1)
        candidates = [p for p in (brace, bracket) if p >= 0]
        if not candidates:
            return
        position = min(candidates)
        yield position


def _object_starts(text: str, start: int) -> Iterator[int]:
    position = text.find("{", start)
    tries = 0
    while position >= 0 and tries < _MAX_STARTS:
        yield position
        position = text.find("{", position + 1)
        tries += 1


def _decode(text: str, start: int) -> tuple[Any, int] | json.JSONDecodeError:
    try:
        value, end = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as err:
        return err
    except (ValueError, RecursionError) as err:
        return json.JSONDecodeError(str(err) or type(err).__name__, text, _NO_POSITION)
    return value, end


def _runs_to_end(error: json.JSONDecodeError, text: str) -> bool:
    return error.msg.startswith("Unterminated string") or error.pos >= len(text.rstrip())


def check_answer(
    schema: OutputSchema,
    answer: object,
    *,
    prefill: str | None = None,
    stop_reason: str | None = None,
    quick: Check | None = None,
    problems: Callable[[dict[str, Any]], str | None] | None = None,
) -> Checked:
    """Parse ``answer`` and validate it; a problem names the JSON path and what is wrong.

    ``quick`` is ``quick_check(schema.validator)``: True spares jsonschema for a valid answer.
    ``problems`` says what is wrong with an object (``SchemaProblems``; default: jsonschema on
    the whole object)."""
    if not isinstance(answer, str):
        return Checked(None, _as_text(answer), "answer is not text (an embedding vector?)")
    value, text, problem = parse_answer(answer, prefill)
    if value is not None and (quick is None or not quick(value)):
        problem = validation_problem(schema, value) if problems is None else problems(value)
    if problem is None:
        return Checked(value, text)
    if stop_reason is not None and stop_reason.lower() in TRUNCATED_STOP_REASONS:
        problem = f"{bounded(problem)}; stop reason {stop_reason}: raise --max-tokens"
    return Checked(None, text, bounded(problem))


def validation_problem(schema: OutputSchema, value: dict[str, Any]) -> str | None:
    """None when ``value`` is valid, else the most relevant error and how many more there are."""
    return first_problem(schema.validator, value)


def _as_text(value: object) -> str:
    return "" if value is None else orjson.dumps(value).decode()


class AnswerCheck:
    """Checks the answers of one run, and keeps what the typed writers need about its columns."""

    def __init__(self, schema: OutputSchema, prefill: str | None = None) -> None:
        self.schema = schema
        self.prefill = prefill or None
        self.quick = quick_check(schema.validator)
        self.typed = typed_answers(schema.validator)
        # The usual answer's properties, exactly when it is a valid object, by the quickest path
        # the schema has: a record (``typed_answers``) or the object; None for any other answer,
        # ``explain`` then decides (the typed path leaves a few valid answers to it, such as an
        # integer written 1.0). Once per record.
        self.properties: Callable[[object], Any] = self.valid if self.typed is None else self.typed.decode
        self.problems = SchemaProblems(schema.validator)
        self.kinds = {name: schema.column_kind(name) for name in schema.properties}
        self._json = frozenset(name for name, kind in self.kinds.items() if kind == "json")
        self._ranges = {
            name: _INT64 if kind == "int" else _EXACT_FLOAT
            for name, kind in self.kinds.items()
            if kind in ("int", "float")
        }

    def valid(self, answer: object) -> dict[str, Any] | None:
        """The object of the usual answer, exactly a valid object, found without ``check_answer``'s
        layers (once per record); None for any other answer (``__call__`` then says what it is)."""
        if type(answer) is not str or self.quick is None:
            return None
        try:
            # A str, not its UTF-8 bytes: orjson reads a str's own buffer, about 12% faster.
            value = orjson.loads(answer)
        except orjson.JSONDecodeError:  # also a lone surrogate, which UTF-8 cannot hold
            return None
        if type(value) is not dict or not self.quick(value):
            return None
        if self._ranges:
            self._fit_numbers(value)
        return value

    def __call__(self, answer: object, stop_reason: str | None) -> Checked:
        value = self.valid(answer)
        if value is not None:
            return Checked(value, str(answer))  # text: ``valid`` takes nothing else
        return self.explain(answer, stop_reason)

    def explain(self, answer: object, stop_reason: str | None) -> Checked:
        """``__call__`` for an answer the quick paths have turned down (``valid``, ``properties``):
        ``check_answer`` finds the object however it is wrapped, and says what is wrong with it."""
        checked = check_answer(
            self.schema,
            answer,
            prefill=self.prefill,
            stop_reason=stop_reason,
            quick=self.quick,
            problems=self.problems,
        )
        if checked.value is not None and self._ranges:
            self._fit_numbers(checked.value)
        return checked

    def text_columns(self) -> frozenset[str]:
        """The number properties ``_fit_numbers`` has turned into JSON text so far."""
        return frozenset(
            name for name, kind in self.kinds.items() if kind == "json" and name not in self._json
        )

    def widen(self, names: frozenset[str]) -> None:
        """Turn ``names`` into JSON text columns, as another process's ``_fit_numbers`` did."""
        for name in names:
            self.kinds[name] = "json"
            self._ranges.pop(name, None)

    def _fit_numbers(self, value: dict[str, Any]) -> None:
        # Typed Parquet has int64 and float64 columns: a valid number beyond their exact range
        # (JSON has no limit) turns its column into JSON text rather than failing the write.
        beyond = [name for name, limit in self._ranges.items() if _exceeds(value.get(name), limit)]
        for name in beyond:
            self.kinds[name] = "json"
            del self._ranges[name]


def _exceeds(number: object, limit: int) -> bool:
    """A number an int64 column (limit 2**63) or a float64 column (2**53 for ints) cannot hold."""
    if isinstance(number, bool) or not isinstance(number, int | float):
        return False
    if isinstance(number, float) and limit != _INT64:
        return False
    return not -limit <= number < limit
