"""The ``orchestration:`` block of an environment: teams, caps and retries of orchestrated runs.

Validated like the rest of ``environments.yaml``: one line per mistake, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from batch_runner.orchestration.settings import OrchestrationSettings, Team
from stacks.config import ConfigError, _Fields

RESULTS_FORMATS = ("parquet", "csv", "jsonl")
MAX_AUTO_RETRY = 5
_KNOWN = {
    "enabled",
    "sweep_minutes",
    "max_jobs_per_model",
    "reserve_jobs_per_model",
    "teams",
    "auto_retry",
    "on_demand_below_minimum",
    "results_format",
}
_TEAM_FIELDS = {"share", "reserved", "max_jobs_per_model"}


@dataclass(frozen=True)
class OrchestrationConfig:
    """``enabled: false`` (the default) leaves the stack as it is without orchestration."""

    enabled: bool = False
    sweep_minutes: int = 5
    settings: OrchestrationSettings = field(default_factory=OrchestrationSettings)


def parse_orchestration(raw: object, path: str) -> OrchestrationConfig:
    if raw is None:
        return OrchestrationConfig()
    fields = _Fields(raw, path)
    fields.reject_unknown(_KNOWN)
    sweep = fields.get("sweep_minutes", int, 5)
    if not 1 <= sweep <= 60:
        raise ConfigError(f"{path}.sweep_minutes: must be between 1 and 60, got {sweep}")
    cap = _optional_count(fields, "max_jobs_per_model", minimum=1)
    reserve = fields.get("reserve_jobs_per_model", int, 0)
    if reserve < 0 or (cap is not None and reserve >= cap):
        raise ConfigError(
            f"{path}.reserve_jobs_per_model: must be at least 0 and below max_jobs_per_model, got {reserve}"
        )
    retries = fields.get("auto_retry", int, 0)
    if not 0 <= retries <= MAX_AUTO_RETRY:
        raise ConfigError(f"{path}.auto_retry: must be between 0 and {MAX_AUTO_RETRY}, got {retries}")
    results_format = fields.get("results_format", str, "parquet")
    if results_format not in RESULTS_FORMATS:
        raise ConfigError(
            f"{path}.results_format: must be one of {', '.join(RESULTS_FORMATS)}, got {results_format!r}"
        )
    return OrchestrationConfig(
        enabled=fields.get("enabled", bool, False),
        sweep_minutes=sweep,
        settings=OrchestrationSettings(
            teams=_teams(fields.raw.get("teams"), f"{path}.teams"),
            max_jobs_per_model=cap,
            reserve_jobs_per_model=reserve,
            auto_retry=retries,
            on_demand_below_minimum=fields.get("on_demand_below_minimum", bool, False),
            results_format=results_format,
        ),
    )


def _optional_count(fields: _Fields, key: str, *, minimum: int) -> int | None:
    value = fields.raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{fields.path}.{key}: must be a whole number of at least {minimum}, got {value!r}")
    return value


def _teams(raw: object, path: str) -> tuple[Team, ...]:
    teams = _Fields(raw if raw is not None else {}, path)
    parsed = []
    for name, team_raw in teams.raw.items():
        where = f"{path}.{name}"
        team = _Fields(team_raw if team_raw is not None else {}, where)
        team.reject_unknown(_TEAM_FIELDS)
        share = team.get("share", int, 1)
        if share < 1:
            raise ConfigError(f"{where}.share: must be at least 1, got {share}")
        reserved = team.get("reserved", int, 0)
        cap = _optional_count(team, "max_jobs_per_model", minimum=1)
        if reserved < 0 or (cap is not None and reserved > cap):
            raise ConfigError(f"{where}.reserved: must be between 0 and max_jobs_per_model, got {reserved}")
        parsed.append(Team(str(name), share=share, reserved=reserved, max_jobs_per_model=cap))
    return tuple(parsed)


def check_shared_accounts(
    orchestrations: Mapping[str, tuple[str | None, str | None, OrchestrationConfig]],
) -> None:
    """Two orchestrated environments in one account and Region share each model's quota: each
    must cap its live jobs per model, or they would each try to fill it."""
    seen: dict[tuple[str, str], str] = {}
    for name, (account, region, config) in orchestrations.items():
        if not config.enabled or account is None or region is None:
            continue
        other = seen.setdefault((account, region), name)
        if other != name and None in (
            config.settings.max_jobs_per_model,
            orchestrations[other][2].settings.max_jobs_per_model,
        ):
            raise ConfigError(
                f"environments.{name}.orchestration.max_jobs_per_model: environments {other} and {name} "
                f"orchestrate runs in account {account} {region}; set max_jobs_per_model in both "
                "to share the quota"
            )
