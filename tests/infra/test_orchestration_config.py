"""The `orchestration:` block: defaults, a full example, and one line per mistake."""

from __future__ import annotations

from typing import Any

import pytest

from batch_runner.orchestration.settings import Team
from stacks.config import ConfigError, load_environments, parse_environments
from tests.infra.test_config import VALID


def _orchestration(raw: object) -> Any:
    return parse_environments({"environments": {"team": {**VALID, "orchestration": raw}}})[
        "team"
    ].orchestration


def test_off_unless_enabled_and_dev_enables_it() -> None:
    assert _orchestration(None).enabled is False
    dev = load_environments()["dev"].orchestration
    assert dev is not None and dev.enabled and dev.sweep_minutes == 5


def test_a_full_block() -> None:
    config = _orchestration(
        {
            "enabled": True,
            "sweep_minutes": 10,
            "max_jobs_per_model": 12,
            "reserve_jobs_per_model": 2,
            "teams": {"analytics": {"share": 2, "reserved": 1, "max_jobs_per_model": 8}, "search": None},
            "auto_retry": 1,
            "on_demand_below_minimum": True,
            "results_format": "csv",
        }
    )
    settings = config.settings
    assert (config.enabled, config.sweep_minutes) == (True, 10)
    assert settings.teams == (Team("analytics", 2, 1, 8), Team("search"))
    assert (settings.max_jobs_per_model, settings.reserve_jobs_per_model, settings.auto_retry) == (12, 2, 1)
    assert (settings.on_demand_below_minimum, settings.results_format) == (True, "csv")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("yes", "environments.team.orchestration: must be a mapping, got str"),
        ({"enable": True}, "environments.team.orchestration.enable: unknown field (known: auto_retry,"),
        ({"enabled": "yes"}, "environments.team.orchestration.enabled: must be bool, got 'yes'"),
        (
            {"sweep_minutes": 0},
            "environments.team.orchestration.sweep_minutes: must be between 1 and 60, got 0",
        ),
        (
            {"max_jobs_per_model": 0},
            "environments.team.orchestration.max_jobs_per_model: must be a whole number",
        ),
        (
            {"max_jobs_per_model": 2, "reserve_jobs_per_model": 2},
            "environments.team.orchestration.reserve_jobs_per_model: must be at least 0 and below",
        ),
        ({"auto_retry": 9}, "environments.team.orchestration.auto_retry: must be between 0 and 5, got 9"),
        (
            {"results_format": "xlsx"},
            "environments.team.orchestration.results_format: must be one of parquet,",
        ),
        ({"teams": ["a"]}, "environments.team.orchestration.teams: must be a mapping, got list"),
        ({"teams": {"a": {"share": 0}}}, "environments.team.orchestration.teams.a.share: must be at least 1"),
        ({"teams": {"a": {"weight": 2}}}, "environments.team.orchestration.teams.a.weight: unknown field"),
        (
            {"teams": {"a": {"reserved": 3, "max_jobs_per_model": 2}}},
            "environments.team.orchestration.teams.a.reserved: must be between 0 and max_jobs_per_model",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_the_field(raw: object, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _orchestration(raw)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_two_orchestrated_environments_in_one_account_must_cap_their_share() -> None:
    on = {"enabled": True}
    with pytest.raises(
        ConfigError, match=r"environments\.b\.orchestration\.max_jobs_per_model: environments a and b"
    ):
        parse_environments(
            {"environments": {"a": {**VALID, "orchestration": on}, "b": {**VALID, "orchestration": on}}}
        )
    capped = {"enabled": True, "max_jobs_per_model": 10}
    parsed = parse_environments(
        {"environments": {"a": {**VALID, "orchestration": capped}, "b": {**VALID, "orchestration": capped}}}
    )
    assert len(parsed) == 2
