"""The four control-plane operations over the emulator's jobs: Create, Get, List, Stop."""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batch_runner.local.clock import Clock
from batch_runner.local.config import EmulatorConfig
from batch_runner.local.errors import (
    ConflictError,
    ResourceNotFoundError,
    ServiceQuotaExceededError,
    ValidationError,
)
from batch_runner.local.faults import FaultInjector
from batch_runner.local.jobs import ACTIVE, Job
from batch_runner.local.lifecycle import Lifecycle
from batch_runner.local.models import base_model_id, resolve

_ID_ALPHABET = string.ascii_lowercase + string.digits
_JOB_ARN = re.compile(
    r"arn:aws(-[^:]+)?:bedrock:([a-z0-9-]{1,20}):([0-9]{12}):model-invocation-job/([a-z0-9]{12})"
)
# Jobs created without timeoutDurationInHours list 24 and expire 24 h after submitTime (queue time
# counts): AWS's own sample outputs, ../shared/reference/bedrock-batch.md section 9b.
DEFAULT_TIMEOUT_HOURS = 24
DEFAULT_PAGE_SIZE = 100
MAX_TAGS = 200


@dataclass(frozen=True)
class Scope:
    """Account and Region of a request: jobs are visible only within their own."""

    account_id: str
    region: str


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_token: str | None


