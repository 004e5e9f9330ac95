"""The one-pass typed decoder never calls an invalid answer valid, and reads exactly the values
orjson reads: compared with jsonschema and orjson on thousands of random object schemas and
answers, with the numbers, keys and texts where msgspec and orjson could part ways."""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest

from batch_runner.catalog.output_schema import output_schema
from batch_runner.results.answers import AnswerCheck
from batch_runner.results.typed_answers import TypedAnswers, typed_answers

KEYS = ["a", "b", "class", "my key", "ü"]
STRINGS = ["", "yes", "no", "a" * 12, "Ünïcode ☕", "😀", 'quote " and \\ backslash']
NUMBERS = [0, 1, -3, 7, 1.0, 2.5, -0.5, 3.0, 1e300, 2**53 - 1, 2**53, -(2**53), 2**63, 10**20]
DRAFTS = ["https://json-schema.org/draft/2020-12/schema", "http://json-schema.org/draft-07/schema#"]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 2 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind in (2, 3):
        return rng.choice(NUMBERS)
    if kind in (4, 5):
        return rng.choice(STRINGS)
    if kind == 6:
        return {rng.choice(KEYS): random_value(rng, depth + 1) for _ in range(rng.randrange(3))}
    return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def random_property(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    choice = rng.randrange(10)
    if choice == 0:
        schema["enum"] = rng.sample(STRINGS, rng.randrange(1, 4))
    elif choice == 1:
        schema["const"] = rng.choice(STRINGS)
    else:
        types = ["string", "integer", "number", "boolean", "null"] + (["array"] if depth < 2 else [])
        schema["type"] = rng.choice(types) if rng.random() < 0.7 else rng.sample(types, rng.randrange(1, 4))
        if "array" in schema["type"] and rng.random() < 0.9:
            schema["items"] = random_property(rng, depth + 1)  # without items: no typed decoder
    for _ in range(rng.randrange(4)):
        keyword = rng.randrange(8)
        if keyword == 0:
            schema[rng.choice(["minLength", "maxLength", "minItems", "maxItems"])] = rng.randrange(4)
        elif keyword in (1, 2):
            schema[rng.choice(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"])] = rng.choice(
                [0, 1, 2.5, -1, -0.5, 7, 2**53]
            )
        elif keyword == 3:
            schema["pattern"] = rng.choice(["^y", "o", "☕", "^$"])
        elif keyword == 4 and depth < 2:
            schema["items"] = random_property(rng, depth + 1)
        elif keyword == 5:
            schema["title"] = "annotations change nothing"
        elif keyword == 6 and rng.random() < 0.2:
            schema["format"] = "date"  # checked by the validator: no typed decoder
        elif keyword == 7 and rng.random() < 0.2:
            schema["type"] = "object"  # nested objects: no typed decoder
    return schema


def random_schema(rng: random.Random, draft: str) -> dict[str, Any]:
    names = rng.sample(KEYS, rng.randrange(1, len(KEYS) + 1))
    schema: dict[str, Any] = {
        "$schema": draft,
        "type": "object",
        "properties": {name: random_property(rng) for name in names},
        "required": rng.sample(names, rng.randrange(len(names) + 1)),
    }
    if rng.random() < 0.6:
        schema["additionalProperties"] = rng.random() < 0.3
    return schema


def random_answer(rng: random.Random, names: list[str]) -> str:
    """An object's JSON text: mostly the schema's keys, sometimes others, duplicates or spaces."""
    members = [(name, random_value(rng)) for name in names if rng.random() < 0.9]
    if rng.random() < 0.2:
        members.append((rng.choice(KEYS), random_value(rng)))  # another key, or a duplicate
    text = ", " if rng.random() < 0.2 else ","
    return "{" + text.join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in members) + "}"


def read(typed: TypedAnswers | None, answer: str) -> dict[str, Any] | None:
    """The properties of a valid answer as the typed decoder reads them, or None."""
    assert typed is not None
    record = typed.decode(answer)
    return None if record is None else typed.as_dict(record)


def same(left: Any, right: Any) -> bool:
    """Equal with the same JSON types (1 is not 1.0 in a result column)."""
    return type(left) is type(right) and (
        all(same(a, b) for a, b in zip(left, right, strict=True)) and len(left) == len(right)
        if isinstance(left, list)
        else left == right
    )


@pytest.mark.parametrize("draft", DRAFTS)
def test_typed_decoder_agrees_with_jsonschema_and_orjson(draft: str) -> None:
    rng = random.Random(draft)
    decoders = accepted = 0
    for _ in range(300):
        schema = random_schema(rng, draft)
        validator = output_schema(schema).validator
        typed = typed_answers(validator)
        if typed is None:
            continue
        decoders += 1
        names = list(schema["properties"])
        for _ in range(60):
            text = random_answer(rng, names)
            found = read(typed, text)
            if found is None:
                continue
            accepted += 1
            value = orjson.loads(text)
            assert validator.is_valid(value), (schema, text)
            assert list(found) == names
            assert all(same(found[name], value.get(name)) for name in names), (schema, text, found)
    # The comparison means something only if the decoder is made and says yes often.
    assert decoders > 150
    assert accepted > 400


def test_the_audit_schema_gets_a_typed_decoder() -> None:
    check = AnswerCheck(output_schema(AUDIT))
    answer = '{"concerns": ["sleep"], "resolved": "no", "risk_flag": false, "note": "ok"}'
    assert check.typed is not None
    expected = {"concerns": ["sleep"], "resolved": "no", "risk_flag": False, "note": "ok"}
    assert read(check.typed, answer) == expected
    assert read(check.typed, answer.replace('"no"', '"maybe"')) is None
    assert read(check.typed, '{"concerns": [], "resolved": "no", "risk_flag": false, "note": "ok"}') is None
    assert read(check.typed, answer.replace('"ok"}', '"ok", "extra": 1}')) is None  # additionalProperties
    assert read(check.typed, "```json\n" + answer + "\n```") is None  # the general path finds it


AUDIT = {
    "type": "object",
    "properties": {
        "concerns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "resolved": {"enum": ["yes", "no"]},
        "risk_flag": {"type": "boolean"},
        "note": {"type": "string"},
    },
    "required": ["concerns", "resolved", "risk_flag"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    "answer",
    [
        '{"n": 1.0}',  # an integer for jsonschema, a float for orjson: the general path keeps it
        '{"n": 9007199254740992}',  # 2**53: beyond what a float column holds exactly
        '{"n": 100000000000000000000}',  # orjson reads it as a float
        '{"n": "x", "n": 2}',  # a duplicated key: jsonschema sees only the last
        '{"n": true}',  # a boolean is no integer
        '{"n": 2, "m": 1e400}',  # a number no double holds, in a key nobody reads
    ],
)
def test_answers_left_to_the_general_path(answer: str) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}}
    typed = typed_answers(output_schema(schema).validator)
    assert typed is not None
    assert read(typed, '{"n": 2}') == {"n": 2}
    found = read(typed, answer)
    assert found is None or found == {"n": 2}


