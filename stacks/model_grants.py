"""IAM statements for the model allow-list, shared by the service role and the submitter policy.

Each ARN appears once per policy: a managed policy holds at most 6,144 characters, and an
allow-list of cross-Region profiles expands to many foundation-model ARNs.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.model_access import GLOBAL_PREFIX, ModelRef, invoke_grants

INVOKE = "bedrock:InvokeModel"
GLOBAL_WILDCARD_REASON = (
    f"A {GLOBAL_PREFIX}. inference profile routes to any commercial Region; the grant only applies to "
    "requests made through that profile (bedrock:InferenceProfileArn condition)."
)


def model_statements(
    scope: Construct, models: Sequence[ModelRef], *, actions: Sequence[str]
) -> list[iam.PolicyStatement]:
    """``actions`` on every profile and foundation-model ARN of the allow-list, in every Region a
    geographic profile routes to; plus ``bedrock:InvokeModel`` in any Region for global profiles,
    through that profile only."""
    stack = Stack.of(scope)
    plain, *via_global_profiles = invoke_grants(
        models, partition=stack.partition, region=stack.region, account=stack.account
    )
    statements = [
        iam.PolicyStatement(sid="AllowedModels", actions=list(actions), resources=list(plain.resources))
    ]
    statements.extend(
        iam.PolicyStatement(
            sid=f"AllowedModelsViaGlobalProfile{index}",
            actions=[INVOKE],
            resources=list(grant.resources),
            conditions={key: dict(value) for key, value in (grant.conditions or {}).items()},
        )
        for index, grant in enumerate(via_global_profiles)
    )
    return statements


def region_wildcards(statements: Sequence[iam.PolicyStatement]) -> dict[str, str]:
    """The Region-wildcard model ARNs among ``model_statements`` -> why each is acceptable (for cdk-nag)."""
    return {
        resource: GLOBAL_WILDCARD_REASON
        for statement in statements
        if statement.conditions
        for resource in statement.resources
    }
