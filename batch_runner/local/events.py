"""EventBridge: the ``Batch Inference Job State Change`` event of every status change."""

from __future__ import annotations

import sys
import threading
import uuid
from typing import Any

from batch_runner.local.clock import to_datetime
from batch_runner.local.jobs import Job, model_arn
from batch_runner.local.moto_state import LambdaSink, put_event

SOURCE = "aws.bedrock"
DETAIL_TYPE = "Batch Inference Job State Change"


def state_change_event(job: Job, at: float) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": job.account_id,
        "time": to_datetime(at).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": job.region,
        "resources": [job.arn],
        "detail": {
            "version": "0.0",
            "accountId": job.account_id,
            "batchJobName": job.name,
            "batchJobArn": job.arn,
            # An ARN, as in the service's events, even when the job was created with a bare ID.
            "batchModelId": model_arn(job.region, job.account_id, job.model_id),
            "status": job.status,
            "failureMessage": job.message if job.status == "Failed" and job.message else "",
            # The service writes this one in a human format, e.g. "Aug 28, 2024, 10:47:53 PM".
            "creationTime": to_datetime(job.submit_time).strftime("%b %d, %Y, %I:%M:%S %p"),
        },
    }


class EventLog:
    """Events in the order they happened; also delivered to moto's default bus."""

    def __init__(self, lambda_sink: LambdaSink | None = None) -> None:
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._lambda_sink = lambda_sink

    def record(self, job: Job, at: float) -> None:
        event = state_change_event(job, at)
        with self._lock:
            self._events.append(event)
        try:
            put_event(job.account_id, job.region, event, self._lambda_sink)
        except Exception as err:  # delivery is best effort, as in EventBridge; the job moves on regardless
            print(f"bedrock emulator: could not deliver an event for {job.arn}: {err!r}", file=sys.stderr)

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._events)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