@pytest.mark.parametrize(
    ("bounds", "inside", "outside"),
    [
        ({"minimum": 1.5}, 2, 1),
        ({"exclusiveMinimum": 1.5}, 2, 1),
        ({"exclusiveMinimum": 2}, 3, 2),
        ({"maximum": 2.5}, 2, 3),
        ({"exclusiveMaximum": 2}, 1, 2),
        ({"exclusiveMaximum": -0.5}, -1, 0),
    ],
)
def test_fractional_bounds_on_integers(bounds: dict[str, Any], inside: int, outside: int) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", **bounds}}}
    typed = typed_answers(output_schema(schema).validator)
    assert typed is not None
    assert read(typed, f'{{"n": {inside}}}') == {"n": inside}
    assert read(typed, f'{{"n": {outside}}}') is None


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "object"}}},
        {"type": "object", "properties": {"a": {}}},
        {"type": "object", "properties": {"a": {"type": "string", "format": "date"}}},
        {"type": "object", "properties": {"a": {"enum": ["x", 1]}}},
        {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}},
        {"type": "object", "properties": {"a": {"type": "array", "uniqueItems": True}}},
        {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "additionalProperties": {"type": "string"},
        },
        {"type": "object", "properties": {"a": {"type": "string"}}, "minProperties": 1},
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}, "$defs": {"x": {"type": "string"}}},
        {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "object",
            "properties": {"a": {"type": "integer", "minimum": 0, "exclusiveMinimum": True}},
        },
    ],
)
def test_schemas_outside_the_typed_subset_get_no_typed_decoder(schema: dict[str, Any]) -> None:
    assert typed_answers(output_schema(schema).validator) is None
