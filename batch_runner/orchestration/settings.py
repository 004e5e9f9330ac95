"""What the scheduler needs to know about an environment's orchestration: teams, caps, retries.

The stack passes it to the Lambda as JSON in one environment variable (``SETTINGS_VARIABLE``);
``stacks/config.py`` validates the YAML it comes from, so parsing here trusts its shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

# The Lambda's environment: the policy as JSON, and the names of the stack's resources.
SETTINGS_VARIABLE = "BATCH_RUNNER_ORCHESTRATION"
REGISTRY_TABLE_VARIABLE = "BATCH_RUNNER_REGISTRY_TABLE"
INPUT_BUCKET_VARIABLE = "BATCH_RUNNER_INPUT_BUCKET"
STATE_MACHINE_VARIABLE = "BATCH_RUNNER_STATE_MACHINE_ARN"
RESOURCE_VARIABLES = ("registry_table", "input_bucket", "state_machine_arn")
DEFAULT_TEAM = "default"

# The runner's own events on the default bus: each asks the scheduler for a pass.
EVENT_SOURCE = "batch-runner"
RUN_SUBMITTED = "Run Submitted"
RUN_CANCEL_REQUESTED = "Run Cancel Requested"
RUN_RETRY_REQUESTED = "Run Retry Requested"
RUNNER_EVENTS = (RUN_SUBMITTED, RUN_CANCEL_REQUESTED, RUN_RETRY_REQUESTED)


@dataclass(frozen=True)
class Team:
    """A team's claim on each model's quota.

    ``share``: free slots are divided in proportion to it. ``reserved``: slots per model the team
    gets before any sharing whenever it has queued shards (not held idle when it has none).
    ``max_jobs_per_model``: the most live jobs per model its runs may hold.
    """

    name: str
    share: int = 1
    reserved: int = 0
    max_jobs_per_model: int | None = None


@dataclass(frozen=True)
class OrchestrationSettings:
    """``max_jobs_per_model`` caps live jobs per base model account-wide (foreign jobs count),
    for stacks that share an account; ``reserve_jobs_per_model`` slots are left for laptops and
    other tools. ``auto_retry``: how many times failed and missing records are resent."""

    teams: tuple[Team, ...] = ()
    max_jobs_per_model: int | None = None
    reserve_jobs_per_model: int = 0
    auto_retry: int = 0
    on_demand_below_minimum: bool = False
    results_format: str = "parquet"
    registry_table: str = ""
    input_bucket: str = ""
    state_machine_arn: str | None = None  # the runs' workflow; none: nothing collects results

    def team(self, name: str) -> Team:
        return next((t for t in self.teams if t.name == name), Team(name))

    def to_json(self) -> str:
        """The policy part only: resource names travel in their own variables."""
        policy = {k: v for k, v in asdict(self).items() if k not in RESOURCE_VARIABLES}
        return json.dumps(policy, sort_keys=True)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> OrchestrationSettings:
        settings = cls.from_json(environ.get(SETTINGS_VARIABLE) or "{}")
        return replace(
            settings,
            registry_table=environ[REGISTRY_TABLE_VARIABLE],
            input_bucket=environ[INPUT_BUCKET_VARIABLE],
            state_machine_arn=environ.get(STATE_MACHINE_VARIABLE) or None,
        )

    @classmethod
    def from_json(cls, text: str) -> OrchestrationSettings:
        data = json.loads(text)
        teams = tuple(Team(**team) for team in data.pop("teams", []))
        return cls(teams=teams, **data)
