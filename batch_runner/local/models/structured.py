"""Deterministic JSON instances of a JSON Schema: what an emulated model answers a schema request with.

``instance(schema, seed)`` is a pure function of the schema and the seed (the emulated models use a
digest of the model ID and the request, so answers vary by row and repeat exactly). The value
validates against the schema for the keywords below; strings are short readable emulated text.

Supported: ``type`` (one or a list; ``null`` is chosen now and then when allowed), ``enum`` and
``const`` (an enum value is picked by the seed, so a label column gets varied labels),
``properties``/``required`` (every property is emitted), ``additionalProperties`` (false: nothing
extra; a schema: used for extra properties ``minProperties`` needs), ``min/maxProperties``,
``items``/``prefixItems`` (and draft-7 tuple ``items``/``additionalItems``), ``min/maxItems``,
``uniqueItems``, ``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum`` (numeric, or
draft-4 booleans), ``multipleOf``, ``minLength``/``maxLength``, formats ``date``, ``date-time``,
``time``, ``email``, ``uri``/``url``/``iri``, ``uuid``, ``hostname``, ``ipv4``, ``ipv6``,
``duration``, ``anyOf``/``oneOf`` (a branch whose value validates, tried from a seeded start),
``allOf`` (merged), local ``$ref`` (``#``, ``#/$defs/...``, ``#/definitions/...``; recursion stops
at ``MAX_DEPTH``, where only required properties and ``minItems`` items are emitted).

``pattern`` gives a string the pattern matches (``patterns.matching_string``), when the regex
walk can make one within the length bounds; otherwise emulated text.

Not supported, ignored (so such a value may not validate): ``patternProperties``,
``propertyNames``, ``not``, ``if``/``then``/``else``, ``dependentRequired``/``dependentSchemas``,
``contains``, ``unevaluated*``, remote ``$ref``, patterns with lookarounds or backreferences.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import jsonschema
from jsonschema.protocols import Validator

from batch_runner.local.models.patterns import matching_string

MAX_DEPTH = 6
_HARD_DEPTH = MAX_DEPTH + 12  # a required recursive property with no way out: give up with null
_NULL_SHARE = 0.2
_WORDS = (
    "calm",
    "clear",
    "brief",
    "steady",
    "careful",
    "simple",
    "gentle",
    "direct",
    "honest",
    "patient",
    "plan",
    "note",
    "step",
    "point",
    "idea",
    "answer",
    "summary",
    "detail",
    "topic",
    "reason",
)
_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")
_LOWER_BOUNDS = ("minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties")


def instance(schema: Mapping[str, Any] | bool, seed: str) -> Any:
    """A value valid against ``schema`` (within the supported keywords), the same for the same seed."""
    root = schema if isinstance(schema, Mapping) else {}
    return _Generator(root, random.Random(seed)).value(schema, 0)


@lru_cache(maxsize=64)
def _validator_for_text(text: str) -> Validator:
    document = json.loads(text)
    cls = jsonschema.validators.validator_for(document, default=jsonschema.Draft202012Validator)
    return cls(document, format_checker=cls.FORMAT_CHECKER)


def validator(schema: Mapping[str, Any]) -> Validator:
    """A cached validator with format checking (one per distinct schema)."""
    return _validator_for_text(json.dumps(schema, sort_keys=True))


class _Generator:
    def __init__(self, root: Mapping[str, Any], rng: random.Random) -> None:
        self._root = root
        self._rng = rng
        self._validator = validator(root)

    def value(self, schema: Mapping[str, Any] | bool, depth: int) -> Any:
        if schema is False or depth > _HARD_DEPTH:
            return None
        node = self._flatten(schema if isinstance(schema, Mapping) else {})
        if "const" in node:
            return node["const"]
        if isinstance(node.get("enum"), list) and node["enum"]:
            return self._enum(node)
        for combinator in ("anyOf", "oneOf"):
            if isinstance(node.get(combinator), list) and node[combinator]:
                return self._branch(node, combinator, depth)
        kind = self._type(node, depth)
        if kind == "object":
            return self._object(node, depth)
        if kind == "array":
            return self._array(node, depth)
        if kind in ("integer", "number"):
            return _number(node, self._rng, integer=kind == "integer")
        if kind == "boolean":
            return self._rng.random() < 0.5
        if kind == "null":
            return None
        return _string(node, self._rng)

    def _flatten(self, node: Mapping[str, Any]) -> dict[str, Any]:
        """``$ref`` targets and ``allOf`` members merged into one schema node."""
        flat = dict(node)
        for _ in range(_HARD_DEPTH):
            ref = flat.pop("$ref", None)
            members = flat.pop("allOf", None)
            if ref is None and members is None:
                break
            if isinstance(ref, str):
                flat = _merge(self._resolve(ref), flat)
            for member in members if isinstance(members, list) else []:
                if isinstance(member, Mapping):
                    flat = _merge(flat, member)
        return flat

    def _resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#"):
            return {}  # remote references are not followed
        target: Any = self._root
        for part in ref[1:].lstrip("/").split("/") if ref != "#" else []:
            key = part.replace("~1", "/").replace("~0", "~")
            if isinstance(target, Mapping) and key in target:
                target = target[key]
            elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
                target = target[int(key)]
            else:
                return {}
        return dict(target) if isinstance(target, Mapping) else {}

    def _valid(self, value: Any, node: Mapping[str, Any]) -> bool:
        return bool(self._validator.evolve(schema=node).is_valid(value))

    def _enum(self, node: dict[str, Any]) -> Any:
        options = node["enum"]
        rest = {key: value for key, value in node.items() if key != "enum"}
        fitting = [option for option in options if self._valid(option, rest)] or options
        return self._rng.choice(fitting)

    def _branch(self, node: dict[str, Any], combinator: str, depth: int) -> Any:
        branches = node[combinator]
        base = {key: value for key, value in node.items() if key != combinator}
        start = self._rng.randrange(len(branches))
        candidate: Any = None
        # A few rounds: a oneOf value valid under two branches at once is drawn again.
        for offset in range(3 * len(branches)):
            branch = branches[(start + offset) % len(branches)]
            merged = _merge(base, branch) if isinstance(branch, Mapping) else base
            candidate = self.value(merged, depth)
            if self._valid(candidate, node):
                return candidate
        return candidate

    def _type(self, node: Mapping[str, Any], depth: int) -> str:
        declared = node.get("type")
        if isinstance(declared, str):
            return declared
        if isinstance(declared, list):
            kinds = [kind for kind in declared if kind in _TYPES]
            concrete = [kind for kind in kinds if kind != "null"]
            if "null" in kinds and (not concrete or depth >= MAX_DEPTH or self._rng.random() < _NULL_SHARE):
                return "null"
            if concrete:
                return self._rng.choice(concrete)
        if any(key in node for key in ("properties", "required", "additionalProperties", "minProperties")):
            return "object"
        if any(key in node for key in ("items", "prefixItems", "minItems", "maxItems")):
            return "array"
        if any(key in node for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
            return "number"
        return "string"

    def _object(self, node: Mapping[str, Any], depth: int) -> dict[str, Any]:
        declared = node.get("properties")
        properties: Mapping[str, Any] = declared if isinstance(declared, Mapping) else {}
        required = [name for name in node.get("required", []) if isinstance(name, str)]
        deep = depth >= MAX_DEPTH
        result: dict[str, Any] = {}
        for name, spec in properties.items():
            if not deep or name in required:
                result[name] = self.value(spec, depth + 1)
        extra = node.get("additionalProperties", {})
        extra_schema = extra if isinstance(extra, Mapping) else {}
        for name in required:
            if name not in result:
                result[name] = self.value(extra_schema, depth + 1)
        if extra is not False:
            while len(result) < int(node.get("minProperties", 0)):
                result[f"extra_{len(result) + 1}"] = self.value(extra_schema, depth + 1)
        limit = node.get("maxProperties")
        if isinstance(limit, int):
            for name in [name for name in reversed(result) if name not in required]:
                if len(result) <= limit:
                    break
                del result[name]
        return result

    def _array(self, node: Mapping[str, Any], depth: int) -> list[Any]:
        items = node.get("items", {})
        prefix = node.get("prefixItems")
        if isinstance(items, list):  # draft 7 tuple form
            prefix, items = items, node.get("additionalItems", {})
        prefix = prefix if isinstance(prefix, list) else []
        low = int(node.get("minItems", 0))
        high = node.get("maxItems")
        if items is False:
            high = len(prefix) if high is None else min(int(high), len(prefix))
        count = low if depth >= MAX_DEPTH else self._rng.randint(max(low, 1), max(low, 1) + 2)
        if isinstance(high, int):
            count = min(count, high)
        count = max(count, low)
        result: list[Any] = []
        for index in range(count):
            spec = prefix[index] if index < len(prefix) else items
            unique = bool(node.get("uniqueItems"))
            if unique:
                spec = self._unused(spec, result)
            item = self.value(spec, depth + 1)
            for _ in range(8 if unique else 0):
                if item not in result:
                    break
                item = self.value(spec, depth + 1)
            if unique and item in result and len(result) >= low:
                break
            result.append(item)
        return result

    def _unused(self, spec: Any, taken: list[Any]) -> Any:
        """An enum item schema without the values already taken (for ``uniqueItems``)."""
        node = self._flatten(spec) if isinstance(spec, Mapping) else {}
        options = node.get("enum")
        if isinstance(options, list):
            left = [option for option in options if option not in taken]
            if left:
                return {**node, "enum": left}
        return spec


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Both schemas' constraints in one node (the stricter bound, the union of required, ...)."""
    merged = dict(base)
    for key, value in extra.items():
        if key not in merged:
            merged[key] = value
            continue
        current = merged[key]
        if key == "properties" and isinstance(current, Mapping) and isinstance(value, Mapping):
            properties = dict(current)
            for name, spec in value.items():
                old = properties.get(name)
                both = isinstance(old, Mapping) and isinstance(spec, Mapping)
                properties[name] = _merge(old, spec) if both else spec  # type: ignore[arg-type]
            merged[key] = properties
        elif key == "required" and isinstance(current, list) and isinstance(value, list):
            merged[key] = list(dict.fromkeys([*current, *value]))
        elif key == "type":
            left = current if isinstance(current, list) else [current]
            right = value if isinstance(value, list) else [value]
            common = [kind for kind in left if kind in right]
            widened = ("integer" in left and "number" in right) or ("number" in left and "integer" in right)
            if widened and "integer" not in common:
                common.append("integer")  # every integer is a number
            merged[key] = common[0] if len(common) == 1 else (common or value)
        elif key == "enum" and isinstance(current, list) and isinstance(value, list):
            merged[key] = [option for option in current if option in value] or value
        elif key in ("minimum", *_LOWER_BOUNDS) and _both_numbers(current, value):
            merged[key] = max(current, value)
        elif key in ("maximum", *_UPPER_BOUNDS) and _both_numbers(current, value):
            merged[key] = min(current, value)
        elif key == "allOf" and isinstance(current, list) and isinstance(value, list):
            merged[key] = [*current, *value]
        else:
            merged[key] = value
    return merged


