"""Answers as models really write them: the JSON object is found, validated, or the problem named."""

from __future__ import annotations

import pytest

from batch_runner.catalog.output_schema import output_schema
from batch_runner.results.answers import AnswerCheck, check_answer, parse_answer
from batch_runner.results.schema_problems import MAX_PROBLEM_CHARS

AUDIT = output_schema(
    {
        "type": "object",
        "properties": {
            "concerns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "resolved": {"enum": ["yes", "no"]},
            "score": {"type": "integer"},
            "seen": {"type": "string", "format": "date"},
            "note": {"type": "string"},
        },
        "required": ["concerns", "resolved"],
        "additionalProperties": False,
    }
)
VALID = '{"concerns": ["sleep", "work {stress}"], "resolved": "no", "score": 3, "note": "a } in text"}'
OBJECT = {"concerns": ["sleep", "work {stress}"], "resolved": "no", "score": 3, "note": "a } in text"}


@pytest.mark.parametrize(
    "answer",
    [
        VALID,
        f"  \n{VALID}\n ",
        f"\ufeff{VALID}",
        f"```json\n{VALID}\n```",
        f"```\n{VALID}\n```",
        f"Here is the audit:\n```json\n{VALID}\n```\nLet me know if you need {{anything}} else.",
        f"Sure! {VALID}",
        f"{VALID}\nI rated the score as 3 because [reasons].",
        f"See [1] and [2, 3]: {VALID}",
    ],
    ids=["bare", "whitespace", "bom", "json-fence", "fence", "prose-around-fence", "prose-before",
         "prose-after", "brackets-in-prose"],
)  # fmt: skip
def test_the_object_is_found_in_fences_and_prose(answer: str) -> None:
    assert parse_answer(answer).value == OBJECT
    assert check_answer(AUDIT, answer) == (OBJECT, answer, None)


def test_a_prefilled_reply_gets_its_opening_brace_back() -> None:
    reply = VALID[1:]  # the request ended with "{": the model continues after it
    assert check_answer(AUDIT, reply, prefill="{") == (OBJECT, VALID, None)
    assert check_answer(AUDIT, VALID, prefill="{") == (OBJECT, VALID, None)  # repeated it anyway
    assert check_answer(AUDIT, reply + "\n\nThat is all.", prefill="{").value == OBJECT
    assert check_answer(AUDIT, f"Sure! {VALID}", prefill="{").value == OBJECT  # ignored the prefill
    failed = check_answer(AUDIT, ' "concerns": []}', prefill="{")
    assert failed.answer == '{ "concerns": []}' and failed.value is None


def test_unicode_plain_and_escaped() -> None:
    answer = '{"concerns": ["sommeil \\u00e9veill\\u00e9", "不安"], "resolved": "yes", "note": "café ☕"}'
    value = check_answer(AUDIT, f"Voilà : {answer}").value
    assert value == {"concerns": ["sommeil éveillé", "不安"], "resolved": "yes", "note": "café ☕"}


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("", "answer is empty"),
        ("   \n", "answer is empty"),
        ('["sleep"]', "answer is an array, not a JSON object"),
        (f"[{VALID}]", "answer is an array, not a JSON object"),
        (f"```json\n[{VALID}]\n```", "answer is an array, not a JSON object"),
        ("42", "answer is a number, not a JSON object"),
        ('"yes"', "answer is a string, not a JSON object"),
        ("null", "answer is null, not a JSON object"),
        ("I cannot answer that.", "answer is not JSON: no JSON object in it"),
        (f"{VALID}\n{VALID}", "answer holds more than one JSON object"),
        (
            "{concerns: sleep}",
            "answer is not JSON: expecting property name enclosed in double quotes at char 1",
        ),
        ('{"concerns": ["sle', "answer is not JSON: the object is cut off (unterminated string at char 14)"),
        ('{"concerns": NaN}', "answer is not JSON: NaN is not allowed in JSON"),
    ],
)
def test_answers_that_are_not_one_object_are_named(answer: str, problem: str) -> None:
    checked = check_answer(AUDIT, answer)
    assert (checked.value, checked.problem) == (None, problem)
    assert checked.answer == answer  # the raw text is kept


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (
            '{"concerns": ["x"], "resolved": "no", "detail": {"concerns": ["y"], "resolved": "yes"}, }',
            "answer is not JSON: expecting property name enclosed in double quotes at char 88",
        ),
        (
            '{"concerns": ["x"], "detail": {"concerns": ["y"], "resolved": "yes"}, "resolved": no}',
            "answer is not JSON: expecting value at char 82",
        ),
        ('{"concerns": [{"a": 1}], "resolved": "no",}', "answer is not JSON: expecting property name"),
        (
            '{"concerns": ["x"] "detail": {"concerns": ["y"], "resolved": "yes"}, "resolved": "no"}',
            "answer is not JSON: expecting ',' delimiter at char 19",
        ),
        (
            '{"note": "a \\"quoted} {brace\\"" "detail": {"concerns": ["y"], "resolved": "yes"}}',
            "answer is not JSON: expecting ',' delimiter",
        ),
    ],
    ids=[
        "trailing-comma",
        "unquoted-value",
        "array-of-objects-inside",
        "missing-comma-before-inner",
        "brackets-in-strings",
    ],
)
def test_an_object_nested_in_a_malformed_one_is_not_the_answer(answer: str, problem: str) -> None:
    # Only the outer object is the answer: a valid inner one must not pass in its place, and an
    # array inside it is not "an array answer".
    checked = check_answer(AUDIT, answer)
    assert checked.value is None and checked.problem is not None
    assert checked.problem.startswith(problem)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ('{"concerns": ["x"]}', "$: 'resolved' is a required property"),
        ('{"concerns": ["x"], "resolved": "maybe"}', "$.resolved: 'maybe' is not one of ['yes', 'no']"),
        ('{"concerns": ["x"], "resolved": "no", "score": "3"}', "$.score: '3' is not of type 'integer'"),
        ('{"concerns": [], "resolved": "no"}', "$.concerns: [] should be non-empty"),
        ('{"concerns": ["x", 7], "resolved": "no"}', "$.concerns[1]: 7 is not of type 'string'"),
        (
            '{"concerns": ["x"], "resolved": "no", "seen": "2024-02-30"}',
            "$.seen: '2024-02-30' is not a 'date'",
        ),
        (
            '{"concerns": ["x"], "resolved": "no", "extra": 1}',
            "$: Additional properties are not allowed ('extra' was unexpected)",
        ),
        ('{"resolved": "maybe", "score": 1.5}', "$: 'concerns' is a required property (and 2 more problems)"),
        ('{"concerns": ["x"], "resolved": "maybe", "score": 1.5}', "$.score: 1.5 is not of type 'integer'"),
        ('{"concerns": ["x"], "resolved": "maybe"}', "$.resolved: 'maybe' is not one of ['yes', 'no']"),
    ],
)
def test_validation_names_the_path_and_the_problem(answer: str, problem: str) -> None:
    checked = check_answer(AUDIT, answer)
    assert checked.value is None and checked.problem is not None
    assert checked.problem.startswith(problem)


