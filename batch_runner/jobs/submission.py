"""Creating one Bedrock batch job per shard: names, idempotency tokens, tags, the concurrency quota.

A shard gets at most one job, ever. Before creating, the run's existing jobs are listed by name and
adopted; the create call carries a token derived from the run, the shard and its content, so a
retry after a crash that lost the job ARN returns the same job instead of a second one.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.aws.errors import aws_error, error_code, error_message
from batch_runner.catalog.model_ids import parse_model_id
from batch_runner.exceptions import AwsError, UsageError
from batch_runner.jobs.run_state import QUEUED, SUBMITTED, RunManifest, ShardState, run_prefix, utc_now
from batch_runner.version import __version__

# Statuses that count against the "submitted and in-progress jobs" quota.
ACTIVE_STATUSES = ("Submitted", "Validating", "Scheduled", "InProgress", "Stopping")
# Create errors that mean "not now": retried with backoff, then the shard stays queued.
RETRYABLE_CODES = frozenset(
    {
        "ServiceQuotaExceededException",
        "ThrottlingException",
        "TooManyRequestsException",
        "InternalServerException",
    }
)

T = TypeVar("T")

# CreateModelInvocationJob accepts timeoutDurationInHours from 24 to 168; without it AWS applies 24 and
# counts time queued (reference section 9b). The runner always sends it, by default the maximum: an
# Expired job has processed nothing and its records must queue again, so waiting longer in the queue
# gets more records through than expiring early.
MIN_TIMEOUT_HOURS = 24
MAX_TIMEOUT_HOURS = 168
DEFAULT_TIMEOUT_HOURS = MAX_TIMEOUT_HOURS


def checked_timeout_hours(hours: int) -> int:
    if (
        isinstance(hours, bool)
        or not isinstance(hours, int)
        or not MIN_TIMEOUT_HOURS <= hours <= MAX_TIMEOUT_HOURS
    ):
        raise UsageError(
            f"--timeout-hours must be a whole number from {MIN_TIMEOUT_HOURS} to {MAX_TIMEOUT_HOURS} "
            f"(Bedrock's limits), got {hours!r}"
        )
    return hours


TAG_RUN = "run"
TAG_SHARD = "shard"
TAG_TOOL_VERSION = "tool-version"


def job_name(run: str, index: int, prefix: str = "") -> str:
    """``<prefix><run>-s00001``: unique per run and shard, and valid under the job-name pattern.

    ``prefix`` is the stack's job-name prefix (``dev.``): its alert rules match only such names."""
    return f"{job_name_prefix(run, prefix)}{index:05d}"


def job_name_prefix(run: str, prefix: str = "") -> str:
    return f"{prefix}{run}-s"


def run_job_name_prefix(manifest: RunManifest) -> str:
    """The stack's job-name prefix the run was submitted under (none for runs from before it)."""
    return str(manifest.settings.get("job_name_prefix") or "")


def client_token(run: str, index: int, shard_sha256: str) -> str:
    """Deterministic idempotency token: the same shard of the same run always gets the same one.

    Hex digits only, which fits ``[a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}``.
    """
    return hashlib.sha256(f"batch-runner:{run}:{index}:{shard_sha256}".encode()).hexdigest()


def job_tags(run: str, index: int) -> list[dict[str, str]]:
    return [
        {"key": TAG_RUN, "value": run},
        {"key": TAG_SHARD, "value": str(index)},
        {"key": TAG_TOOL_VERSION, "value": __version__},
    ]


