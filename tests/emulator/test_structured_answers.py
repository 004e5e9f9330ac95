"""The emulator's JSON-instance generator and the spoiled answers fault injection makes from it."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import jsonschema
import pytest

from batch_runner.catalog.output_schema import OutputSchema
from batch_runner.local.models import ModelError
from batch_runner.local.models.schema_answers import (
    FENCE_INTRO,
    FENCED,
    INVALID,
    UNPARSEABLE,
    SchemaAsk,
    break_schema,
    check_native_schema,
    schema_in_text,
    structured_reply,
)
from batch_runner.local.models.structured import instance
from tests.emulator.schema_cases import AUDIT, CLASSIFICATION

SEEDS = [f"model/row-{index}" for index in range(60)]

NESTED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "minLength": 40, "maxLength": 60},
        "speaker": {
            "type": "object",
            "properties": {
                "role": {"enum": ["client", "therapist"]},
                "turns": {"type": "integer", "minimum": 1, "maximum": 3},
                "topics": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
            },
            "required": ["role", "turns"],
            "additionalProperties": False,
        },
    },
    "required": ["summary", "speaker"],
    "additionalProperties": False,
}
NUMBERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "even": {"type": "integer", "multipleOf": 2, "minimum": -7, "maximum": 7},
        "open": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "tenths": {"type": "number", "multipleOf": 0.1, "minimum": 0.2, "maximum": 0.9},
        "above": {"type": "integer", "exclusiveMinimum": 1000},
        "below": {"type": "number", "maximum": -5.5},
        "draft4_bounds": {"type": "integer", "minimum": 3, "maximum": 4},
    },
    "required": ["even", "open", "tenths", "above", "below", "draft4_bounds"],
}
FORMATS: dict[str, Any] = {
    "type": "object",
    "properties": {
        name: {"type": "string", "format": name}
        for name in ("date", "date-time", "email", "uri", "uuid", "ipv4")
    },
}
COMBINED: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "score": {"type": "integer", "minimum": 0, "maximum": 10},
        "node": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            },
            "required": ["name", "children"],
            "additionalProperties": False,
        },
    },
    "definitions": {"flag": {"const": True}},
    "properties": {
        "score": {"$ref": "#/$defs/score"},
        "flag": {"$ref": "#/definitions/flag"},
        "tree": {"$ref": "#/$defs/node"},
        "maybe": {"type": ["string", "null"], "maxLength": 30},
        "either": {"anyOf": [{"type": "string", "format": "date"}, {"type": "integer", "minimum": 5}]},
        "exactly_one": {
            "oneOf": [{"type": "integer", "multipleOf": 3}, {"type": "integer", "multipleOf": 5}]
        },
        "both": {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
            ]
        },
        "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}], "items": False},
        "labels": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "uniqueItems": True, "minItems": 3},
        "untyped": {},
        "extras": {"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 2},
    },
    "required": ["score", "tree", "either", "exactly_one", "both", "pair", "labels"],
}
DRAFT7: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "definitions": {"tag": {"type": "string", "maxLength": 12}},
    "properties": {
        "tags": {"type": "array", "items": {"$ref": "#/definitions/tag"}, "maxItems": 1},
        "tuple": {
            "type": "array",
            "items": [{"type": "boolean"}, {"type": "null"}],
            "additionalItems": False,
        },
    },
}
SCHEMAS = {
    "classification": CLASSIFICATION.document,
    "audit": AUDIT.document,
    "audit-native": AUDIT.native_schema(),
    "nested": NESTED,
    "numbers": NUMBERS,
    "formats": FORMATS,
    "combined": COMBINED,
    "draft7": DRAFT7,
}


def checker(schema: dict[str, Any]) -> Any:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_instance_validates_against_its_schema(name: str) -> None:
    schema = SCHEMAS[name]
    validator = checker(schema)
    for seed in SEEDS:
        value = instance(schema, seed)
        errors = [error.message for error in validator.iter_errors(value)]
        assert not errors, f"{name} with seed {seed}: {errors} in {json.dumps(value)}"
        assert list(value) == list(schema["properties"])  # every property, in schema order


def test_instances_repeat_for_a_seed_and_vary_by_row() -> None:
    assert instance(AUDIT.document, "m/row-1") == instance(AUDIT.document, "m/row-1")
    answers = {json.dumps(instance(AUDIT.document, seed)) for seed in SEEDS}
    assert len(answers) == len(SEEDS)
    labels = Counter(instance(CLASSIFICATION.document, seed)["category"] for seed in SEEDS)
    assert set(labels) == set(CLASSIFICATION.document["properties"]["category"]["enum"])


def test_strings_are_short_readable_emulated_text_and_formats_look_real() -> None:
    audit = instance(AUDIT.document, "seed")
    assert audit["note"].startswith("[emulated] ") and len(audit["note"]) < 60
    assert all(concern.startswith("[emulated] ") for concern in audit["concerns"])
    formats = instance(FORMATS, "seed")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", formats["date"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", formats["date-time"])
    assert re.fullmatch(r"https://example\.com/\S+", formats["uri"])  # uri is not format-checked here
    assert re.fullmatch(r"[^@\s]+@example\.com", formats["email"])


def test_nullable_properties_are_sometimes_null_and_recursion_ends() -> None:
    values = [instance(COMBINED, seed) for seed in SEEDS]
    assert {value["maybe"] is None for value in values} == {True, False}
    depth, node = 0, values[0]["tree"]
    while node["children"]:
        node, depth = node["children"][0], depth + 1
    assert depth < 10


PATTERNS = [
    "^[A-Z]{3}$",
    r"^\d{4}-\d{2}-\d{2}$",
    "^(low|medium|high)$",
    r"^[a-z]+@[a-z]+\.(com|org)$",
    r"^[^\s,]{2,8}$",
    r"^T-\d+(\.\d{1,2})?$",
    "[0-9a-f]{8}",  # unanchored: a match anywhere counts
    r"^\w{3,}$",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_strings_under_a_pattern_match_it_for_every_seed(pattern: str) -> None:
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": pattern, "maxLength": 40}},
        "required": ["code"],
    }
    codes = {instance(schema, f"seed-{n}")["code"] for n in range(40)}
    for code in codes:
        assert re.search(pattern, code) and len(code) <= 40, code
    assert len(codes) > 1  # seeded: rows differ


def test_a_pattern_the_walk_cannot_follow_falls_back_to_emulated_text() -> None:
    """Documented limit: lookarounds and backreferences are not followed."""
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(?=A)(.)\\1$"}}}
    assert instance(schema, "seed")["code"].startswith("[emulated] ")


@pytest.mark.parametrize("name", SCHEMAS)
def test_broken_answers_are_json_the_schema_rejects(name: str) -> None:
    schema = SCHEMAS[name]
    validator = checker(schema)
    for seed in SEEDS[:20]:
        broken = break_schema(schema, instance(schema, seed), seed)
        assert not validator.is_valid(broken)
        json.dumps(broken)


def test_broken_answers_vary_between_a_missing_field_and_a_bad_value() -> None:
    kinds = Counter()
    for seed in SEEDS:
        valid, broken = (
            instance(AUDIT.document, seed),
            break_schema(AUDIT.document, instance(AUDIT.document, seed), seed),
        )
        missing = set(valid) - set(broken)
        kinds["missing" if missing else "changed"] += 1
    assert kinds["missing"] > 5 and kinds["changed"] > 5


@pytest.mark.parametrize("prefill", ["", "{"])
def test_the_three_faults_shape_the_reply(prefill: str) -> None:
    ask = SchemaAsk(AUDIT.document, prefill)

    def full_text(fault: str | None) -> str:
        return prefill + structured_reply("m", ask, {"row": 1}, None, fault).text

    valid = json.loads(full_text(None))
    assert AUDIT.validator.is_valid(valid)
    assert not AUDIT.validator.is_valid(json.loads(full_text(INVALID)))
    with pytest.raises(ValueError):
        json.loads(full_text(UNPARSEABLE))
    assert valid == json.loads(prefill + structured_reply("m", ask, {"row": 1}, None, None).text)
    fenced = full_text(FENCED)
    if prefill:  # nothing can come before a prefilled "{": the prose follows the object
        assert json.loads(fenced[: fenced.rindex("}") + 1]) == valid
    else:
        intro, rest = fenced.split("\n```json\n")
        assert intro == FENCE_INTRO
        inner, outro = rest.split("\n```\n")
        assert json.loads(inner) == valid and outro.strip()


def test_the_schema_is_read_from_the_instructions() -> None:
    schema = OutputSchema(NESTED)
    assert schema_in_text(f"Describe it.\n\n{schema.instructions()}") == NESTED
    assert schema_in_text("no schema here") is None
    assert schema_in_text("<json_schema>\nnot json\n</json_schema>") is None


@pytest.mark.parametrize("name", ["classification", "audit", "nested", "numbers", "combined"])
def test_reduced_schemas_pass_the_native_check(name: str) -> None:
    document = SCHEMAS[name]
    if name == "combined":  # its open-ended "extras" map is refused for native requests (could only be {})
        properties = {k: v for k, v in document["properties"].items() if k != "extras"}
        document = {**document, "properties": properties}
    check_native_schema(OutputSchema(document).native_schema(), "output_config.format.schema")


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"type": "object", "properties": {"a": {"type": "string"}}},
            "'additionalProperties' must be explicitly",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "object", "properties": {}}},
                "additionalProperties": False,
            },
            "'additionalProperties' must be explicitly set to false",
        ),
        (
            {
                "type": "object",
                "properties": {"n": {"type": "integer", "minimum": 1}},
                "additionalProperties": False,
            },
            "For 'integer' type, property 'minimum' is not supported",
        ),
        (
            {
                "type": "object",
                "properties": {"s": {"type": "string", "maxLength": 9}},
                "additionalProperties": False,
            },
            "For 'string' type, property 'maxLength' is not supported",
        ),
        (
            {
                "type": "object",
                "properties": {"l": {"type": "array", "minItems": 2}},
                "additionalProperties": False,
            },
            "'minItems' values other than 0 and 1 are not supported",
        ),
        ("not a schema", "Input should be a valid dictionary"),
    ],
)
def test_the_native_check_refuses_what_constrained_decoding_refuses(schema: Any, message: str) -> None:
    with pytest.raises(ModelError, match=message) as excinfo:
        check_native_schema(schema, "output_config.format.schema")
    assert excinfo.value.code == 400
    assert excinfo.value.message.startswith("output_config.format.schema: ")
