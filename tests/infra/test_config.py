"""The environment file: the committed one is valid; each mistake fails synth with a one-line error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks.config import (
    ConfigError,
    EnvironmentConfig,
    load_environments,
    parse_environments,
    select_environment,
)

ROOT = Path(__file__).resolve().parents[2]
APAC_MODELS = [
    "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "amazon.nova-lite-v1:0",
    "amazon.nova-pro-v1:0",
    "amazon.nova-micro-v1:0",
    "anthropic.claude-3-haiku-20240307-v1:0",
    "anthropic.claude-sonnet-4-20250514-v1:0",
]
VALID: dict[str, Any] = {
    "account": "123456789012",
    "region": "us-east-1",
    "models": ["anthropic.claude-3-haiku-20240307-v1:0", "us.anthropic.claude-3-5-haiku-20241022-v1:0"],
}


def _parse(**overrides: Any) -> EnvironmentConfig:
    environment = {**VALID, **overrides}
    document = {"environments": {"team": {k: v for k, v in environment.items() if v is not None}}}
    return parse_environments(document)["team"]


# (case, field overrides, expected message)
BAD_ENVIRONMENTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "unknown model prefix",
        {"models": ["eu-west.anthropic.claude-3-haiku-20240307-v1:0"]},
        "environments.team.models[0]: 'eu-west.anthropic.claude-3-haiku-20240307-v1:0': "
        "unknown model prefix 'eu-west.'",
    ),
    (
        "unknown provider after a profile prefix",
        {"models": ["us.antropic.claude-3-haiku-20240307-v1:0"]},
        "environments.team.models[0]: 'us.antropic.claude-3-haiku-20240307-v1:0': "
        "unknown model provider 'antropic'",
    ),
    ("not a model ID", {"models": ["claude"]}, "environments.team.models[0]: 'claude' is not a model ID"),
    ("no models", {"models": []}, "environments.team.models: list at least one model ID"),
    ("models missing", {"models": None}, "environments.team.models: list at least one model ID"),
    (
        "models not a list",
        {"models": "anthropic.x"},
        "environments.team.models: must be list, got 'anthropic.x'",
    ),
    (
        "duplicate model",
        {"models": ["anthropic.claude-3-haiku-20240307-v1:0"] * 2},
        "environments.team.models: contains duplicates",
    ),
    (
        "geographic profile from another geography",
        {"models": ["eu.anthropic.claude-3-7-sonnet-20250219-v1:0"]},
        "environments.team.models[0]: inference profile 'eu.anthropic.claude-3-7-sonnet-20250219-v1:0' "
        "cannot be used from region us-east-1",
    ),
    (
        "allow-list too large for one IAM policy",
        {"region": "ap-southeast-2", "models": [f"apac.{model}" for model in APAC_MODELS]},
        "environments.team.models: the allow-list expands to 3674 characters of IAM policy",
    ),
    (
        "allow-list that fits alone but not beside the orchestration's grants",
        {
            "region": "ap-southeast-2",
            "models": [f"apac.{model}" for model in APAC_MODELS[:5]],
            "orchestration": {"enabled": True},
        },
        "environments.team.models: the allow-list expands to 2570 characters of IAM policy (each inference "
        "profile needs a statement of its own), over the 2550 that fit in one managed policy beside the "
        "orchestration's grants",
    ),
    (
        "application profile ARN of another Region",
        {"models": ["arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/a1b2c3d4e5f6"]},
        "environments.team.models[0]: application inference profile is in us-west-2, not us-east-1",
    ),
    (
        "application profile ARN of another account",
        {"models": ["arn:aws:bedrock:us-east-1:999999999999:application-inference-profile/a1b2c3d4e5f6"]},
        "environments.team.models[0]: application inference profile belongs to account 999999999999, "
        "not 123456789012",
    ),
    (
        "ARN that is not an application profile",
        {"models": ["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"]},
        "environments.team.models[0]: 'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-"
        "20240307-v1:0' is not an application inference profile ARN",
    ),
    (
        "retention of 0",
        {"retention_days": 0},
        "environments.team.retention_days: must be between 2 and 3650, got 0",
    ),
    (
        # Versioned buckets need a day to expire an object and another to delete the old version.
        "retention of 1",
        {"retention_days": 1},
        "environments.team.retention_days: must be between 2 and 3650, got 1",
    ),
    (
        "retention too long",
        {"retention_days": 4000},
        "environments.team.retention_days: must be between 2 and 3650",
    ),
    (
        "retention not a number",
        {"retention_days": "30"},
        "environments.team.retention_days: must be int, got '30'",
    ),
    (
        "retention as boolean",
        {"retention_days": True},
        "environments.team.retention_days: must be int, got True",
    ),
    ("account not 12 digits", {"account": "12345"}, "environments.team.account: must be 12 digits"),
    ("account with letters", {"account": "12345678901a"}, "environments.team.account: must be 12 digits"),
    (
        "account unquoted",
        {"account": 123456789012},
        "environments.team.account: write the 12-digit account ID in quotes",
    ),
    ("bad region", {"region": "useast1"}, "environments.team.region: 'useast1' is not an AWS Region name"),
    ("kms not a boolean", {"kms": "yes"}, "environments.team.kms: must be bool, got 'yes'"),
    (
        "bad submitter role ARN",
        {"submitter_role_arns": ["arn:aws:iam::1234:role/x"]},
        "environments.team.submitter_role_arns[0]: 'arn:aws:iam::1234:role/x' is not an IAM role ARN",
    ),
    (
        "user ARN where a role is expected",
        {"submitter_role_arns": ["arn:aws:iam::123456789012:user/alice"]},
        "environments.team.submitter_role_arns[0]: 'arn:aws:iam::123456789012:user/alice' "
        "is not an IAM role ARN",
    ),
    (
        "submitter role in another account",
        {"submitter_role_arns": ["arn:aws:iam::999999999999:role/x"]},
        "environments.team.submitter_role_arns[0]: role is in account 999999999999, not 123456789012",
    ),
    (
        "bad principal ARN",
        {"submitter_role_principals": ["alice"]},
        "environments.team.submitter_role_principals[0]: 'alice' is not an IAM principal ARN",
    ),
    (
        "bad email",
        {"notification_emails": ["ops-at-example.com"]},
        "environments.team.notification_emails[0]: 'ops-at-example.com' is not an email address",
    ),
    (
        "bad subnet",
        {"vpc": {"subnet_ids": ["subnet-xyz"], "security_group_ids": ["sg-0a1b2c3d4e5f60718"]}},
        "environments.team.vpc.subnet_ids[0]: 'subnet-xyz' is not a subnet ID",
    ),
    (
        "vpc without security groups",
        {"vpc": {"subnet_ids": ["subnet-0a1b2c3d4e5f60718"]}},
        "environments.team.vpc: needs at least one subnet_ids entry and one security_group_ids entry",
    ),
    (
        "reserved tag key",
        {"tags": {"aws:owner": "me"}},
        "environments.team.tags: 'aws:owner' is not a valid tag key",
    ),
    (
        "tag value not a string",
        {"tags": {"owner": 5}},
        "environments.team.tags.owner: 5 is not a valid tag value",
    ),
    (
        "job-name prefix without the closing dot",
        {"job_name_prefix": "team"},
        "environments.team.job_name_prefix: 'team' is not 2-16 letters, digits or hyphens ending in one dot",
    ),
    (
        "job-name prefix with a character job names refuse",
        {"job_name_prefix": "team_a."},
        "environments.team.job_name_prefix: 'team_a.' is not 2-16 letters",
    ),
    (
        "job-name prefix too long for the runner's names",
        {"job_name_prefix": "a-very-long-team."},
        "environments.team.job_name_prefix: 'a-very-long-team.' is not 2-16 letters",
    ),
    (
        "misspelt field",
        {"retention_day": 5},
        "environments.team.retention_day: unknown field (known: account,",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [case[1:] for case in BAD_ENVIRONMENTS],
    ids=[case[0] for case in BAD_ENVIRONMENTS],
)
def test_bad_environment_gives_its_specific_one_line_error(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _parse(**overrides)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (None, "(file): must be a mapping, got NoneType"),
        ({"environments": {}}, "environments: define at least one environment"),
        ({"envs": {}}, "(file).envs: unknown field (known: environments)"),
        ({"environments": {"dev": None}}, "environments.dev: must be a mapping, got NoneType"),
        ({"environments": {"1st": VALID}}, "environments.1st: environment names are 1-32 letters"),
        ({"environments": {"all": VALID}}, "environments.all: 'all' is reserved for -c env=all"),
    ],
    ids=[
        "empty file",
        "no environments",
        "wrong top-level key",
        "empty environment",
        "bad name",
        "reserved name",
    ],
)
def test_bad_file_structure(document: object, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_environments(document)
    assert str(raised.value).startswith(message)


def test_unknown_environment_name_lists_the_defined_ones() -> None:
    with pytest.raises(ConfigError, match=r"^env: unknown environment 'stage' \(defined: dev, prod\)"):
        select_environment(load_environments(), "stage")


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "environments.yaml"
    broken.write_text("environments:\n  dev: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{broken}: not valid YAML"):
        load_environments(broken)


def test_committed_environment_file_is_valid_and_dev_needs_no_account() -> None:
    environments = load_environments()
    assert {"dev", "prod"} <= set(environments)
    dev = environments["dev"]
    assert dev.account is None and dev.region is None and not dev.kms
    assert {ref.profile_prefix for ref in dev.models} == {None, "us"}
    prod = environments["prod"]
    assert prod.kms and prod.account == "111122223333"
    assert {ref.profile_prefix for ref in prod.models} >= {"eu", "global"}


def _run_app(tmp_path: Path, context: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDK_CONTEXT_JSON": context, "CDK_OUTDIR": str(tmp_path / "out")}
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_app_reports_an_unknown_environment_in_one_line(tmp_path: Path) -> None:
    result = _run_app(tmp_path, '{"env": "stage"}')
    assert result.returncode != 0
    assert result.stderr.startswith("error: env: unknown environment 'stage' (defined: dev, prod)")
    assert result.stderr.count("\n") == 1
    assert list(tmp_path.glob("out/*.template.json")) == []


def test_app_reports_a_bad_environment_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "environments.yaml"
    bad.write_text(
        "environments:\n  dev:\n    models: [anthropic.claude-3-haiku-20240307-v1:0]\n    retention_days: 0\n"
    )
    result = _run_app(tmp_path, f'{{"environments_file": "{bad}"}}')
    assert result.returncode != 0
    assert result.stderr == "error: environments.dev.retention_days: must be between 2 and 3650, got 0\n"


def test_application_inference_profile_arn_is_accepted() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
    [ref] = _parse(models=[arn]).models
    assert (ref.model_id, ref.is_application_profile, ref.is_profile) == (arn, True, False)
    # Account- and Region-agnostic environments take the ARN as it is.
    assert _parse(account=None, region=None, models=[arn]).model_ids == (arn,)


def test_a_geographic_profile_is_accepted_in_a_region_this_project_does_not_know() -> None:
    # AWS adds Regions to geographies; only a Region known to be elsewhere is refused.
    model = "eu.anthropic.claude-3-7-sonnet-20250219-v1:0"
    assert _parse(region="eu-central-3", models=[model]).model_ids == (model,)


def test_job_name_prefix_defaults_to_the_environment_name_and_a_dot() -> None:
    assert _parse().job_name_prefix == "team."
    assert _parse(job_name_prefix="t-1.").job_name_prefix == "t-1."


def test_an_environment_name_too_long_for_the_default_prefix_must_set_one() -> None:
    name = "analytics-platform-eu"
    with pytest.raises(ConfigError) as raised:
        parse_environments({"environments": {name: VALID}})
    assert str(raised.value) == (
        f"environments.{name}.job_name_prefix: the default '{name}.' is longer than 16 characters (Bedrock "
        "job names hold at most 63); set a shorter one, e.g. job_name_prefix: 'analytics-platf.'"
    )
    named = parse_environments({"environments": {name: {**VALID, "job_name_prefix": "analytics-eu."}}})
    assert named[name].job_name_prefix == "analytics-eu."


def test_two_environments_cannot_share_a_job_name_prefix() -> None:
    # They would alert on each other's jobs when deployed into one account and Region.
    with pytest.raises(ConfigError) as raised:
        parse_environments({"environments": {"a": VALID, "b": {**VALID, "job_name_prefix": "a."}}})
    assert str(raised.value) == (
        "environments.b.job_name_prefix: 'a.' is already the prefix of environments.a; "
        "each environment needs its own"
    )
