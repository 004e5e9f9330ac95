"""OpenAI Batch API input files become requests of the chosen Bedrock family; what a family cannot
honour is refused with the line number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batch_runner.catalog.invocation import CONVERSE
from batch_runner.exceptions import DatasetError
from batch_runner.prepare.planning import build_plan
from tests.runner.planning_helpers import SMALL_QUOTAS, options, read_lines, write_jsonl

SCHEMA = {"type": "object", "properties": {"label": {"enum": ["a", "b"]}}, "required": ["label"]}


def openai_line(n: int, **body: Any) -> dict[str, Any]:
    request = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": f"Question {n}?"},
        ],
        "max_tokens": 50,
        **body,
    }
    return {"custom_id": f"req-{n}", "method": "POST", "url": "/v1/chat/completions", "body": request}


def plan_lines(tmp_path: Path, lines: list[dict[str, Any]], **overrides: Any) -> Any:
    data = write_jsonl(tmp_path / "openai.jsonl", lines)
    opts = options(prompt_template=None, **overrides)
    return build_plan(data, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "w")


def first_request(plan: Any) -> dict[str, Any]:
    return read_lines(plan.shards[0].path)[0]["modelInput"]  # type: ignore[no-any-return]


def test_chat_completion_lines_become_claude_requests_with_custom_ids(tmp_path: Path) -> None:
    plan = plan_lines(tmp_path, [openai_line(n, temperature=0.2) for n in range(3)])
    assert first_request(plan) == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Question 0?"}]}],
        "temperature": 0.2,
    }
    index = read_lines(plan.record_index_path)
    assert [line["id"] for line in index] == ["req-0", "req-1", "req-2"]
    assert plan.output_schema is None and plan.structured_output is None


@pytest.mark.parametrize(
    ("model_id", "invocation_type", "expected"),
    [
        (
            "us.amazon.nova-lite-v1:0",
            "InvokeModel",
            {
                "schemaVersion": "messages-v1",
                "system": [{"text": "You are terse."}],
                "messages": [
                    {"role": "user", "content": [{"text": "Hi"}]},
                    {"role": "assistant", "content": [{"text": "Hello."}]},
                    {"role": "user", "content": [{"text": "Question 0?"}]},
                ],
                "inferenceConfig": {"maxTokens": 64},
            },
        ),
        (
            "us.deepseek.r1-v1:0",
            CONVERSE,
            {
                "messages": [
                    {"role": "user", "content": [{"text": "Hi"}]},
                    {"role": "assistant", "content": [{"text": "Hello."}]},
                    {"role": "user", "content": [{"text": "Question 0?"}]},
                ],
                "system": [{"text": "You are terse."}],
                "inferenceConfig": {"maxTokens": 64},
            },
        ),
        (
            "mistral.mistral-large-2407-v1:0",
            "InvokeModel",
            {
                "messages": [
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello."},
                    {"role": "user", "content": "Question 0?"},
                ],
                "max_tokens": 64,
            },
        ),
        (
            "meta.llama3-1-8b-instruct-v1:0",
            "InvokeModel",
            {
                "prompt": "<|begin_of_text|>"
                "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
                "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
                "<|start_header_id|>user<|end_header_id|>\n\nQuestion 0?<|eot_id|>"
                "<|start_header_id|>assistant<|end_header_id|>\n\n",
                "max_gen_len": 64,
            },
        ),
    ],
)
def test_conversations_become_each_familys_turns(
    tmp_path: Path, model_id: str, invocation_type: str, expected: dict[str, Any]
) -> None:
    messages = [
        {"role": "developer", "content": [{"type": "text", "text": "You are terse."}]},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Question 0?"},
    ]
    lines = [openai_line(n, messages=messages, max_tokens=None, max_completion_tokens=64) for n in range(2)]
    plan = plan_lines(tmp_path, lines, model_id=model_id, invocation_type=invocation_type)
    assert first_request(plan) == expected


def test_a_json_schema_response_format_becomes_the_runs_output_schema(tmp_path: Path) -> None:
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "label", "schema": SCHEMA, "strict": True},
    }
    plan = plan_lines(tmp_path, [openai_line(n, response_format=response_format) for n in range(2)])
    assert plan.output_schema == SCHEMA
    assert plan.structured_output is not None and plan.structured_output.prefill == "{"
    request = first_request(plan)
    assert request["messages"][-1] == {"role": "assistant", "content": [{"type": "text", "text": "{"}]}
    assert '"label"' in request["messages"][0]["content"][0]["text"]  # the schema instructions


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (openai_line(1, top_p=0.9), "row 2 (line 2): body field(s) top_p cannot be honoured"),
        (
            {**openai_line(1), "body": {**openai_line(1)["body"], "n": 2}},
            "body field(s) n cannot be honoured",
        ),
        (openai_line(1, tools=[]), "body field(s) tools cannot be honoured"),
        (openai_line(1, temperature=1.5), "row 2 (line 2): temperature must be between 0 and 1, not 1.5"),
        (openai_line(1, max_tokens=0), "max tokens must be a positive integer"),
        (
            openai_line(1, messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]),
            "message 1: content must be text (a string or text parts); images cannot be sent",
        ),
        (
            openai_line(
                1, messages=[{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]
            ),
            "message 1 is assistant, not user",
        ),
        (
            openai_line(
                1, messages=[{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]
            ),
            "the conversation must end with a user message",
        ),
        (openai_line(1, response_format={"type": "json_object"}), "json_object names no schema"),
        (
            openai_line(1, response_format={"type": "json_schema", "json_schema": {"schema": SCHEMA}}),
            "response_format differs from the first line's",
        ),
        ({**openai_line(1), "url": "/v1/embeddings"}, "only POST /v1/chat/completions requests"),
        (
            {"recordId": "x", "modelInput": {}},
            "not an OpenAI batch request (custom_id, body) like the first line",
        ),
        ({**openai_line(1), "custom_id": "req-0"}, "req-0"),
    ],
)
def test_what_a_family_cannot_honour_is_refused_with_the_line(
    tmp_path: Path, line: dict[str, Any], expected: str
) -> None:
    with pytest.raises(DatasetError) as excinfo:
        plan_lines(tmp_path, [openai_line(0), line, openai_line(2)])
    assert expected in str(excinfo.value)
    assert not list((tmp_path / "w").glob("shard-*"))


def test_a_line_system_message_and_the_system_flag_conflict(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="row 1 \\(line 1\\): the line has its own system message"):
        plan_lines(tmp_path, [openai_line(0), openai_line(1)], system_prompt="Be brief.")


def test_multi_turn_is_refused_for_a_family_without_turns(tmp_path: Path) -> None:
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Yo"},
        {"role": "user", "content": "Q"},
    ]
    with pytest.raises(DatasetError, match="take a single user message here, not a conversation"):
        plan_lines(
            tmp_path, [openai_line(0, messages=messages)] * 2, model_id="mistral.mistral-small-2402-v1:0"
        )
