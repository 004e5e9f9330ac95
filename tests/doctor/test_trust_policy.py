"""The trust-policy reader doctor uses instead of the IAM simulator (which skips trust policies)."""

from __future__ import annotations

from typing import Any

import pytest

from batch_runner.aws.clients import AwsContext
from batch_runner.doctor.caller import principal_arn
from batch_runner.doctor.result import CheckTarget
from batch_runner.doctor.trust_policy import UnsupportedPolicy, admits_bedrock, load

ACCOUNT = "123456789012"
JOB = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:model-invocation-job/abcdefghijkl"
OWN = {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": JOB}
FOREIGN = {"aws:SourceAccount": "999999999999", "aws:SourceArn": JOB.replace(ACCOUNT, "999999999999")}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any = None, action: Any = "sts:AssumeRole", **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal or {"Service": "bedrock.amazonaws.com"},
        "Action": action,
    }
    if condition:
        statement["Condition"] = condition
    return statement


STACK_STYLE = allow(
    StringEquals={"aws:SourceAccount": ACCOUNT},
    ArnLike={"aws:SourceArn": f"arn:aws:bedrock:us-east-1:{ACCOUNT}:model-invocation-job/*"},
)


@pytest.mark.parametrize(
    ("document", "context", "admitted"),
    [
        (policy(STACK_STYLE), OWN, True),
        (policy(STACK_STYLE), FOREIGN, False),
        (policy(STACK_STYLE), {"aws:SourceAccount": ACCOUNT}, False),  # a condition key missing
        (policy(allow({"Service": "ec2.amazonaws.com"})), OWN, False),
        (policy(allow({"Service": ["ec2.amazonaws.com", "bedrock.amazonaws.com"]})), OWN, True),
        (policy(allow("*")), OWN, True),
        (policy(allow(action="sts:*")), OWN, True),
        (policy(allow(action="sts:TagSession")), OWN, False),
        (policy(allow(StringEqualsIfExists={"aws:SourceAccount": ACCOUNT})), {}, True),
        (policy(allow(StringNotEquals={"aws:SourceAccount": "999999999999"})), FOREIGN, False),
        (policy(allow(StringLike={"aws:SourceArn": "arn:aws:bedrock:*:123456789012:*"})), OWN, True),
        (policy(allow(ArnEquals={"aws:SourceArn": "arn:aws:bedrock:eu-west-1:*:*"})), OWN, False),
        (policy(STACK_STYLE, {**allow(), "Effect": "Deny"}), OWN, False),
        ({"Statement": allow()}, OWN, True),  # a single statement need not be a list
    ],
)
def test_admits_bedrock(document: dict[str, Any], context: dict[str, str], admitted: bool) -> None:
    assert admits_bedrock(document, context) is admitted


def test_condition_keys_are_case_insensitive() -> None:
    document = policy(allow(StringEquals={"AWS:SOURCEACCOUNT": ACCOUNT}))
    assert admits_bedrock(document, OWN) is True


def test_unsupported_constructs_are_reported_not_guessed() -> None:
    with pytest.raises(UnsupportedPolicy):
        admits_bedrock(policy(allow(**{"ForAnyValue:StringEquals": {"aws:SourceAccount": ACCOUNT}})), OWN)
    with pytest.raises(UnsupportedPolicy):
        admits_bedrock(
            policy({"Effect": "Allow", "NotPrincipal": {"AWS": "x"}, "Action": "sts:AssumeRole"}), OWN
        )


def test_url_encoded_documents_are_read() -> None:
    assert load("%7B%22Statement%22%3A%20%5B%5D%7D") == {"Statement": []}


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        (f"arn:aws:iam::{ACCOUNT}:root", None),
        (f"arn:aws:iam::{ACCOUNT}:user/ops/alice", f"arn:aws:iam::{ACCOUNT}:user/ops/alice"),
    ],
)
def test_principal_arn(caller: str, expected: str | None) -> None:
    target = CheckTarget(aws=AwsContext(region="us-east-1"), region="us-east-1", caller_arn=caller)
    assert principal_arn(target) == expected