def _both_numbers(left: Any, right: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))


def _bounds(node: Mapping[str, Any]) -> tuple[float | None, bool, float | None, bool]:
    """Lower bound, whether it is exclusive, upper bound, whether it is exclusive."""
    low, high = node.get("minimum"), node.get("maximum")
    low_exclusive = high_exclusive = False
    exclusive_low, exclusive_high = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
    if exclusive_low is True or exclusive_high is True:  # draft 4: flags on minimum/maximum
        low_exclusive, high_exclusive = exclusive_low is True, exclusive_high is True
    if _both_numbers(exclusive_low, 0) and (low is None or exclusive_low >= low):
        low, low_exclusive = exclusive_low, True
    if _both_numbers(exclusive_high, 0) and (high is None or exclusive_high <= high):
        high, high_exclusive = exclusive_high, True
    low = low if _both_numbers(low, 0) else None
    high = high if _both_numbers(high, 0) else None
    return low, low_exclusive, high, high_exclusive


def _number(node: Mapping[str, Any], rng: random.Random, *, integer: bool) -> int | float:
    low, low_exclusive, high, high_exclusive = _bounds(node)
    if low is None and high is None:
        low, high = 0, 100
    elif low is None:
        assert high is not None
        low = high - 100
    elif high is None:
        high = low + 100
    step = node.get("multipleOf")
    if integer:
        first = math.floor(low) + 1 if low_exclusive else math.ceil(low)
        last = math.ceil(high) - 1 if high_exclusive else math.floor(high)
        if isinstance(step, int) and not isinstance(step, bool) and step > 0:
            first_k, last_k = math.ceil(first / step), math.floor(last / step)
            return rng.randint(first_k, last_k) * step if first_k <= last_k else first
        return rng.randint(first, last) if first <= last else first
    if isinstance(step, int | float) and not isinstance(step, bool) and step > 0:
        return _multiple(node, float(step), low, high, rng)
    margin = (high - low) / 100 if high > low else 0.0
    inner_low = low + margin if low_exclusive else low
    inner_high = high - margin if high_exclusive else high
    value = round(rng.uniform(inner_low, inner_high), 2)
    if not inner_low <= value <= inner_high or (value == low and low_exclusive):
        value = (low + high) / 2
    return value


