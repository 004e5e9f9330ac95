"""Answers, stop reasons and tokens are found by response shape; bad lines never raise."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from batch_runner.results.extraction import (
    NO_OUTPUT_OR_ERROR,
    Malformed,
    Outcome,
    parse_output_line,
)
from tests.runner import results_samples as s


@pytest.mark.parametrize(
    ("body", "answer", "stop_reason", "input_tokens", "output_tokens"),
    [
        (
            s.claude_output("Claude says hi.", input_tokens=5, output_tokens=4),
            "Claude says hi.",
            "end_turn",
            5,
            4,
        ),
        (s.CONVERSE_OUTPUT, "Converse says hi.", "end_turn", 30, 4),
        (s.NOVA_OUTPUT, "Nova answer.", "max_tokens", 11, 2),
        (s.TITAN_EMBEDDING_OUTPUT, [0.125, -0.5, 0.25], None, 6, None),
        (s.TITAN_EMBEDDING_BY_TYPE_OUTPUT, [1.0, 0.5], None, 7, None),
        (s.LLAMA_OUTPUT, "Llama answer.", "stop", 17, 3),
        (s.MISTRAL_TEXT_OUTPUT, "Mistral text.", "length", None, None),
        (s.MISTRAL_CHAT_OUTPUT, "Mistral chat.", "stop", 8, 3),
        (s.TITAN_TEXT_OUTPUT, "blue\n", "FINISH", 8, 3),
    ],
    ids=[
        "claude",
        "converse",
        "nova",
        "titan-embed",
        "titan-embed-by-type",
        "llama",
        "mistral-text",
        "mistral-chat",
        "titan-text",
    ],
)
def test_each_documented_shape_yields_its_answer_stop_reason_and_tokens(
    body: dict[str, Any],
    answer: Any,
    stop_reason: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
) -> None:
    parsed = parse_output_line(s.success_line("R1", body, someNewField={"x": 1}))

    assert parsed == Outcome("R1", "succeeded", answer, stop_reason, input_tokens, output_tokens)


def test_claude_joins_every_text_block_and_skips_tool_use() -> None:
    body = s.claude_output("")
    body["content"] = [
        {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"q": "x"}},
        {"type": "text", "text": "First. "},
        {"type": "text", "text": "Second."},
    ]
    parsed = parse_output_line(s.success_line("R1", body))

    assert isinstance(parsed, Outcome)
    assert parsed.answer == "First. Second."


def test_claude_with_only_a_tool_call_keeps_the_call_as_json() -> None:
    body = s.claude_output("")
    body["content"] = [{"type": "tool_use", "id": "t1", "name": "lookup", "input": {"q": "x"}}]
    body["stop_reason"] = "tool_use"
    parsed = parse_output_line(s.success_line("R1", body))

    assert isinstance(parsed, Outcome)
    assert orjson.loads(str(parsed.answer)) == body["content"]
    assert parsed.stop_reason == "tool_use"


@pytest.mark.parametrize("stop_reason", ["end_turn", "refusal"])
def test_claude_with_no_content_block_answers_empty_text(stop_reason: str) -> None:
    # Claude can end at once after a prefilled "{", or refuse with no block: the answer is empty
    # text (for an output schema "answer is empty"), not the JSON of an empty list
    body = s.claude_output("")
    body["content"] = []
    body["stop_reason"] = stop_reason
    parsed = parse_output_line(s.success_line("R1", body))

    assert isinstance(parsed, Outcome)
    assert (parsed.answer, parsed.stop_reason) == ("", stop_reason)


def test_unknown_shape_keeps_the_raw_body_as_the_answer() -> None:
    parsed = parse_output_line(s.success_line("R1", s.UNKNOWN_OUTPUT))

    assert isinstance(parsed, Outcome)
    assert parsed.status == "succeeded"
    assert orjson.loads(str(parsed.answer)) == s.UNKNOWN_OUTPUT


def test_wrongly_typed_fields_inside_a_known_shape_do_not_raise() -> None:
    body = {"content": "not a list", "stop_reason": 7, "usage": "nope"}
    parsed = parse_output_line(s.success_line("R1", body))

    assert isinstance(parsed, Outcome)
    assert orjson.loads(str(parsed.answer)) == body


def test_error_line_is_a_failure_with_code_and_message() -> None:
    parsed = parse_output_line(s.error_line("R2", 400, "Malformed input request"))

    assert parsed == Outcome("R2", "failed", error_code="400", error_message="Malformed input request")


def test_line_with_neither_output_nor_error_is_a_failure_with_a_clear_code() -> None:
    parsed = parse_output_line(orjson.dumps({"recordId": "R3", "modelInput": {}, "modelOutput": None}))

    assert isinstance(parsed, Outcome)
    assert (parsed.status, parsed.error_code) == ("failed", NO_OUTPUT_OR_ERROR)


@pytest.mark.parametrize(
    ("raw", "record_id"),
    [
        (b'{"recordId": "R4", "modelInput": {"messages": [', "R4"),
        (b"not json at all", None),
        (b'["a", "list"]', None),
        (b'{"modelOutput": {"generation": "x"}}', None),
    ],
    ids=["truncated", "garbage", "array", "no-record-id"],
)
def test_malformed_lines_are_reported_not_raised(raw: bytes, record_id: str | None) -> None:
    parsed = parse_output_line(raw)

    assert isinstance(parsed, Malformed)
    assert parsed.reason
    assert parsed.record_id == record_id
