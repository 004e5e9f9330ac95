"""Jobs with a vpcConfig: validation fails unless the role may manage the job's network interfaces."""

from __future__ import annotations

from typing import Any

import pytest

from batch_runner.local import Emulator
from tests.emulator.helpers import create_job
from tests.emulator.test_job_validation import final_job, make_role, s3_policy, trust_policy

SUBNETS = ["subnet-0a1b2c3d4e5f60718", "subnet-0b1c2d3e4f5a60718"]
GROUPS = ["sg-0a1b2c3d4e5f60718"]
VPC = {"subnetIds": SUBNETS, "securityGroupIds": GROUPS}
EC2 = "arn:aws:ec2:us-east-1:123456789012"
JOBS = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/*"


def vpc_statements(subnets: list[str], groups: list[str]) -> list[dict[str, Any]]:
    """The statements of the user guide's batch-vpc page (as stacks/service_role.py grants them)."""
    eni = f"{EC2}:network-interface/*"
    subnet_arns = [f"{EC2}:subnet/{s}" for s in subnets]
    return [
        {
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeVpcs",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": "ec2:CreateNetworkInterface",
            "Resource": eni,
            "Condition": {
                "StringEquals": {"aws:RequestTag/BedrockManaged": "true"},
                "ArnEquals": {"aws:RequestTag/BedrockModelInvocationJobArn": JOBS},
            },
        },
        {
            "Effect": "Allow",
            "Action": "ec2:CreateNetworkInterface",
            "Resource": [*subnet_arns, *(f"{EC2}:security-group/{g}" for g in groups)],
        },
        {
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            "Resource": eni,
            "Condition": {
                "ArnEquals": {"ec2:Subnet": subnet_arns},
                "ArnLike": {"ec2:ResourceTag/BedrockModelInvocationJobArn": JOBS},
            },
        },
        {
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": eni,
            "Condition": {
                "StringEquals": {"ec2:CreateAction": "CreateNetworkInterface"},
                "ForAllValues:StringEquals": {
                    "aws:TagKeys": ["BedrockManaged", "BedrockModelInvocationJobArn"]
                },
            },
        },
    ]


def vpc_role(emulator: Emulator, subnets: list[str] = SUBNETS, groups: list[str] = GROUPS) -> str:
    policy = s3_policy(emulator)
    policy["Statement"] += vpc_statements(subnets, groups)
    return make_role(emulator, trust_policy(), policy)


def test_a_role_with_the_documented_network_permissions_runs_a_vpc_job(emulator: Emulator) -> None:
    job = final_job(emulator, create_job(emulator, roleArn=vpc_role(emulator), vpcConfig=VPC))
    assert job["status"] == "Completed"
    assert job["vpcConfig"] == VPC


def test_a_vpc_job_whose_role_lacks_network_permissions_fails_validation(emulator: Emulator) -> None:
    role = make_role(emulator, trust_policy(), s3_policy(emulator))
    job = final_job(emulator, create_job(emulator, roleArn=role, vpcConfig=VPC))
    assert job["status"] == "Failed"
    assert f"The role {role} is not allowed to perform ec2:DescribeNetworkInterfaces" in job["message"]


@pytest.mark.parametrize(
    ("subnets", "groups", "missing"),
    [
        (["subnet-0ffffffffffffffff"], GROUPS, f"{EC2}:subnet/{SUBNETS[0]}"),
        (SUBNETS, ["sg-0ffffffffffffffff"], f"{EC2}:security-group/{GROUPS[0]}"),
    ],
    ids=["another subnet", "another security group"],
)
def test_a_role_granted_other_subnets_or_groups_fails_validation(
    emulator: Emulator, subnets: list[str], groups: list[str], missing: str
) -> None:
    job = final_job(
        emulator, create_job(emulator, roleArn=vpc_role(emulator, subnets, groups), vpcConfig=VPC)
    )
    assert job["status"] == "Failed"
    assert f"ec2:CreateNetworkInterface on {missing}" in job["message"]


def test_the_stack_role_without_a_vpc_in_its_environment_cannot_run_a_vpc_job(emulator: Emulator) -> None:
    job = final_job(emulator, create_job(emulator, vpcConfig=VPC))
    assert job["status"] == "Failed"
    assert "ec2:" in job["message"]
