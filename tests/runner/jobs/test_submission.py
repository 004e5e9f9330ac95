"""Job creation: valid names, tokens and tags; the concurrency quota; retries; never two jobs per shard."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from batch_runner.aws.clients import AwsContext
from batch_runner.exceptions import AwsError
from batch_runner.jobs.run_state import QUEUED, SUBMITTED, RunManifest, ShardState
from batch_runner.jobs.submission import (
    ACTIVE_STATUSES,
    Backoff,
    base_model,
    client_token,
    count_active_jobs,
    find_run_jobs,
    job_name,
    job_request,
    job_tags,
    submit_queued,
)
from batch_runner.local import Emulator

# Patterns from the CreateModelInvocationJob API reference (botocore does not check them).
JOB_NAME = re.compile(r"[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}")
TOKEN = re.compile(r"[a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}")
TAG_VALUE = re.compile(r"[a-zA-Z0-9\s._:/=+@-]*")
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def test_job_name_is_valid_and_unique_per_shard_even_for_the_longest_run_name() -> None:
    run = "r" * 40
    names = {job_name(run, index) for index in range(3)}
    assert len(names) == 3
    for name in names:
        assert JOB_NAME.fullmatch(name) and len(name) <= 63


def test_token_is_deterministic_valid_and_changes_with_run_shard_and_content() -> None:
    token = client_token("run-a", 1, "ab" * 32)
    assert TOKEN.fullmatch(token)
    assert token == client_token("run-a", 1, "ab" * 32)
    others = {
        client_token("run-b", 1, "ab" * 32),
        client_token("run-a", 2, "ab" * 32),
        client_token("run-a", 1, "cd" * 32),
    }
    assert token not in others and len(others) == 3


def test_tags_name_run_shard_and_tool_version_with_valid_values() -> None:
    tags = {t["key"]: t["value"] for t in job_tags("run-a", 7)}
    assert tags["run"] == "run-a" and tags["shard"] == "7" and tags["tool-version"]
    assert all(TAG_VALUE.fullmatch(value) for value in tags.values())


@pytest.mark.parametrize(
    "model_id",
    [HAIKU, f"us.{HAIKU}", f"global.{HAIKU}", f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"],
)
def test_profiles_and_arns_count_against_the_base_model(model_id: str) -> None:
    assert base_model(model_id) == HAIKU


def test_backoff_grows_and_stops_at_the_deadline() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    backoff = Backoff(base_seconds=1, max_seconds=8, deadline_seconds=60, sleep=sleep, clock=lambda: now[0])
    delays = []
    for delay in backoff.delays():
        assert delay <= 8
        delays.append(delay)
        sleep(delay)
    assert now[0] <= 60
    assert len(delays) >= 3


# -- against the emulator ---------------------------------------------------------------------


def _manifest(
    emulator: Emulator, run: str, shards: int, *, limit: int = 20, model: str = HAIKU
) -> RunManifest:
    """A run whose shard files are uploaded (state queued), as submit leaves it before creating jobs."""
    outputs = emulator.stack_outputs
    s3 = emulator.client("s3")
    states = []
    for index in range(shards):
        key = f"runs/{run}/input/shard-{index:05d}.jsonl"
        request = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        }
        body = "".join(
            json.dumps({"recordId": f"R{index:03d}{n:05d}", "modelInput": request}) + "\n" for n in range(100)
        )
        s3.put_object(Bucket=outputs["InputBucketName"], Key=key, Body=body.encode())
        sha = f"{index:064x}"
        states.append(
            ShardState(
                index=index,
                local_path="unused",
                s3_key=key,
                sha256=sha,
                record_count=100,
                byte_size=len(body),
                client_token=client_token(run, index, sha),
                job_name=job_name(run, index),
                state=QUEUED,
            )
        )
    return RunManifest(
        run=run,
        created_at="2026-01-01T00:00:00+00:00",
        tool_version="test",
        dataset={"source": "test", "fingerprint": "f"},
        options={},
        settings={
            "region": "us-east-1",
            "input_bucket": outputs["InputBucketName"],
            "output_bucket": outputs["OutputBucketName"],
            "role_arn": outputs["ServiceRoleArn"],
        },
        quotas={"max_concurrent_jobs": limit},
        plan={"model_id": model, "invocation_type": "InvokeModel"},
        record_index={},
        shards=states,
    )


class Saves:
    """Counts manifest saves and can crash at a chosen one, like a process killed mid-run."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def bedrock(emulator_aws: AwsContext) -> Iterator[Any]:
    yield emulator_aws.client("bedrock")


