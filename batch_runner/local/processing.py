"""Running records through the emulated model and writing output in the service's layout.

``<output s3Uri>/<jobId>/<input file name>.out`` holds one JSON line per processed record
(``recordId``, ``modelInput`` and ``modelOutput`` or ``error``); ``manifest.json.out`` beside it
holds the counters and token totals.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from batch_runner.local.faults import FaultInjector
from batch_runner.local.jobs import Job
from batch_runner.local.models import ModelError, resolve
from batch_runner.local.moto_state import S3State, split_s3_uri

INJECTED_ERROR = {
    "errorCode": 500,
    "errorMessage": "Internal server error. (injected by the Bedrock emulator)",
}


def process_records(job: Job, count: int, faults: FaultInjector) -> None:
    """Process records in input order until ``count`` records of the job are done."""
    model = resolve(job.model_id, job.invocation_type)
    position = 0
    for input_file in job.files:
        lines = job.output_lines.setdefault(input_file.name, [])
        for index, record in enumerate(input_file.records):
            if position >= count:
                return
            if position >= job.processed:
                lines.append(_output_line(job, input_file.name, index, record, model, faults))
                job.processed += 1
            position += 1


def _output_line(
    job: Job, file_name: str, index: int, record: dict[str, Any], model: Any, faults: FaultInjector
) -> str:
    given_id = record.get("recordId")
    record_id = given_id if given_id is not None else _generated_record_id(job.job_id, file_name, index)
    line: dict[str, Any] = {"recordId": record_id, "modelInput": record["modelInput"]}
    fault_key = str(given_id) if given_id is not None else f"{file_name}/{index}"
    if faults.record_fails(fault_key):
        line["error"] = INJECTED_ERROR
    elif model is None:
        line["error"] = {"errorCode": 400, "errorMessage": f"The model {job.model_id} is not supported."}
    else:
        try:
            invocation = model.invoke(record["modelInput"], faults.schema_fault(fault_key))
        except ModelError as err:
            line["error"] = {"errorCode": err.code, "errorMessage": err.message}
        else:
            line["modelOutput"] = invocation.body
            job.input_tokens += invocation.input_tokens
            job.output_tokens += invocation.output_tokens
    if "error" in line:
        job.failed += 1
    else:
        job.succeeded += 1
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def _generated_record_id(job_id: str, file_name: str, index: int) -> str:
    """The service adds a recordId to records without one; 11 upper-case alphanumerics."""
    digest = hashlib.sha256(f"{job_id}/{file_name}/{index}".encode()).hexdigest().upper()
    return digest[:11]


def manifest(job: Job) -> dict[str, int]:
    return {
        "totalRecordCount": job.total_records or 0,
        "processedRecordCount": job.processed,
        "successRecordCount": job.succeeded,
        "errorRecordCount": job.failed,
        "inputTokenCount": job.input_tokens,
        "outputTokenCount": job.output_tokens,
    }


def write_outputs(job: Job) -> None:
    """Write every output file with at least one line, and the manifest, under ``<uri>/<jobId>/``."""
    bucket, prefix = split_s3_uri(job.output_data_config["s3OutputDataConfig"]["s3Uri"])
    base = f"{prefix.rstrip('/')}/{job.job_id}/".lstrip("/")
    s3 = S3State(job.account_id)
    for file_name, lines in job.output_lines.items():
        if lines:
            s3.write(bucket, f"{base}{file_name}.out", ("\n".join(lines) + "\n").encode())
    s3.write(bucket, f"{base}manifest.json.out", json.dumps(manifest(job)).encode())
