"""What the stack's scheduler last recorded about an orchestrated run, as `status`, `wait` and
`runs` show it: the registry item, read with GetItem (which the submitter policy allows), never
written from here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from batch_runner.jobs.run_catalog import RunListing
from batch_runner.jobs.run_context import RunContext
from batch_runner.jobs.tracking import RunStatus
from batch_runner.orchestration.registry import Registry, RegistryEntry
from batch_runner.orchestration.requests import is_orchestrated, registry_entry

# The registry fields a user sees, in the order `status --json` lists them.
SHOWN = (
    "state",
    "outcome",
    "waiting_reason",
    "last_pass_at",
    "results_uri",
    "owner",
    "team",
    "priority",
    "cancel_requested",
    "retry_requested",
)


def view_of(entry: RegistryEntry | None) -> dict[str, Any]:
    """``{"registered": False}`` for a run the registry does not know (its submit stopped before
    registering it), else ``registered`` and the ``SHOWN`` fields."""
    if entry is None:
        return {"registered": False}
    return {"registered": True} | {name: getattr(entry, name) for name in SHOWN}


def read_view(run: RunContext) -> dict[str, Any] | None:
    """The registry's view of an orchestrated run; None for a run driven from a machine."""
    return view_of(registry_entry(run)) if is_orchestrated(run) else None


def with_views(listings: Sequence[RunListing], dynamodb: Any, table: str | None) -> list[RunListing]:
    """``runs``: each orchestrated run's registry view (a GetItem each; the submitter policy allows
    no batch read)."""
    registry = Registry(dynamodb, table) if table else None
    return [
        replace(item, orchestration=view_of(registry.get(item.run)) if registry else {"registered": False})
        if item.orchestrated
        else item
        for item in listings
    ]


def with_view(run: RunContext, read_status: Callable[[], RunStatus]) -> RunStatus:
    """``read_status()`` with the registry's view added: state, waiting reason, last pass, results.

    The registry is read first: once it says the run finished, the manifest read after it is the
    stack's last, so a finished status never misses a retry the stack made meanwhile."""
    view = read_view(run)
    status = read_status()
    if view is None:
        return status
    return replace(status, orchestration=view, waiting_reason=view.get("waiting_reason") or None)
