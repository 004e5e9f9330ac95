"""IAM statements for the model allow-list, shared by the service role and the submitter policy.

Each ARN appears once per policy: a managed policy holds at most 6,144 characters.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.model_access import GLOBAL_PREFIX, InvokeGrant, ModelRef, invoke_grants

INVOKE = "bedrock:InvokeModel"
PROFILE_WILDCARD_REASON = (
    "A cross-Region inference profile routes to its model in Regions AWS adds over time; the grant only "
    "applies to requests made through that profile (bedrock:InferenceProfileArn condition)."
)
GLOBAL_WILDCARD_REASON = (
    f"A {GLOBAL_PREFIX}. inference profile routes to any commercial Region; the grant only applies to "
    "requests made through that profile (bedrock:InferenceProfileArn condition)."
)
APPLICATION_WILDCARD_REASON = (
    "An application inference profile's model is fixed when it is created and cannot be read at synth; "
    "the grant only applies to requests made through that profile (bedrock:InferenceProfileArn condition)."
)


def model_statements(
    scope: Construct, models: Sequence[ModelRef], *, actions: Sequence[str]
) -> list[iam.PolicyStatement]:
    """``actions`` on every model and profile ARN the allow-list names, in the stack's Region; plus
    ``bedrock:InvokeModel`` wherever each profile routes, through that profile only."""
    stack = Stack.of(scope)
    plain, *via_profiles = invoke_grants(
        models, partition=stack.partition, region=stack.region, account=stack.account
    )
    statements = [
        iam.PolicyStatement(sid="AllowedModels", actions=list(actions), resources=list(plain.resources))
    ]
    statements.extend(
        iam.PolicyStatement(
            sid=f"AllowedModelsViaProfile{index}",
            actions=[INVOKE],
            resources=list(grant.resources),
            conditions={key: dict(value) for key, value in (grant.conditions or {}).items()},
        )
        for index, grant in enumerate(via_profiles)
    )
    return statements


def _reason(grant: InvokeGrant) -> str:
    if grant.via is not None and grant.via.is_application_profile:
        return APPLICATION_WILDCARD_REASON
    if grant.via is not None and grant.via.profile_prefix == GLOBAL_PREFIX:
        return GLOBAL_WILDCARD_REASON
    return PROFILE_WILDCARD_REASON


def profile_wildcards(scope: Construct, models: Sequence[ModelRef]) -> dict[str, str]:
    """The wildcard resources among ``model_statements`` -> why each is acceptable (for cdk-nag)."""
    stack = Stack.of(scope)
    _, *via_profiles = invoke_grants(
        models, partition=stack.partition, region=stack.region, account=stack.account
    )
    return {
        resource: _reason(grant) for grant in via_profiles for resource in grant.resources if "*" in resource
    }
