"""The emulator's IAM policy evaluator, table-driven: each row is one documented IAM rule."""

from __future__ import annotations

from typing import Any

import pytest

from batch_runner.local.iam_policy import AccessRequest, Decision, evaluate

ALLOW, DENY, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY
BUCKET = "arn:aws:s3:::input-bucket"
MISSING = object()  # the condition key is absent from the request context
ACCOUNT = "123456789012"
JOB = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefabcdef"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def get(resource: str = f"{BUCKET}/a/b.jsonl", **context: Any) -> AccessRequest:
    return AccessRequest(action="s3:GetObject", resource=resource, context=context)


# What CDK's enforceSSL adds to a bucket policy.
ENFORCE_TLS = {
    "Effect": "Deny",
    "Action": "s3:*",
    "Resource": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}

CASES: list[tuple[str, list[Any], AccessRequest, Decision]] = [
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
        "condition keys ignore case",
        [policy(allow(Condition={"StringEquals": {"AWS:resourceaccount": "1"}}))],
        get(**{"aws:ResourceAccount": "1"}),
        ALLOW,
    ),
    ("deny insecure transport", [policy(allow(), ENFORCE_TLS)], get(**{"aws:SecureTransport": True}), ALLOW),
    (
        "deny insecure transport applies",
        [policy(allow(), ENFORCE_TLS)],
        get(**{"aws:SecureTransport": False}),
        DENY,
    ),
    (
        "every operator must hold",
        [policy(allow(Condition={"StringEquals": {"a:x": "1"}, "Bool": {"a:y": "true"}}))],
        get(**{"a:x": "1", "a:y": False}),
        IMPLICIT,
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

# One condition per row: (case, operator, key, policy value, request value or MISSING, decision).
CONDITIONS: list[tuple[str, str, str, Any, Any, Decision]] = [
    (
        "ArnLike per segment",
        "ArnLike",
        "aws:SourceArn",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:model-invocation-job/*",
        JOB,
        ALLOW,
    ),
    (
        "ArnEquals takes wildcards too",
        "ArnEquals",
        "aws:SourceArn",
        f"arn:aws:bedrock:*:{ACCOUNT}:model-invocation-job/*",
        JOB,
        ALLOW,
    ),
    ("StringEquals met", "StringEquals", "aws:ResourceAccount", "123456789012", "123456789012", ALLOW),
    (
        "StringEquals list is OR",
        "StringEquals",
        "aws:ResourceAccount",
        ["1", "123456789012"],
        "123456789012",
        ALLOW,
    ),
    ("StringEquals not met", "StringEquals", "aws:ResourceAccount", "999999999999", "123456789012", IMPLICIT),
    ("StringEquals key missing", "StringEquals", "aws:ResourceAccount", "1", MISSING, IMPLICIT),
    ("condition values do not", "StringEquals", "aws:PrincipalTag/team", "ML", "ml", IMPLICIT),
    ("StringEqualsIgnoreCase", "StringEqualsIgnoreCase", "aws:PrincipalTag/team", "ML", "ml", ALLOW),
    ("StringNotEquals met", "StringNotEquals", "aws:ResourceAccount", "2", "1", ALLOW),
    ("StringNotEquals missing key is true", "StringNotEquals", "aws:ResourceAccount", "2", MISSING, ALLOW),
    ("StringLike", "StringLike", "s3:prefix", "runs/*", "runs/2024/x", ALLOW),
    ("StringNotLike", "StringNotLike", "s3:prefix", "runs/*", "runs/2024/x", IMPLICIT),
    (
        "ArnLike wrong region",
        "ArnLike",
        "aws:SourceArn",
        "arn:aws:bedrock:eu-west-1:123456789012:*",
        JOB,
        IMPLICIT,
    ),
    (
        "ArnLike star stays in its segment",
        "ArnLike",
        "aws:SourceArn",
        "arn:aws:bedrock:*:model-invocation-job/*",
        JOB,
        IMPLICIT,
    ),
    ("ArnNotLike", "ArnNotLike", "aws:SourceArn", "arn:aws:bedrock:*:*:*", JOB, IMPLICIT),
    ("Bool true", "Bool", "aws:SecureTransport", "true", True, ALLOW),
    ("Null true means absent", "Null", "aws:MultiFactorAuthAge", "true", MISSING, ALLOW),
    ("Null false means present", "Null", "aws:MultiFactorAuthAge", "false", MISSING, IMPLICIT),
    ("NumericLessThanEquals", "NumericLessThanEquals", "s3:max-keys", "10", 10, ALLOW),
    ("NumericGreaterThan", "NumericGreaterThan", "s3:max-keys", "10", 10, IMPLICIT),
    (
        "DateLessThan",
        "DateLessThan",
        "aws:CurrentTime",
        "2030-01-01T00:00:00Z",
        "2026-11-26T00:00:00Z",
        ALLOW,
    ),
    ("IpAddress", "IpAddress", "aws:SourceIp", "10.0.0.0/8", "10.1.2.3", ALLOW),
    ("NotIpAddress", "NotIpAddress", "aws:SourceIp", "10.0.0.0/8", "10.1.2.3", IMPLICIT),
    ("IfExists with missing key", "StringEqualsIfExists", "aws:ResourceAccount", "2", MISSING, ALLOW),
    ("IfExists with present key", "StringEqualsIfExists", "aws:ResourceAccount", "2", "1", IMPLICIT),
    ("ForAnyValue one matches", "ForAnyValue:StringEquals", "aws:TagKeys", ["team"], ["env", "team"], ALLOW),
    ("ForAnyValue missing key", "ForAnyValue:StringEquals", "aws:TagKeys", ["team"], MISSING, IMPLICIT),
    (
        "ForAllValues all match",
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        ["team", "env"],
        ["env", "team"],
        ALLOW,
    ),
    (
        "ForAllValues one outside",
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        ["team"],
        ["env", "team"],
        IMPLICIT,
    ),
    (
        "ForAllValues missing key is true",
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        ["team"],
        MISSING,
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


@pytest.mark.parametrize(
    ("case", "operator", "key", "policy_value", "request_value", "expected"),
    CONDITIONS,
    ids=[case for case, *_ in CONDITIONS],
)
def test_condition_operators(
    case: str, operator: str, key: str, policy_value: Any, request_value: Any, expected: Decision
) -> None:
    document = policy(allow(Condition={operator: {key: policy_value}}))
    context = {} if request_value is MISSING else {key: request_value}
    assert evaluate([document], get(**context)) is expected


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
