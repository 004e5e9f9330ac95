"""What is wrong with an answer that breaks the output schema, in jsonschema's words.

jsonschema needs about 50 µs to list the errors of a small object (every subschema it descends
into makes a validator), more than the rest of a record's collection. Output schemas are mostly
an object of properties, and there each property's value is valid or not on its own: the errors
are exactly those of the same schema with every property whose value passes its quick check
(``fast_schema``, never wrong about validity) replaced by ``true``, which has none and which
jsonschema does not even descend into, whatever the draft. Same keywords in the same order, same
paths, same messages, so the same best match; jsonschema only looks at what is wrong. A problem
is also remembered by everything it can depend on, as models repeat their mistakes. Other
schemas (root keywords outside ``_NARROWABLE``) are checked whole, every time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from batch_runner.results.fast_schema import Check, quick_check

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

# Root keywords whose errors do not depend on what the properties' subschemas say.
_NARROWABLE = frozenset(
    {
        "$schema",
        "$comment",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "minProperties",
        "maxProperties",
    }
)
# Narrowed validators kept, by the set of valid properties (a run repeats a few mistakes).
_CACHED = 64
# Problems kept, by what they can depend on (below).
_CACHED_PROBLEMS = 1024
_SCALARS = frozenset({str, int, float, bool, type(None)})
# Their messages show the whole object, valid values included: not cached.
_WHOLE_OBJECT_KEYWORDS = frozenset({"minProperties", "maxProperties"})


class SchemaProblems:
    """``problems(value)``: None when ``value`` is valid, else the most relevant error and how many
    more there are."""

    def __init__(self, validator: Validator) -> None:
        self.validator = validator
        self._checks = _property_checks(validator)
        self._narrowed: dict[frozenset[str], Validator] = {}
        self._problems: dict[Any, str | None] = {}
        self._cached = self._checks is not None and not _WHOLE_OBJECT_KEYWORDS.intersection(validator.schema)

    def __call__(self, value: dict[str, Any]) -> str | None:
        if self._checks is None or type(value) is not dict:
            return first_problem(self.validator, value)
        valid = frozenset(
            name for name, check in self._checks.items() if name in value and check(value[name])
        )
        # The errors depend on the keys, in order, and on the values that are not valid (those of
        # properties that fail and of keys the schema does not name): when those are scalars, an
        # object with the same ones has the same problem (a model repeats its mistakes).
        key = None
        if self._cached:
            rest = tuple((name, type(item), item) for name, item in value.items() if name not in valid)
            if all(kind in _SCALARS for _, kind, _ in rest):
                key = (tuple(value), rest)
                if key in self._problems:
                    return self._problems[key]
        problem = first_problem(self._narrowed.get(valid) or self._narrow(valid), value)
        if key is not None and len(self._problems) < _CACHED_PROBLEMS:
            self._problems[key] = problem
        return problem

    def _narrow(self, valid: frozenset[str]) -> Validator:
        # Only properties present and valid are replaced: an absent one keeps its subschema (in
        # draft 3 a property's own "required" is checked there).
        schema = dict(self.validator.schema)
        properties = schema["properties"]
        schema["properties"] = {name: True if name in valid else sub for name, sub in properties.items()}
        narrowed = self.validator.evolve(schema=schema)
        if len(self._narrowed) < _CACHED:
            self._narrowed[valid] = narrowed
        return narrowed


def _property_checks(validator: Validator) -> dict[str, Check] | None:
    """A quick check per property, or None when the schema is not narrowed."""
    schema = validator.schema
    if not isinstance(schema, dict) or not _NARROWABLE.issuperset(schema):
        return None
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return None
    checks = {}
    for name, sub in properties.items():
        check = quick_check(validator, sub)
        if check is None:
            return None
        checks[name] = check
    return checks


def first_problem(validator: Validator, value: Any) -> str | None:
    """jsonschema's most relevant error for ``value`` with its JSON path, and how many more."""
    errors = validator.iter_errors(value)
    first = next(errors, None)
    if first is None:
        return None
    from jsonschema.exceptions import best_match  # only for answers that fail: off the hot path

    found = [first, *errors]
    best = best_match(found) or first
    message = f"{best.json_path}: {best.message}"
    more = len(found) - 1
    if more:
        message = f"{bounded(message)} (and {more} more problem{'s' if more > 1 else ''})"
    return message


MAX_PROBLEM_CHARS = 300


def bounded(message: str) -> str:
    line = " ".join(message.splitlines())
    return line if len(line) <= MAX_PROBLEM_CHARS else line[: MAX_PROBLEM_CHARS - 3] + "..."
