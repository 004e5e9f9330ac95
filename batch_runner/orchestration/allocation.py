"""Sharing each model's free job slots among runs and teams: a pure function, no AWS calls.

The quota ("submitted and in-progress jobs per base model, per account and Region") is counted
from the live jobs in the account, so jobs of laptops and other tools take their slots too. Free
slots go one at a time: first to teams below their ``reserved`` slots, then to the team with the
fewest live jobs per share; within a team, to the run with the highest priority, then the oldest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from batch_runner.orchestration.settings import OrchestrationSettings, Team


@dataclass(frozen=True)
class Demand:
    """One active run as the allocator sees it."""

    run: str
    team: str
    base_model: str
    queued: int  # shards waiting for a job
    live: int  # this run's jobs that count against the quota
    quota: int  # the model's concurrency quota recorded in the run
    priority: int = 0
    created_at: str = ""


@dataclass(frozen=True)
class ModelLimit:
    """How a model's slots stand after allocation, for the runs' ``waiting_reason``."""

    base_model: str
    limit: int  # the quota, capped by settings, minus the reserve
    live: int  # live jobs in the account before this pass, foreign ones included


def model_limit(demands: Iterable[Demand], settings: OrchestrationSettings) -> int:
    quota = min(d.quota for d in demands)
    if settings.max_jobs_per_model is not None:
        quota = min(quota, settings.max_jobs_per_model)
    return max(0, quota - settings.reserve_jobs_per_model)


def allocate(
    demands: Iterable[Demand], live_by_model: Mapping[str, int], settings: OrchestrationSettings
) -> tuple[dict[str, int], list[ModelLimit]]:
    """Slots per run (only runs that get some), and each model's limit and live count."""
    by_model: dict[str, list[Demand]] = {}
    for demand in demands:
        by_model.setdefault(demand.base_model, []).append(demand)
    slots: dict[str, int] = {}
    limits = []
    for model, runs in sorted(by_model.items()):
        limit = model_limit(runs, settings)
        live = live_by_model.get(model, 0)
        limits.append(ModelLimit(model, limit, live))
        slots.update(_share(runs, free=limit - live, settings=settings))
    return slots, limits


def _share(runs: list[Demand], *, free: int, settings: OrchestrationSettings) -> dict[str, int]:
    given: Counter[str] = Counter()
    team_live: Counter[str] = Counter()
    for demand in runs:
        team_live[demand.team] += demand.live
    order = sorted(runs, key=lambda d: (-d.priority, d.created_at, d.run))
    while free > 0:
        wanting = {d.team for d in order if given[d.run] < d.queued}
        teams = [settings.team(name) for name in sorted(wanting)]
        teams = [t for t in teams if not _at_cap(t, team_live[t.name])]
        if not teams:
            break
        team = min(teams, key=lambda t: _need(t, team_live[t.name]))
        run = next(d for d in order if d.team == team.name and given[d.run] < d.queued)
        given[run.run] += 1
        team_live[team.name] += 1
        free -= 1
    return dict(given)


def _at_cap(team: Team, live: int) -> bool:
    return team.max_jobs_per_model is not None and live >= team.max_jobs_per_model


def _need(team: Team, live: int) -> tuple[int, float, str]:
    """Sort key: teams below their reservation first, then the fewest live jobs per share."""
    below_reserve = 0 if live < team.reserved else 1
    return below_reserve, live / max(team.share, 1), team.name