def _jobs_named(bedrock: Any, run: str) -> list[str]:
    return sorted(find_run_jobs(bedrock, run))


def _fast() -> Backoff:
    return Backoff(base_seconds=0.001, max_seconds=0.01, deadline_seconds=0.2)


def test_creates_one_job_per_shard_with_the_shard_as_input(emulator: Emulator, bedrock: Any) -> None:
    manifest = _manifest(emulator, "sub-basic", 3)
    saves = Saves()
    report = submit_queued(manifest, bedrock, save=saves, backoff=_fast())
    assert report.created == [0, 1, 2] and report.queued == []
    assert saves.count == 3  # after every job, so a crash loses at most the one in flight
    for shard in manifest.shards:
        assert shard.state == SUBMITTED and shard.job_arn
        job = bedrock.get_model_invocation_job(jobIdentifier=shard.job_arn)
        assert job["jobName"] == shard.job_name
        assert job["clientRequestToken"] == shard.client_token
        assert job["inputDataConfig"]["s3InputDataConfig"]["s3Uri"].endswith(shard.s3_key)
        assert job["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"].endswith("/runs/sub-basic/output/")
    tags = {job.name: job.tags for job in emulator.jobs()}
    assert {"key": "run", "value": "sub-basic"} in tags[job_name("sub-basic", 1)]
    assert {"key": "shard", "value": "1"} in tags[job_name("sub-basic", 1)]


def test_never_exceeds_the_concurrency_quota_counting_other_runs(emulator: Emulator, bedrock: Any) -> None:
    other = _manifest(emulator, "sub-other", 2)
    submit_queued(other, bedrock, save=Saves(), backoff=_fast())
    manifest = _manifest(emulator, "sub-limited", 5, limit=4)
    report = submit_queued(manifest, bedrock, save=Saves(), backoff=_fast())
    assert report.created == [0, 1]
    assert report.queued == [2, 3, 4]
    assert report.waiting_reason == "4 of 4 allowed jobs for this model are active"
    assert count_active_jobs(bedrock, HAIKU) == 4
    # Another model's jobs do not take this model's slots.
    assert count_active_jobs(bedrock, "amazon.nova-lite-v1:0") == 0

    emulator.run_until_idle()  # every job finishes: slots free up
    later = submit_queued(manifest, bedrock, save=Saves(), backoff=_fast())
    assert later.created == [2, 3, 4] and later.queued == []
    assert _jobs_named(bedrock, "sub-limited") == [job_name("sub-limited", i) for i in range(5)]


def test_quota_exceeded_from_the_service_is_retried_then_left_queued(
    emulator: Emulator, bedrock: Any
) -> None:
    # The service's own limit is lower than the quota the runner believes in.
    emulator.configure(max_active_jobs_per_model=1)
    manifest = _manifest(emulator, "sub-svc-quota", 2)
    report = submit_queued(manifest, bedrock, save=Saves(), backoff=_fast())
    assert report.created == [0]
    assert report.queued == [1]
    assert report.waiting_reason == "the service keeps answering ServiceQuotaExceededException"
    assert "ServiceQuotaExceededException" in str(manifest.shards[1].message)


def test_quota_exceeded_is_retried_until_a_slot_frees(emulator: Emulator, bedrock: Any) -> None:
    emulator.configure(max_active_jobs_per_model=1)
    manifest = _manifest(emulator, "sub-slot-frees", 2)
    # The first job finishes while the second create is being retried.
    finisher = threading.Timer(0.3, emulator.run_until_idle)
    finisher.start()
    backoff = Backoff(base_seconds=0.05, max_seconds=0.1, deadline_seconds=20)
    report = submit_queued(manifest, bedrock, save=Saves(), backoff=backoff)
    finisher.join()
    assert report.created == [0, 1] and report.queued == []


