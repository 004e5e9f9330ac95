"""Where a run's data and jobs go: Region, stack, buckets, service role and KMS key.

Each value resolves once, with one precedence: an explicit argument (CLI flag or Python keyword) >
environment variable > CloudFormation output of the environment's stack > default. The stack is
only read when something is still missing after flags and variables.

Environment variables:

- ``BATCH_RUNNER_STACK``: stack name (default ``BedrockBatch-<env>``)
- ``BATCH_RUNNER_ENV``: environment name (default ``dev``)
- ``BATCH_RUNNER_INPUT_BUCKET``, ``BATCH_RUNNER_OUTPUT_BUCKET``: bucket names
- ``BATCH_RUNNER_ROLE_ARN``: the Bedrock service role the jobs run as
- ``BATCH_RUNNER_KMS_KEY``: KMS key (ID or ARN) that encrypts job output
- ``BATCH_RUNNER_SUBNET_IDS``, ``BATCH_RUNNER_SECURITY_GROUP_IDS``: comma-separated; jobs then run with
  this VPC configuration (default: the stack's ``vpc``, none when it has none)
- ``BATCH_RUNNER_STATE_DIR``: where run manifests and shard files are kept (default ``.batch-runner``)

Region, profile and endpoint follow boto3's own variables (``AWS_REGION``, ``AWS_PROFILE``,
``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from batch_runner.aws.clients import AwsContext
from batch_runner.aws.stack_outputs import (
    DEFAULT_ENVIRONMENT,
    JOB_NAME_PREFIX_MAX_LENGTH,
    OutputKey,
    is_job_name_prefix,
    stack_name,
)
from batch_runner.exceptions import AwsError, ConfigurationError, StackNotFoundError

ENV_STACK = "BATCH_RUNNER_STACK"
ENV_ENVIRONMENT = "BATCH_RUNNER_ENV"
ENV_INPUT_BUCKET = "BATCH_RUNNER_INPUT_BUCKET"
ENV_OUTPUT_BUCKET = "BATCH_RUNNER_OUTPUT_BUCKET"
ENV_ROLE_ARN = "BATCH_RUNNER_ROLE_ARN"
ENV_KMS_KEY = "BATCH_RUNNER_KMS_KEY"
ENV_STATE_DIR = "BATCH_RUNNER_STATE_DIR"
ENV_JOB_NAME_PREFIX = "BATCH_RUNNER_JOB_NAME_PREFIX"
ENV_SUBNET_IDS = "BATCH_RUNNER_SUBNET_IDS"
ENV_SECURITY_GROUP_IDS = "BATCH_RUNNER_SECURITY_GROUP_IDS"
ENV_REGISTRY_TABLE = "BATCH_RUNNER_REGISTRY_TABLE"
# "false": drive runs from this machine even when the stack orchestrates (what --local does).
ENV_ORCHESTRATED = "BATCH_RUNNER_ORCHESTRATED"

DEFAULT_STATE_DIR = ".batch-runner"


@dataclass(frozen=True)
class Overrides:
    """Values the caller gave explicitly (CLI flags or Python keywords); ``None`` means not given."""

    stack: str | None = None
    env: str | None = None
    input_bucket: str | None = None
    output_bucket: str | None = None
    role_arn: str | None = None
    kms_key: str | None = None
    job_name_prefix: str | None = None
    subnet_ids: str | None = None  # comma-separated, as the flag takes them
    security_group_ids: str | None = None


@dataclass(frozen=True)
class Settings:
    region: str
    stack: str
    input_bucket: str
    output_bucket: str
    role_arn: str
    kms_key: str | None = None
    allowed_models: tuple[str, ...] = ()  # empty when unknown (no stack read): nothing to check
    # Every job name starts with it; the stack's alert rules match only such jobs ("": none).
    job_name_prefix: str = ""
    sources: Mapping[str, str] = field(default_factory=dict)  # value name -> flag|env|stack|default
    # The VPC configuration jobs run with; both empty when jobs run outside a VPC.
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    registry_table: str | None = None  # the stack orchestrates runs (stack output RunRegistryTableName)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "stack": self.stack,
            "input_bucket": self.input_bucket,
            "output_bucket": self.output_bucket,
            "role_arn": self.role_arn,
            "kms_key": self.kms_key,
            "allowed_models": list(self.allowed_models),
            "job_name_prefix": self.job_name_prefix,
            "sources": dict(self.sources),
            "subnet_ids": list(self.subnet_ids),
            "security_group_ids": list(self.security_group_ids),
            "registry_table": self.registry_table,
        }


def state_dir(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    environ = os.environ if environ is None else environ
    return Path(explicit or environ.get(ENV_STATE_DIR) or DEFAULT_STATE_DIR)


def resolve_stack_name(overrides: Overrides, environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    if overrides.stack:
        return overrides.stack
    if overrides.env:
        return stack_name(overrides.env)
    if environ.get(ENV_STACK):
        return environ[ENV_STACK]
    return stack_name(environ.get(ENV_ENVIRONMENT) or DEFAULT_ENVIRONMENT)


def resolve_region(aws: AwsContext, environ: Mapping[str, str] | None = None) -> str:
    """The Region: --region, else the profile's or AWS_DEFAULT_REGION (boto3), else AWS_REGION."""
    environ = os.environ if environ is None else environ
    try:
        region = aws.region or aws.session().region_name or environ.get("AWS_REGION")
    except ProfileNotFound as err:
        raise ConfigurationError(f"{err}: check --profile / AWS_PROFILE") from err
    if not region:
        raise ConfigurationError("no AWS Region configured: pass --region or set AWS_REGION")
    return str(region)