def _multiple(node: Mapping[str, Any], step: float, low: float, high: float, rng: random.Random) -> float:
    """A multiple of ``step`` in range that also passes the floating-point ``multipleOf`` check."""
    check = jsonschema.Draft202012Validator({k: v for k, v in node.items() if k != "type"})
    first_k, last_k = math.ceil(low / step), math.floor(high / step)
    if first_k > last_k:
        return low
    candidates = [rng.randint(first_k, last_k) for _ in range(12)] + list(range(first_k, last_k + 1))[:50]
    for k in candidates:
        value = float(round(k * step, 12))
        if check.is_valid(value):
            return value
    return float(first_k * step)


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(count))


def _date(rng: random.Random) -> str:
    return f"{2020 + rng.randrange(6)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _time(rng: random.Random) -> str:
    return f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z"


_FORMATS: dict[str, Callable[[random.Random], str]] = {
    "date": _date,
    "time": _time,
    "date-time": lambda rng: f"{_date(rng)}T{_time(rng)}",
    "email": lambda rng: f"{rng.choice(_WORDS)}.{rng.randrange(1000)}@example.com",
    "uri": lambda rng: f"https://example.com/emulated/{rng.choice(_WORDS)}-{rng.randrange(1000)}",
    "url": lambda rng: f"https://example.com/emulated/{rng.choice(_WORDS)}-{rng.randrange(1000)}",
    "iri": lambda rng: f"https://example.com/emulated/{rng.choice(_WORDS)}-{rng.randrange(1000)}",
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    "hostname": lambda rng: f"{rng.choice(_WORDS)}.example.com",
    "ipv4": lambda rng: f"192.0.2.{rng.randint(1, 254)}",
    "ipv6": lambda rng: f"2001:db8::{rng.randint(1, 65535):x}",
    "duration": lambda rng: f"P{rng.randint(1, 30)}D",
}


def _string(node: Mapping[str, Any], rng: random.Random) -> str:
    low = node.get("minLength", 0)
    high = node.get("maxLength")
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        matched = matching_string(pattern, rng)
        if matched is not None and _fits(matched, low, high):
            return matched
    make = _FORMATS.get(str(node.get("format")))
    text = make(rng) if make is not None else f"[emulated] {_words(rng, rng.randint(2, 4))}"
    while isinstance(low, int) and len(text) < low:
        text += f" {rng.choice(_WORDS)}"
    if isinstance(high, int) and len(text) > high:
        text = text[:high]
        if len(text.rstrip()) >= (low if isinstance(low, int) else 0):
            text = text.rstrip()
    return text


def _fits(text: str, low: object, high: object) -> bool:
    return (not isinstance(low, int) or len(text) >= low) and (not isinstance(high, int) or len(text) <= high)
