"""``--output-schema``: the JSON Schema every answer of a run must match, checked once at submit.

The schema must describe a JSON object with ``properties``; each top-level property becomes a result
column. Requests ask for it in the way the model family supports best (``StructuredOutput``):

- ``native``: the service constrains decoding to the schema (Claude 4.5 and later through
  ``output_config.format``; Converse ``outputConfig.textFormat``). Constrained decoding accepts a
  subset of JSON Schema, so the request carries ``native_schema()``; the full schema still applies
  when results are validated.
- ``prefill``: the instructions below, and the model's reply is started with ``{`` so it can only
  continue a JSON object (older Claude models, raw-prompt families such as Llama and Mistral text).
  The reply then lacks that ``{``; results put it back before parsing.
- ``instructions``: the schema is written into the prompt between ``SCHEMA_OPEN`` and ``SCHEMA_CLOSE``.
- ``pre-formatted``: the user built the requests; the schema only validates the answers.

Whatever the mechanism, ``results`` parses and validates every answer; one that fails keeps its raw
text and gets ``error_code = SCHEMA_ERROR_CODE``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch_runner.exceptions import UsageError

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

# jsonschema and referencing are imported where a schema is checked or used, not at import: every
# command loads this module (through the model adapters), few of them need a validator.

SCHEMA_ERROR_CODE = "schema"

NATIVE = "native"
PREFILL = "prefill"
INSTRUCTIONS = "instructions"
PRE_FORMATTED = "pre-formatted"
MECHANISMS = (NATIVE, PREFILL, INSTRUCTIONS, PRE_FORMATTED)
JSON_PREFILL = "{"

# The instructions quote the schema between these markers; the emulator's models read it from there.
SCHEMA_OPEN = "<json_schema>"
SCHEMA_CLOSE = "</json_schema>"

# Keywords constrained decoding rejects (Anthropic's structured-outputs limits); dropped from the
# native request only. minItems is kept when 0 or 1, the values it supports. "$schema" is dropped
# as Anthropic's SDKs drop it: a dialect URI is no constraint, and the service need not accept it.
_UNSUPPORTED_NATIVE = frozenset(
    {
        "$schema",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "maxItems",
        "minProperties",
        "maxProperties",
    }
)
# String formats constrained decoding supports; others are dropped from the native request.
_NATIVE_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
)
# Keys whose value maps names to schemas (a property may be called "minimum"), and keys holding data.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
_LITERALS = frozenset({"enum", "const", "default", "examples", "dependentRequired"})
_SCALAR_KINDS = {"string": "string", "integer": "int", "number": "float", "boolean": "bool"}


@dataclass(frozen=True)
class OutputSchema:
    """A checked JSON Schema whose instances are JSON objects."""

    document: dict[str, Any]

    def __post_init__(self) -> None:
        _check(self.document)

    @property
    def properties(self) -> tuple[str, ...]:
        """Top-level property names, in schema order: the result columns."""
        return tuple(self.document.get("properties", {}))

    def column_kind(self, name: str) -> str:
        """``string``, ``int``, ``float``, ``bool`` or ``json`` (anything nested or mixed)."""
        types = _json_types(self.document.get("properties", {}).get(name))
        if types is None:
            return "json"
        types.discard("null")
        if types == {"integer", "number"}:
            return "float"  # an integer is a number: the float column holds both
        return _SCALAR_KINDS.get(types.pop(), "json") if len(types) == 1 else "json"

    @cached_property
    def validator(self) -> Validator:
        import jsonschema

        cls = jsonschema.validators.validator_for(self.document, default=jsonschema.Draft202012Validator)
        return cls(self.document, format_checker=cls.FORMAT_CHECKER)

    def instructions(self) -> str:
        """What the prompt says when the model has no native structured output."""
        compact = json.dumps(self.document, ensure_ascii=False, separators=(",", ":"))
        return (
            "Reply with one JSON object and nothing else: no code fences and no text before or after it. "
            f"The object must be valid against this JSON Schema:\n{SCHEMA_OPEN}\n{compact}\n{SCHEMA_CLOSE}"
        )

    def native_schema(self) -> dict[str, Any]:
        """The schema as constrained decoding accepts it: every object closed to extra properties,
        unsupported keywords removed."""
        return _native(self.document)


@dataclass(frozen=True)
class StructuredOutput:
    """How a run's requests ask for JSON; stored in the run manifest's plan."""

    mechanism: str
    prefill: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # e.g. {"field": "output_config.format"}

    def to_dict(self) -> dict[str, Any]:
        return {"mechanism": self.mechanism, "prefill": self.prefill, "detail": dict(self.detail)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> StructuredOutput | None:
        if not data:
            return None
        return cls(str(data["mechanism"]), data.get("prefill"), dict(data.get("detail") or {}))


def load_output_schema(path: str | Path) -> OutputSchema:
    """Read and check a schema file; a problem is one ``UsageError`` line naming the file."""
    if not str(path):
        raise UsageError("--output-schema is empty: give a JSON Schema file")  # Path("") would be "."
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte order mark, as Windows editors write
    except FileNotFoundError:
        raise UsageError(f"output schema {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read output schema {path}: {err}") from err
    try:
        document = json.loads(text)
    except ValueError as err:
        raise UsageError(f"output schema {path} is not valid JSON: {err}") from err
    return output_schema(document, origin=str(path))


def output_schema(value: Mapping[str, Any] | str | Path | OutputSchema, *, origin: str = "") -> OutputSchema:
    """An ``OutputSchema`` from a schema dict, a schema file path, or one already built."""
    if isinstance(value, OutputSchema):
        return value
    if isinstance(value, str | Path):
        return load_output_schema(value)
    if not isinstance(value, Mapping):
        raise UsageError(f"output schema{_at(origin)} must be a JSON object, not {type(value).__name__}")
    try:
        return OutputSchema(json.loads(json.dumps(value)))
    except UsageError as err:
        raise UsageError(f"output schema{_at(origin)}: {err}") from None
    except (TypeError, ValueError) as err:
        raise UsageError(f"output schema{_at(origin)} is not JSON data: {err}") from err


def _check(document: Any) -> None:
    import jsonschema
    from jsonschema.exceptions import SchemaError
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    if not isinstance(document, dict):
        raise UsageError(f"the schema must be a JSON object, not {type(document).__name__}")
    cls = jsonschema.validators.validator_for(document, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(document)
    except SchemaError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise UsageError(f"not a valid JSON Schema at {where}: {err.message}") from None
    _check_references(
        document, Registry().resolver_with_root(Resource.from_contents(document, DRAFT202012)).lookup
    )
    properties = document.get("properties")
    if document.get("type") != "object" or not isinstance(properties, dict) or not properties:
        raise UsageError(
            'the schema must describe a JSON object: set "type": "object" and list the fields under '
            '"properties" (each top-level property becomes a result column)'
        )


def _json_types(spec: Any) -> set[str] | None:
    """The JSON types an instance of ``spec`` can have, or None when any type can pass. Alternatives
    (``anyOf``/``oneOf``, as Pydantic writes ``Optional[int]``) give the union of theirs."""
    if not isinstance(spec, Mapping):
        return None
    types = spec.get("type")
    if isinstance(types, str):
        return {types}
    if isinstance(types, list):
        return {str(t) for t in types}
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        values = {type(v) for v in spec["enum"] if v is not None}
        return {"string", "null"} if values == {str} else None
    for keyword in ("anyOf", "oneOf"):
        branches = spec.get(keyword)
        if isinstance(branches, list) and branches:
            union: set[str] = set()
            for branch in branches:
                branch_types = _json_types(branch)
                if branch_types is None:
                    return None
                union |= branch_types
            return union
    return None


def _check_references(node: Any, lookup: Callable[[str], object], path: str = "") -> None:
    """Every ``$ref`` must point inside the schema: results validate answers long after submit,
    offline, and an unresolvable reference would fail them all then."""
    if isinstance(node, list):
        for number, item in enumerate(node):
            _check_references(item, lookup, f"{path}/{number}")
        return
    if not isinstance(node, dict) or (path and isinstance(node.get("$id"), str)):
        return  # below a nested $id, references are relative to it: jsonschema alone resolves them
    reference = node.get("$ref")
    if isinstance(reference, str):
        from referencing.exceptions import Unresolvable

        try:
            lookup(reference)
        except Unresolvable:
            raise UsageError(
                f"$ref {reference!r} at {path or '(top level)'} points at nothing in the schema: "
                "references must stay inside it (e.g. #/$defs/NAME)"
            ) from None
    for key, value in node.items():
        if key not in _LITERALS:
            _check_references(value, lookup, f"{path}/{key}")


def _native(node: Any, path: str = "") -> Any:
    if isinstance(node, list):
        return [_native(item, f"{path}/{number}") for number, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    reduced: dict[str, Any] = {}
    for key, value in node.items():
        if key in _UNSUPPORTED_NATIVE or (key == "minItems" and value not in (0, 1)):
            continue
        if key == "format" and value not in _NATIVE_FORMATS:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            reduced[key] = {name: _native(schema, f"{path}/{key}/{name}") for name, schema in value.items()}
        elif key in _LITERALS:
            reduced[key] = value
        else:
            reduced[key] = _native(value, f"{path}/{key}")
    if reduced.get("type") == "object" or "properties" in reduced:
        if not reduced.get("properties") and reduced.get("additionalProperties", True) is not False:
            # Closed, an object without properties can only be {}: every answer would lose it.
            raise UsageError(
                f"native structured output closes every object, so the open-ended one at {path or '/'} "
                'could only be {}: list its keys under "properties" (or set "additionalProperties": '
                "false to accept {})"
            )
        reduced["additionalProperties"] = False
    return reduced


def _at(origin: str) -> str:
    return f" {origin}" if origin else ""
