"""The usual answer parsed and validated in one pass, in C, for output schemas of the usual shape.

Parsing an answer with orjson and then testing the object in Python (``fast_schema``) builds a
dict, runs a few dozen bytecodes per answer, and the property columns then look each value up in
the dict. For a schema that is an object of properties, each a string, number, boolean, null, an
enum of strings or an array of those, msgspec decodes the answer straight into a record (a Struct)
while it checks every constraint, and the encoders read the record's attributes.

``typed_answers(validator)`` gives the decoder: the record of an answer that is a valid object
(None for a property it lacks), else None, "not known to be valid", and the general path decides
(``answers``). So the translation below only has to be sound, never complete: every accepted
answer is valid for jsonschema, with exactly the values orjson reads. Where msgspec could differ
(integers orjson reads as floats, ``1.0`` for an integer, a duplicated key whose first value is
wrong) it is stricter, and the general path takes the answer. A schema with anything else (nested
objects, references, ``format``, combinators, a property without a type) gets no decoder.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

# Integers beyond these are left to the general path: orjson reads the largest as floats, and a
# float column holds integers exactly only up to 2**53 (``AnswerCheck`` widens it past that).
_SAFE_INTEGER = 2**53
# Arrays of arrays nested deeper than this are left to the general path.
_MAX_DEPTH = 4
_ROOT_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties"})
_STRING = frozenset({"minLength", "maxLength", "pattern"})
_NUMBER = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_ARRAY = frozenset({"items", "minItems", "maxItems"})
_PROPERTY_KEYWORDS = frozenset({"type", "enum", "const"}) | _STRING | _NUMBER | _ARRAY


class _Unsupported(Exception):
    """The schema uses something this translation does not (the general path then serves)."""


# The decoders made in this process, by validator class and schema, and never freed: freeing a
# Struct type made at run time can crash the garbage collector (msgspec 0.22, seen here after a
# few hundred; msgspec issue 717). A process sees few output schemas.
_DECODERS: dict[tuple[type, str], TypedAnswers | None] = {}


class TypedAnswers:
    """Valid answers of one schema decoded as records: instances of ``record``, a msgspec Struct
    whose fields ``attributes`` hold the schema's ``names`` in order (None for a property the
    answer lacks). Encoders read a record's attributes (``values`` gives them in order);
    ``as_dict`` gives them by name, for what stores JSON."""

    def __init__(self, record: Any, names: tuple[str, ...]) -> None:
        import msgspec

        self.record = record
        self.names = names
        self.attributes = tuple(record.__struct_fields__)
        self._decode = msgspec.json.Decoder(record).decode
        self.values = msgspec.structs.astuple
        # RecursionError: an answer nested deeper than msgspec's limit; UnicodeEncodeError: text
        # with a lone surrogate, which UTF-8 cannot hold.
        self._failures = (msgspec.DecodeError, RecursionError, UnicodeEncodeError)

    def decode(self, answer: object) -> Any:
        """The record of a valid answer, or None: "not known to be valid"."""
        if type(answer) is not str:
            return None  # an embedding vector
        try:
            return self._decode(answer)
        except self._failures:
            return None

    def as_dict(self, record: Any) -> dict[str, Any]:
        return dict(zip(self.names, self.values(record), strict=True))


def typed_answers(validator: Validator) -> TypedAnswers | None:
    """The one-pass decoder of valid answers for ``validator``'s schema, or None when there is none."""
    key = (type(validator), json.dumps(validator.schema, sort_keys=True, default=repr))
    if key not in _DECODERS:
        try:
            record = _Translation(validator).record(validator.schema)
            _DECODERS[key] = TypedAnswers(record, tuple(validator.schema["properties"]))
        except (_Unsupported, TypeError, ValueError, re.error):  # what msgspec cannot decode
            _DECODERS[key] = None
    return _DECODERS[key]


