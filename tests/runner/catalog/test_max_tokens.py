"""Per-model output-token ceilings: --max-tokens and pre-formatted records above them are refused at
planning, so a batch job cannot fail every record hours later."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batch_runner.catalog.invocation import CONVERSE, INVOKE_MODEL
from batch_runner.catalog.models import RequestSettings, adapter_for, model_family
from batch_runner.catalog.models.output_limits import OUTPUT_LIMITS_FILE, max_output_tokens
from batch_runner.catalog.tables import load_data_file
from batch_runner.exceptions import DatasetError, UsageError
from batch_runner.prepare.planning import build_plan
from tests.runner.planning_helpers import SMALL_QUOTAS, options, write_jsonl

HAIKU_3 = "anthropic.claude-3-haiku-20240307-v1:0"
ARN = "arn:aws:bedrock:us-east-1:123456789012"
PROFILE_ARN = f"{ARN}:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"

CEILINGS = [
    (HAIKU_3, INVOKE_MODEL, 4096),
    ("us.anthropic.claude-3-haiku-20240307-v1:0", INVOKE_MODEL, 4096),
    ("us.anthropic.claude-3-haiku-20240307-v1:0", CONVERSE, 4096),
    (PROFILE_ARN, INVOKE_MODEL, 8192),
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", INVOKE_MODEL, 64000),
    (
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-opus-4-1-20250805-v1:0",
        INVOKE_MODEL,
        32000,
    ),
    ("global.anthropic.claude-opus-4-6-v1", INVOKE_MODEL, 128000),
    ("us.amazon.nova-pro-v1:0", INVOKE_MODEL, 5000),
    ("eu.amazon.nova-micro-v1:0", CONVERSE, 5000),
    ("mistral.mixtral-8x7b-instruct-v0:1", INVOKE_MODEL, 4096),
]


def adapter(model_id: str, invocation_type: str = INVOKE_MODEL, **settings: Any) -> Any:
    return adapter_for(model_id, invocation_type, RequestSettings(**settings))


@pytest.mark.parametrize(("model_id", "invocation_type", "ceiling"), CEILINGS)
def test_max_tokens_at_the_ceiling_is_accepted_and_one_more_is_refused(
    model_id: str, invocation_type: str, ceiling: int
) -> None:
    assert str(ceiling) in str(adapter(model_id, invocation_type, max_tokens=ceiling).build("Hi"))
    with pytest.raises(UsageError) as refused:
        adapter(model_id, invocation_type, max_tokens=ceiling + 1)
    assert str(refused.value) == (
        f"{model_id} accepts at most {ceiling} output tokens, not {ceiling + 1}; "
        f"set --max-tokens to {ceiling} or less"
    )


@pytest.mark.parametrize(
    ("model_id", "settings"),
    [
        ("amazon.nova-premier-v1:0", {}),  # its model card gives no exact number
        ("us.amazon.nova-2-lite-v1:0", {}),
        ("meta.llama3-1-8b-instruct-v1:0", {}),
        ("mistral.mistral-large-2407-v1:0", {}),
        # An application inference profile does not name its model, so no ceiling is known.
        (
            f"{ARN}:application-inference-profile/abc123",
            {"options": {"family": "anthropic"}},
        ),
    ],
)
def test_models_without_a_documented_ceiling_are_not_checked(model_id: str, settings: dict[str, Any]) -> None:
    assert max_output_tokens(model_id) is None
    adapter(model_id, max_tokens=10_000_000, **settings)


def test_every_listed_model_is_a_text_model_the_runner_builds_requests_for() -> None:
    for key, ceiling in load_data_file(OUTPUT_LIMITS_FILE)["models"].items():
        assert model_family(f"{key}-v1:0") is not None, key
        assert isinstance(ceiling, int) and ceiling >= 4096, key


def claude_record(max_tokens: int, **extra: Any) -> dict[str, Any]:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": max_tokens, "messages": [], **extra}
    return {"modelInput": body}


def plan_pre_formatted(tmp_path: Path, model_id: str, rows: list[dict[str, Any]], **opts: Any) -> int:
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    chosen = options(model_id=model_id, prompt_template=None, **opts)
    return build_plan(data, chosen, quotas=SMALL_QUOTAS, workdir=tmp_path / "w").record_count


def test_a_pre_formatted_record_over_the_ceiling_is_refused_with_its_line(tmp_path: Path) -> None:
    rows = [claude_record(4096), claude_record(4096), claude_record(4097)]
    with pytest.raises(DatasetError) as refused:
        plan_pre_formatted(tmp_path, f"us.{HAIKU_3}", rows)
    message = str(refused.value)
    assert "line 3" in message
    assert f"modelInput max_tokens is 4097, above the 4096 output tokens us.{HAIKU_3} accepts" in message
    assert message.endswith("lower it to 4096 or less")


def test_pre_formatted_records_at_the_ceiling_or_with_a_beta_flag_pass(tmp_path: Path) -> None:
    # A beta flag (output-128k-2025-02-19 on Claude 3.7 Sonnet) can raise the limit: left to the service.
    rows = [claude_record(4096), claude_record(100_000, anthropic_beta=["output-128k-2025-02-19"])] * 2
    assert plan_pre_formatted(tmp_path, HAIKU_3, rows) == 4


def test_a_pre_formatted_converse_record_over_the_ceiling_is_refused(tmp_path: Path) -> None:
    body = {
        "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
        "inferenceConfig": {"maxTokens": 6001},
    }
    with pytest.raises(DatasetError, match=r"modelInput inferenceConfig\.maxTokens is 6001, above the 5000"):
        plan_pre_formatted(tmp_path, "us.amazon.nova-lite-v1:0", [{"modelInput": body}] * 3)
