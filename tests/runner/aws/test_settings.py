"""Settings resolve with one precedence: flag > environment variable > stack output > default."""

from __future__ import annotations

import json

import pytest

from batch_runner.aws.clients import AwsContext
from batch_runner.aws.settings import (
    ENV_ENVIRONMENT,
    ENV_INPUT_BUCKET,
    ENV_JOB_NAME_PREFIX,
    ENV_ROLE_ARN,
    ENV_STACK,
    Overrides,
    resolve_settings,
    resolve_stack_name,
)
from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.exceptions import ConfigurationError, StackNotFoundError
from batch_runner.local import Emulator

OUTPUTS = {
    OutputKey.INPUT_BUCKET: "stack-input",
    OutputKey.OUTPUT_BUCKET: "stack-output",
    OutputKey.SERVICE_ROLE_ARN: "arn:aws:iam::123456789012:role/stack-role",
    OutputKey.KMS_KEY_ARN: "arn:aws:kms:us-east-1:123456789012:key/abc",
    OutputKey.ALLOWED_MODELS: "anthropic.claude-3-haiku-20240307-v1:0,amazon.titan-embed-text-v2:0",
    OutputKey.JOB_NAME_PREFIX: "test.",
}


@pytest.fixture(scope="module")
def endpoint(emulator_session: Emulator) -> str:
    """The emulator's moto, with a hand-made stack holding exactly the outputs above."""
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in OUTPUTS.items()},
    }
    cfn = emulator_session.client("cloudformation")
    live = cfn.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]
    if "BedrockBatch-test" not in {stack["StackName"] for stack in live}:
        cfn.create_stack(StackName="BedrockBatch-test", TemplateBody=json.dumps(template))
    return emulator_session.endpoint_url


def test_stack_outputs_fill_everything_not_given(endpoint: str) -> None:
    settings = resolve_settings(AwsContext(endpoint_url=endpoint), Overrides(env="test"), environ={})
    assert settings.stack == "BedrockBatch-test"
    assert settings.region == "us-east-1"
    assert settings.input_bucket == "stack-input"
    assert settings.output_bucket == "stack-output"
    assert settings.role_arn == "arn:aws:iam::123456789012:role/stack-role"
    assert settings.kms_key == "arn:aws:kms:us-east-1:123456789012:key/abc"
    assert settings.allowed_models == (
        "anthropic.claude-3-haiku-20240307-v1:0",
        "amazon.titan-embed-text-v2:0",
    )
    assert settings.job_name_prefix == "test."
    assert set(settings.sources.values()) == {"stack BedrockBatch-test"}


def test_job_name_prefix_from_flag_or_env_and_checked(endpoint: str) -> None:
    aws = AwsContext(endpoint_url=endpoint)
    from_env = resolve_settings(aws, Overrides(env="test"), environ={ENV_JOB_NAME_PREFIX: "team-a."})
    assert from_env.job_name_prefix == "team-a."
    flag = resolve_settings(
        aws, Overrides(env="test", job_name_prefix="b."), environ={ENV_JOB_NAME_PREFIX: "a."}
    )
    assert flag.job_name_prefix == "b."
    for bad in ("dev", "dev-", ".dev.", "a b.", "x" * 16 + "."):
        with pytest.raises(ConfigurationError, match=r"invalid job name prefix .*ending in a dot"):
            resolve_settings(aws, Overrides(env="test", job_name_prefix=bad), environ={})


def test_flag_beats_env_var_beats_stack_output(endpoint: str) -> None:
    environ = {ENV_INPUT_BUCKET: "env-input", ENV_ROLE_ARN: "arn:aws:iam::123456789012:role/env-role"}
    settings = resolve_settings(
        AwsContext(endpoint_url=endpoint), Overrides(env="test", input_bucket="flag-input"), environ=environ
    )
    assert (settings.input_bucket, settings.sources["input_bucket"]) == ("flag-input", "flag")
    assert settings.role_arn == "arn:aws:iam::123456789012:role/env-role"
    assert settings.sources["role_arn"] == f"env {ENV_ROLE_ARN}"
    assert settings.output_bucket == "stack-output"


def test_stack_is_not_read_when_flags_give_everything() -> None:
    # No endpoint is listening on this port: reading the stack would fail.
    aws = AwsContext(endpoint_url="http://127.0.0.1:9")
    settings = resolve_settings(
        aws, Overrides(input_bucket="in", output_bucket="out", role_arn="arn:aws:iam::1:role/r"), environ={}
    )
    assert (settings.input_bucket, settings.output_bucket, settings.kms_key) == ("in", "out", None)
    assert settings.allowed_models == ()


def test_missing_stack_names_stack_region_and_deploy_command(endpoint: str) -> None:
    with pytest.raises(StackNotFoundError) as caught:
        resolve_settings(AwsContext(endpoint_url=endpoint), Overrides(env="staging"), environ={})
    assert str(caught.value) == (
        "stack BedrockBatch-staging not found in us-east-1: deploy it with `cdk deploy -c env=staging` first"
    )
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("overrides", "environ", "expected"),
    [
        (Overrides(), {}, "BedrockBatch-dev"),
        (Overrides(), {ENV_ENVIRONMENT: "prod"}, "BedrockBatch-prod"),
        (Overrides(), {ENV_STACK: "Custom", ENV_ENVIRONMENT: "prod"}, "Custom"),
        (Overrides(env="qa"), {ENV_STACK: "Custom"}, "BedrockBatch-qa"),
        (Overrides(stack="Mine"), {ENV_STACK: "Custom"}, "Mine"),
    ],
)
def test_stack_name_precedence(overrides: Overrides, environ: dict[str, str], expected: str) -> None:
    assert resolve_stack_name(overrides, environ) == expected


def test_no_region_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ConfigurationError, match="no AWS Region configured: pass --region or set AWS_REGION"):
        resolve_settings(AwsContext(), Overrides(), environ={})


def test_no_credentials_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    with pytest.raises(ConfigurationError, match="no AWS credentials found"):
        resolve_settings(AwsContext(region="us-east-1"), Overrides(), environ={})


def test_unknown_profile_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="nope"):
        resolve_settings(AwsContext(profile="nope"), Overrides(), environ={})
