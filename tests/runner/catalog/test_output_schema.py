"""The output schema: loading and checking, result column kinds, native reduction, instructions."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from batch_runner.catalog.output_schema import (
    JSON_PREFILL,
    PRE_FORMATTED,
    PREFILL,
    SCHEMA_CLOSE,
    SCHEMA_OPEN,
    OutputSchema,
    StructuredOutput,
    load_output_schema,
    output_schema,
)
from batch_runner.exceptions import UsageError

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def schema(properties: dict[str, Any], **extra: Any) -> OutputSchema:
    return OutputSchema({"type": "object", "properties": properties, **extra})


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"type": "object", ', r"output schema .*s\.json is not valid JSON: Expecting"),
        (b"\xff\xfe{}", r"cannot read output schema .*s\.json"),
        ("[1, 2]", r"output schema .*s\.json must be a JSON object, not list"),
        (
            '{"type": "array", "items": {}}',
            r'.*s\.json: the schema must describe a JSON object: set "type": "object"',
        ),
        ('{"type": "object"}', 'list the fields under "properties"'),
        ('{"type": "object", "properties": {}}', "each top-level property becomes a result column"),
        (
            '{"type": "object", "properties": {"a": {"type": "text"}}}',
            "not a valid JSON Schema at properties/a/type",
        ),
        ('{"type": "object", "properties": {"a": {"minLength": -1}}}', "at properties/a/minLength"),
    ],
)
def test_bad_schema_files_are_one_line_errors_naming_the_file(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = write(tmp_path / "s.json", content)
    with pytest.raises(UsageError, match=message) as caught:
        load_output_schema(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "reference", ["#/$defs/missing", "#/definitions/label", "https://example.com/label.json", "label.json"]
)
def test_references_outside_the_schema_are_refused_at_submit(reference: str) -> None:
    # results validates offline, long after the jobs ran: a dangling $ref would fail every answer then
    document = {
        "type": "object",
        "$defs": {"label": {"enum": ["a", "b"]}},
        "properties": {"label": {"$ref": reference}},
    }
    with pytest.raises(UsageError, match=r"\$ref .* at /properties/label points at nothing in the schema"):
        output_schema(document)


def test_references_inside_the_schema_are_kept() -> None:
    document = {
        "type": "object",
        "$defs": {"label": {"enum": ["a", "b"]}},
        "properties": {
            "label": {"$ref": "#/$defs/label"},
            "again": {"$ref": "#/properties/label"},
            "examples": {"enum": [{"$ref": "not a reference: data"}]},
        },
    }
    checked = output_schema(document)
    assert checked.validator.is_valid({"label": "a", "again": "b"})
    assert not checked.validator.is_valid({"label": "c"})


def test_a_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    document = {"type": "object", "properties": {"label": {"enum": ["a", "b"]}}}
    path = write(tmp_path / "s.json", b"\xef\xbb\xbf" + json.dumps(document).encode())
    assert load_output_schema(path).document == document


def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"output schema .*nope\.json does not exist"):
        output_schema(str(tmp_path / "nope.json"))


def test_values_that_are_not_json_data_are_refused() -> None:
    with pytest.raises(UsageError, match="is not JSON data"):
        output_schema({"type": "object", "properties": {"a": {"enum": {1, 2}}}})
    with pytest.raises(UsageError, match="must be a JSON object, not int"):
        output_schema(3)  # type: ignore[arg-type]


def test_dict_path_and_object_give_the_same_schema(tmp_path: Path) -> None:
    document = json.loads((EXAMPLES / "concern_audit" / "schema.json").read_text())
    from_file = output_schema(EXAMPLES / "concern_audit" / "schema.json")
    from_dict = output_schema(document)
    assert from_file == from_dict
    assert output_schema(from_dict) is from_dict
    assert from_dict.properties == ("concerns", "interventions", "resolved", "risk_flag", "note")


def test_the_document_is_a_copy_the_caller_cannot_change_afterwards() -> None:
    document: dict[str, Any] = {"type": "object", "properties": {"a": {"type": "string"}}}
    checked = output_schema(document)
    document["properties"]["b"] = {"type": "string"}
    assert checked.properties == ("a",)


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ({"type": "string"}, "string"),
        ({"type": "integer"}, "int"),
        ({"type": "number"}, "float"),
        ({"type": "boolean"}, "bool"),
        ({"type": "array", "items": {"type": "string"}}, "json"),
        ({"type": "object", "properties": {"x": {}}}, "json"),
        ({"type": ["string", "null"]}, "string"),
        ({"type": ["integer", "string"]}, "json"),
        ({"enum": ["yes", "no"]}, "string"),
        ({"enum": ["yes", None]}, "string"),
        ({"enum": ["yes", 1]}, "json"),
        ({}, "json"),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "json"),
        # Pydantic's Optional[...] fields: typed columns like their plain counterparts
        ({"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}, "int"),
        ({"anyOf": [{"type": "boolean"}, {"type": "null"}]}, "bool"),
        ({"oneOf": [{"type": "number"}, {"type": "null"}]}, "float"),
        ({"anyOf": [{"type": "integer"}, {"type": "number"}]}, "float"),
        ({"anyOf": [{"enum": ["a", "b"]}, {"type": "null"}]}, "string"),
        ({"anyOf": [{"minLength": 1}, {"type": "null"}]}, "json"),  # a branch of any type
        ({"anyOf": [{"type": "array"}, {"type": "null"}]}, "json"),
        ({"type": ["integer", "number", "null"]}, "float"),
    ],
)
def test_column_kinds(spec: dict[str, Any], kind: str) -> None:
    assert schema({"field": spec}).column_kind("field") == kind


def test_property_order_is_schema_order() -> None:
    assert schema({"z": {}, "a": {}, "m": {}}).properties == ("z", "a", "m")


def test_the_validator_checks_formats_and_nested_values() -> None:
    checked = schema(
        {"email": {"type": "string", "format": "email"}, "tags": {"type": "array", "items": {"enum": ["a"]}}},
        required=["email"],
    )
    assert checked.validator.is_valid({"email": "x@example.com", "tags": ["a"]})
    messages = sorted(
        error.message for error in checked.validator.iter_errors({"email": "nope", "tags": ["b"]})
    )
    assert messages == ["'b' is not one of ['a']", "'nope' is not a 'email'"]


def test_native_schema_drops_unsupported_keywords_at_every_depth_and_closes_objects() -> None:
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "minimum": {"type": "integer", "minimum": 1, "maximum": 5},  # a property named like a keyword
            "maxLength": {"type": "string", "maxLength": 3, "pattern": "^[a-z]+$"},
            "items": {
                "type": "array",
                "minItems": 2,
                "maxItems": 9,
                "items": {
                    "type": "object",
                    "properties": {"n": {"type": "number", "multipleOf": 0.5, "exclusiveMinimum": 0}},
                    "additionalProperties": True,
                },
            },
            "one": {"type": "array", "minItems": 1},
            "when": {"type": "string", "format": "date"},
            "colour": {"type": "string", "format": "color"},
            "fixed": {"const": {"minimum": 1}, "default": {"maxLength": 2}},
            "ref": {"$ref": "#/$defs/point"},
        },
        "dependentRequired": {"minimum": ["maxLength"]},
        "$defs": {"point": {"type": "object", "properties": {"x": {"minimum": 0}}, "minProperties": 1}},
    }
    original = copy.deepcopy(document)

    native = OutputSchema(document).native_schema()

    assert native == {
        "type": "object",
        "properties": {
            "minimum": {"type": "integer"},
            "maxLength": {"type": "string", "pattern": "^[a-z]+$"},
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"n": {"type": "number"}},
                    "additionalProperties": False,
                },
            },
            "one": {"type": "array", "minItems": 1},
            "when": {"type": "string", "format": "date"},
            "colour": {"type": "string"},
            "fixed": {"const": {"minimum": 1}, "default": {"maxLength": 2}},
            "ref": {"$ref": "#/$defs/point"},
        },
        "dependentRequired": {"minimum": ["maxLength"]},
        "$defs": {"point": {"type": "object", "properties": {"x": {}}, "additionalProperties": False}},
        "additionalProperties": False,
    }
    assert document == original  # the validated schema keeps every limit


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"type": "object", "additionalProperties": {"type": "number"}}, "/properties/scores"),
        ({"type": "object"}, "/properties/scores"),
        ({"type": "array", "items": {"type": "object", "properties": {}}}, "/properties/scores/items"),
    ],
)
def test_native_schema_refuses_an_object_it_could_only_answer_with_empty(
    spec: dict[str, Any], where: str
) -> None:
    # Closing {"scores": {criterion: number}} leaves the model {} to write: refused before submit,
    # rather than empty maps (or a schema failure on every row) after the jobs ran.
    with pytest.raises(UsageError, match=f"the open-ended one at {where} could only be {{}}"):
        schema({"scores": spec}).native_schema()
    closed = schema({"scores": {"type": "object", "additionalProperties": False}})
    assert closed.native_schema()["properties"]["scores"] == {"type": "object", "additionalProperties": False}


def test_instructions_quote_the_schema_between_the_markers() -> None:
    checked = schema({"note": {"type": "string", "description": "ünïcödé, no escapes"}})
    text = checked.instructions()
    assert text.startswith("Reply with one JSON object and nothing else")
    quoted = text.split(f"{SCHEMA_OPEN}\n", 1)[1]
    assert quoted.endswith(f"\n{SCHEMA_CLOSE}")
    assert json.loads(quoted.removesuffix(f"\n{SCHEMA_CLOSE}")) == checked.document
    assert "ünïcödé" in text
    assert "\n" not in quoted.removesuffix(f"\n{SCHEMA_CLOSE}")  # compact: one line, few tokens


def test_structured_output_round_trips_through_the_manifest() -> None:
    prefill = StructuredOutput(PREFILL, JSON_PREFILL, {"field": "messages"})
    stored = json.loads(json.dumps(prefill.to_dict()))
    assert StructuredOutput.from_dict(stored) == prefill
    assert StructuredOutput.from_dict({"mechanism": PRE_FORMATTED}) == StructuredOutput(PRE_FORMATTED)
    assert StructuredOutput.from_dict(None) is None
