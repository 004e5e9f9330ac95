"""Synthesize every environment once per test session (jsii start-up and synth are the slow part).

Besides the committed environments (dev, prod) two test-only ones cover the remaining shapes:
KMS on with foundation models, an application inference profile and orchestration, and the widest
APAC environment the config validation admits (largest allow-list, KMS, VPC, attached and dedicated
submitter roles, alerts on completed jobs).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from batch_runner.aws.stack_outputs import stack_name
from stacks.application import create_app
from stacks.config import ALL_ENVIRONMENTS, EnvironmentConfig, load_environments, parse_environment
from tests.infra.template_values import Deployment, deployment

APPLICATION_PROFILE = "arn:aws:bedrock:us-west-2:444455556666:application-inference-profile/a1b2c3d4e5f6"
EXTRA_ENVIRONMENTS: Mapping[str, Mapping[str, Any]] = {
    "kmsplain": {
        "account": "444455556666",
        "region": "us-west-2",
        "models": [
            "anthropic.claude-3-haiku-20240307-v1:0",
            "amazon.titan-embed-text-v2:0",
            APPLICATION_PROFILE,
        ],
        "kms": True,
        "retention_days": 7,
        "tags": {"owner": "data-science", "Name With Spaces": "value/with:chars"},
        # With KMS: the orchestration's functions, its workflow and the submitters get the key's grants.
        "orchestration": {"enabled": True, "results_format": "csv", "sweep_minutes": 10},
    },
    "apac": {
        "account": "777788889999",
        "region": "ap-southeast-2",
        "models": [
            "apac.anthropic.claude-3-5-sonnet-20241022-v2:0",
            "apac.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "apac.amazon.nova-lite-v1:0",
            "apac.amazon.nova-pro-v1:0",
            "apac.anthropic.claude-sonnet-4-20250514-v1:0",
            "anthropic.claude-3-haiku-20240307-v1:0",
        ],
        "kms": True,
        "vpc": {
            "subnet_ids": [
                "subnet-0a1b2c3d4e5f60718",
                "subnet-0b1c2d3e4f5a60718",
                "subnet-0c1d2e3f4a5b60718",
            ],
            "security_group_ids": ["sg-0a1b2c3d4e5f60718", "sg-0b1c2d3e4f5a60718"],
        },
        "submitter_role_arns": [
            "arn:aws:iam::777788889999:role/service-role/AmazonSageMaker-ExecutionRole-20260101T000000",
            "arn:aws:iam::777788889999:role/batch-pipelines/nightly-batch-submitter",
        ],
        "retention_days": 90,
        "notify_on_completed": True,
        "submitter_role_principals": ["arn:aws:iam::777788889999:root"],
        "notification_emails": ["a@example.com", "b@example.org"],
        "tags": {"team": "apac-ml"},
    },
}


@dataclass(frozen=True)
class Synthesized:
    app: App
    configs: Mapping[str, EnvironmentConfig]
    templates: Mapping[str, dict[str, Any]]
    outdir: Path

    def template(self, env: str) -> Template:
        return Template.from_json(self.templates[env])

    def template_path(self, env: str) -> Path:
        return self.outdir / f"{stack_name(env)}.template.json"

    def deployed(self, env: str) -> Deployment:
        """The template with intrinsics resolved as if deployed (default account/Region if agnostic)."""
        config = self.configs[env]
        return deployment(self.templates[env], stack_name(env), config.account, config.region)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    configs = dict(load_environments())
    configs.update({name: parse_environment(name, raw) for name, raw in EXTRA_ENVIRONMENTS.items()})
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = create_app(context={"env": ALL_ENVIRONMENTS}, outdir=str(outdir), environments=configs)
    app.synth()
    templates = {
        name: json.loads((outdir / f"{stack_name(name)}.template.json").read_text(encoding="utf-8"))
        for name in configs
    }
    yield Synthesized(app=app, configs=configs, templates=templates, outdir=outdir)


@pytest.fixture(scope="session", params=["dev", "prod", "kmsplain", "apac"])
def env_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)
