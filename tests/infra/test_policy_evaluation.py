"""Evaluate the synthesized IAM, bucket, key and trust policies locally, request by request (table-driven).

Intrinsics are resolved to concrete ARNs first (tests/infra/template_values.py); the dev stack is
account-agnostic and is evaluated as if deployed into 123456789012 / us-east-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.infra.conftest import APPLICATION_PROFILE, Synthesized
from tests.infra.iam_simulation import Principal, is_allowed, service_may_assume
from tests.infra.policy_documents import as_list
from tests.infra.template_values import Deployment

HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"
HAIKU35 = "anthropic.claude-3-5-haiku-20241022-v1:0"
SONNET45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
OTHER_ACCOUNT = "999999999999"


@dataclass(frozen=True)
class World:
    """One deployed environment: its principals, resources and resource policies."""

    deployed: Deployment
    service: Principal
    submitter: Principal
    names: dict[str, str]
    resource_policies: dict[str, dict[str, Any]]

    def arn(self, template: str) -> str:
        return template.format(**self.names)

    def allowed(self, who: str, action: str, resource: str, extra: dict[str, str | None]) -> bool:
        context: dict[str, Any] = {
            "aws:SecureTransport": "true",
            "aws:ResourceAccount": self.deployed.account,
        }
        context.update(extra)
        context = {key: value for key, value in context.items() if value is not None}
        policy_key = resource.split("/", 1)[0] if resource.startswith("arn:aws:s3:::") else resource
        policy = self.resource_policies.get(policy_key)
        principal = self.service if who == "service" else self.submitter
        return is_allowed(
            principal,
            action,
            resource,
            context,
            resource_policy=policy,
            resource_owner=self.deployed.account if policy is not None else None,
        )


def _world(synthesized: Synthesized, env: str) -> World:
    deployed = synthesized.deployed(env)
    buckets = {
        short: deployed.ref(deployed.only("AWS::S3::Bucket", prefix))
        for short, prefix in (
            ("input", "BucketsInput"),
            ("output", "BucketsOutput"),
            ("logs", "BucketsAccessLogs"),
        )
    }
    service_role = deployed.only("AWS::IAM::Role", "BedrockServiceRole")
    names = {
        "account": deployed.account,
        "region": deployed.region,
        "role": deployed.get_att(service_role, "Arn"),
        "jobs": f"arn:aws:bedrock:{deployed.region}:{deployed.account}:model-invocation-job",
        "stack": deployed.ref("AWS::StackId"),
        **{f"{short}_bucket": f"arn:aws:s3:::{name}" for short, name in buckets.items()},
        **{short: f"arn:aws:s3:::{name}" for short, name in buckets.items()},
    }
    policies: dict[str, dict[str, Any]] = {}
    for logical_id in deployed.logical_ids("AWS::S3::BucketPolicy"):
        properties = deployed.properties(logical_id)
        policies[f"arn:aws:s3:::{properties['Bucket']}"] = properties["PolicyDocument"]
    submitter_roles = [role for role in deployed.logical_ids("AWS::IAM::Role") if "Submitters" in role]
    if synthesized.configs[env].kms:
        key = deployed.only("AWS::KMS::Key", "DataKey")
        names["key"] = deployed.get_att(key, "Arn")
        policies[names["key"]] = deployed.properties(key)["KeyPolicy"]
    if submitter_roles:
        submitter = Principal.of_role(deployed, submitter_roles[0])
    else:
        # No dedicated role: the policy attached to somebody's existing role.
        document = deployed.properties(deployed.only("AWS::IAM::ManagedPolicy", "Submitters"))[
            "PolicyDocument"
        ]
        submitter = Principal.with_policy(f"arn:aws:iam::{deployed.account}:role/data-scientist", document)
    return World(
        deployed=deployed,
        service=Principal.of_role(deployed, service_role),
        submitter=submitter,
        names=names,
        resource_policies=policies,
    )


@pytest.fixture(scope="module")
def worlds(synthesized: Synthesized) -> dict[str, World]:
    return {env: _world(synthesized, env) for env in ("dev", "prod", "kmsplain")}


NO_TLS = {"aws:SecureTransport": "false"}
VIA_S3_EU = {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
GLOBAL_PROFILE = f"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/global.{SONNET45}"
US_PROFILE = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{HAIKU35}"

# (case, env, who, action, resource, extra request context, allowed?)
REQUESTS: list[tuple[str, str, str, str, str, dict[str, str | None], bool]] = [
    # What `doctor` reads as a submitter.
    ("submitter reads the service role", "dev", "submitter", "iam:GetRole", "{role}", {}, True),
    (
        "submitter simulates the service role's policies",
        "prod",
        "submitter",
        "iam:SimulatePrincipalPolicy",
        "{role}",
        {},
        True,
    ),
    (
        "submitter cannot read other roles",
        "dev",
        "submitter",
        "iam:GetRole",
        "arn:aws:iam::{account}:role/admin",
        {},
        False,
    ),
    (
        "submitter cannot simulate other roles",
        "prod",
        "submitter",
        "iam:SimulatePrincipalPolicy",
        "arn:aws:iam::{account}:role/admin",
        {},
        False,
    ),
    (
        "submitter checks model availability",
        "dev",
        "submitter",
        "bedrock:GetFoundationModelAvailability",
        "*",
        {},
        True,
    ),
    # The Bedrock service role and the batch data.
    (
        "role reads input objects",
        "dev",
        "service",
        "s3:GetObject",
        "{input}/run-1/shard-0001.jsonl",
        {},
        True,
    ),
    (
        "role writes output objects",
        "dev",
        "service",
        "s3:PutObject",
        "{output}/run-1/job/a.jsonl.out",
        {},
        True,
    ),
    ("role lists the input bucket", "dev", "service", "s3:ListBucket", "{input_bucket}", {}, True),
    ("role lists the output bucket", "dev", "service", "s3:ListBucket", "{output_bucket}", {}, True),
    (
        "role cannot overwrite input",
        "dev",
        "service",
        "s3:PutObject",
        "{input}/run-1/shard-0001.jsonl",
        {},
        False,
    ),
    (
        "role reads back its output",
        "dev",
        "service",
        "s3:GetObject",
        "{output}/run-1/job/a.jsonl.out",
        {},
        True,
    ),
    (
        "role cannot list other buckets",
        "dev",
        "service",
        "s3:ListBucket",
        "arn:aws:s3:::other-team",
        {},
        False,
    ),
    (
        "role cannot delete input",
        "dev",
        "service",
        "s3:DeleteObject",
        "{input}/run-1/shard-0001.jsonl",
        {},
        False,
    ),
    ("role cannot delete output", "dev", "service", "s3:DeleteObject", "{output}/run-1/job/a.out", {}, False),
    (
        "role cannot read other buckets",
        "dev",
        "service",
        "s3:GetObject",
        "arn:aws:s3:::other-team/x.jsonl",
        {},
        False,
    ),
    ("role cannot read access logs", "dev", "service", "s3:GetObject", "{logs}/input/2026-01-01", {}, False),
    (
        "role denied input without TLS",
        "dev",
        "service",
        "s3:GetObject",
        "{input}/run-1/a.jsonl",
        NO_TLS,
        False,
    ),
    (
        "role denied output without TLS",
        "prod",
        "service",
        "s3:PutObject",
        "{output}/run-1/a.out",
        NO_TLS,
        False,
    ),
    (
        "role refuses a look-alike bucket in another account",
        "dev",
        "service",
        "s3:GetObject",
        "{input}/run-1/a.jsonl",
        {"aws:ResourceAccount": OTHER_ACCOUNT},
        False,
    ),
    # Models.
    (
        "role invokes an allowed model",
        "dev",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU3}",
        {},
        True,
    ),
    (
        "role invokes the allowed us. profile",
        "dev",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{HAIKU35}",
        {},
        True,
    ),
    (
        "role invokes the profile's model in a US destination through the profile",
        "dev",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU35}",
        {"bedrock:InferenceProfileArn": US_PROFILE},
        True,
    ),
    (
        # A destination AWS adds later needs no redeploy: no Region list to fall behind.
        "role invokes the profile's model in a Region added later",
        "dev",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:us-east-7::foundation-model/{HAIKU35}",
        {"bedrock:InferenceProfileArn": US_PROFILE},
        True,
    ),
    (
        "role cannot invoke the profile's model elsewhere directly",
        "dev",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU35}",
        {},
        False,
    ),
    (
        "role cannot invoke the profile's model through another profile",
        "dev",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU35}",
        {"bedrock:InferenceProfileArn": US_PROFILE.replace(HAIKU35, HAIKU3)},
        False,
    ),
    (
        "role cannot invoke another model through the profile",
        "dev",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU3}",
        {"bedrock:InferenceProfileArn": US_PROFILE},
        False,
    ),
    (
        "role cannot invoke a model off the allow-list",
        "dev",
        "service",
        "bedrock:InvokeModel",
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-opus-20240229-v1:0",
        {},
        False,
    ),
    (
        "global profile routes anywhere through the profile",
        "prod",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:ap-southeast-1::foundation-model/{SONNET45}",
        {"bedrock:InferenceProfileArn": GLOBAL_PROFILE},
        True,
    ),
    (
        "global profile's Region-less model ARN",
        "prod",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:::foundation-model/{SONNET45}",
        {"bedrock:InferenceProfileArn": GLOBAL_PROFILE},
        True,
    ),
    (
        "role invokes the application profile",
        "kmsplain",
        "service",
        "bedrock:InvokeModel",
        APPLICATION_PROFILE,
        {},
        True,
    ),
    (
        "application profile reaches its model in any Region through itself",
        "kmsplain",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:us-east-2::foundation-model/{SONNET45}",
        {"bedrock:InferenceProfileArn": APPLICATION_PROFILE},
        True,
    ),
    (
        "application profile reaches the system profile it copies through itself",
        "kmsplain",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:us-west-2:444455556666:inference-profile/us.{SONNET45}",
        {"bedrock:InferenceProfileArn": APPLICATION_PROFILE},
        True,
    ),
    (
        "the application profile's model cannot be called directly",
        "kmsplain",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:us-east-2::foundation-model/{SONNET45}",
        {},
        False,
    ),
    (
        "another application profile is refused",
        "kmsplain",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:us-east-2::foundation-model/{SONNET45}",
        {"bedrock:InferenceProfileArn": APPLICATION_PROFILE.replace("a1b2c3d4e5f6", "f6e5d4c3b2a1")},
        False,
    ),
    (
        "submitter creates a job on the application profile",
        "kmsplain",
        "submitter",
        "bedrock:CreateModelInvocationJob",
        APPLICATION_PROFILE,
        {},
        True,
    ),
    (
        "global model elsewhere without the profile is refused",
        "prod",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:ap-southeast-1::foundation-model/{SONNET45}",
        {},
        False,
    ),
    (
        "global model elsewhere through another profile is refused",
        "prod",
        "service",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:ap-southeast-1::foundation-model/{SONNET45}",
        {"bedrock:InferenceProfileArn": GLOBAL_PROFILE.replace("111122223333", OTHER_ACCOUNT)},
        False,
    ),
    # The data key (prod): only through S3 in the stack's Region.
    ("role decrypts input through S3", "prod", "service", "kms:Decrypt", "{key}", VIA_S3_EU, True),
    ("role encrypts output through S3", "prod", "service", "kms:GenerateDataKey", "{key}", VIA_S3_EU, True),
    ("role cannot use the key directly", "prod", "service", "kms:Decrypt", "{key}", {}, False),
    (
        "role cannot use the key through S3 elsewhere",
        "prod",
        "service",
        "kms:Decrypt",
        "{key}",
        {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
        False,
    ),
    ("role cannot re-encrypt with the key", "prod", "service", "kms:Encrypt", "{key}", VIA_S3_EU, False),
    # Submitters.
    (
        "submitter passes the role to Bedrock",
        "dev",
        "submitter",
        "iam:PassRole",
        "{role}",
        {"iam:PassedToService": "bedrock.amazonaws.com"},
        True,
    ),
    (
        "submitter cannot pass the role to another service",
        "dev",
        "submitter",
        "iam:PassRole",
        "{role}",
        {"iam:PassedToService": "sagemaker.amazonaws.com"},
        False,
    ),
    (
        "submitter cannot pass the role without a service",
        "prod",
        "submitter",
        "iam:PassRole",
        "{role}",
        {},
        False,
    ),
    (
        "submitter cannot pass another role",
        "prod",
        "submitter",
        "iam:PassRole",
        "arn:aws:iam::111122223333:role/Admin",
        {"iam:PassedToService": "bedrock.amazonaws.com"},
        False,
    ),
    (
        "submitter creates a job on an allowed model",
        "dev",
        "submitter",
        "bedrock:CreateModelInvocationJob",
        f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU3}",
        {},
        True,
    ),
    (
        "submitter creates the job resource",
        "dev",
        "submitter",
        "bedrock:CreateModelInvocationJob",
        "{jobs}/abc123",
        {},
        True,
    ),
    (
        "submitter cannot create a job on another model",
        "dev",
        "submitter",
        "bedrock:CreateModelInvocationJob",
        "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-70b-instruct-v1:0",
        {},
        False,
    ),
    (
        "submitter stops a job",
        "prod",
        "submitter",
        "bedrock:StopModelInvocationJob",
        "{jobs}/abc123",
        {},
        True,
    ),
    (
        "submitter cannot stop jobs in another Region",
        "prod",
        "submitter",
        "bedrock:StopModelInvocationJob",
        "arn:aws:bedrock:us-east-1:111122223333:model-invocation-job/abc123",
        {},
        False,
    ),
    (
        "submitter uploads input",
        "dev",
        "submitter",
        "s3:PutObject",
        "{input}/run-1/shard-0001.jsonl",
        {},
        True,
    ),
    (
        "submitter reads output",
        "dev",
        "submitter",
        "s3:GetObject",
        "{output}/run-1/job/a.jsonl.out",
        {},
        True,
    ),
    (
        "submitter cannot write output",
        "dev",
        "submitter",
        "s3:PutObject",
        "{output}/run-1/job/a.jsonl.out",
        {},
        False,
    ),
    (
        "submitter cannot delete input",
        "dev",
        "submitter",
        "s3:DeleteObject",
        "{input}/run-1/a.jsonl",
        {},
        False,
    ),
    (
        "submitter denied without TLS",
        "prod",
        "submitter",
        "s3:PutObject",
        "{input}/run-1/a.jsonl",
        NO_TLS,
        False,
    ),
    (
        "submitter uses the key through S3",
        "prod",
        "submitter",
        "kms:GenerateDataKey",
        "{key}",
        VIA_S3_EU,
        True,
    ),
    ("submitter cannot use the key directly", "prod", "submitter", "kms:Decrypt", "{key}", {}, False),
    (
        "submitter reads this stack's outputs",
        "dev",
        "submitter",
        "cloudformation:DescribeStacks",
        "{stack}",
        {},
        True,
    ),
    (
        "submitter cannot read other stacks",
        "dev",
        "submitter",
        "cloudformation:DescribeStacks",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/other/id",
        {},
        False,
    ),
]


@pytest.mark.parametrize(
    ("env", "who", "action", "resource", "extra", "expected"),
    [case[1:] for case in REQUESTS],
    ids=[case[0] for case in REQUESTS],
)
def test_request(
    worlds: dict[str, World],
    env: str,
    who: str,
    action: str,
    resource: str,
    extra: dict[str, str | None],
    expected: bool,
) -> None:
    world = worlds[env]
    assert world.allowed(who, action, world.arn(resource), extra) is expected


JOB = "arn:aws:bedrock:{region}:{account}:model-invocation-job/abc123"
# (case, service, aws:SourceAccount, aws:SourceArn, may assume?)
TRUST: list[tuple[str, str, str | None, str | None, bool]] = [
    ("Bedrock for a batch job of this account and Region", "bedrock.amazonaws.com", "{account}", JOB, True),
    ("missing SourceArn", "bedrock.amazonaws.com", "{account}", None, False),
    ("missing SourceAccount", "bedrock.amazonaws.com", None, JOB, False),
    (
        "another account",
        "bedrock.amazonaws.com",
        OTHER_ACCOUNT,
        JOB.replace("{account}", OTHER_ACCOUNT),
        False,
    ),
    (
        "job of another account",
        "bedrock.amazonaws.com",
        "{account}",
        JOB.replace("{account}", OTHER_ACCOUNT),
        False,
    ),
    (
        "job in another Region",
        "bedrock.amazonaws.com",
        "{account}",
        JOB.replace("{region}", "ap-south-1"),
        False,
    ),
    (
        "another Bedrock job type",
        "bedrock.amazonaws.com",
        "{account}",
        "arn:aws:bedrock:{region}:{account}:model-customization-job/abc123",
        False,
    ),
    ("another service", "sagemaker.amazonaws.com", "{account}", JOB, False),
]


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize(
    ("service", "source_account", "source_arn", "expected"),
    [case[1:] for case in TRUST],
    ids=[case[0] for case in TRUST],
)
def test_trust_policy(
    worlds: dict[str, World],
    env: str,
    service: str,
    source_account: str | None,
    source_arn: str | None,
    expected: bool,
) -> None:
    world = worlds[env]
    context = {}
    if source_account is not None:
        context["aws:SourceAccount"] = world.arn(source_account)
    if source_arn is not None:
        context["aws:SourceArn"] = world.arn(source_arn)
    trust = world.service.node.trust_policy
    assert len(as_list(trust["Statement"])) == 1
    assert service_may_assume(trust, service, world.names["role"], context) is expected
