"""The emulator's IAM policy evaluator, table-driven: each row is one documented IAM rule."""

from __future__ import annotations

from typing import Any

import pytest

from batch_runner.local.iam_policy import AccessRequest, Decision, evaluate

ALLOW, DENY, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY
BUCKET = "arn:aws:s3:::input-bucket"
JOB = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefabcdef"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def get(resource: str = f"{BUCKET}/a/b.jsonl", **context: Any) -> AccessRequest:
    return AccessRequest(action="s3:GetObject", resource=resource, context=context)


CASES: list[tuple[str, list[dict[str, Any]], AccessRequest, Decision]] = [
    ("no policy", [], get(), IMPLICIT),
    ("exact allow", [policy(allow(resource=f"{BUCKET}/a/b.jsonl"))], get(), ALLOW),
    ("resource wildcard crosses slashes", [policy(allow(resource=f"{BUCKET}/*"))], get(), ALLOW),
    ("bucket ARN is not its objects", [policy(allow(resource=BUCKET))], get(), IMPLICIT),
    ("question mark is one character", [policy(allow(resource=f"{BUCKET}/a/?.jsonl"))], get(), ALLOW),
    ("resource match is case-sensitive", [policy(allow(resource=f"{BUCKET}/A/*"))], get(), IMPLICIT),
    ("action match ignores case", [policy(allow(action="S3:getobject"))], get(), ALLOW),
    ("action wildcard", [policy(allow(action="s3:Get*"))], get(), ALLOW),
    ("other action", [policy(allow(action="s3:PutObject"))], get(), IMPLICIT),
    ("action list", [policy(allow(action=["s3:PutObject", "s3:GetObject"]))], get(), ALLOW),
    (
        "explicit deny wins",
        [policy(allow()), policy({"Effect": "Deny", "Action": "s3:*", "Resource": "*"})],
        get(),
        DENY,
    ),
    (
        "NotAction allows the rest",
        [policy({"Effect": "Allow", "NotAction": "s3:PutObject", "Resource": "*"})],
        get(),
        ALLOW,
    ),
    (
        "NotAction excludes",
        [policy({"Effect": "Allow", "NotAction": "s3:Get*", "Resource": "*"})],
        get(),
        IMPLICIT,
    ),
    (
        "NotResource",
        [policy({"Effect": "Allow", "Action": "s3:*", "NotResource": f"{BUCKET}/secret/*"})],
        get(),
        ALLOW,
    ),
    (
        "NotResource excludes",
        [policy({"Effect": "Allow", "Action": "s3:*", "NotResource": f"{BUCKET}/a/*"})],
        get(),
        IMPLICIT,
    ),
    (
        "StringEquals met",
        [policy(allow(Condition={"StringEquals": {"aws:ResourceAccount": "123456789012"}}))],
        get(**{"aws:ResourceAccount": "123456789012"}),
        ALLOW,
    ),
    (
        "StringEquals list is OR",
        [policy(allow(Condition={"StringEquals": {"aws:ResourceAccount": ["1", "123456789012"]}}))],
        get(**{"aws:ResourceAccount": "123456789012"}),
        ALLOW,
    ),
    (
        "StringEquals not met",
        [policy(allow(Condition={"StringEquals": {"aws:ResourceAccount": "999999999999"}}))],
        get(**{"aws:ResourceAccount": "123456789012"}),
        IMPLICIT,
    ),
    (
        "StringEquals key missing",
        [policy(allow(Condition={"StringEquals": {"aws:ResourceAccount": "1"}}))],
        get(),
        IMPLICIT,
    ),
    (
        "condition keys ignore case",
        [policy(allow(Condition={"StringEquals": {"AWS:resourceaccount": "1"}}))],
        get(**{"aws:ResourceAccount": "1"}),
        ALLOW,
    ),
    (
        "condition values do not",
        [policy(allow(Condition={"StringEquals": {"aws:PrincipalTag/team": "ML"}}))],
        get(**{"aws:PrincipalTag/team": "ml"}),
        IMPLICIT,
    ),
    (
        "StringEqualsIgnoreCase",
        [policy(allow(Condition={"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "ML"}}))],
        get(**{"aws:PrincipalTag/team": "ml"}),
        ALLOW,
    ),
    (
        "StringNotEquals met",
        [policy(allow(Condition={"StringNotEquals": {"aws:ResourceAccount": "2"}}))],
        get(**{"aws:ResourceAccount": "1"}),
        ALLOW,
    ),
    (
        "StringNotEquals missing key is true",
        [policy(allow(Condition={"StringNotEquals": {"aws:ResourceAccount": "2"}}))],
        get(),
        ALLOW,
    ),
    (
        "StringLike",
        [policy(allow(Condition={"StringLike": {"s3:prefix": "runs/*"}}))],
        get(**{"s3:prefix": "runs/2024/x"}),
        ALLOW,
    ),
    (
        "StringNotLike",
        [policy(allow(Condition={"StringNotLike": {"s3:prefix": "runs/*"}}))],
        get(**{"s3:prefix": "runs/2024/x"}),
        IMPLICIT,
    ),
    (
        "ArnLike per segment",
        [
            policy(
                allow(
                    Condition={
                        "ArnLike": {
                            "aws:SourceArn": "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/*"
                        }
                    }
                )
            )
        ],
        get(**{"aws:SourceArn": JOB}),
        ALLOW,
    ),
    (
        "ArnLike wrong region",
        [policy(allow(Condition={"ArnLike": {"aws:SourceArn": "arn:aws:bedrock:eu-west-1:123456789012:*"}}))],
        get(**{"aws:SourceArn": JOB}),
        IMPLICIT,
    ),
    (
        "ArnEquals takes wildcards too",
        [
            policy(
                allow(
                    Condition={
                        "ArnEquals": {
                            "aws:SourceArn": "arn:aws:bedrock:*:123456789012:model-invocation-job/*"
                        }
                    }
                )
            )
        ],
        get(**{"aws:SourceArn": JOB}),
        ALLOW,
    ),
    (
        "ArnLike star stays in its segment",
        [policy(allow(Condition={"ArnLike": {"aws:SourceArn": "arn:aws:bedrock:*:model-invocation-job/*"}}))],
        get(**{"aws:SourceArn": JOB}),
        IMPLICIT,
    ),
    (
        "ArnNotLike",
        [policy(allow(Condition={"ArnNotLike": {"aws:SourceArn": "arn:aws:bedrock:*:*:*"}}))],
        get(**{"aws:SourceArn": JOB}),
        IMPLICIT,
    ),
    (
        "Bool true",
        [policy(allow(Condition={"Bool": {"aws:SecureTransport": "true"}}))],
        get(**{"aws:SecureTransport": True}),
        ALLOW,
    ),
    (
        "deny insecure transport",
        [
            policy(
                allow(),
                {
                    "Effect": "Deny",
                    "Action": "s3:*",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            )
        ],
        get(**{"aws:SecureTransport": True}),
        ALLOW,
    ),
    (
        "deny insecure transport applies",
        [
            policy(
                allow(),
                {
                    "Effect": "Deny",
                    "Action": "s3:*",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            )
        ],
        get(**{"aws:SecureTransport": False}),
        DENY,
    ),
    (
        "Null true means absent",
        [policy(allow(Condition={"Null": {"aws:MultiFactorAuthAge": "true"}}))],
        get(),
        ALLOW,
    ),
    (
        "Null false means present",
        [policy(allow(Condition={"Null": {"aws:MultiFactorAuthAge": "false"}}))],
        get(),
        IMPLICIT,
    ),
    (
        "NumericLessThanEquals",
        [policy(allow(Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}}))],
        get(**{"s3:max-keys": 10}),
        ALLOW,
    ),
    (
        "NumericGreaterThan",
        [policy(allow(Condition={"NumericGreaterThan": {"s3:max-keys": "10"}}))],
        get(**{"s3:max-keys": 10}),
        IMPLICIT,
    ),
    (
        "DateLessThan",
        [policy(allow(Condition={"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}))],
        get(**{"aws:CurrentTime": "2026-11-26T00:00:00Z"}),
        ALLOW,
    ),
    (
        "IpAddress",
        [policy(allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))],
        get(**{"aws:SourceIp": "10.1.2.3"}),
        ALLOW,
    ),
    (
        "NotIpAddress",
        [policy(allow(Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))],
        get(**{"aws:SourceIp": "10.1.2.3"}),
        IMPLICIT,
    ),
    (
        "IfExists with missing key",
        [policy(allow(Condition={"StringEqualsIfExists": {"aws:ResourceAccount": "2"}}))],
        get(),
        ALLOW,
    ),
    (
        "IfExists with present key",
        [policy(allow(Condition={"StringEqualsIfExists": {"aws:ResourceAccount": "2"}}))],
        get(**{"aws:ResourceAccount": "1"}),
        IMPLICIT,
    ),
    (
        "every operator must hold",
        [policy(allow(Condition={"StringEquals": {"a:x": "1"}, "Bool": {"a:y": "true"}}))],
        get(**{"a:x": "1", "a:y": False}),
        IMPLICIT,
    ),
    (
        "ForAnyValue one matches",
        [policy(allow(Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}))],
        get(**{"aws:TagKeys": ["env", "team"]}),
        ALLOW,
    ),
    (
        "ForAnyValue missing key",
        [policy(allow(Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}))],
        get(),
        IMPLICIT,
    ),
    (
        "ForAllValues all match",
        [policy(allow(Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}))],
        get(**{"aws:TagKeys": ["env", "team"]}),
        ALLOW,
    ),
    (
        "ForAllValues one outside",
        [policy(allow(Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}))],
        get(**{"aws:TagKeys": ["env", "team"]}),
        IMPLICIT,
    ),
    (
        "ForAllValues missing key is true",
        [policy(allow(Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}))],
        get(),
        ALLOW,
    ),
    ("a statement object, not a list", [{"Version": "2012-10-17", "Statement": allow()}], get(), ALLOW),
    (
        "a JSON string document",
        ['{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'],
        get(),
        ALLOW,
    ),
    (
        "a URL-encoded document",
        [
            "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D"
        ],
        get(),
        ALLOW,
    ),
]


@pytest.mark.parametrize(
    ("case", "policies", "request_", "expected"), CASES, ids=[case for case, _, _, _ in CASES]
)
def test_identity_policies(
    case: str, policies: list[Any], request_: AccessRequest, expected: Decision
) -> None:
    assert evaluate(policies, request_) is expected


def trust(principal: Any, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return policy(statement)


def assume(service: str = "bedrock.amazonaws.com", **context: Any) -> AccessRequest:
    return AccessRequest(action="sts:AssumeRole", principal={"Service": [service]}, context=context)


BEDROCK_CONTEXT = {"aws:SourceAccount": "123456789012", "aws:SourceArn": JOB}
SCOPED = {
    "StringEquals": {"aws:SourceAccount": "123456789012"},
    "ArnLike": {"aws:SourceArn": "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/*"},
}
TRUST_CASES = [
    ("service trusted", trust({"Service": "bedrock.amazonaws.com"}), assume(), ALLOW),
    (
        "service in a list",
        trust({"Service": ["ec2.amazonaws.com", "bedrock.amazonaws.com"]}),
        assume(),
        ALLOW,
    ),
    ("other service", trust({"Service": "ec2.amazonaws.com"}), assume(), IMPLICIT),
    (
        "confused-deputy conditions met",
        trust({"Service": "bedrock.amazonaws.com"}, **SCOPED),
        assume(**BEDROCK_CONTEXT),
        ALLOW,
    ),
    (
        "scoped to another account",
        trust({"Service": "bedrock.amazonaws.com"}, StringEquals={"aws:SourceAccount": "111122223333"}),
        assume(**BEDROCK_CONTEXT),
        IMPLICIT,
    ),
    ("star principal", trust("*"), assume(), ALLOW),
    (
        "account principal is not a service",
        trust({"AWS": "arn:aws:iam::123456789012:root"}),
        assume(),
        IMPLICIT,
    ),
    (
        "NotPrincipal",
        policy(
            {
                "Effect": "Deny",
                "NotPrincipal": {"Service": "bedrock.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ),
        assume("ec2.amazonaws.com"),
        DENY,
    ),
]


@pytest.mark.parametrize(
    ("case", "document", "request_", "expected"), TRUST_CASES, ids=[case for case, _, _, _ in TRUST_CASES]
)
def test_trust_policies(
    case: str, document: dict[str, Any], request_: AccessRequest, expected: Decision
) -> None:
    assert evaluate([document], request_) is expected


def test_aws_account_principal_covers_the_accounts_roles() -> None:
    document = trust({"AWS": "123456789012"})
    role = AccessRequest(
        action="sts:AssumeRole", principal={"AWS": ["arn:aws:iam::123456789012:role/runner"]}
    )
    other = AccessRequest(
        action="sts:AssumeRole", principal={"AWS": ["arn:aws:iam::999999999999:role/runner"]}
    )
    assert evaluate([document], role) is ALLOW
    assert evaluate([document], other) is IMPLICIT


def test_unknown_condition_operator_is_an_error() -> None:
    with pytest.raises(ValueError, match="unsupported condition operator StringSortOf"):
        evaluate([policy(allow(Condition={"StringSortOf": {"a:b": "c"}}))], get(**{"a:b": "c"}))
