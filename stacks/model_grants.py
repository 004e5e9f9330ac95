"""IAM statements for the model allow-list, shared by the service role and the submitter policy."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.model_access import GLOBAL_PREFIX, ModelRef, allowed_model_arns, invoke_grants

GLOBAL_WILDCARD_REASON = (
    f"A {GLOBAL_PREFIX}. inference profile routes to any commercial Region; the grant only applies to "
    "requests made through that profile (bedrock:InferenceProfileArn condition)."
)


def model_arns(scope: Construct, models: Sequence[ModelRef]) -> list[str]:
    """Profile and foundation-model ARNs of the allow-list, for this stack's account and Region."""
    stack = Stack.of(scope)
    return allowed_model_arns(models, partition=stack.partition, region=stack.region, account=stack.account)


def invoke_statements(scope: Construct, models: Sequence[ModelRef]) -> list[iam.PolicyStatement]:
    """``bedrock:InvokeModel`` on every model of the allow-list, in every Region a profile routes to."""
    stack = Stack.of(scope)
    grants = invoke_grants(models, partition=stack.partition, region=stack.region, account=stack.account)
    return [
        iam.PolicyStatement(
            sid=f"InvokeAllowedModels{index}",
            actions=["bedrock:InvokeModel"],
            resources=list(grant.resources),
            conditions={key: dict(value) for key, value in grant.conditions.items()}
            if grant.conditions
            else None,
        )
        for index, grant in enumerate(grants)
    ]


def region_wildcards(statements: Sequence[iam.PolicyStatement]) -> dict[str, str]:
    """The Region-wildcard model ARNs among ``invoke_statements`` -> why each is acceptable (for cdk-nag)."""
    return {
        resource: GLOBAL_WILDCARD_REASON
        for statement in statements
        if statement.has_resource and statement.conditions
        for resource in statement.resources
    }