def test_a_valid_date_and_a_second_problem_count() -> None:
    assert check_answer(AUDIT, '{"concerns": ["x"], "resolved": "no", "seen": "2024-02-29"}').problem is None
    problem = check_answer(AUDIT, '{"concerns": ["x"], "resolved": "maybe", "score": 1.5}').problem
    assert problem is not None and problem.endswith("(and 1 more problem)")


def test_a_truncated_answer_says_to_raise_max_tokens() -> None:
    cut = VALID[:40]
    for stop_reason in ("max_tokens", "length", "LENGTH"):
        problem = check_answer(AUDIT, cut, stop_reason=stop_reason).problem
        assert problem is not None and problem.endswith(f"; stop reason {stop_reason}: raise --max-tokens")
    assert "max-tokens" not in str(check_answer(AUDIT, cut, stop_reason="end_turn").problem)


def test_problems_are_one_bounded_line() -> None:
    long_value = "line one\nline two " + "x" * 5000
    answer = '{"concerns": ["x"], "resolved": "no", "score": "' + long_value.replace("\n", "\\n") + '"}'
    problem = check_answer(AUDIT, answer, stop_reason="max_tokens").problem
    assert problem is not None and "\n" not in problem
    assert len(problem) <= MAX_PROBLEM_CHARS + len("; stop reason max_tokens: raise --max-tokens")
    assert problem.startswith("$.score: 'line one\\nline two xxx") and "..." in problem


def test_a_pathological_answer_is_bounded_work() -> None:
    answer = "{" * 200_000 + "x"
    problem = check_answer(AUDIT, answer).problem
    assert problem is not None and problem.startswith("answer is not JSON")


def test_an_embedding_vector_is_not_an_answer() -> None:
    assert check_answer(AUDIT, [0.5, 0.25]) == (
        None,
        "[0.5,0.25]",
        "answer is not text (an embedding vector?)",
    )


def test_numbers_beyond_typed_columns_turn_the_column_into_json() -> None:
    schema = output_schema(
        {
            "type": "object",
            "properties": {"n": {"type": "integer"}, "x": {"type": "number"}, "s": {"type": "string"}},
        }
    )
    check = AnswerCheck(schema)
    assert check.kinds == {"n": "int", "x": "float", "s": "string"}
    assert check('{"n": 9223372036854775807, "x": 9007199254740992.5}', None).problem is None
    assert check.kinds == {"n": "int", "x": "float", "s": "string"}
    check('{"n": 9223372036854775808, "x": 9007199254740993}', None)
    assert check.kinds == {"n": "json", "x": "json", "s": "string"}


def test_a_lone_surrogate_is_a_problem_not_a_crash() -> None:
    for answer in (
        '{"concerns": ["\ud800"], "resolved": "no"}',
        '{"concerns": ["\\ud800"], "resolved": "no"}',
    ):
        checked = check_answer(AUDIT, answer)
        assert checked.value is None and str(checked.problem).startswith(
            "answer has a value results cannot store"
        )