def with_region(aws: AwsContext, environ: Mapping[str, str] | None = None) -> AwsContext:
    """``aws`` with its Region filled in, so every client it makes agrees on one Region."""
    return aws if aws.region else replace(aws, region=resolve_region(aws, environ))


def check_credentials(aws: AwsContext) -> None:
    try:
        credentials = aws.session().get_credentials()
    except (ProfileNotFound, BotoCoreError) as err:
        raise ConfigurationError(f"cannot load AWS credentials: {err}") from err
    if credentials is None:
        raise ConfigurationError(
            "no AWS credentials found: run `aws configure` or `aws sso login`, or set AWS_PROFILE"
        )


def resolve_settings(
    aws: AwsContext, overrides: Overrides | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Resolve every setting, reading the stack's outputs only when something is still missing."""
    overrides = overrides or Overrides()
    environ = os.environ if environ is None else environ
    aws = with_region(aws, environ)
    region = str(aws.region)
    check_credentials(aws)
    stack = resolve_stack_name(overrides, environ)
    wanted = {
        "input_bucket": (overrides.input_bucket, ENV_INPUT_BUCKET, OutputKey.INPUT_BUCKET),
        "output_bucket": (overrides.output_bucket, ENV_OUTPUT_BUCKET, OutputKey.OUTPUT_BUCKET),
        "role_arn": (overrides.role_arn, ENV_ROLE_ARN, OutputKey.SERVICE_ROLE_ARN),
        "kms_key": (overrides.kms_key, ENV_KMS_KEY, OutputKey.KMS_KEY_ARN),
        "job_name_prefix": (overrides.job_name_prefix, ENV_JOB_NAME_PREFIX, OutputKey.JOB_NAME_PREFIX),
        "subnet_ids": (overrides.subnet_ids, ENV_SUBNET_IDS, OutputKey.SUBNET_IDS),
        "security_group_ids": (
            overrides.security_group_ids,
            ENV_SECURITY_GROUP_IDS,
            OutputKey.SECURITY_GROUP_IDS,
        ),
        "registry_table": (None, ENV_REGISTRY_TABLE, OutputKey.RUN_REGISTRY_TABLE),
    }
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for name, (flag_value, variable, _) in wanted.items():
        if flag_value:
            values[name], sources[name] = flag_value, "flag"
        elif environ.get(variable):
            values[name], sources[name] = environ[variable], f"env {variable}"

    required = ("input_bucket", "output_bucket", "role_arn")
    outputs: dict[str, str] = {}
    if any(name not in values for name in required):
        outputs = read_stack_outputs(aws, stack, region)
        for name, (_, _, output_key) in wanted.items():
            if name not in values and outputs.get(output_key):
                values[name], sources[name] = outputs[output_key], f"stack {stack}"
        missing = [wanted[name][2] for name in required if name not in values]
        if missing:
            raise ConfigurationError(
                f"stack {stack} in {region} has no output {', '.join(missing)}: "
                "redeploy it with the current `cdk deploy`"
            )
    allowed = tuple(m for m in outputs.get(OutputKey.ALLOWED_MODELS, "").split(",") if m)
    subnets, groups = vpc_ids(values.get("subnet_ids"), values.get("security_group_ids"))
    return Settings(
        region=region,
        stack=stack,
        input_bucket=str(values["input_bucket"]),
        output_bucket=str(values["output_bucket"]),
        role_arn=str(values["role_arn"]),
        kms_key=values.get("kms_key"),
        allowed_models=allowed,
        job_name_prefix=checked_job_name_prefix(values.get("job_name_prefix") or ""),
        sources=sources,
        subnet_ids=subnets,
        security_group_ids=groups,
        registry_table=values.get("registry_table"),
    )


def checked_job_name_prefix(prefix: str) -> str:
    if prefix and not is_job_name_prefix(prefix):
        raise ConfigurationError(
            f"invalid job name prefix {prefix!r}: give up to {JOB_NAME_PREFIX_MAX_LENGTH} letters, digits "
            f"or hyphens ending in a dot, e.g. 'dev.' (--job-name-prefix or {ENV_JOB_NAME_PREFIX})"
        )
    return prefix


# vpcConfig in the bedrock service model: 1-16 subnets, 1-5 security groups, IDs [-0-9a-zA-Z]{1,32}.
_VPC_ID = re.compile(r"[-0-9a-zA-Z]{1,32}")
_VPC_LIMITS = {"--subnet-ids": 16, "--security-group-ids": 5}


def vpc_ids(subnets: str | None, groups: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Comma-separated subnet and security-group IDs as CreateModelInvocationJob takes them; both or
    neither (Bedrock requires both)."""
    parsed = {
        flag: tuple(part.strip() for part in (raw or "").split(",") if part.strip())
        for flag, raw in (("--subnet-ids", subnets), ("--security-group-ids", groups))
    }
    for flag, ids in parsed.items():
        bad = [i for i in ids if not _VPC_ID.fullmatch(i)]
        if bad:
            raise ConfigurationError(
                f"{flag}: {bad[0]!r} is not an ID; give IDs comma-separated, e.g. subnet-0a1b2c3d,subnet-4e5f"
            )
        if len(ids) > _VPC_LIMITS[flag]:
            raise ConfigurationError(
                f"{flag}: {len(ids)} IDs given, Bedrock takes at most {_VPC_LIMITS[flag]}"
            )
    if bool(parsed["--subnet-ids"]) != bool(parsed["--security-group-ids"]):
        given, missing = (
            ("--subnet-ids", "--security-group-ids")
            if parsed["--subnet-ids"]
            else ("--security-group-ids", "--subnet-ids")
        )
        raise ConfigurationError(f"{given} needs {missing} too: a VPC job needs subnets and security groups")
    return parsed["--subnet-ids"], parsed["--security-group-ids"]


def read_stack_outputs(aws: AwsContext, stack: str, region: str) -> dict[str, str]:
    """The stack's outputs as a dict; StackNotFoundError when it is not deployed."""
    deploy_hint = f"deploy it with `cdk deploy -c env={_env_of(stack)}` first"
    try:
        response = aws.client("cloudformation").describe_stacks(StackName=stack)
    except NoCredentialsError as err:
        raise ConfigurationError(f"no AWS credentials found: {err}") from err
    except ClientError as err:
        error = err.response.get("Error", {})
        if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
            raise StackNotFoundError(f"stack {stack} not found in {region}: {deploy_hint}") from err
        raise AwsError(
            f"cannot read stack {stack} in {region}: {error.get('Message', err)}", code=error.get("Code", "")
        ) from err
    except BotoCoreError as err:
        raise AwsError(f"cannot reach CloudFormation in {region}: {err}") from err  # AWS, not input: exit 1
    stacks = response.get("Stacks", [])
    if not stacks or stacks[0].get("StackStatus", "").startswith("DELETE"):
        raise StackNotFoundError(f"stack {stack} not found in {region}: {deploy_hint}")
    return {o["OutputKey"]: o.get("OutputValue", "") for o in stacks[0].get("Outputs", [])}


def _env_of(stack: str) -> str:
    prefix = stack_name("")
    return stack[len(prefix) :] if stack.startswith(prefix) and len(stack) > len(prefix) else "<env>"
