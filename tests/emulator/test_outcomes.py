"""Each terminal status, forced by fault injection or reached by time, and what output it leaves."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from batch_runner.local import Emulator
from tests.emulator.helpers import claude_body, claude_records, create_job, job_outputs, output_lines


def finish(emulator: Emulator, arn: str) -> dict[str, Any]:
    emulator.run_until_idle()
    job: dict[str, Any] = emulator.client("bedrock").get_model_invocation_job(jobIdentifier=arn)
    return job


def test_stop_keeps_the_records_already_processed(emulator: Emulator) -> None:
    bedrock = emulator.client("bedrock")
    arn = create_job(emulator, claude_records(300))
    emulator.advance(3.0)  # InProgress from here
    emulator.advance(1.5)  # 150 records at 100 per second
    bedrock.stop_model_invocation_job(jobIdentifier=arn)
    stopping = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert (stopping["status"], stopping["processedRecordCount"]) == ("Stopping", 150)
    job = finish(emulator, arn)
    assert (job["status"], job["processedRecordCount"], job["totalRecordCount"]) == ("Stopped", 150, 300)
    outputs = job_outputs(emulator, arn)
    lines = output_lines(outputs["records.jsonl.out"])
    assert [line["recordId"] for line in lines] == [f"R{index:06d}" for index in range(150)]
    manifest = json.loads(outputs["manifest.json.out"])
    assert (manifest["totalRecordCount"], manifest["processedRecordCount"]) == (300, 150)


def test_stop_before_processing_leaves_no_output(emulator: Emulator) -> None:
    arn = create_job(emulator)
    emulator.client("bedrock").stop_model_invocation_job(jobIdentifier=arn)
    job = finish(emulator, arn)
    assert job["status"] == "Stopped"
    assert job_outputs(emulator, arn) == {}


def test_forced_partial_completion_leaves_records_unprocessed(emulator: Emulator) -> None:
    emulator.configure(job_outcome="PartiallyCompleted", partial_fraction=0.4)
    arn = create_job(emulator, claude_records(200))
    job = finish(emulator, arn)
    assert job["status"] == "PartiallyCompleted"
    assert "message" not in job  # AWS sets it for Failed jobs only
    assert (job["processedRecordCount"], job["totalRecordCount"]) == (80, 200)
    assert len(output_lines(job_outputs(emulator, arn)["records.jsonl.out"])) == 80


def test_running_past_the_timeout_is_partial_completion(emulator: Emulator) -> None:
    emulator.configure(records_per_second=0.001)  # 200 records would need ~2.3 days; timeout is 24 h
    arn = create_job(emulator, claude_records(200), timeoutDurationInHours=24)
    job = finish(emulator, arn)
    assert job["status"] == "PartiallyCompleted"
    assert 0 < job["processedRecordCount"] < 200
    assert job["endTime"] == job["jobExpirationTime"]


def test_forced_expiry_ends_the_job_before_it_starts(emulator: Emulator) -> None:
    emulator.configure(job_outcome="Expired")
    arn = create_job(emulator)
    job = finish(emulator, arn)
    assert job["status"] == "Expired"
    assert "message" not in job
    assert job["processedRecordCount"] == 0
    statuses = [e["detail"]["status"] for e in emulator.events() if e["resources"] == [arn]]
    assert statuses == ["Submitted", "Validating", "Scheduled", "Expired"]


def test_a_queue_longer_than_the_timeout_expires(emulator: Emulator) -> None:
    emulator.configure(scheduled_seconds=30 * 3600)
    arn = create_job(emulator, timeoutDurationInHours=24)
    job = finish(emulator, arn)
    assert job["status"] == "Expired"
    assert job["lastModifiedTime"] == job["jobExpirationTime"]
    # As on AWS (reference 9b): endTime stays where validation ended, minutes after submitTime.
    assert job["endTime"] - job["submitTime"] == timedelta(seconds=2)


def test_without_a_timeout_a_job_expires_24_hours_after_submission_queue_time_included(
    emulator: Emulator,
) -> None:
    emulator.configure(scheduled_seconds=25 * 3600)
    arn = create_job(emulator)
    job = finish(emulator, arn)
    assert (job["status"], job["timeoutDurationInHours"]) == ("Expired", 24)
    assert job["lastModifiedTime"] - job["submitTime"] == timedelta(hours=24)


def test_forced_failure(emulator: Emulator) -> None:
    emulator.configure(job_outcome="Failed")
    arn = create_job(emulator)
    job = finish(emulator, arn)
    assert job["status"] == "Failed"
    assert "internal error" in job["message"]
    assert job_outputs(emulator, arn) == {}


def test_job_fault_rates_are_deterministic_for_a_seed(emulator: Emulator) -> None:
    def outcomes() -> list[str]:
        emulator.reset()
        emulator.configure(
            seed=7,
            job_failure_rate=0.3,
            job_expiry_rate=0.3,
            job_partial_rate=0.3,
            max_active_jobs_per_model=50,
        )
        arns = [create_job(emulator) for _ in range(12)]
        return [finish(emulator, arn)["status"] for arn in arns]

    first = outcomes()
    assert first == outcomes()
    assert {"Failed", "Expired", "PartiallyCompleted", "Completed"} <= set(first)


def test_invalid_model_bodies_become_error_lines_and_the_job_still_completes(emulator: Emulator) -> None:
    no_max_tokens = {key: value for key, value in claude_body("hi").items() if key != "max_tokens"}
    converse_shaped = {
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        "inferenceConfig": {"maxTokens": 10},
    }
    records = [
        *claude_records(98),
        {"recordId": "NOMAXTOKENS", "modelInput": no_max_tokens},
        {"recordId": "CONVERSE", "modelInput": converse_shaped},
    ]
    arn = create_job(emulator, records)
    job = finish(emulator, arn)
    assert (job["status"], job["successRecordCount"], job["errorRecordCount"]) == ("Completed", 98, 2)
    lines = {line["recordId"]: line for line in output_lines(job_outputs(emulator, arn)["records.jsonl.out"])}
    assert lines["NOMAXTOKENS"]["error"] == {
        "errorCode": 400,
        "errorMessage": "Malformed input request: #: required key [max_tokens] not found, "
        "please reformat your input and try again.",
    }
    assert lines["CONVERSE"]["error"]["errorMessage"].startswith(
        "Malformed input request: 3 schema violations found"
    )
    assert "modelOutput" not in lines["CONVERSE"]


def test_records_without_an_id_get_one_in_the_output(emulator: Emulator) -> None:
    records = [{"modelInput": claude_body(f"q{index}")} for index in range(100)]
    arn = create_job(emulator, records)
    finish(emulator, arn)
    ids = [line["recordId"] for line in output_lines(job_outputs(emulator, arn)["records.jsonl.out"])]
    assert len(set(ids)) == 100
    assert all(len(record_id) == 11 and record_id.isalnum() for record_id in ids)


def test_record_error_rate_fails_a_deterministic_share_of_records(emulator: Emulator) -> None:
    emulator.configure(record_error_rate=0.25, seed=3)
    arn = create_job(emulator, claude_records(400))
    job = finish(emulator, arn)
    assert job["status"] == "Completed"
    assert 60 < job["errorRecordCount"] < 140
    lines = output_lines(job_outputs(emulator, arn)["records.jsonl.out"])
    errors = [line for line in lines if "error" in line]
    assert len(errors) == job["errorRecordCount"]
    assert all(line["error"]["errorCode"] == 500 for line in errors)