class _Translation:
    def __init__(self, validator: Validator) -> None:
        # Keywords the validator does not know (annotations such as "title", other drafts') are
        # ignored by jsonschema, and so here.
        self.known = frozenset(validator.VALIDATORS)
        draft = getattr(validator, "META_SCHEMA", {}).get("$schema", "")
        if "draft-03" in draft or "draft-04" in draft:
            raise _Unsupported("drafts 3 and 4 (their bounds and requirements differ)")

    def record(self, schema: Any) -> Any:
        """A msgspec Struct type for the root object: one field per property, in order."""
        import msgspec

        if not isinstance(schema, Mapping) or not self._keywords(schema) <= _ROOT_KEYWORDS:
            raise _Unsupported("root")
        properties, required = schema.get("properties"), schema.get("required", [])
        extra = schema.get("additionalProperties", True)
        if schema.get("type") != "object" or not isinstance(properties, Mapping) or not properties:
            raise _Unsupported("not an object of properties")
        if not isinstance(extra, bool) or not isinstance(required, list):
            raise _Unsupported("additionalProperties or required")
        if not set(required) <= set(properties):
            raise _Unsupported("a required key that is no property")
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        for number, (name, subschema) in enumerate(properties.items()):
            kind = self.value(subschema)
            # A property may be absent unless required: None then, as ``dict.get`` gives.
            fields.append((f"f{number}", kind) if name in required else (f"f{number}", kind, None))
        return msgspec.defstruct(
            "Answer",
            fields,
            rename={f"f{number}": name for number, name in enumerate(properties)},
            forbid_unknown_fields=not extra,
            kw_only=True,  # required fields may follow optional ones, in the schema's order
            gc=False,  # a record holds no cycles: the collector need not track a million of them
        )

    def value(self, schema: Any, depth: int = 0) -> Any:
        """The type of a property's (or an array item's) values."""
        if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
            raise _Unsupported("a boolean or deeply nested subschema")
        keywords = self._keywords(schema)
        if not keywords <= _PROPERTY_KEYWORDS:
            raise _Unsupported(", ".join(sorted(keywords - _PROPERTY_KEYWORDS)))
        if "enum" in schema or "const" in schema:
            return self._texts(schema, keywords)
        names = schema.get("type")
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not names:
            raise _Unsupported("a value of any type")
        if "number" in names:  # an integer is a number: one member holds both, with the same bounds
            names = [name for name in names if name != "integer"]
        members = [self._typed(name, schema, depth) for name in dict.fromkeys(names)]
        return members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007 (a runtime type)

    def _texts(self, schema: Mapping[str, Any], keywords: set[str]) -> Any:
        """An enum (or const) of strings: the values that also meet the other keywords (bounds on
        numbers and arrays say nothing about a string)."""
        values = schema["enum"] if "enum" in schema else [schema["const"]]
        if not isinstance(values, list) or not all(type(v) is str for v in values):
            raise _Unsupported("an enum of values that are not all strings")
        types = schema.get("type", "string")
        if "items" in keywords or not (types == "string" or (isinstance(types, list) and "string" in types)):
            raise _Unsupported("an enum with a type or items of its own")
        constraints = self._string(schema)
        pattern = re.compile(constraints.pop("pattern", ""))
        least, most = constraints.get("min_length", 0), constraints.get("max_length", math.inf)
        allowed = [
            v
            for v in dict.fromkeys(values)
            if ("const" not in schema or v == schema["const"])
            and ("enum" not in schema or v in schema["enum"])
            and least <= len(v) <= most
            and pattern.search(v)
        ]
        if not allowed:
            raise _Unsupported("an enum no value of which is valid")
        return Literal[tuple(allowed)]

    def _typed(self, name: str, schema: Mapping[str, Any], depth: int) -> Any:
        import msgspec

        if name == "string":
            return Annotated[str, msgspec.Meta(**self._string(schema))]
        if name == "integer":
            return Annotated[int, msgspec.Meta(**self._bounds(schema, integer=True))]
        if name == "number":
            return Union[  # noqa: UP007 (a runtime type): an integer stays an integer, as orjson reads it
                Annotated[int, msgspec.Meta(**self._bounds(schema, integer=True))],
                Annotated[float, msgspec.Meta(**self._bounds(schema, integer=False))],
            ]
        if name == "boolean":
            return bool
        if name == "null":
            return None
        if name == "array":
            items = self.value(schema["items"], depth + 1) if "items" in schema else None
            if items is None:
                raise _Unsupported("an array of any values")
            return Annotated[list[items], msgspec.Meta(**self._lengths(schema, "minItems", "maxItems"))]  # type: ignore[valid-type]
        raise _Unsupported(f"type {name!r}")

    def _string(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        constraints = self._lengths(schema, "minLength", "maxLength")
        pattern = schema.get("pattern")
        if pattern is not None:
            if not isinstance(pattern, str):
                raise _Unsupported("pattern")
            constraints["pattern"] = pattern  # msgspec searches, unanchored, as jsonschema does
        return constraints

    @staticmethod
    def _lengths(schema: Mapping[str, Any], least: str, most: str) -> dict[str, Any]:
        constraints: dict[str, Any] = {}
        for keyword, meta in ((least, "min_length"), (most, "max_length")):
            if keyword in schema:
                count = schema[keyword]
                if type(count) is not int or count < 0:
                    raise _Unsupported(keyword)
                constraints[meta] = count
        return constraints

    @staticmethod
    def _bounds(schema: Mapping[str, Any], *, integer: bool) -> dict[str, Any]:
        """msgspec's bounds for integers (also kept within ``_SAFE_INTEGER``) or for floats."""
        constraints: dict[str, Any] = {"ge": -_SAFE_INTEGER, "le": _SAFE_INTEGER - 1} if integer else {}
        for keyword, meta in (
            ("minimum", "ge"),
            ("maximum", "le"),
            ("exclusiveMinimum", "gt"),
            ("exclusiveMaximum", "lt"),
        ):
            if keyword not in schema:
                continue
            limit = schema[keyword]
            if type(limit) not in (int, float) or not math.isfinite(limit) or abs(limit) > _SAFE_INTEGER:
                raise _Unsupported(keyword)  # also draft 4's boolean exclusive bounds
            if integer:
                # An integer meets a fractional bound as it meets the integer next to it inward.
                meta, limit = _integer_bound(meta, limit)
                tighter = max if meta == "ge" else min
                constraints[meta] = tighter(constraints.get(meta, limit), limit)
            else:
                constraints[meta] = limit
        # msgspec takes one upper and one lower bound: the tighter of each pair.
        if "ge" in constraints and "gt" in constraints:
            del constraints["gt" if constraints["ge"] > constraints["gt"] else "ge"]
        if "le" in constraints and "lt" in constraints:
            del constraints["lt" if constraints["le"] < constraints["lt"] else "le"]
        return constraints

    def _keywords(self, schema: Mapping[str, Any]) -> set[str]:
        return {name for name in schema if name in self.known}


def _integer_bound(meta: str, limit: float) -> tuple[str, int]:
    """The inclusive integer bound (``ge`` or ``le``) equal to a bound on integers."""
    if meta == "ge":
        return "ge", math.ceil(limit)
    if meta == "le":
        return "le", math.floor(limit)
    if meta == "gt":
        return "ge", math.floor(limit) + 1
    return "le", math.ceil(limit) - 1
