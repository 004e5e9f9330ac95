"""The quick schema check never calls an invalid answer valid: it is compared with jsonschema on
thousands of random schemas and instances, across drafts."""

from __future__ import annotations

import random
from typing import Any

import jsonschema
import pytest

from batch_runner.catalog.output_schema import output_schema
from batch_runner.results.fast_schema import quick_check

KEYS = ["a", "b", "c", "status", "ü"]
STRINGS = ["", "yes", "no", "2024-02-29", "2024-02-30", "x@example.com", "Ünïcode ☕", "a" * 12]
DRAFTS = [
    "https://json-schema.org/draft/2020-12/schema",
    "http://json-schema.org/draft-07/schema#",
    "http://json-schema.org/draft-04/schema#",
]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, 1, -3, 7, 2**63, 10**20])
    if kind == 3:
        return rng.choice([1.0, 2.5, -0.5, 3.0, 1e300])
    if kind in (4, 5):
        return rng.choice(STRINGS)
    if kind in (6, 7):
        return {rng.choice(KEYS): random_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def random_schema(rng: random.Random, depth: int = 0) -> Any:
    if rng.random() < 0.05:
        return rng.choice([True, False, {}])
    schema: dict[str, Any] = {}
    types = ["string", "integer", "number", "boolean", "null", "object", "array"]
    for _ in range(rng.randrange(1, 5)):
        keyword = rng.randrange(16 if depth < 2 else 11)
        if keyword == 0:
            schema["type"] = (
                rng.choice(types) if rng.random() < 0.6 else rng.sample(types, rng.randrange(1, 4))
            )
        elif keyword == 1:
            pool = [*STRINGS, None, True, False] + ([1, 1.0, [], {}] if rng.random() < 0.3 else [])
            schema["enum"] = rng.sample(pool, rng.randrange(1, 4))
        elif keyword == 2:
            schema["const"] = rng.choice(["yes", None, False, 1])
        elif keyword == 3:
            schema[
                rng.choice(
                    ["minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"]
                )
            ] = rng.randrange(4)
        elif keyword == 4:
            schema[rng.choice(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"])] = rng.choice(
                [0, 1, 2.5, -1]
            )
        elif keyword == 5:
            schema["pattern"] = rng.choice(["^y", "o", "[0-9]{4}-", "^$"])
        elif keyword == 6:
            schema["format"] = rng.choice(["date", "email", "unknown-format"])
        elif keyword == 7:
            schema["required"] = rng.sample(KEYS, rng.randrange(1, 3))
        elif keyword == 8:
            schema["title"] = "annotations change nothing"
            schema["examples"] = [1]
        elif keyword == 9:
            schema["uniqueItems"] = True  # outside the quick subset: jsonschema checks it
        elif keyword == 10:
            schema["multipleOf"] = 2
        elif keyword in (11, 12):
            schema["properties"] = {
                key: random_schema(rng, depth + 1) for key in rng.sample(KEYS, rng.randrange(1, 4))
            }
        elif keyword == 13:
            schema["additionalProperties"] = rng.choice([False, True, random_schema(rng, depth + 1)])
        elif keyword == 14:
            schema["items"] = random_schema(rng, depth + 1)
        else:
            schema["anyOf"] = [random_schema(rng, depth + 1), random_schema(rng, depth + 1)]
    return schema


def validator(schema: Any, draft: str) -> Any:
    document = {"$schema": draft, **schema} if isinstance(schema, dict) else schema
    cls = jsonschema.validators.validator_for(document)
    cls.check_schema(document)
    return cls(document, format_checker=cls.FORMAT_CHECKER)


@pytest.mark.parametrize("draft", DRAFTS)
def test_quick_check_agrees_with_jsonschema_on_random_schemas(draft: str) -> None:
    rng = random.Random(draft)
    quick_valid = schemas = 0
    while schemas < 400:
        try:
            checker = validator(random_schema(rng), draft)
        except jsonschema.SchemaError:
            continue  # e.g. boolean subschemas before draft 6
        schemas += 1
        quick = quick_check(checker)
        assert quick is not None
        for _ in range(15):
            instance = random_value(rng)
            valid = checker.is_valid(instance)
            assert quick(instance) == valid, (checker.schema, instance)
            quick_valid += valid
    assert quick_valid > 500  # the comparison saw many valid instances, not only rejections


def test_draft_4_integers_and_boolean_exclusive_bounds() -> None:
    checker = validator(
        {"properties": {"n": {"type": "integer", "maximum": 3, "exclusiveMaximum": True}}}, DRAFTS[2]
    )
    quick = quick_check(checker)
    assert quick is not None
    for instance, valid in [({"n": 2}, True), ({"n": 3}, False), ({"n": 2.0}, False), ({"n": True}, False)]:
        assert (quick(instance), checker.is_valid(instance)) == (valid, valid)


def test_references_get_no_quick_check() -> None:
    schema = output_schema(
        {
            "type": "object",
            "$defs": {"tag": {"type": "string"}},
            "properties": {"tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}}},
        }
    )
    assert quick_check(schema.validator) is None


def test_a_property_called_like_a_keyword_is_a_property() -> None:
    schema = output_schema(
        {"type": "object", "properties": {"$ref": {"type": "string"}, "id": {"enum": ["x"]}}}
    )
    quick = quick_check(schema.validator)
    assert quick is not None
    assert quick({"$ref": "a", "id": "x"}) and not quick({"$ref": 1}) and not quick({"id": "y"})
