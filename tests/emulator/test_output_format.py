"""Output files exactly as the service writes them, for a job of each model family, over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batch_runner.local import Emulator
from tests.emulator.helpers import claude_body, create_job, job_outputs

CONVERSE_BODY = {
    "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
    "inferenceConfig": {"maxTokens": 64},
}
FAMILIES: list[tuple[str, str, dict[str, Any], str]] = [
    ("anthropic.claude-3-haiku-20240307-v1:0", "InvokeModel", claude_body("Hello"), "content"),
    ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "Converse", CONVERSE_BODY, "output"),
    ("amazon.nova-lite-v1:0", "InvokeModel", {"schemaVersion": "messages-v1", **CONVERSE_BODY}, "output"),
    ("amazon.titan-embed-text-v2:0", "InvokeModel", {"inputText": "Hello", "dimensions": 256}, "embedding"),
    ("meta.llama3-1-8b-instruct-v1:0", "InvokeModel", {"prompt": "Hello", "max_gen_len": 64}, "generation"),
    (
        "mistral.mistral-small-2402-v1:0",  # text completion; Large 24.02 does not batch
        "InvokeModel",
        {"prompt": "<s>[INST] Hello [/INST]", "max_tokens": 64},
        "outputs",
    ),
]


@pytest.mark.parametrize(
    ("model_id", "invocation_type", "body", "answer_key"), FAMILIES, ids=[f[0] for f in FAMILIES]
)
def test_each_family_runs_as_a_batch_job(
    emulator: Emulator, model_id: str, invocation_type: str, body: dict[str, Any], answer_key: str
) -> None:
    records = [{"recordId": f"ID{index:05d}", "modelInput": body} for index in range(100)]
    records[7] = {"recordId": "BROKEN", "modelInput": {"unexpected": True}}
    arn = create_job(emulator, records, modelId=model_id, modelInvocationType=invocation_type)
    emulator.run_until_idle()
    job = emulator.client("bedrock").get_model_invocation_job(jobIdentifier=arn)
    assert (job["status"], job["successRecordCount"], job["errorRecordCount"]) == ("Completed", 99, 1)

    outputs = job_outputs(emulator, arn)
    data = outputs["records.jsonl.out"].decode()
    assert data.endswith("\n") and "\n\n" not in data
    lines = [json.loads(line) for line in data.splitlines()]
    assert len(lines) == 100
    for line in lines:
        outcome = "error" if line["recordId"] == "BROKEN" else "modelOutput"
        assert list(line) == ["recordId", "modelInput", outcome]
    broken = next(line for line in lines if line["recordId"] == "BROKEN")
    assert isinstance(broken["error"]["errorCode"], int) and isinstance(broken["error"]["errorMessage"], str)
    assert answer_key in lines[0]["modelOutput"]
    assert lines[0]["modelInput"] == body

    manifest = json.loads(outputs["manifest.json.out"])
    assert manifest["totalRecordCount"] == manifest["processedRecordCount"] == 100
    assert (manifest["successRecordCount"], manifest["errorRecordCount"]) == (99, 1)
    assert manifest["inputTokenCount"] > 0
    text_model = answer_key != "embedding"
    assert (manifest["outputTokenCount"] > 0) == text_model
