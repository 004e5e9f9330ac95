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
    ENV_SECURITY_GROUP_IDS,
    ENV_STACK,
    ENV_SUBNET_IDS,
    Overrides,
    read_stack_outputs,
    resolve_settings,
    resolve_stack_name,
)
from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.exceptions import AwsError, ConfigurationError, StackNotFoundError
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


@pytest.fixture(scope="module")
def vpc_endpoint(emulator_session: Emulator) -> str:
    """A hand-made stack of an environment with `vpc`: its outputs name the subnets and groups."""
    outputs = {
        **OUTPUTS,
        OutputKey.SUBNET_IDS: "subnet-0a1b2c3d4e5f60718,subnet-0b1c2d3e4f5a60718",
        OutputKey.SECURITY_GROUP_IDS: "sg-0a1b2c3d4e5f60718",
    }
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cfn = emulator_session.client("cloudformation")
    live = cfn.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]
    if "BedrockBatch-vpctest" not in {stack["StackName"] for stack in live}:
        cfn.create_stack(StackName="BedrockBatch-vpctest", TemplateBody=json.dumps(template))
    return emulator_session.endpoint_url


def test_a_stack_with_a_vpc_gives_the_jobs_its_subnets_and_groups(vpc_endpoint: str) -> None:
    settings = resolve_settings(AwsContext(endpoint_url=vpc_endpoint), Overrides(env="vpctest"), environ={})
    assert settings.subnet_ids == ("subnet-0a1b2c3d4e5f60718", "subnet-0b1c2d3e4f5a60718")
    assert settings.security_group_ids == ("sg-0a1b2c3d4e5f60718",)
    assert settings.to_dict()["subnet_ids"] == list(settings.subnet_ids)


def test_vpc_flags_beat_the_environment_beat_the_stack(vpc_endpoint: str) -> None:
    aws = AwsContext(endpoint_url=vpc_endpoint)
    environ = {ENV_SUBNET_IDS: "subnet-env", ENV_SECURITY_GROUP_IDS: "sg-env"}
    from_env = resolve_settings(aws, Overrides(env="vpctest"), environ=environ)
    assert (from_env.subnet_ids, from_env.security_group_ids) == (("subnet-env",), ("sg-env",))
    flags = Overrides(env="vpctest", subnet_ids="subnet-a, subnet-b", security_group_ids="sg-flag")
    from_flags = resolve_settings(aws, flags, environ=environ)
    assert (from_flags.subnet_ids, from_flags.security_group_ids) == (("subnet-a", "subnet-b"), ("sg-flag",))


def test_a_stack_without_a_vpc_runs_jobs_outside_one(endpoint: str) -> None:
    settings = resolve_settings(AwsContext(endpoint_url=endpoint), Overrides(env="test"), environ={})
    assert (settings.subnet_ids, settings.security_group_ids) == ((), ())


@pytest.mark.parametrize(
    ("subnets", "groups", "message"),
    [
        ("subnet-a", None, "--subnet-ids needs --security-group-ids too"),
        (None, "sg-a", "--security-group-ids needs --subnet-ids too"),
        ("subnet_a", "sg-a", "--subnet-ids: 'subnet_a' is not an ID"),
        ("subnet-a", ",".join(f"sg-{i}" for i in range(6)), "--security-group-ids: 6 IDs given"),
    ],
)
def test_bad_vpc_settings_are_configuration_errors(
    endpoint: str, subnets: str | None, groups: str | None, message: str
) -> None:
    overrides = Overrides(env="test", subnet_ids=subnets, security_group_ids=groups)
    with pytest.raises(ConfigurationError, match=message):
        resolve_settings(AwsContext(endpoint_url=endpoint), overrides, environ={})


def test_an_endpoint_that_does_not_answer_is_an_aws_error_not_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exit code 1 (AWS unreachable), not 2: the user's input may be fine."""
    from botocore.exceptions import EndpointConnectionError

    class Down:
        def describe_stacks(self, **_: object) -> None:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    monkeypatch.setattr(AwsContext, "client", lambda self, name: Down())
    with pytest.raises(AwsError) as caught:
        read_stack_outputs(AwsContext(region="us-east-1"), "BedrockBatch-dev", "us-east-1")
    assert caught.value.exit_code == 1
    assert str(caught.value).startswith("cannot reach CloudFormation in us-east-1: Could not connect")
