"""A quick validity test for the JSON Schema keywords output schemas use, so that results do not
spend jsonschema's ~40 µs on every valid answer of a million-record run.

``quick_check(validator)`` generates one Python function for the validator's schema (straight-line
tests and loops, no call per keyword) that says True only when the instance is valid. False means
"not known to be valid": jsonschema then decides and explains. Keywords outside the subset below
are checked by jsonschema itself for that subschema (``is_valid``), so every schema works; a
schema with references (``$ref``, ``$id``, anchors) gets no quick check at all, as a subschema
cannot be checked on its own there. Subschemas nested deeper than ``MAX_DEPTH`` are left to
jsonschema too (Python limits how deeply blocks nest).

Types follow the validator's own type checker (whether ``1.0`` is an integer depends on the
draft); instances are what a JSON parser returns (dict, list, str, int, float, bool, None).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
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
_FIRST = {"type": 0, "required": 1}  # the order of the first tests (see ``node``)
_ABSENT = object()  # a property's value when the object has no such key
_LITERAL_TYPES = (str, bool, type(None))  # enum/const values compared exactly by type and value
# A "type" naming one of these holds exactly one Python type: later tests of a value it passed
# need no guard on its type (and tests for other types are left out).
_SINGLE_TYPES = {"string": "str", "boolean": "bool", "null": "NoneType", "object": "dict", "array": "list"}


MAX_DEPTH = 6  # nested subschemas generated inline; a deeper one is checked by jsonschema


def quick_check(validator: Validator, subschema: Any = None) -> Check | None:
    """A sound quick test for ``validator``'s schema (or for ``subschema``, a part of it, under the
    same validator), or None when there can be none."""
    if _mentions(validator.schema, _REFERENCES):
        return None
    return _Generator(validator).function(validator.schema if subschema is None else subschema)


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


Lines = list[str]


class _Generator:
    """Python source for a schema: each subschema becomes statements that ``return False`` when
    the value in their variable is not known to be valid (every keyword must hold, so the first
    failure anywhere decides). Constants (sets, patterns, jsonschema fallbacks) are globals."""

    def __init__(self, validator: Validator) -> None:
        self.validator = validator
        self.float_integers = validator.is_type(1.0, "integer")
        self.constants: dict[str, Any] = {}
        self.variables = 0
        self.known: dict[str, str] = {}  # variable -> the Python type its value is known to have
        self.keywords: dict[str, Callable[[Any, Mapping[str, Any], str, int], Lines]] = {
            "type": self._type,
            "enum": self._enum,
            "const": self._const,
            "properties": self._properties,
            "additionalProperties": self._additional_properties,
            "required": self._required,
            "items": self._items,
            "minItems": self._length("list", "<"),
            "maxItems": self._length("list", ">"),
            "minLength": self._length("str", "<"),
            "maxLength": self._length("str", ">"),
            "minProperties": self._length("dict", "<"),
            "maxProperties": self._length("dict", ">"),
            "minimum": self._bound(">=", "exclusiveMinimum"),
            "maximum": self._bound("<=", "exclusiveMaximum"),
            "exclusiveMinimum": self._bound(">"),  # draft 4's boolean: unsupported
            "exclusiveMaximum": self._bound("<"),
            "pattern": self._pattern,
            "format": self._format,
        }
        # Keywords the validator does not know (annotations, typos, other drafts') are ignored by
        # jsonschema, and so here.
        self.keywords_known = frozenset(validator.VALIDATORS)

    def function(self, schema: Any) -> Check:
        lines = self.node(schema, "v", 0)
        if not lines:
            return _always
        source = "\n".join(["def quick(v):", *("    " + line for line in lines), "    return True"])
        namespace = {"_NUMBERS": (int, float), **self.constants}
        exec(
            compile(source, "<output schema quick check>", "exec"), namespace
        )  # the source is generated above
        check: Check = namespace["quick"]
        return check

    def node(self, schema: Any, var: str, depth: int) -> Lines:
        if schema is True or schema == {}:
            return []
        if schema is False:
            return ["return False"]
        if not isinstance(schema, Mapping) or depth > MAX_DEPTH:
            return self._by_jsonschema(schema, var)
        # The type test first, then the required keys: every later test knows the value's type
        # and that those keys are there (the order of tests does not matter, as each one alone
        # can only say False).
        keywords = sorted(
            (name for name in schema if name in self.keywords_known), key=lambda n: _FIRST.get(n, len(_FIRST))
        )
        try:
            lines: Lines = []
            for name in keywords:
                lines += self._keyword(name, schema[name], schema, var, depth)
                if name == "type" and isinstance(schema[name], str) and schema[name] in _SINGLE_TYPES:
                    self.known[var] = _SINGLE_TYPES[schema[name]]
            return lines
        except _Unsupported:
            return self._by_jsonschema(schema, var)
        finally:
            self.known.pop(var, None)

    def guard(self, var: str, kind: str, lines: Lines) -> Lines:
        """``lines`` run when ``var`` holds a ``kind`` (a Python type's name)."""
        known = self.known.get(var)
        if known is None:
            return [f"if type({var}) is {kind}:", *_indent(lines)] if lines else []
        return lines if known == kind else []

    def constant(self, value: Any) -> str:
        name = f"_c{len(self.constants)}"
        self.constants[name] = value
        return name

    def variable(self) -> str:
        self.variables += 1
        return f"v{self.variables}"

    def _by_jsonschema(self, schema: Any, var: str) -> Lines:
        is_valid = self.constant(self.validator.evolve(schema=schema).is_valid)
        return [f"if not {is_valid}({var}): return False"]

    def _keyword(self, name: str, value: Any, schema: Mapping[str, Any], var: str, depth: int) -> Lines:
        generate = self.keywords.get(name)
        if generate is None:
            raise _Unsupported(name)
        return generate(value, schema, var, depth)

    def _type(self, value: Any, schema: Mapping[str, Any], var: str, depth: int) -> Lines:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(n in _PLAIN_TYPES for n in names):
            raise _Unsupported("type")
        types = self.constant(frozenset(t for n in names for t in _PLAIN_TYPES[n]))
        if "integer" in names and "number" not in names and self.float_integers:
            return [
                f"if type({var}) not in {types} and not (type({var}) is float and {var}.is_integer()):",
                "    return False",
            ]
        if names == ["null"]:
            return [f"if {var} is not None: return False"]
        if len(names) == 1 and len(_PLAIN_TYPES[names[0]]) == 1:
            return [f"if type({var}) is not {_PLAIN_TYPES[names[0]][0].__name__}: return False"]
        return [f"if type({var}) not in {types}: return False"]

    def _enum(self, value: Any, schema: Mapping[str, Any], var: str, depth: int) -> Lines:
        if not isinstance(value, list) or not all(type(item) in _LITERAL_TYPES for item in value):
            raise _Unsupported("enum")  # numbers and containers: jsonschema's equality rules apply
        if all(type(item) is str for item in value):
            texts = self.constant(frozenset(value))
            if self.known.get(var) == "str":
                return [f"if {var} not in {texts}: return False"]
            return [f"if type({var}) is not str or {var} not in {texts}: return False"]
        allowed = self.constant(frozenset((type(item), item) for item in value))
        literal = self.constant(_LITERAL_TYPES)
        return [f"if type({var}) not in {literal} or (type({var}), {var}) not in {allowed}: return False"]

    def _const(self, value: Any, schema: Mapping[str, Any], var: str, depth: int) -> Lines:
        return self._enum([value], schema, var, depth)

    def _properties(self, value: Any, schema: Mapping[str, Any], var: str, depth: int) -> Lines:
        if not isinstance(value, Mapping) or "patternProperties" in schema:
            raise _Unsupported("properties")
        key, item = self.variable(), self.variable()
        cases = [(name, self.node(sub, item, depth + 1)) for name, sub in value.items()]
        other = self.node(schema.get("additionalProperties", True), item, depth + 1)
        lines: Lines = []
        if other:
            # Properties not named: none allowed (one set test), or each checked on its own.
            names = self.constant(frozenset(value))
            if other == ["return False"]:
                lines.append(f"if not {names}.issuperset({var}): return False")
            else:
                lines += [
                    f"for {key}, {item} in {var}.items():",
                    f"    if {key} not in {names}:",
                    *_indent(_indent(other)),
                ]
        absent = self.constant(_ABSENT)
        required = _required_names(schema) if "required" in self.keywords_known else frozenset()
        for name, checks in cases:
            # A literal key (the repr of a str is a Python string literal).
            if checks and name in required:
                lines += [f"{item} = {var}[{name!r}]", *checks]  # tested above to be there
            elif checks:
                lines += [f"{item} = {var}.get({name!r}, {absent})", f"if {item} is not {absent}:"]
                lines += _indent(checks)
        return self.guard(var, "dict", lines)

    def _additional_properties(self, value: Any, schema: Mapping[str, Any], var: str, depth: int) -> Lines:
        if "properties" in schema:
            return []  # checked with the properties
        return self._properties({}, schema, var, depth)

    def _required(self, value: Any, schema: Mapping[str, Any], var: str, depth: int) -> Lines:
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            raise _Unsupported("required")  # draft 3's boolean form
        names = self.constant(frozenset(value))
        return self.guard(var, "dict", [f"if not {names}.issubset({var}): return False"])

    def _items(self, value: Any, schema: Mapping[str, Any], var: str, depth: int) -> Lines:
        if not isinstance(value, Mapping | bool) or "prefixItems" in schema:
            raise _Unsupported("items")
        item = self.variable()
        checks = self.node(value, item, depth + 1)
        if not checks:
            return []
        return self.guard(var, "list", [f"for {item} in {var}:", *_indent(checks)])

    def _bound(
        self, operator: str, exclusive: str = ""
    ) -> Callable[[Any, Mapping[str, Any], str, int], Lines]:
        """A numeric bound; it applies to numbers only (not booleans), as in JSON Schema."""

        def generate(value: Any, schema: Mapping[str, Any], var: str, depth: int) -> Lines:
            if type(value) not in (int, float):
                raise _Unsupported("a non-number limit")
            if isinstance(schema.get(exclusive), bool):
                raise _Unsupported("draft 4's exclusive bound, which changes minimum/maximum")
            if var in self.known:
                return []  # a value known to be text, an object... is no number
            limit = self.constant(value)
            return [f"if type({var}) in _NUMBERS and not {var} {operator} {limit}: return False"]

        return generate

    def _pattern(self, value: Any, schema: Mapping[str, Any], var: str, depth: int) -> Lines:
        if not isinstance(value, str):
            raise _Unsupported("pattern")
        search = self.constant(re.compile(value).search)  # as jsonschema: re.search, unanchored
        return self.guard(var, "str", [f"if {search}({var}) is None: return False"])

    def _format(self, value: Any, schema: Mapping[str, Any], var: str, depth: int) -> Lines:
        checker = self.validator.format_checker
        if checker is None or not isinstance(value, str):
            return []
        conforms, name = self.constant(checker.conforms), self.constant(value)
        return [f"if not {conforms}({var}, {name}): return False"]

    def _length(self, kind: str, too: str) -> Callable[[Any, Mapping[str, Any], str, int], Lines]:
        """A bound on the length of a list, string or object; other values pass."""

        def generate(value: Any, schema: Mapping[str, Any], var: str, depth: int) -> Lines:
            if type(value) is not int:
                raise _Unsupported("a non-integer count")
            return self.guard(var, kind, [f"if len({var}) {too} {value}: return False"])

        return generate


def _required_names(schema: Mapping[str, Any]) -> frozenset[str]:
    """The keys ``required`` tests before the properties are (none when it is not a list of keys)."""
    names = schema.get("required")
    if isinstance(names, list) and all(isinstance(name, str) for name in names):
        return frozenset(names)
    return frozenset()


def _indent(lines: Lines) -> Lines:
    return ["    " + line for line in lines]


def _always(instance: Any) -> bool:
    return True
