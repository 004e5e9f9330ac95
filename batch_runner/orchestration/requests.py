"""The laptop's side of an orchestrated run: register it, and ask; never write its manifest.

After ``submit --orchestrated`` uploads a run, the stack is the single writer of its manifest:
the laptop registers the run (a conditional PutItem, so submitting again is harmless) and sends
an event that wakes the scheduler. ``cancel`` and ``retry`` become flags on the registry item plus
an event; the scheduler acts on them in its next pass (the sweep, if the event is lost).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from batch_runner.aws.settings import ENV_ORCHESTRATED
from batch_runner.exceptions import ConfigurationError, RunNotFoundError
from batch_runner.jobs.run_context import RunContext
from batch_runner.jobs.submission import base_model
from batch_runner.orchestration.registry import Registry, RegistryEntry
from batch_runner.orchestration.settings import (
    EVENT_SOURCE,
    RUN_CANCEL_REQUESTED,
    RUN_RETRY_REQUESTED,
    RUN_SUBMITTED,
)

ORCHESTRATED = "orchestrated"  # key in the manifest's settings


def is_orchestrated(run: RunContext) -> bool:
    return bool(run.manifest.settings.get(ORCHESTRATED))


def choose_mode(
    requested: bool | None, registry_table: str | None, environ: Mapping[str, str] | None = None
) -> bool:
    """Orchestrated or local: the flag, else ``BATCH_RUNNER_ORCHESTRATED``, else whether the
    stack orchestrates."""
    environ = os.environ if environ is None else environ
    if requested is None and environ.get(ENV_ORCHESTRATED):
        requested = environ[ENV_ORCHESTRATED].strip().lower() in ("1", "true", "yes")
    if requested is None:
        return registry_table is not None
    if requested and registry_table is None:
        raise ConfigurationError(
            "the stack does not orchestrate runs (no RunRegistryTableName output): set "
            "orchestration.enabled in stacks/environments.yaml and redeploy, or submit with --local"
        )
    return requested


def register(run: RunContext, *, team: str, priority: int) -> bool:
    """Hand the uploaded run to the stack; False when it was registered before."""
    created = _registry(run).register(
        RegistryEntry(
            run=run.name,
            model_id=run.model_id,
            base_model=base_model(run.model_id),
            created_at=run.manifest.created_at,
            team=team,
            priority=priority,
        )
    )
    _wake(run, RUN_SUBMITTED)
    return created


def request_cancel(run: RunContext) -> None:
    if not _registry(run).request(run.name, cancel=True):
        raise RunNotFoundError(f"run {run.name} is not registered with the stack's scheduler")
    _wake(run, RUN_CANCEL_REQUESTED)


def request_retry(run: RunContext) -> None:
    if not _registry(run).request(run.name, retry=True):
        raise RunNotFoundError(f"run {run.name} is not registered with the stack's scheduler")
    _wake(run, RUN_RETRY_REQUESTED)


def _registry(run: RunContext) -> Registry:
    return Registry(run.client("dynamodb"), str(run.manifest.settings["registry_table"]))


def _wake(run: RunContext, detail_type: str) -> None:
    detail = {"run": run.name, "stack": run.manifest.settings.get("stack")}
    run.client("events").put_events(
        Entries=[{"Source": EVENT_SOURCE, "DetailType": detail_type, "Detail": json.dumps(detail)}]
    )
