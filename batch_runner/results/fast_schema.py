"""A quick validity test for the JSON Schema keywords output schemas use, so that results do not
spend jsonschema's ~40 µs on every valid answer of a million-record run.

``quick_check(validator)`` compiles the validator's schema into nested closures that say True
only when the instance is valid. False means "not known to be valid": jsonschema then decides and
explains. Keywords outside the subset below are checked by jsonschema itself for that subschema
(``is_valid``), so every schema works; a schema with references (``$ref``, ``$id``, anchors) gets
no quick check at all, as a subschema cannot be checked on its own there.

Types follow the validator's own type checker (whether ``1.0`` is an integer depends on the
draft); instances are what a JSON parser returns (dict, list, str, int, float, bool, None).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sized
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

Check = Callable[[Any], bool]

# With any of these in the document, a subschema's meaning depends on where it sits.
_REFERENCES = frozenset({"$ref", "$dynamicRef", "$recursiveRef", "$id", "$anchor", "$dynamicAnchor", "id"})
_PLAIN_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "object": (dict,),
    "array": (list,),
    "integer": (int,),
}
_LITERAL_TYPES = (str, bool, type(None))  # enum/const values compared exactly by type and value


def quick_check(validator: Validator) -> Check | None:
    """A sound quick test for ``validator``'s schema, or None when there can be none."""
    schema = validator.schema
    if _mentions(schema, _REFERENCES):
        return None
    return _Compiler(validator).node(schema)


def _mentions(node: Any, keys: frozenset[str]) -> bool:
    if isinstance(node, dict):
        return any(key in keys and isinstance(node[key], str) for key in node) or any(
            _mentions(value, keys) for value in node.values()
        )
    if isinstance(node, list):
        return any(_mentions(item, keys) for item in node)
    return False


class _Unsupported(Exception):
    pass


class _Compiler:
    def __init__(self, validator: Validator) -> None:
        self.validator = validator
        self.float_integers = validator.is_type(1.0, "integer")
        self.keywords: dict[str, Callable[[Any, Mapping[str, Any]], Check]] = {
            "type": self._type,
            "enum": self._enum,
            "const": self._const,
            "properties": self._properties,
            "additionalProperties": self._additional_properties,
            "required": self._required,
            "items": self._items,
            "minItems": _at_least(list),
            "maxItems": _at_most(list),
            "minLength": _at_least(str),
            "maxLength": _at_most(str),
            "minProperties": _at_least(dict),
            "maxProperties": _at_most(dict),
            "minimum": _compare(lambda v, limit: v >= limit, "exclusiveMinimum"),
            "maximum": _compare(lambda v, limit: v <= limit, "exclusiveMaximum"),
            "exclusiveMinimum": _compare(lambda v, limit: v > limit),  # draft 4's boolean: unsupported
            "exclusiveMaximum": _compare(lambda v, limit: v < limit),
            "pattern": _pattern,
            "format": self._format,
        }
        # Keywords the validator does not know (annotations, typos, other drafts') are ignored by
        # jsonschema, and so here.
        self.known = frozenset(validator.VALIDATORS)

    def node(self, schema: Any) -> Check:
        if schema is True or schema == {}:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, Mapping):
            return self._by_jsonschema(schema)
        try:
            checks = [
                self._keyword(name, value, schema) for name, value in schema.items() if name in self.known
            ]
        except _Unsupported:
            return self._by_jsonschema(schema)
        checks = [check for check in checks if check is not _always]
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]

        def all_of(instance: Any) -> bool:
            for check in checks:  # noqa: SIM110 - a loop: all() would build a generator per call
                if not check(instance):
                    return False
            return True

        return all_of

    def _by_jsonschema(self, schema: Any) -> Check:
        return self.validator.evolve(schema=schema).is_valid

    def _keyword(self, name: str, value: Any, schema: Mapping[str, Any]) -> Check:
        compile_keyword = self.keywords.get(name)
        if compile_keyword is None:
            raise _Unsupported(name)
        return compile_keyword(value, schema)

    def _type(self, value: Any, schema: Mapping[str, Any]) -> Check:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(n in _PLAIN_TYPES for n in names):
            raise _Unsupported("type")
        types = frozenset(t for n in names for t in _PLAIN_TYPES[n])
        integral_floats = "integer" in names and "number" not in names and self.float_integers
        if integral_floats:
            return lambda v: type(v) in types or (type(v) is float and v.is_integer())
        return lambda v: type(v) in types

    def _enum(self, value: Any, schema: Mapping[str, Any]) -> Check:
        if not isinstance(value, list) or not all(type(item) in _LITERAL_TYPES for item in value):
            raise _Unsupported("enum")  # numbers and containers: jsonschema's equality rules apply
        allowed = frozenset((type(item), item) for item in value)
        return lambda v: type(v) in _LITERAL_TYPES and (type(v), v) in allowed

    def _const(self, value: Any, schema: Mapping[str, Any]) -> Check:
        return self._enum([value], schema)

    def _properties(self, value: Any, schema: Mapping[str, Any]) -> Check:
        if not isinstance(value, Mapping) or "patternProperties" in schema:
            raise _Unsupported("properties")
        known = {name: self.node(sub) for name, sub in value.items()}
        extra = schema.get("additionalProperties", True)
        other = self.node(extra)

        def properties(instance: Any) -> bool:
            if type(instance) is not dict:
                return True
            for key, item in instance.items():
                check = known.get(key, other)
                if check is not _always and not check(item):
                    return False
            return True

        return properties

    def _additional_properties(self, value: Any, schema: Mapping[str, Any]) -> Check:
        if "properties" in schema:
            return _always  # checked with the properties
        return self._properties({}, schema)

    def _required(self, value: Any, schema: Mapping[str, Any]) -> Check:
        if not isinstance(value, list):
            raise _Unsupported("required")  # draft 3's boolean form
        if not all(isinstance(name, str) for name in value):
            raise _Unsupported("required")
        names = frozenset(value)
        return lambda v: type(v) is not dict or names.issubset(v)

    def _items(self, value: Any, schema: Mapping[str, Any]) -> Check:
        if not isinstance(value, Mapping | bool) or "prefixItems" in schema:
            raise _Unsupported("items")
        check = self.node(value)

        def items(instance: Any) -> bool:
            if type(instance) is not list:
                return True
            for item in instance:  # noqa: SIM110 - as above
                if not check(item):
                    return False
            return True

        return items

    def _format(self, value: Any, schema: Mapping[str, Any]) -> Check:
        checker = self.validator.format_checker
        if checker is None or not isinstance(value, str):
            return _always
        return lambda v: checker.conforms(v, value)


