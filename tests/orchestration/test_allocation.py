"""Sharing free slots: a pure function of the demands, the live jobs and the settings."""

from __future__ import annotations

import pytest

from batch_runner.orchestration.allocation import Demand, allocate
from batch_runner.orchestration.settings import OrchestrationSettings, Team

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def demand(run: str, team: str = "default", *, queued: int = 30, live: int = 0, **extra: object) -> Demand:
    return Demand(run=run, team=team, base_model=MODEL, queued=queued, live=live, quota=20, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("demands", "live", "settings", "expected"),
    [
        # one run takes what is free; foreign jobs (live without a demand) take their slots
        ([demand("r")], 5, OrchestrationSettings(), {"r": 15}),
        ([demand("r", queued=3)], 0, OrchestrationSettings(), {"r": 3}),
        # a cap for stacks sharing an account, and a reserve for laptops
        ([demand("r")], 2, OrchestrationSettings(max_jobs_per_model=6, reserve_jobs_per_model=1), {"r": 3}),
        # nothing free, nothing given (never below zero)
        ([demand("r")], 25, OrchestrationSettings(), {}),
        # within a team: priority first, then the oldest run
        (
            [
                demand("new", created_at="2"),
                demand("old", created_at="1", queued=3),
                demand("urgent", priority=5, queued=2),
            ],
            15,
            OrchestrationSettings(),
            {"urgent": 2, "old": 3},
        ),
        # teams by share, counting the jobs they already run
        ([demand("a1", "a", live=4), demand("b1", "b")], 4, OrchestrationSettings(), {"a1": 6, "b1": 10}),
        (
            [demand("a1", "a"), demand("b1", "b")],
            14,
            OrchestrationSettings(teams=(Team("a", share=2), Team("b", share=1))),
            {"a1": 4, "b1": 2},
        ),
        # a team's reservation comes first, its cap last
        (
            [demand("a1", "a"), demand("b1", "b")],
            17,
            OrchestrationSettings(teams=(Team("b", reserved=3),)),
            {"b1": 3},
        ),
        (
            [demand("a1", "a"), demand("b1", "b")],
            0,
            OrchestrationSettings(teams=(Team("a", max_jobs_per_model=2),)),
            {"a1": 2, "b1": 18},
        ),
    ],
)
def test_allocate(
    demands: list[Demand], live: int, settings: OrchestrationSettings, expected: dict[str, int]
) -> None:
    slots, limits = allocate(demands, {MODEL: live}, settings)
    assert slots == expected
    assert sum(slots.values()) <= max(0, limits[0].limit - live)


def test_settings_travel_as_json() -> None:
    settings = OrchestrationSettings(
        teams=(Team("a", share=2, reserved=1, max_jobs_per_model=4),), auto_retry=1
    )
    assert OrchestrationSettings.from_json(settings.to_json()) == settings
