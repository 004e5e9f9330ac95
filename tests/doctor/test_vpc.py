"""doctor with a VPC configuration: the service role must manage network interfaces in exactly the
subnets and security groups the jobs will name."""

from __future__ import annotations

from batch_runner.aws.clients import AwsContext
from batch_runner.aws.settings import Overrides
from batch_runner.doctor import run_checks
from batch_runner.doctor.vpc import VPC
from batch_runner.local import Emulator
from tests.doctor.identities import CLAUDE
from tests.emulator.test_job_validation import make_role, s3_policy, trust_policy
from tests.emulator.test_vpc_jobs import GROUPS, SUBNETS, vpc_role

FLAGS = {"subnet_ids": ",".join(SUBNETS), "security_group_ids": ",".join(GROUPS)}


def vpc_check(emulator_ctx: AwsContext, role: str, **vpc: str) -> dict[str, object]:
    results = {
        r.name: r for r in run_checks(emulator_ctx, Overrides(role_arn=role, **vpc), [CLAUDE], environ={})
    }
    return {"ok": results[VPC].ok, "detail": results[VPC].detail, "fix": results[VPC].fix}


def test_a_role_granted_the_subnets_and_groups_passes(emulator: Emulator, emulator_ctx: AwsContext) -> None:
    check = vpc_check(emulator_ctx, vpc_role(emulator), **FLAGS)
    assert check["ok"] is True
    assert SUBNETS[0] in str(check["detail"]) and GROUPS[0] in str(check["detail"])


def test_a_role_without_network_permissions_fails_with_the_statements_it_lacks(
    emulator: Emulator, emulator_ctx: AwsContext
) -> None:
    role = make_role(emulator, trust_policy(), s3_policy(emulator))
    check = vpc_check(emulator_ctx, role, **FLAGS)
    assert check["ok"] is False
    assert "ec2:CreateNetworkInterface on arn:aws:ec2:us-east-1:123456789012:subnet/" in str(check["detail"])
    assert "stacks/environments.yaml" in str(check["fix"]) and '"ec2:DescribeSubnets"' in str(check["fix"])


def test_subnets_other_than_the_granted_ones_fail(emulator: Emulator, emulator_ctx: AwsContext) -> None:
    check = vpc_check(
        emulator_ctx, vpc_role(emulator), subnet_ids="subnet-0ffffffffffffffff", security_group_ids=GROUPS[0]
    )
    assert check["ok"] is False
    assert "subnet/subnet-0ffffffffffffffff" in str(check["detail"])


def test_no_vpc_no_check(emulator_ctx: AwsContext) -> None:
    assert VPC not in {r.name for r in run_checks(emulator_ctx, models=[CLAUDE], environ={})}
