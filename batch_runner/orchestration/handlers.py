"""Lambda entry points: parse nothing more than needed, run the core, log one line.

``schedule`` is the scheduler Lambda (reserved concurrency 1): every trigger (a job ended, a
runner event, the sweep schedule) runs the same idempotent pass, so the event itself is only logged.
``attach_workflow`` and ``collect`` are the tasks of each run's workflow (``workflow``).
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
from batch_runner.orchestration.cloud_run import scratch_dir
from batch_runner.orchestration.registry import Registry
from batch_runner.orchestration.scheduler import Scheduler
from batch_runner.orchestration.settings import OrchestrationSettings
from batch_runner.orchestration.workflow import Workflows, hand_back

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
    settings, aws = _context(aws, environ)
    clients = {name: aws.client(name) for name in ("bedrock", "s3", "dynamodb", "stepfunctions")}
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


def attach_workflow(
    event: dict[str, Any],
    context: Any = None,
    *,
    aws: AwsContext | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The workflow's first task: keep its token on the run's registry item (``{"run", "token"}``)
    until the scheduler hands it back; hand it back at once if the run already finished."""
    settings, aws = _context(aws, environ)
    registry = Registry(aws.client("dynamodb"), settings.registry_table)
    run = str(event["run"])
    written = registry.update(run, {"task_token": str(event["token"])})
    workflows = Workflows(aws.client("stepfunctions"), str(settings.state_machine_arn))
    resumed = hand_back(registry, workflows, written)
    LOG.info(json.dumps({"attached": run, "resumed": resumed}))
    return {"run": run, "resumed": resumed}


def collect(
    event: dict[str, Any],
    context: Any = None,
    *,
    aws: AwsContext | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The workflow's collect task (``{"run", "round"}``): the run's results into S3, for the notice."""
    from batch_runner.orchestration.collector import collect_run  # pyarrow: only this function

    settings, aws = _context(aws, environ)
    clients = {name: aws.client(name) for name in ("s3", "dynamodb")}
    round_number = int(event["round"]) if "round" in event else None
    run = str(event["run"])
    collected = collect_run(clients, settings, run, scratch_dir(), round_number=round_number).to_dict()
    LOG.info(json.dumps(collected, sort_keys=True))
    return collected


def _context(
    aws: AwsContext | None, environ: Mapping[str, str] | None
) -> tuple[OrchestrationSettings, AwsContext]:
    """The stack's settings from the function's environment, and the clients' context."""
    settings = OrchestrationSettings.from_environment(os.environ if environ is None else environ)
    return settings, aws or AwsContext()
