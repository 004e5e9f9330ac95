"""The Bedrock service role: it exists, trusts Bedrock for this account's jobs only, and may read
the input, write the output and use the KMS key."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.doctor import trust_policy
from batch_runner.doctor.result import (
    CheckResult,
    CheckTarget,
    error_code,
    error_message,
    failed,
    passed,
    statement_json,
    unverified,
)
from batch_runner.doctor.simulation import SimulationUnavailable, simulate

TRUST = "service role trust"
DATA_ACCESS = "service role data access"
_SAMPLE_JOB_ID = "doctorcheck1"  # job IDs are 12 lowercase alphanumerics


def check_role_trust(target: CheckTarget) -> CheckResult:
    role_account = target.role_arn.split(":")[4] if target.role_arn.count(":") >= 5 else ""
    if role_account != target.account:
        return failed(
            TRUST,
            f"{target.role_arn} is not a role of account {target.account}; iam:PassRole only passes "
            "roles of the caller's own account",
            "use the service role of the stack deployed in this account (its ServiceRoleArn output)",
        )
    role_name = target.role_arn.rsplit("/", 1)[-1]
    try:
        role = target.client("iam").get_role(RoleName=role_name)["Role"]
    except ClientError as err:
        if error_code(err) == "NoSuchEntity":
            return failed(
                TRUST,
                f"role {target.role_arn} does not exist",
                "deploy the stack (`cdk deploy`) or point BATCH_RUNNER_ROLE_ARN at the service role",
            )
        return unverified(
            TRUST,
            f"iam:GetRole on {role_name} failed: {error_message(err)}",
            f"allow the identity running doctor iam:GetRole on {target.role_arn}",
        )
    except BotoCoreError as err:
        return unverified(TRUST, f"iam:GetRole on {role_name} failed: {err}")
    try:
        document = trust_policy.load(role["AssumeRolePolicyDocument"])
        return _judge_trust(target, document)
    except (trust_policy.UnsupportedPolicy, ValueError) as err:
        return unverified(
            TRUST, f"the trust policy of {target.role_arn} uses {err}, which doctor does not evaluate"
        )


def expected_trust_statement(target: CheckTarget) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"Service": trust_policy.BEDROCK_SERVICE},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": target.account},
            "ArnLike": {"aws:SourceArn": target.job_arn_pattern},
        },
    }


def _judge_trust(target: CheckTarget, document: dict[str, Any]) -> CheckResult:
    job_arn = f"arn:aws:bedrock:{target.region}:{target.account}:model-invocation-job/{_SAMPLE_JOB_ID}"
    own_job = {"aws:SourceAccount": target.account, "aws:SourceArn": job_arn}
    fix = (
        f"set the trust policy of {target.role_arn} to this statement (or redeploy the stack):\n"
        + statement_json({"Version": "2012-10-17", "Statement": [expected_trust_statement(target)]})
    )
    if not trust_policy.admits_bedrock(document, own_job):
        return failed(
            TRUST,
            f"{target.role_arn} does not let {trust_policy.BEDROCK_SERVICE} assume it for jobs of "
            f"account {target.account} in {target.region}",
            fix,
        )
    other_account = "000000000000" if target.account != "000000000000" else "111111111111"
    foreign = {
        "aws:SourceAccount": other_account,
        "aws:SourceArn": job_arn.replace(f":{target.account}:", f":{other_account}:"),
    }
    unchecked = [
        key
        for key in ("aws:SourceAccount", "aws:SourceArn")
        if trust_policy.admits_bedrock(document, {k: v for k, v in own_job.items() if k != key})
    ]
    if trust_policy.admits_bedrock(document, foreign) or unchecked:
        missing = ", ".join(unchecked) or "aws:SourceAccount and aws:SourceArn"
        return failed(
            TRUST,
            f"{target.role_arn} trusts Bedrock without a condition on {missing}: jobs of other accounts "
            "could use it (confused deputy)",
            fix,
        )
    return passed(TRUST, f"{trust_policy.BEDROCK_SERVICE} may assume it for this account's jobs only")


def check_role_data_access(target: CheckTarget) -> CheckResult:
    """Simulate what Bedrock does as the role: list and read input, write output, use the key."""
    context: dict[str, str | bool] = {
        "aws:ResourceAccount": target.account,
        "aws:PrincipalAccount": target.account,
        "aws:SecureTransport": True,
        "aws:RequestedRegion": target.region,
    }
    wanted = [
        ("s3:ListBucket", f"arn:aws:s3:::{target.input_bucket}"),
        ("s3:GetObject", f"arn:aws:s3:::{target.input_bucket}/*"),
        ("s3:PutObject", f"arn:aws:s3:::{target.output_bucket}/*"),
    ]
    try:
        denied = [
            d
            for action, resource in wanted
            for d in simulate(target, target.role_arn, [action], [resource], context)
        ]
        if target.kms_key:
            key_arn = _key_arn(target, target.kms_key)
            kms_context = {**context, "kms:ViaService": f"s3.{target.region}.amazonaws.com"}
            denied += simulate(
                target, target.role_arn, ["kms:Decrypt", "kms:GenerateDataKey"], [key_arn], kms_context
            )
    except SimulationUnavailable as err:
        return unverified(DATA_ACCESS, f"could not verify: {err}", err.fix)
    if denied:
        statements = [{"Effect": "Allow", "Action": d.action, "Resource": d.resource} for d in denied]
        listed = ", ".join(f"{d.action} on {d.resource}" for d in denied)
        return failed(
            DATA_ACCESS,
            f"{target.role_arn} may not {listed}",
            f"add to a policy of {target.role_arn}:\n"
            + statement_json({"Version": "2012-10-17", "Statement": statements}),
        )
    key = f" and use {target.kms_key}" if target.kms_key else ""
    return passed(DATA_ACCESS, f"may read s3://{target.input_bucket}, write s3://{target.output_bucket}{key}")


def _key_arn(target: CheckTarget, key: str) -> str:
    """IAM policies name keys by ARN; the setting may be a key ID or alias."""
    if key.startswith("arn:"):
        return key
    try:
        return str(target.client("kms").describe_key(KeyId=key)["KeyMetadata"]["Arn"])
    except (ClientError, BotoCoreError):
        return f"arn:aws:kms:{target.region}:{target.account}:key/{key}"