def _always(instance: Any) -> bool:
    return True


def _never(instance: Any) -> bool:
    return False


def _at_least(kind: type[Sized]) -> Callable[[Any, Mapping[str, Any]], Check]:
    def compile_keyword(value: Any, schema: Mapping[str, Any]) -> Check:
        limit = _count(value)

        def bounded(v: Any) -> bool:
            return type(v) is not kind or len(v) >= limit

        return bounded

    return compile_keyword


def _at_most(kind: type[Sized]) -> Callable[[Any, Mapping[str, Any]], Check]:
    def compile_keyword(value: Any, schema: Mapping[str, Any]) -> Check:
        limit = _count(value)

        def bounded(v: Any) -> bool:
            return type(v) is not kind or len(v) <= limit

        return bounded

    return compile_keyword


def _compare(
    holds: Callable[[Any, Any], bool], exclusive: str = ""
) -> Callable[[Any, Mapping[str, Any]], Check]:
    """A numeric bound; it applies to numbers only (not booleans), as in JSON Schema."""

    def compile_keyword(value: Any, schema: Mapping[str, Any]) -> Check:
        if type(value) not in (int, float):
            raise _Unsupported("a non-number limit")
        if isinstance(schema.get(exclusive), bool):
            raise _Unsupported("draft 4's exclusive bound, which changes minimum/maximum")
        return lambda v: type(v) not in (int, float) or holds(v, value)

    return compile_keyword


def _pattern(value: Any, schema: Mapping[str, Any]) -> Check:
    if not isinstance(value, str):
        raise _Unsupported("pattern")
    search = re.compile(value).search  # as jsonschema: re.search, unanchored
    return lambda v: type(v) is not str or search(v) is not None


def _count(value: Any) -> int:
    if type(value) is not int:
        raise _Unsupported("a non-integer count")
    return value