def test_throttling_is_retried_until_the_job_is_created(emulator: Emulator) -> None:
    # Without the SDK's own retries, so every 429 reaches the runner's backoff.
    bedrock = boto3.client(
        "bedrock",
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    throttled: list[str] = []

    def record(response: Any = None, **kwargs: Any) -> None:
        if response is not None and response[1].get("Error", {}).get("Code") == "ThrottlingException":
            throttled.append(kwargs["event_name"])

    bedrock.meta.events.register("needs-retry.bedrock.CreateModelInvocationJob", record)
    emulator.configure(throttle_rate=0.5, seed=7)
    manifest = _manifest(emulator, "sub-throttled", 2)
    report = submit_queued(manifest, bedrock, save=Saves(), backoff=Backoff(0.001, 0.01, deadline_seconds=10))
    emulator.configure(throttle_rate=0.0)
    assert throttled, "the fault injection should have throttled some creates"
    assert report.created == [0, 1]
    assert _jobs_named(bedrock, "sub-throttled") == [job_name("sub-throttled", i) for i in range(2)]


def test_a_job_created_but_not_recorded_is_adopted_not_duplicated(emulator: Emulator, bedrock: Any) -> None:
    manifest = _manifest(emulator, "sub-lost-write", 2)
    crashed = _manifest(emulator, "sub-lost-write", 2)

    class Crash(Exception):
        pass

    def crash_on_first_save() -> None:
        raise Crash  # the job exists, the manifest never learns its ARN

    with pytest.raises(Crash):
        submit_queued(crashed, bedrock, save=crash_on_first_save, backoff=_fast())
    assert len(_jobs_named(bedrock, "sub-lost-write")) == 1

    report = submit_queued(manifest, bedrock, save=Saves(), backoff=_fast())
    assert report.adopted == [0] and report.created == [1]
    jobs = find_run_jobs(bedrock, "sub-lost-write")
    assert sorted(jobs) == [job_name("sub-lost-write", 0), job_name("sub-lost-write", 1)]
    assert manifest.shards[0].job_arn == jobs[job_name("sub-lost-write", 0)]["jobArn"]


def test_repeating_a_create_with_the_same_token_returns_the_same_job(
    emulator: Emulator, bedrock: Any
) -> None:
    manifest = _manifest(emulator, "sub-token", 1)
    request = job_request(manifest, manifest.shards[0]).to_api()
    first = bedrock.create_model_invocation_job(**request)["jobArn"]
    second = bedrock.create_model_invocation_job(**request)["jobArn"]
    assert first == second
    assert len(_jobs_named(bedrock, "sub-token")) == 1


def test_a_name_taken_by_other_input_is_a_clear_error(emulator: Emulator, bedrock: Any) -> None:
    first = _manifest(emulator, "sub-reused", 1)
    submit_queued(first, bedrock, save=Saves(), backoff=_fast())
    again = _manifest(emulator, "sub-reused", 1)
    again.shards[0].client_token = client_token("sub-reused", 0, "e" * 64)
    with pytest.raises(AwsError, match="already exists for other input"):
        submit_queued(again, bedrock, save=Saves(), backoff=_fast())


def test_validation_errors_are_not_retried_and_name_the_job(emulator: Emulator, bedrock: Any) -> None:
    manifest = _manifest(emulator, "sub-invalid", 1)
    manifest.settings["role_arn"] = "not-an-arn"
    with pytest.raises(AwsError, match="creating job sub-invalid-s00000 failed: ValidationException"):
        submit_queued(manifest, bedrock, save=Saves(), backoff=_fast())
    assert manifest.shards[0].state == QUEUED
    assert "ValidationException" in str(manifest.shards[0].message)


def test_the_stack_kms_key_encrypts_job_output(emulator: Emulator, bedrock: Any) -> None:
    manifest = _manifest(emulator, "sub-kms", 1)
    manifest.settings["kms_key"] = (
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    assert job_request(manifest, manifest.shards[0]).to_api()["outputDataConfig"]["s3OutputDataConfig"] == {
        "s3Uri": f"s3://{emulator.stack_outputs['OutputBucketName']}/runs/sub-kms/output/",
        "s3EncryptionKeyId": manifest.settings["kms_key"],
    }
    manifest.settings["kms_key"] = None
    assert (
        "s3EncryptionKeyId"
        not in job_request(manifest, manifest.shards[0]).to_api()["outputDataConfig"]["s3OutputDataConfig"]
    )


def test_active_statuses_are_the_non_terminal_ones() -> None:
    assert set(ACTIVE_STATUSES) == {"Submitted", "Validating", "Scheduled", "InProgress", "Stopping"}
