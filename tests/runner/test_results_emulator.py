"""Results of real emulated jobs: a partial job with error records, then a retry job, collected
from the emulator's S3 over HTTP exactly as from AWS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from batch_runner.clients import AwsContext
from batch_runner.local import Emulator
from batch_runner.results import JobOutputRef, S3OutputSource, collect_results, iter_results
from tests.emulator.helpers import claude_body, job_request, jsonl, upload

COUNT = 40


def _submit(emulator: Emulator, rows: list[int], output_uri: str | None = None) -> JobOutputRef:
    records = [{"recordId": f"R{row:010d}", "modelInput": claude_body(f"Question {row}?")} for row in rows]
    request = job_request(emulator, upload(emulator, jsonl(records)))
    if output_uri:
        request["outputDataConfig"] = {"s3OutputDataConfig": {"s3Uri": output_uri}}
    bedrock = emulator.client("bedrock")
    arn = bedrock.create_model_invocation_job(**request)["jobArn"]
    emulator.run_until_idle()
    job: dict[str, Any] = bedrock.get_model_invocation_job(jobIdentifier=arn)
    return JobOutputRef(arn, job["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"], job["status"])


def test_partial_job_then_retry_accounts_for_every_record(
    emulator: Emulator, emulator_aws: AwsContext, tmp_path: Path
) -> None:
    index = tmp_path / "record-index.jsonl"
    index.write_bytes(
        b"".join(
            orjson.dumps({"recordId": f"R{row:010d}", "row": row, "id": f"q{row}", "input": {"q": row}})
            + b"\n"
            for row in range(COUNT)
        )
    )
    emulator.configure(min_records_per_job=1, record_error_rate=0.5, job_outcome="PartiallyCompleted")
    first = _submit(emulator, list(range(COUNT)))
    source = S3OutputSource(emulator_aws.client("s3"))  # the runner's own client config

    rows = list(iter_results(source, [first], index))
    rec = collect_results(source, [first], index, tmp_path / "first.csv")

    assert first.status == "PartiallyCompleted"
    assert rec.total == COUNT and rec.missing > 0 and rec.failed > 0 and rec.succeeded > 0
    assert rec.warnings() == []  # the manifest agrees with the lines
    (tally,) = rec.jobs
    assert tally.manifest is not None and tally.manifest.success_record_count == rec.succeeded
    assert rec.manifest_input_tokens == rec.input_tokens > 0
    done = [r for r in rows if r["status"] == "succeeded"]
    assert all(isinstance(r["answer"], str) and r["answer"] and r["stop_reason"] for r in done)
    assert all(r["error_code"] and r["error_message"] for r in rows if r["status"] == "failed")

    emulator.configure(record_error_rate=0.0, job_outcome=None)
    retry_rows = [r["row"] for r in rows if r["status"] != "succeeded"]
    second = _submit(emulator, retry_rows, output_uri=first.output_s3_uri)
    emulator.configure(s3_get_error_rate=0.3)  # S3 answers 503 SlowDown to some downloads
    final = list(iter_results(source, [first, second], index))
    rec = collect_results(source, [first, second], index, tmp_path / "final.parquet")

    assert (rec.total, rec.succeeded, rec.failed, rec.missing) == (COUNT, COUNT, 0, 0)
    assert rec.superseded == len([r for r in rows if r["status"] == "failed"])
    assert [r["row"] for r in final] == list(range(COUNT))
    assert {r["job_id"] for r in final if r["row"] in retry_rows} == {second.job_id}
