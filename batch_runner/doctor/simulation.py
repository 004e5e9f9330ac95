"""IAM policy simulation (``iam:SimulatePrincipalPolicy``) of a role's or a caller's permissions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.doctor.result import CheckTarget, error_code, error_message

Context = Mapping[str, str | bool]


@dataclass(frozen=True)
class Denied:
    action: str
    resource: str
    decision: str  # implicitDeny or explicitDeny


class SimulationUnavailable(Exception):
    """The simulation could not run (no permission, unknown principal): nothing can be concluded."""

    def __init__(self, message: str, *, principal: str, code: str) -> None:
        super().__init__(message)
        self.fix = (
            f"{principal} is not an IAM user or role the simulator knows; run doctor as the IAM "
            "identity that submits jobs"
            if code == "NoSuchEntity"
            else "let the identity running doctor call iam:SimulatePrincipalPolicy and iam:GetRole on "
            f"{principal} to verify this"
        )


def simulate(
    target: CheckTarget,
    principal_arn: str,
    actions: Sequence[str],
    resources: Sequence[str],
    context: Context,
) -> list[Denied]:
    """Every (action, resource) pair the principal's policies do not allow."""
    entries = [
        {
            "ContextKeyName": key,
            "ContextKeyValues": [str(value).lower() if isinstance(value, bool) else value],
            "ContextKeyType": "boolean" if isinstance(value, bool) else "string",
        }
        for key, value in context.items()
    ]
    try:
        pages = (
            target.client("iam")
            .get_paginator("simulate_principal_policy")
            .paginate(
                PolicySourceArn=principal_arn,
                ActionNames=list(actions),
                ResourceArns=list(resources),
                ContextEntries=entries,
            )
        )
        results = [result for page in pages for result in page.get("EvaluationResults", [])]
    except (ClientError, BotoCoreError) as err:
        raise SimulationUnavailable(
            f"iam:SimulatePrincipalPolicy on {principal_arn} failed: {error_message(err)}",
            principal=principal_arn,
            code=error_code(err),
        ) from err
    denied: list[Denied] = []
    for result in results:
        specific = result.get("ResourceSpecificResults") or [
            {
                "EvalResourceName": result.get("EvalResourceName", "*"),
                "EvalResourceDecision": result["EvalDecision"],
            }
        ]
        for item in specific:
            if item["EvalResourceDecision"] != "allowed":
                denied.append(
                    Denied(result["EvalActionName"], item["EvalResourceName"], item["EvalResourceDecision"])
                )
    return denied
