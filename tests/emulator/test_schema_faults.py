"""schema_invalid_rate, schema_unparseable_rate and schema_fenced_rate: deterministic spoiled schema
answers in batch output and on demand, for schema requests only."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from batch_runner.local import Emulator, EmulatorConfig
from batch_runner.local.faults import FaultInjector
from batch_runner.local.models.schema_answers import FENCE_INTRO, FENCE_OUTRO, FENCED, INVALID, UNPARSEABLE
from tests.emulator.helpers import claude_records, create_job, job_outputs, output_lines
from tests.emulator.schema_cases import AUDIT, CLAUDE_OLD, claude
from tests.emulator.test_runtime import runtime
from tests.emulator.test_serve import admin

RATES = {"schema_invalid_rate": 0.2, "schema_unparseable_rate": 0.1, "schema_fenced_rate": 0.1}


def kind_of(text: str, prefill: str = "") -> str:
    """What a reader of the answer finds: valid, invalid (parses, breaks the schema), unparseable, or
    fenced (the valid answer in a json fence with prose around it; after a prefill, prose after)."""
    if "```json\n" in text:
        inner = text.split("```json\n", 1)[1].split("\n```\n", 1)[0]
        assert text.startswith(FENCE_INTRO) and text.endswith(FENCE_OUTRO)
        assert AUDIT.validator.is_valid(json.loads(inner))
        return FENCED
    full = prefill + text
    if prefill and full.endswith(FENCE_OUTRO):
        assert AUDIT.validator.is_valid(json.loads(full.removesuffix(FENCE_OUTRO)))
        return FENCED
    try:
        answer = json.loads(full)
    except ValueError:
        return UNPARSEABLE
    return "valid" if AUDIT.validator.is_valid(answer) else INVALID


def schema_records(count: int, prefill: str = "") -> list[dict[str, Any]]:
    return [
        {
            "recordId": f"Q{index:06d}",
            "modelInput": claude(f"Conversation {index}", schema=AUDIT, prefill=prefill),
        }
        for index in range(count)
    ]


def run_job(emulator: Emulator, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    arn = create_job(emulator, records)
    emulator.run_until_idle()
    job = emulator.client("bedrock").get_model_invocation_job(jobIdentifier=arn)
    assert job["status"] == "Completed" and job["errorRecordCount"] == 0
    return output_lines(job_outputs(emulator, arn)["records.jsonl.out"])


def texts(lines: list[dict[str, Any]]) -> list[str]:
    return [str(line["modelOutput"]["content"][0]["text"]) for line in lines]


@pytest.mark.parametrize("prefill", ["", "{"])
def test_each_fault_hits_the_records_its_draw_picks_at_the_configured_share(
    emulator: Emulator, prefill: str
) -> None:
    emulator.configure(seed=7, **RATES)
    records = schema_records(500, prefill)
    lines = run_job(emulator, records)
    found = Counter(kind_of(text, prefill) for text in texts(lines))

    injector = FaultInjector(EmulatorConfig(seed=7, **RATES))
    drawn = Counter(injector.schema_fault(record["recordId"]) or "valid" for record in records)
    assert found == drawn  # exactly the records the seed picks, each spoiled the way it says
    assert 80 <= found[INVALID] <= 120 and 35 <= found[UNPARSEABLE] <= 65 and 35 <= found[FENCED] <= 65
    assert all(line["modelOutput"]["stop_reason"] == "end_turn" for line in lines)


def test_the_same_records_get_the_same_answers_in_another_job(emulator: Emulator) -> None:
    emulator.configure(seed=7, min_records_per_job=1, **RATES)
    records = schema_records(60)
    first = texts(run_job(emulator, records))
    assert texts(run_job(emulator, records)) == first
    emulator.configure(seed=8)
    assert texts(run_job(emulator, records)) != first  # another seed spoils other records


def test_requests_without_a_schema_are_not_affected(emulator: Emulator) -> None:
    emulator.configure(schema_invalid_rate=1.0)
    assert all(
        text.startswith(f"[emulated {CLAUDE_OLD}] Reply ")
        for text in texts(run_job(emulator, claude_records(100)))
    )


def test_on_demand_faults_are_drawn_per_request_body(emulator: Emulator) -> None:
    emulator.configure(seed=3, schema_unparseable_rate=0.5)
    client = runtime(emulator)

    def text(index: int) -> str:
        body = claude(f"Conversation {index}", schema=AUDIT)
        return str(
            json.loads(client.invoke_model(modelId=CLAUDE_OLD, body=json.dumps(body))["body"].read())[
                "content"
            ][0]["text"]
        )

    first = [text(index) for index in range(30)]
    assert [text(index) for index in range(30)] == first  # a body repeats its fault
    kinds = Counter(kind_of(answer) for answer in first)
    assert set(kinds) == {"valid", UNPARSEABLE} and 8 <= kinds[UNPARSEABLE] <= 22


def test_the_settings_are_served_and_checked(emulator: Emulator) -> None:
    config = admin(emulator.endpoint_url, "/config", {"schema_fenced_rate": 1.0})
    assert config["schema_fenced_rate"] == 1.0 and config["schema_invalid_rate"] == 0.0
    body = claude("Conversation 1", schema=AUDIT)
    answer = json.loads(
        runtime(emulator).invoke_model(modelId=CLAUDE_OLD, body=json.dumps(body))["body"].read()
    )
    assert kind_of(answer["content"][0]["text"]) == FENCED
    with pytest.raises(ValueError, match="must add up to at most 1"):
        EmulatorConfig(schema_invalid_rate=0.6, schema_fenced_rate=0.5)
    with pytest.raises(ValueError, match="schema_unparseable_rate must be between 0 and 1"):
        EmulatorConfig().updated({"schema_unparseable_rate": 1.5})
