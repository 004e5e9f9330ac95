"""Identities and broken resources for doctor tests, created in the session emulator's moto state.

Every helper makes fresh, uniquely named users, roles and buckets, so the dev stack itself is never
changed and tests stay independent.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.local import Emulator

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
# What doctor itself reads beyond the submitter policy: the simulator, role details, model access.
DOCTOR_READS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "iam:SimulatePrincipalPolicy",
                "iam:GetRole",
                "bedrock:GetFoundationModelAvailability",
            ],
            "Resource": "*",
        }
    ],
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def submitter_policy(emulator: Emulator) -> dict[str, Any]:
    """The stack's submitter policy document, as deployed."""
    iam = emulator.client("iam")
    arn = emulator.stack_outputs[OutputKey.SUBMITTER_POLICY_ARN]
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document: dict[str, Any] = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"][
        "Document"
    ]
    return document


def create_user(emulator: Emulator, *policies: dict[str, Any]) -> dict[str, str]:
    """An IAM user with these inline policies; returns its access key."""
    iam = emulator.client("iam")
    user = unique("doctor")
    iam.create_user(UserName=user)
    for index, policy in enumerate(policies):
        iam.put_user_policy(UserName=user, PolicyName=f"p{index}", PolicyDocument=json.dumps(policy))
    key: dict[str, str] = iam.create_access_key(UserName=user)["AccessKey"]
    return key


# Any access key the emulator does not know is the account root (allowed everything), as the emulator's
# own clients are; the default key "testing" is the submitter user batch-runner-local.
ROOT_KEY = {"AccessKeyId": "emulator-root", "SecretAccessKey": "testing"}


def use_key(monkeypatch: pytest.MonkeyPatch, key: dict[str, str]) -> None:
    """Make every new boto3 session in this test use that IAM user's access key."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


def submitter_key(emulator: Emulator) -> dict[str, str]:
    """A user with exactly the stack's submitter policy plus what doctor reads."""
    return create_user(emulator, submitter_policy(emulator), DOCTOR_READS)


def create_role(emulator: Emulator, trust: dict[str, Any], copy_from_stack: bool = True) -> str:
    """A role with this trust policy and (by default) the stack service role's permissions."""
    iam = emulator.client("iam")
    name = unique("role")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if copy_from_stack:
        stack_role = emulator.stack_outputs[OutputKey.SERVICE_ROLE_ARN].rsplit("/", 1)[-1]
        for policy in iam.list_role_policies(RoleName=stack_role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=stack_role, PolicyName=policy)["PolicyDocument"]
            iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(document))
        for attached in iam.list_attached_role_policies(RoleName=stack_role)["AttachedPolicies"]:
            iam.attach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    return arn


def trust(service: str = "bedrock.amazonaws.com", **conditions: dict[str, str]) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if conditions:
        statement["Condition"] = conditions
    return {"Version": "2012-10-17", "Statement": [statement]}
