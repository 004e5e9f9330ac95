"""An answer's problem is jsonschema's, word for word, when only its failing properties are
checked and when it is remembered: compared with jsonschema on the whole object for thousands of
random object schemas and instances, each seen twice and with some values changed."""

from __future__ import annotations

import random
from typing import Any

import jsonschema
import pytest

from batch_runner.results.schema_problems import SchemaProblems, first_problem
from tests.runner.results.test_fast_schema import DRAFTS, KEYS, random_schema, random_value, validator


def object_schema(rng: random.Random) -> dict[str, Any]:
    """An output schema's usual shape: an object of properties, some required, maybe closed."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {key: random_schema(rng, 1) for key in rng.sample(KEYS, rng.randrange(1, 5))},
    }
    if rng.random() < 0.6:
        schema["required"] = rng.sample(KEYS, rng.randrange(1, 3))
    if rng.random() < 0.5:
        schema["additionalProperties"] = rng.choice([False, {"type": "string"}])
    if rng.random() < 0.2:
        schema["maxProperties"] = 2
    return schema


def object_instance(rng: random.Random) -> dict[str, Any]:
    return {key: random_value(rng, 1) for key in rng.sample(KEYS, rng.randrange(5))}


@pytest.mark.parametrize("draft", DRAFTS)
def test_problems_are_jsonschemas_on_the_whole_object(draft: str) -> None:
    rng = random.Random(draft)
    invalid = schemas = 0
    while schemas < 300:
        try:
            checker = validator(object_schema(rng), draft)
        except jsonschema.SchemaError:
            continue
        schemas += 1
        problems = SchemaProblems(checker)
        assert problems._checks is not None  # the narrowed path is the one compared
        instances = [object_instance(rng) for _ in range(10)]
        # The same keys with some values changed: problems are kept by the values that fail.
        instances += [
            {k: random_value(rng, 1) if rng.random() < 0.3 else v for k, v in i.items()} for i in instances
        ]
        for instance in instances * 2:
            expected = first_problem(checker, instance)
            assert problems(instance) == expected, (checker.schema, instance)
            invalid += expected is not None
    assert invalid > 4000  # most comparisons were of real problems


def test_other_schemas_are_checked_whole() -> None:
    checker = validator({"properties": {"a": {"type": "string"}}, "anyOf": [{"required": ["a"]}]}, DRAFTS[0])
    problems = SchemaProblems(checker)

    assert problems._checks is None
    assert problems({"a": 1}) == first_problem(checker, {"a": 1}) == "$.a: 1 is not of type 'string'"
