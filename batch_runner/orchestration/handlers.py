"""Lambda entry points: parse nothing more than needed, run the core, log one line.

``schedule`` is the scheduler Lambda (reserved concurrency 1): every trigger (a job ended, a
runner event, the sweep schedule) runs the same idempotent pass, so the event itself is only logged.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from batch_runner.aws.clients import AwsContext
from batch_runner.orchestration.scheduler import Scheduler
from batch_runner.orchestration.settings import OrchestrationSettings

LOG = logging.getLogger("batch_runner.orchestration")
# Time a pass keeps after its last create: a manifest write per run, registry updates, and the
# backoff of one throttled create (20 s at most) that may still be in flight.
WRITE_MARGIN_SECONDS = 60.0
LOG.setLevel(logging.INFO)


def schedule(
    event: dict[str, Any],
    context: Any = None,
    *,
    aws: AwsContext | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``aws`` and ``environ`` are injected by tests and the emulator; Lambda passes neither."""
    settings = OrchestrationSettings.from_environment(os.environ if environ is None else environ)
    aws = aws or AwsContext()
    clients = {name: aws.client(name) for name in ("bedrock", "s3", "dynamodb")}
    report = asdict(Scheduler(clients, settings, stop_creating_at=creation_deadline(context)).run_pass())
    LOG.info(json.dumps({"trigger": _trigger(event), **report}, sort_keys=True))
    return report


def creation_deadline(context: Any) -> float | None:
    """Leave ``WRITE_MARGIN_SECONDS`` of the invocation's time for writing manifests and registry."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return time.monotonic() + remaining() / 1000 - WRITE_MARGIN_SECONDS


def _trigger(event: dict[str, Any]) -> str:
    detail = event.get("detail")
    if not isinstance(detail, dict):
        detail = {}
    name = detail.get("batchJobName") or detail.get("run") or ""
    return f"{event.get('source', '?')}: {event.get('detail-type', '?')} {name}".strip()
