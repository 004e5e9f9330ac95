"""The caller may pass the service role to Bedrock and create, get and stop jobs."""

from __future__ import annotations

import re

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.doctor.result import CheckResult, CheckTarget, failed, passed, statement_json, unverified
from batch_runner.doctor.simulation import SimulationUnavailable, simulate
from batch_runner.doctor.trust_policy import BEDROCK_SERVICE

PASS_ROLE = "caller may pass the role"
JOBS = "caller may manage jobs"
_ASSUMED = re.compile(r"arn:(aws[^:]*):sts::(\d{12}):assumed-role/([^/]+)/.+")
JOB_ACTIONS = (
    "bedrock:CreateModelInvocationJob",
    "bedrock:GetModelInvocationJob",
    "bedrock:StopModelInvocationJob",
)


def principal_arn(target: CheckTarget) -> str | None:
    """The IAM ARN policies attach to: an assumed-role session's role, the user itself; None for root."""
    if target.caller_arn.endswith(":root"):
        return None
    match = _ASSUMED.fullmatch(target.caller_arn)
    if match is None:
        return target.caller_arn
    try:  # the role ARN includes its path, which the session ARN leaves out
        return str(target.client("iam").get_role(RoleName=match.group(3))["Role"]["Arn"])
    except (ClientError, BotoCoreError):
        return f"arn:{match.group(1)}:iam::{match.group(2)}:role/{match.group(3)}"


def check_pass_role(target: CheckTarget) -> CheckResult:
    principal = principal_arn(target)
    if principal is None:
        return passed(PASS_ROLE, "the caller is the account root, allowed everything (prefer an IAM role)")
    context = {"iam:PassedToService": BEDROCK_SERVICE, "aws:RequestedRegion": target.region}
    try:
        denied = simulate(target, principal, ["iam:PassRole"], [target.role_arn], context)
    except SimulationUnavailable as err:
        return unverified(PASS_ROLE, f"could not verify: {err}", err.fix)
    if denied:
        statement = {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": target.role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": BEDROCK_SERVICE}},
        }
        return failed(
            PASS_ROLE,
            f"{principal} may not iam:PassRole {target.role_arn} to {BEDROCK_SERVICE} "
            f"({denied[0].decision}); "
            "CreateModelInvocationJob would fail with AccessDeniedException",
            f"attach the stack's SubmitterPolicyArn policy to {principal}, or add this statement:\n"
            + statement_json(statement),
        )
    return passed(PASS_ROLE, f"{principal} may pass {target.role_arn} to {BEDROCK_SERVICE}")


def check_job_actions(target: CheckTarget, model_arns: list[str]) -> CheckResult:
    """Create on the job ARN and the model (AWS authorizes both), get and stop on the job ARN."""
    principal = principal_arn(target)
    if principal is None:
        return passed(JOBS, "the caller is the account root, allowed everything (prefer an IAM role)")
    job = target.job_arn_pattern
    context = {"aws:RequestedRegion": target.region}
    try:
        denied = simulate(target, principal, list(JOB_ACTIONS), [job], context)
        if model_arns:
            denied += simulate(target, principal, [JOB_ACTIONS[0]], model_arns, context)
    except SimulationUnavailable as err:
        return unverified(JOBS, f"could not verify: {err}", err.fix)
    if denied:
        listed = ", ".join(f"{d.action} on {d.resource}" for d in denied)
        statement = {
            "Effect": "Allow",
            "Action": sorted({d.action for d in denied}),
            "Resource": sorted({d.resource for d in denied}),
        }
        return failed(
            JOBS,
            f"{principal} may not {listed}",
            f"attach the stack's SubmitterPolicyArn policy to {principal}, or add this statement:\n"
            + statement_json(statement),
        )
    return passed(JOBS, f"{principal} may create, get and stop jobs")
