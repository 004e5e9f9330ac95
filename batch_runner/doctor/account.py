"""Credentials, Region and the stack: what every other check builds on."""

from __future__ import annotations

import os
from collections.abc import Mapping

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from batch_runner.aws.settings import Overrides, read_stack_outputs, resolve_settings
from batch_runner.aws.stack_outputs import OutputKey, stack_name
from batch_runner.doctor.result import CheckResult, CheckTarget, error_message, failed, passed
from batch_runner.exceptions import BatchRunnerError, StackNotFoundError

CREDENTIALS = "credentials and Region"
STACK = "stack"
# Outputs every deployed stack has (KMS and the submitter role are optional).
EXPECTED_OUTPUTS = (
    OutputKey.INPUT_BUCKET,
    OutputKey.OUTPUT_BUCKET,
    OutputKey.SERVICE_ROLE_ARN,
    OutputKey.SUBMITTER_POLICY_ARN,
    OutputKey.NOTIFICATION_TOPIC_ARN,
    OutputKey.REGION,
    OutputKey.ALLOWED_MODELS,
)


def check_credentials(target: CheckTarget) -> CheckResult:
    """``sts:GetCallerIdentity`` answers: fills in the account and caller ARN."""
    try:
        identity = target.client("sts").get_caller_identity()
    except EndpointConnectionError as err:
        return failed(
            CREDENTIALS,
            f"cannot reach AWS in {target.region}: {err}",
            "check the network, --endpoint-url / AWS_ENDPOINT_URL (for the emulator: is "
            "`python -m batch_runner local serve` running?) and that the Region exists",
        )
    except (ClientError, BotoCoreError) as err:
        return failed(
            CREDENTIALS,
            f"sts:GetCallerIdentity failed in {target.region}: {error_message(err)}",
            "run `aws configure` or `aws sso login`, or set AWS_PROFILE; pass --region or set AWS_REGION",
        )
    target.account = str(identity["Account"])
    target.caller_arn = str(identity["Arn"])
    return passed(CREDENTIALS, f"{target.caller_arn} (account {target.account}) in {target.region}")


def check_stack(
    target: CheckTarget, overrides: Overrides, environ: Mapping[str, str] | None = None
) -> CheckResult:
    """The stack is deployed in the Region with every expected output; fills in the resources,
    with flags > environment variables > stack outputs as ``resolve_settings`` does."""
    environ = os.environ if environ is None else environ
    deploy = f"cdk deploy -c env={_env_name(target.stack)}"
    try:
        outputs = read_stack_outputs(target.aws, target.stack, target.region)
    except StackNotFoundError:
        _apply(target, overrides, environ, {})
        return failed(
            STACK,
            f"stack {target.stack} is not deployed in {target.region}",
            f"deploy it: `{deploy}` (or pass --stack/--env/--region for the one you deployed)",
        )
    except BatchRunnerError as err:
        _apply(target, overrides, environ, {})
        return failed(STACK, str(err), "check the credentials can call cloudformation:DescribeStacks")
    _apply(target, overrides, environ, outputs)
    missing = [key for key in EXPECTED_OUTPUTS if not outputs.get(key)]
    if missing:
        return failed(
            STACK,
            f"stack {target.stack} has no output {', '.join(missing)}",
            f"redeploy it with the current project: `{deploy}`",
        )
    return passed(
        STACK, f"{target.stack} in {target.region}, all {len(EXPECTED_OUTPUTS)} expected outputs present"
    )


def _apply(
    target: CheckTarget, overrides: Overrides, environ: Mapping[str, str], outputs: dict[str, str]
) -> None:
    """The resources as the runner resolves them; left empty when they cannot be resolved (no
    stack and no flags or variables), so the checks that need them are skipped."""
    target.outputs = outputs
    try:
        settings = resolve_settings(target.aws, overrides, environ)
    except BatchRunnerError:
        return
    target.input_bucket = settings.input_bucket
    target.output_bucket = settings.output_bucket
    target.role_arn = settings.role_arn
    target.kms_key = settings.kms_key
    target.allowed_models = settings.allowed_models
    target.sources = dict(settings.sources)
    target.subnet_ids, target.security_group_ids = settings.subnet_ids, settings.security_group_ids


def _env_name(stack: str) -> str:
    prefix = stack_name("")
    return stack[len(prefix) :] if stack.startswith(prefix) else "<env>"
