"""`python -m batch_runner local serve` as a user runs it, the admin endpoints, and in-process mode."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.local import Emulator, EmulatorConfig, ManualClock
from tests.emulator.helpers import claude_records, create_job, job_outputs, jsonl, unique
from tests.emulator_fixtures import hand_written_template

ROOT = Path(__file__).resolve().parents[2]


def admin(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{url}/_emulator{path}", data=data, method="POST" if data is not None else "GET"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def serve_command(*flags: str) -> list[str]:
    return [sys.executable, "-m", "batch_runner", "local", "serve", "--port", "0", *flags]


def run_serve(*flags: str) -> subprocess.CompletedProcess[str]:
    """A `local serve` that is expected to refuse to start."""
    return subprocess.run(
        serve_command(*flags), cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def start_serve(*flags: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    """Start `local serve` in the background; returns the process, its endpoint and its banner."""
    process = subprocess.Popen(
        serve_command(*flags),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    banner: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (line := process.stdout.readline()):
        banner.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    urls = [match.group(1) for line in banner if (match := re.search(r"export AWS_ENDPOINT_URL=(\S+)", line))]
    if not urls:
        process.kill()
        _, stderr = process.communicate(timeout=10)
        pytest.fail("local serve did not start:\n" + "".join(banner) + stderr)
    return process, urls[0], banner


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[subprocess.Popen[str], str, list[str]]]:
    flags = ("--submitted-seconds", "0.1", "--validating-seconds", "0.1", "--scheduled-seconds", "0.1")
    process, url, banner = start_serve(*flags, "--min-records-per-job", "10")
    try:
        yield process, url, banner
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_serve_runs_a_job_end_to_end_and_stops_cleanly_on_ctrl_c(
    served: tuple[subprocess.Popen[str], str, list[str]],
) -> None:
    process, url, banner = served
    text = "".join(banner)
    assert "Stack BedrockBatch-dev deployed" in text
    outputs = admin(url, "/health")["outputs"]
    assert set(outputs) >= {OutputKey.INPUT_BUCKET, OutputKey.OUTPUT_BUCKET, OutputKey.SERVICE_ROLE_ARN}

    def client(service: str) -> Any:
        return boto3.client(service, region_name="us-east-1", endpoint_url=url)

    key = f"{unique('in')}/records.jsonl"
    client("s3").put_object(Bucket=outputs[OutputKey.INPUT_BUCKET], Key=key, Body=jsonl(claude_records(20)))
    assert admin(url, "/config", {"records_per_second": 50})["records_per_second"] == 50
    arn = client("bedrock").create_model_invocation_job(
        jobName=unique("served"),
        roleArn=outputs[OutputKey.SERVICE_ROLE_ARN],
        modelId="anthropic.claude-3-haiku-20240307-v1:0",
        inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{outputs[OutputKey.INPUT_BUCKET]}/{key}"}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{outputs[OutputKey.OUTPUT_BUCKET]}/out/"}},
    )["jobArn"]
    deadline = time.monotonic() + 30
    status = ""
    while time.monotonic() < deadline and status != "Completed":
        time.sleep(0.2)
        status = client("bedrock").get_model_invocation_job(jobIdentifier=arn)["status"]
    assert status == "Completed"
    assert [e["detail"]["status"] for e in admin(url, "/events")["events"]][-1] == "Completed"
    assert admin(url, "/jobs")["jobs"][0]["successRecordCount"] == 20

    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "emulator stopped" in stdout
    assert "Traceback" not in stderr


def test_serve_rejects_bad_settings_in_one_line() -> None:
    result = run_serve("--throttle-rate", "2")
    assert result.returncode == 2
    assert result.stderr.startswith("error: throttle_rate must be between 0 and 1")
    assert "Traceback" not in result.stderr


def test_admin_endpoints_steer_the_emulator(emulator: Emulator) -> None:
    url = emulator.endpoint_url
    assert (
        admin(url, "/config", {"min_records_per_job": 5, "job_outcome": "Expired"})["min_records_per_job"]
        == 5
    )
    assert emulator.config.job_outcome == "Expired"
    arn = create_job(emulator, claude_records(5))
    admin(url, "/clock/advance", {"seconds": 1.5})
    assert emulator.client("bedrock").get_model_invocation_job(jobIdentifier=arn)["status"] == "Validating"
    admin(url, "/run", {})
    assert [job["status"] for job in admin(url, "/jobs")["jobs"]] == ["Expired"]
    assert [e["detail"]["status"] for e in admin(url, "/events")["events"]][-1] == "Expired"
    admin(url, "/reset", {})
    assert admin(url, "/jobs")["jobs"] == [] and admin(url, "/events")["events"] == []
    assert admin(url, "/config")["min_records_per_job"] == 100
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        admin(url, "/config", {"no_such_setting": 1})
    assert excinfo.value.code == 400


def test_in_process_mode_with_its_own_stack_and_region() -> None:
    config = EmulatorConfig(min_records_per_job=1)
    with Emulator(
        config, clock=ManualClock(), region="eu-west-1", template=hand_written_template()
    ) as emulator:
        assert emulator.stack_outputs[OutputKey.REGION] == "eu-west-1"
        arn = create_job(emulator, claude_records(3))
        assert arn.startswith("arn:aws:bedrock:eu-west-1:")
        emulator.run_until_idle()
        assert emulator.client("bedrock").get_model_invocation_job(jobIdentifier=arn)["status"] == "Completed"
        assert "records.jsonl.out" in job_outputs(emulator, arn)


def test_the_stack_comes_back_after_something_resets_moto(emulator: Emulator) -> None:
    from moto import mock_aws

    with mock_aws():  # what other test modules do; it wipes moto's process-wide state
        pass
    emulator.reset()  # the function-scoped fixture does this before every test
    bucket = emulator.stack_outputs[OutputKey.INPUT_BUCKET]
    assert emulator.client("s3").head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    arn = create_job(emulator)
    emulator.run_until_idle()
    assert emulator.client("bedrock").get_model_invocation_job(jobIdentifier=arn)["status"] == "Completed"


def test_serve_on_a_busy_port_says_so_in_one_line() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_serve("--port", str(port), "--no-stack")  # the later --port wins
    assert result.returncode == 2
    assert (
        result.stderr
        == f"error: cannot listen on 127.0.0.1:{port} (Address already in use); choose another --port\n"
    )


def test_serve_with_a_manual_clock_moves_only_when_told() -> None:
    process, url, banner = start_serve("--no-stack", "--manual-clock")
    try:
        before = admin(url, "/clock/advance", {"seconds": 0})["now"]
        time.sleep(0.3)
        assert admin(url, "/clock/advance", {"seconds": 60})["now"] == before + 60
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    assert "Clock: manual" in "".join(banner)
    assert process.returncode == 0


def test_serve_reports_a_stack_that_cannot_be_synthesized_in_one_line() -> None:
    result = run_serve("--env", "nosuchenv")
    assert result.returncode == 2
    assert result.stderr.startswith("error: synthesizing app.py failed: ")
    assert "nosuchenv" in result.stderr and "--no-stack" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
