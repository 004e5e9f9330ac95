"""The emulator's default credentials are an IAM user holding the submitter policy: a fresh emulator
passes doctor, and taking the policy away fails it, as on AWS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from batch_runner.aws.clients import AwsContext
from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.cli.doctor import exit_code
from batch_runner.doctor import run_checks
from batch_runner.local import Emulator
from batch_runner.local.local_identity import DEFAULT_ACCESS_KEY, USER_NAME
from tests.doctor.identities import ACCOUNT


@pytest.fixture
def default_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


@pytest.fixture
def without_submitter_policy(emulator: Emulator) -> Iterator[None]:
    iam, policy = emulator.client("iam"), emulator.stack_outputs[OutputKey.SUBMITTER_POLICY_ARN]
    iam.detach_user_policy(UserName=USER_NAME, PolicyArn=policy)
    try:
        yield
    finally:
        iam.attach_user_policy(UserName=USER_NAME, PolicyArn=policy)


def test_the_default_credentials_pass_every_check(
    default_credentials: None, emulator_ctx: AwsContext
) -> None:
    results = run_checks(emulator_ctx, environ={})
    assert [r for r in results if r.ok is not True] == []
    assert exit_code(results) == 0
    assert results[0].detail.startswith(f"arn:aws:iam::{ACCOUNT}:user/{USER_NAME} ")


def test_without_the_submitter_policy_the_default_credentials_fail_doctor_and_create_no_job(
    default_credentials: None, without_submitter_policy: None, emulator: Emulator, emulator_ctx: AwsContext
) -> None:
    results = {r.name: r for r in run_checks(emulator_ctx, environ={})}
    assert results["caller may pass the role"].ok is False
    assert results["caller may manage jobs"].ok is False
    assert exit_code(list(results.values())) == 1