@dataclass(frozen=True)
class JobRequest:
    """Everything CreateModelInvocationJob needs for one shard."""

    job_name: str
    client_token: str
    model_id: str
    invocation_type: str
    role_arn: str
    input_uri: str
    output_uri: str
    tags: tuple[Mapping[str, str], ...]
    kms_key: str | None = None
    timeout_hours: int = DEFAULT_TIMEOUT_HOURS
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        output: dict[str, Any] = {"s3Uri": self.output_uri}
        if self.kms_key:
            output["s3EncryptionKeyId"] = self.kms_key
        request: dict[str, Any] = {
            "jobName": self.job_name,
            "clientRequestToken": self.client_token,
            "modelId": self.model_id,
            "modelInvocationType": self.invocation_type,
            "roleArn": self.role_arn,
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": self.input_uri, "s3InputFormat": "JSONL"}},
            "outputDataConfig": {"s3OutputDataConfig": output},
            "timeoutDurationInHours": self.timeout_hours,
            "tags": [dict(tag) for tag in self.tags],
        }
        if self.subnet_ids:
            request["vpcConfig"] = {
                "subnetIds": list(self.subnet_ids),
                "securityGroupIds": list(self.security_group_ids),
            }
        return request


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, bounded by a deadline per call."""

    base_seconds: float = 1.0
    max_seconds: float = 30.0
    deadline_seconds: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def delays(self) -> Iterable[float]:
        """Delays to sleep between attempts; stops when the next one would pass the deadline."""
        end = self.clock() + self.deadline_seconds
        attempt = 0
        while True:
            delay = random.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt))
            if self.clock() + delay > end:
                return
            yield delay
            attempt += 1


class NotNow(Exception):
    """The service kept answering "later" (quota, throttling) until the deadline: stay queued."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def with_backoff(call: Callable[[], T], backoff: Backoff, doing: str) -> T:
    """``call()``, retrying "later" answers with backoff; NotNow at the deadline, AwsError otherwise."""
    delays = iter(backoff.delays())
    while True:
        try:
            return call()
        except ClientError as err:
            code = error_code(err)
            if code not in RETRYABLE_CODES:
                raise aws_error(err, doing) from err
            delay = next(delays, None)
            if delay is None:
                raise NotNow(code, error_message(err)) from err
            backoff.sleep(delay)
        except BotoCoreError as err:
            raise aws_error(err, doing) from err


def create_job(bedrock: Any, request: JobRequest, backoff: Backoff) -> str:
    """Create the job and return its ARN."""
    response = with_backoff(
        lambda: bedrock.create_model_invocation_job(**request.to_api()),
        backoff,
        f"creating job {request.job_name}",
    )
    return str(response["jobArn"])


def _list_jobs(bedrock: Any, backoff: Backoff, doing: str, **params: Any) -> list[Mapping[str, Any]]:
    def listing() -> list[Mapping[str, Any]]:
        pages = bedrock.get_paginator("list_model_invocation_jobs").paginate(**params)
        return [job for page in pages for job in page.get("invocationJobSummaries", [])]

    return with_backoff(listing, backoff, doing)


def base_model(model_id: str) -> str:
    """The foundation model behind an ID, profile ID or ARN: jobs on either count against one quota."""
    return parse_model_id(model_id).base_model_id or model_id


def count_active_jobs(bedrock: Any, model_id: str, backoff: Backoff | None = None) -> int:
    """Jobs in the account that count against this model's concurrency quota, from every run."""
    target = base_model(model_id)
    return sum(
        1
        for status in ACTIVE_STATUSES
        for job in _list_jobs(bedrock, backoff or Backoff(), "listing active jobs", statusEquals=status)
        if base_model(str(job.get("modelId", ""))) == target
    )


def find_run_jobs(
    bedrock: Any, run: str, backoff: Backoff | None = None, *, name_prefix: str = ""
) -> dict[str, Mapping[str, Any]]:
    """This run's jobs already in the account, by job name (the newest when a name repeats)."""
    prefix = job_name_prefix(run, name_prefix)
    jobs: dict[str, Mapping[str, Any]] = {}
    listed = _list_jobs(
        bedrock,
        backoff or Backoff(),
        f"listing jobs of run {run}",
        nameContains=prefix,
        sortBy="CreationTime",
        sortOrder="Ascending",
    )
    for job in listed:
        name = str(job.get("jobName", ""))
        if name.startswith(prefix):
            jobs[name] = job
    return jobs


def output_uri(bucket: str, run: str) -> str:
    """Where Bedrock writes a run's results: ``s3://<bucket>/runs/<run>/output/<job id>/...``."""
    return f"s3://{bucket}/{run_prefix(run)}output/"


def job_request(manifest: RunManifest, shard: ShardState) -> JobRequest:
    settings = manifest.settings
    return JobRequest(
        job_name=shard.job_name,
        client_token=shard.client_token,
        model_id=str(manifest.plan["model_id"]),
        invocation_type=str(manifest.plan["invocation_type"]),
        role_arn=str(settings["role_arn"]),
        input_uri=f"s3://{settings['input_bucket']}/{shard.s3_key}",
        output_uri=output_uri(str(settings["output_bucket"]), manifest.run),
        tags=tuple(job_tags(manifest.run, shard.index)),
        kms_key=settings.get("kms_key"),
        timeout_hours=int(manifest.plan.get("timeout_hours", DEFAULT_TIMEOUT_HOURS)),
        subnet_ids=tuple(settings.get("subnet_ids") or ()),
        security_group_ids=tuple(settings.get("security_group_ids") or ()),
    )


