"""The laptop's side of an orchestrated run: register it, and ask; never write its manifest.

After ``submit --orchestrated`` uploads a run, the stack is the single writer of its manifest:
the laptop registers the run (a conditional PutItem, so submitting again is harmless) and sends
an event that wakes the scheduler. ``cancel`` and ``retry`` become flags on the registry item plus
an event; the scheduler acts on them in its next pass (the sweep, if the event is lost).

The run's ``owner`` is the caller that registered it (STS GetCallerIdentity, which needs no IAM
permission); only the owner's requests are written, unless forced (``Registry.request``). The
event carries no request, only the run's name: a spoofed one wakes the scheduler and nothing else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.aws.errors import aws_error
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


def caller_arn(run: RunContext) -> str:
    """Who this process is to AWS (an IAM user, or an assumed role's session)."""
    try:
        return str(run.client("sts").get_caller_identity()["Arn"])
    except (ClientError, BotoCoreError) as err:
        raise aws_error(err, "asking STS who the caller is") from err


def register(run: RunContext, *, team: str, priority: int) -> bool:
    """Hand the uploaded run to the stack, owned by the caller; False when it was registered before."""
    created = _registry(run).register(
        RegistryEntry(
            run=run.name,
            model_id=run.model_id,
            base_model=base_model(run.model_id),
            created_at=run.manifest.created_at,
            team=team,
            priority=priority,
            owner=caller_arn(run),
        )
    )
    _wake(run, RUN_SUBMITTED)
    return created


def request_cancel(run: RunContext, *, force: bool = False) -> None:
    """Ask the stack to stop the run's live jobs and dequeue the rest; ``NotRunOwnerError`` when
    the caller is not the run's owner, unless ``force``."""
    _request(run, RUN_CANCEL_REQUESTED, force=force)


def request_retry(run: RunContext, *, force: bool = False) -> None:
    """Ask the stack to resend the failed and missing records once every job ended."""
    _request(run, RUN_RETRY_REQUESTED, force=force)


def _request(run: RunContext, detail_type: str, *, force: bool) -> None:
    cancel = detail_type == RUN_CANCEL_REQUESTED
    sent = _registry(run).request(run.name, cancel=cancel, retry=not cancel, by=caller_arn(run), force=force)
    if not sent:
        raise RunNotFoundError(
            f"run {run.name} is not registered with the stack's scheduler: submit the same dataset "
            f"again with --run {run.name} to register it"
        )
    _wake(run, detail_type)


def registry_entry(run: RunContext) -> RegistryEntry | None:
    """The run's registry item as the stack last wrote it (read only); None when the run was
    never registered or its manifest names no registry."""
    table = run.manifest.settings.get("registry_table")
    return Registry(run.client("dynamodb"), str(table)).get(run.name) if table else None


def _registry(run: RunContext) -> Registry:
    return Registry(run.client("dynamodb"), str(run.manifest.settings["registry_table"]))


def _wake(run: RunContext, detail_type: str) -> None:
    detail = {"run": run.name, "stack": run.manifest.settings.get("stack")}
    run.client("events").put_events(
        Entries=[{"Source": EVENT_SOURCE, "DetailType": detail_type, "Detail": json.dumps(detail)}]
    )