class JobStore:
    def __init__(
        self, clock: Clock, config: Callable[[], EmulatorConfig], lifecycle: Lifecycle, faults: FaultInjector
    ) -> None:
        self.clock = clock
        self._config = config
        self._lifecycle = lifecycle
        self._faults = faults
        self._jobs: dict[str, Job] = {}  # by job ID, in creation order
        self._lock = threading.RLock()

    # Operations ---------------------------------------------------------------------------

    def create(self, scope: Scope, request: dict[str, Any]) -> Job:
        with self._lock:
            self.advance()
            token = request.get("clientRequestToken")
            if token is not None:
                for job in self._jobs.values():
                    if job.client_request_token == token and _in_scope(job, scope):
                        return job  # the service ignores a repeated token and returns the first job
            model_id = request["modelId"]
            invocation_type = request.get("modelInvocationType", "InvokeModel")
            if resolve(model_id, invocation_type) is None:
                raise ValidationError(
                    f"The provided model identifier is invalid: {model_id}. (The Bedrock emulator knows "
                    "Anthropic Claude, Amazon Nova, Titan Text Embeddings V2, Meta Llama 3 and Mistral "
                    "models.)"
                )
            name = request["jobName"]
            for job in self._jobs.values():
                if job.name == name and _in_scope(job, scope) and not job.terminal:
                    raise ConflictError(f"The provided job name is currently in use: {name}.")
            self._check_quota(scope, model_id)
            job_id = self._new_id()
            now = math.floor(self.clock.now() * 1000) / 1000  # the API shows milliseconds
            job = Job(
                job_id=job_id,
                arn=f"arn:aws:bedrock:{scope.region}:{scope.account_id}:model-invocation-job/{job_id}",
                account_id=scope.account_id,
                region=scope.region,
                name=name,
                model_id=model_id,
                role_arn=request["roleArn"],
                client_request_token=token,
                input_data_config=_with_bucket_owner(request["inputDataConfig"], scope.account_id),
                output_data_config=_with_bucket_owner(request["outputDataConfig"], scope.account_id),
                invocation_type=invocation_type,
                timeout_hours=request.get("timeoutDurationInHours", DEFAULT_TIMEOUT_HOURS),
                vpc_config=request.get("vpcConfig"),
                tags=request.get("tags", []),
                submit_time=now,
                forced_outcome=self._faults.job_outcome(),
            )
            self._jobs[job_id] = job
            self._lifecycle.start(job, now)
            return job

    def get(self, scope: Scope, identifier: str) -> Job:
        with self._lock:
            self.advance()
            return self._find(scope, identifier)

    def stop(self, scope: Scope, identifier: str) -> None:
        with self._lock:
            self.advance()
            job = self._find(scope, identifier)
            if job.terminal:
                raise ConflictError(f"The job {job.arn} is already {job.status} and cannot be stopped.")
            self._lifecycle.stop(job, self.clock.now())

    def tag(self, scope: Scope, identifier: str, tags: list[dict[str, str]]) -> None:
        with self._lock:
            job = self._find(scope, identifier)
            merged = {tag["key"]: tag["value"] for tag in job.tags}
            merged.update({tag["key"]: tag["value"] for tag in tags})
            if len(merged) > MAX_TAGS:
                raise ValidationError(f"A resource can have at most {MAX_TAGS} tags.")
            job.tags = [{"key": key, "value": value} for key, value in merged.items()]

    def untag(self, scope: Scope, identifier: str, keys: list[str]) -> None:
        with self._lock:
            job = self._find(scope, identifier)
            job.tags = [tag for tag in job.tags if tag["key"] not in set(keys)]

    def list_jobs(self, scope: Scope, params: dict[str, Any]) -> JobPage:
        with self._lock:
            self.advance()
            jobs = [job for job in self._jobs.values() if _in_scope(job, scope) and _matches(job, params)]
        jobs.sort(
            key=lambda job: (job.submit_time, job.job_id),
            reverse=params.get("sortOrder", "Descending") == "Descending",
        )
        start = _decode_token(params.get("nextToken"), len(jobs))
        size = params.get("maxResults", DEFAULT_PAGE_SIZE)
        page = jobs[start : start + size]
        more = start + size < len(jobs)
        return JobPage(jobs=page, next_token=_encode_token(start + size) if more else None)

    # Emulator controls ----------------------------------------------------------------------

    def advance(self) -> None:
        """Bring every job up to the clock's current time."""
        with self._lock:
            now = self.clock.now()
            for job in self._jobs.values():
                self._lifecycle.advance(job, now)

    def next_change(self) -> float | None:
        with self._lock:
            times = [t for job in self._jobs.values() if (t := self._lifecycle.next_change(job)) is not None]
        return min(times) if times else None

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def reset(self) -> None:
        with self._lock:
            self._jobs.clear()

    # Helpers ------------------------------------------------------------------------------

    def _new_id(self) -> str:
        while True:
            job_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
            if job_id not in self._jobs:
                return job_id

    def _check_quota(self, scope: Scope, model_id: str) -> None:
        limit = self._config().max_active_jobs_per_model
        model = base_model_id(model_id)
        active = sum(
            1
            for job in self._jobs.values()
            if _in_scope(job, scope) and job.status in ACTIVE and base_model_id(job.model_id) == model
        )
        if active >= limit:
            raise ServiceQuotaExceededError(
                f"You have reached the maximum number of batch inference jobs ({limit}) that can be "
                f"submitted or in progress for {model} in {scope.region}. Wait for a job to finish and retry."
            )

    def _find(self, scope: Scope, identifier: str) -> Job:
        match = _JOB_ARN.fullmatch(identifier)
        job_id = match.group(4) if match else identifier
        job = self._jobs.get(job_id)
        if job is None or not _in_scope(job, scope) or (match is not None and match.group(0) != job.arn):
            raise ResourceNotFoundError(f"The specified job {identifier} does not exist.")
        return job


def _with_bucket_owner(config: dict[str, Any], account_id: str) -> dict[str, Any]:
    """The data config as Get and List echo it: with ``s3BucketOwner`` even when the request left it
    out (observed on AWS, reference section 9b). The caller's account owns the stack's buckets."""
    return {
        member: {"s3BucketOwner": account_id, **settings} if isinstance(settings, dict) else settings
        for member, settings in config.items()
    }


def _in_scope(job: Job, scope: Scope) -> bool:
    return job.account_id == scope.account_id and job.region == scope.region


def _matches(job: Job, params: dict[str, Any]) -> bool:
    status = params.get("statusEquals")
    if status is not None and job.status != status:
        return False
    contains = params.get("nameContains")
    if contains is not None and contains not in job.name:
        return False
    after: datetime | None = params.get("submitTimeAfter")
    if after is not None and not job.submit_time > after.timestamp():
        return False
    before: datetime | None = params.get("submitTimeBefore")
    return before is None or job.submit_time < before.timestamp()


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: str | None, length: int) -> int:
    if token is None:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValidationError("The provided nextToken is invalid.") from err
    if not isinstance(offset, int) or not 0 <= offset <= length:
        raise ValidationError("The provided nextToken is invalid.")
    return offset
