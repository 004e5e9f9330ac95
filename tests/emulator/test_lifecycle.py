"""A job's way through its statuses, its counters, its output files and its events."""

from __future__ import annotations

import json

from batch_runner.local import Emulator
from tests.emulator.helpers import CLAUDE, claude_records, create_job, job_outputs, output_lines

MANIFEST_KEYS = {
    "totalRecordCount",
    "processedRecordCount",
    "successRecordCount",
    "errorRecordCount",
    "inputTokenCount",
    "outputTokenCount",
}


def test_job_walks_every_status_and_writes_output_in_the_service_layout(emulator: Emulator) -> None:
    bedrock = emulator.client("bedrock")
    arn = create_job(emulator, claude_records(150))
    seen = [bedrock.get_model_invocation_job(jobIdentifier=arn)["status"]]
    for _ in range(3):
        emulator.advance(1.0)
        seen.append(bedrock.get_model_invocation_job(jobIdentifier=arn)["status"])
    assert seen == ["Submitted", "Validating", "Scheduled", "InProgress"]

    emulator.advance(1.0)  # 100 records per second by default
    halfway = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert (halfway["status"], halfway["totalRecordCount"], halfway["processedRecordCount"]) == (
        "InProgress",
        150,
        100,
    )

    emulator.run_until_idle()
    done = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert done["status"] == "Completed"
    assert (done["processedRecordCount"], done["successRecordCount"], done["errorRecordCount"]) == (
        150,
        150,
        0,
    )
    assert done["endTime"] >= done["submitTime"]

    outputs = job_outputs(emulator, arn)
    assert set(outputs) == {"records.jsonl.out", "manifest.json.out"}
    lines = output_lines(outputs["records.jsonl.out"])
    assert [line["recordId"] for line in lines] == [f"R{index:06d}" for index in range(150)]
    first = lines[0]
    assert set(first) == {"recordId", "modelInput", "modelOutput"}
    assert first["modelOutput"]["content"][0]["text"].startswith(f"[emulated {CLAUDE}]")
    manifest = json.loads(outputs["manifest.json.out"])
    assert set(manifest) == MANIFEST_KEYS
    assert manifest["successRecordCount"] == 150
    assert manifest["inputTokenCount"] == sum(line["modelOutput"]["usage"]["input_tokens"] for line in lines)

    statuses = [event["detail"]["status"] for event in emulator.events() if event["resources"] == [arn]]
    assert statuses == ["Submitted", "Validating", "Scheduled", "InProgress", "Completed"]