@dataclass
class SubmitReport:
    """What one pass over the queue did."""

    created: list[int] = field(default_factory=list)
    adopted: list[int] = field(default_factory=list)  # jobs found already in the account
    queued: list[int] = field(default_factory=list)  # still waiting after this pass
    waiting_reason: str | None = None


def submit_queued(
    manifest: RunManifest,
    bedrock: Any,
    *,
    save: Callable[[], None],
    backoff: Backoff | None = None,
    slots: int | None = None,
    existing: Mapping[str, Mapping[str, Any]] | None = None,
    out_of_time: Callable[[], bool] | None = None,
) -> SubmitReport:
    """Create jobs for queued shards while the concurrency quota allows; save after every change.

    Called by ``submit`` and again by every later ``status``/``wait`` pass until the queue is empty.
    The orchestration scheduler, which counts the quota across runs itself, passes ``slots`` (create
    at most this many), ``existing`` (the run's jobs it already listed, by name) and
    ``out_of_time`` (asked before each create: its Lambda's time runs out, the next pass goes on).
    """
    backoff = backoff or Backoff()
    report = SubmitReport()
    if _batch_queued(manifest):
        try:
            if existing is None:
                existing = find_run_jobs(
                    bedrock, manifest.run, backoff, name_prefix=run_job_name_prefix(manifest)
                )
            _adopt_existing(manifest, existing, save, report)
            _create_within_quota(manifest, bedrock, backoff, save, report, slots, out_of_time)
        except NotNow as err:
            report.waiting_reason = f"the service keeps answering {err.code}"
    report.queued = [s.index for s in _batch_queued(manifest)]
    return report


def _batch_queued(manifest: RunManifest) -> list[ShardState]:
    """Queued shards that become batch jobs (on-demand shards are sent by ``jobs.on_demand_shards``)."""
    return [s for s in manifest.shards if s.state == QUEUED and s.is_bedrock_job]


def _adopt_existing(
    manifest: RunManifest,
    existing: Mapping[str, Mapping[str, Any]],
    save: Callable[[], None],
    report: SubmitReport,
) -> None:
    """Record jobs that exist for queued shards (created before a crash lost their ARNs)."""
    for shard in manifest.shards:
        job = existing.get(shard.job_name)
        if shard.state == QUEUED and shard.is_bedrock_job and job is not None:
            _adopt(shard, job)
            report.adopted.append(shard.index)
            save()


def _create_within_quota(
    manifest: RunManifest,
    bedrock: Any,
    backoff: Backoff,
    save: Callable[[], None],
    report: SubmitReport,
    slots: int | None,
    out_of_time: Callable[[], bool] | None = None,
) -> None:
    waiting = _batch_queued(manifest)
    if not waiting:
        return
    if slots is None:
        limit = int(manifest.quotas["max_concurrent_jobs"])
        active = count_active_jobs(bedrock, str(manifest.plan["model_id"]), backoff)
    else:
        limit, active = slots, 0
    for shard in waiting:
        if active >= limit:
            if slots is None:  # else the caller, who counted, knows why
                report.waiting_reason = f"{active} of {limit} allowed jobs for this model are active"
            return
        if out_of_time is not None and out_of_time():
            report.waiting_reason = "the scheduler's pass ran out of time; its next pass goes on"
            return
        try:
            arn = create_job(bedrock, job_request(manifest, shard), backoff)
        except (NotNow, AwsError) as err:
            shard.message = f"not submitted yet: {err}" if isinstance(err, NotNow) else str(err)
            save()
            raise
        shard.state, shard.job_arn, shard.job_status = SUBMITTED, arn, "Submitted"
        shard.submitted_at, shard.message = utc_now(), None
        save()
        report.created.append(shard.index)
        active += 1


def _adopt(shard: ShardState, job: Mapping[str, Any]) -> None:
    token = job.get("clientRequestToken")
    if token and token != shard.client_token:
        raise AwsError(
            f"job {shard.job_name} already exists for other input (token differs): "
            "this run name was used before; choose another --run",
            code="ConflictException",
        )
    shard.state, shard.job_arn = SUBMITTED, str(job["jobArn"])
    shard.job_status = str(job.get("status") or "Submitted")
    submitted = job.get("submitTime")
    shard.submitted_at = submitted.isoformat() if isinstance(submitted, datetime) else utc_now()
