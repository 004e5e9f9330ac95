"""Results of real emulated jobs: a partial job with error records, then a retry job, collected
from the emulator's S3 over HTTP exactly as from AWS."""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pyarrow.parquet as pq
import pytest

from batch_runner import submit
from batch_runner.aws.clients import AwsContext
from batch_runner.local import Emulator
from batch_runner.local.models.schema_answers import FENCE_OUTRO
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


AUDIT = Path(__file__).resolve().parents[3] / "examples" / "concern_audit"
AUDITS = 40


@pytest.mark.parametrize(
    ("model", "invocation_type", "mechanism"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", "InvokeModel", "prefill"),
        ("us.amazon.nova-lite-v1:0", "InvokeModel", "instructions"),
        ("meta.llama3-1-8b-instruct-v1:0", "InvokeModel", "prefill"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "Converse", "instructions"),
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "InvokeModel", "native"),
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "Converse", "native"),
    ],
)
def test_schema_answers_become_columns_and_bad_ones_schema_failures(
    emulator: Emulator, tmp_path: Path, model: str, invocation_type: str, mechanism: str
) -> None:
    """Every mechanism, on models the dev stack allows."""
    emulator.configure(
        min_records_per_job=1, schema_invalid_rate=0.2, schema_unparseable_rate=0.1, schema_fenced_rate=0.2
    )
    with open(AUDIT / "conversations.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[: AUDITS + 1]
    dataset = tmp_path / "audit.csv"
    with open(dataset, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    run = submit(
        dataset,
        model=model,
        invocation_type=invocation_type,
        prompt=(AUDIT / "prompt.j2").read_text(encoding="utf-8"),
        output_schema=AUDIT / "schema.json",
        id_column="conversation_id",
        run=f"audit-{mechanism}-{uuid.uuid4().hex[:8]}",
        endpoint_url=emulator.endpoint_url,
        state_dir=tmp_path / "state",
    )
    assert run.manifest.plan["structured_output"]["mechanism"] == mechanism
    emulator.run_until_idle()

    out = tmp_path / "audit.parquet"
    rec = run.results(include_input=True).save(out)
    table = pq.read_table(out)
    results = table.to_pylist()
    schema = json.loads((AUDIT / "schema.json").read_text(encoding="utf-8"))
    properties = list(schema["properties"])

    assert table.column_names[11:16] == properties and table.column_names[16:] == [
        "conversation_id",
        "client",
        "therapist",
    ]
    assert str(table.schema.field("risk_flag").type) == "bool"
    frame = run.to_pandas()
    assert list(frame.columns[11:]) == properties and frame["resolved"].isin(["yes", "no", None]).all()
    failures = [r for r in results if r["error_code"] == "schema"]
    assert (rec.total, rec.succeeded + rec.schema_failed, rec.missing) == (AUDITS, AUDITS, 0)
    assert rec.schema_failed == len(failures) > 0 and rec.failed == rec.schema_failed
    for result in results:
        if result["status"] == "succeeded":
            audit = {name: result[name] for name in properties}
            audit |= {
                "concerns": json.loads(audit["concerns"]),
                "interventions": json.loads(audit["interventions"]),
            }
            jsonschema.validate(audit, schema)
        else:
            assert result["answer"] and result["error_message"] and result["output_tokens"]
            assert all(result[name] is None for name in properties)
    # Answers in fences with prose around them (after a prefill: prose after) are accepted.
    wrapped = [r for r in results if FENCE_OUTRO in r["answer"]]
    assert wrapped and all(r["status"] == "succeeded" for r in wrapped)
    if mechanism == "prefill":
        assert all(r["answer"].startswith("{") for r in results)  # the prefill is put back
    cut = [r for r in failures if r["error_message"].startswith("answer is not JSON")]
    assert cut and [r for r in failures if r["error_message"].startswith("$")]


def test_answers_cut_off_by_max_tokens_say_to_raise_it(emulator: Emulator, tmp_path: Path) -> None:
    emulator.configure(min_records_per_job=1)
    run = submit(
        AUDIT / "conversations.csv",
        model="anthropic.claude-3-haiku-20240307-v1:0",
        prompt=(AUDIT / "prompt.j2").read_text(encoding="utf-8"),
        output_schema=AUDIT / "schema.json",
        max_tokens=12,
        run=f"audit-short-{uuid.uuid4().hex[:8]}",
        endpoint_url=emulator.endpoint_url,
        state_dir=tmp_path / "state",
    )
    emulator.run_until_idle()
    rows = list(run.results())

    assert {(r["status"], r["error_code"], r["stop_reason"]) for r in rows} == {
        ("failed", "schema", "max_tokens")
    }
    assert all(r["error_message"].endswith("; stop reason max_tokens: raise --max-tokens") for r in rows)
    assert all(r["answer"].startswith("{") and r["output_tokens"] == 12 for r in rows)
