"""On-demand processing against the emulator's bedrock-runtime: output lines in the batch format,
errors kept per record, throttling retried by our own backoff, results read like a job's."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from batch_runner.catalog.invocation import CONVERSE, INVOKE_MODEL
from batch_runner.jobs.on_demand import OnDemandTarget, process, summarize, write_output
from batch_runner.jobs.submission import Backoff
from batch_runner.local import Emulator
from batch_runner.results import FAILED, SUCCEEDED, JobOutputRef, S3OutputSource, iter_results
from tests.emulator.helpers import CLAUDE, claude_body
from tests.emulator.test_runtime import runtime

NOVA = "us.amazon.nova-lite-v1:0"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def target(emulator: Emulator, model: str, invocation_type: str, sleeps: Sleeps) -> OnDemandTarget:
    backoff = Backoff(base_seconds=0.01, max_seconds=0.01, deadline_seconds=30.0, sleep=sleeps)
    return OnDemandTarget(runtime(emulator), model, invocation_type, backoff)


def line(record_id: str, body: Any) -> bytes:
    return orjson.dumps({"recordId": record_id, "modelInput": body})


def test_records_become_batch_output_lines_and_bad_ones_errors(emulator: Emulator) -> None:
    lines = [line(f"R{n}", claude_body(f"Question {n}?")) for n in range(6)]
    lines.append(line("BAD", {"messages": []}))
    sleeps = Sleeps()
    on_demand = target(emulator, CLAUDE, INVOKE_MODEL, sleeps)

    results = process(on_demand, lines, workers=3)

    parsed = [orjson.loads(r.line) for r in results]
    assert [p["recordId"] for p in parsed] == [*(f"R{n}" for n in range(6)), "BAD"]  # input order
    assert all(
        p["modelInput"] == orjson.loads(raw)["modelInput"] for p, raw in zip(parsed, lines, strict=True)
    )
    assert all(p["modelOutput"]["content"][0]["text"].startswith("[emulated") for p in parsed[:6])
    assert parsed[6]["error"]["errorCode"] == 400
    assert parsed[6]["error"]["errorMessage"].startswith("ValidationException: Malformed input request")
    summary = summarize(on_demand, results)
    assert (summary.succeeded, summary.failed) == (6, 1)
    assert summary.input_tokens == sum(p["modelOutput"]["usage"]["input_tokens"] for p in parsed[:6])
    assert summary.output_tokens > 0 and summary.on_demand_usd is not None and summary.on_demand_usd > 0
    assert sleeps == []


def test_throttling_is_retried_with_backoff_until_every_record_succeeds(emulator: Emulator) -> None:
    emulator.configure(throttle_rate=0.5, server_error_rate=0.1, seed=7)
    sleeps = Sleeps()
    results = process(
        target(emulator, NOVA, CONVERSE, sleeps),
        [
            line(f"R{n}", {"messages": [{"role": "user", "content": [{"text": f"Hi {n}"}]}]})
            for n in range(12)
        ],
    )
    parsed = [orjson.loads(r.line) for r in results]
    assert all(p["modelOutput"]["stopReason"] == "end_turn" for p in parsed)
    assert all(p["modelOutput"]["usage"]["inputTokens"] > 0 for p in parsed)
    assert len(sleeps) >= 6  # about half of ~24 calls were throttled, each retried after a pause


def test_a_record_still_throttled_after_the_deadline_ends_as_an_error(emulator: Emulator) -> None:
    emulator.configure(throttle_rate=1.0)
    sleeps = Sleeps()
    (result,) = process(target(emulator, CLAUDE, INVOKE_MODEL, sleeps), [line("R1", claude_body("Hi"))])
    error = orjson.loads(result.line)["error"]
    assert error["errorCode"] == 429 and error["errorMessage"].startswith("ThrottlingException")
    assert not result.succeeded and len(sleeps) == 7  # MAX_ATTEMPTS - 1 pauses


def test_written_output_is_read_by_the_results_core_like_a_job(emulator: Emulator, tmp_path: Path) -> None:
    s3 = emulator.client("s3")
    bucket = emulator.stack_outputs["OutputBucketName"]
    run = f"od-{uuid.uuid4().hex[:8]}"
    ref = JobOutputRef(f"on-demand:{run}/on-demand-00001", f"s3://{bucket}/runs/{run}/output/", "Completed")
    on_demand = target(emulator, CLAUDE, INVOKE_MODEL, Sleeps())
    results = process(on_demand, [line("R1", claude_body("Hi")), line("R2", {"oops": 1})])
    _, prefix = ref.output_prefix()
    assert prefix == f"runs/{run}/output/on-demand-00001/"

    write_output(s3, bucket, prefix, "shard-00001.jsonl", results)

    index = [orjson.dumps({"recordId": f"R{n}", "row": n - 1, "id": None, "input": {}}) for n in (1, 2, 3)]
    rows = list(iter_results(S3OutputSource(s3), [ref], index))
    assert [r["status"] for r in rows] == [SUCCEEDED, FAILED, "missing"]
    assert rows[0]["answer"].startswith("[emulated") and rows[0]["job_id"] == "on-demand-00001"
    assert rows[1]["error_code"] == "400"


@pytest.mark.parametrize("invocation_type", [INVOKE_MODEL, CONVERSE])
def test_a_body_of_the_wrong_shape_fails_only_its_record(emulator: Emulator, invocation_type: str) -> None:
    (result,) = process(
        target(emulator, CLAUDE, invocation_type, Sleeps()), [line("R1", ["not", "an", "object"])]
    )
    assert orjson.loads(result.line)["error"]["errorCode"] == 400
