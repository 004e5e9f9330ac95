"""The role Amazon Bedrock assumes to run batch jobs: read input, write output, invoke the allowed models."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.config import VpcConfig
from stacks.encryption import data_key_statement
from stacks.model_access import ModelRef
from stacks.model_grants import INVOKE, model_statements, profile_wildcards
from stacks.security_checks import acknowledge_wildcard_resources

BEDROCK_SERVICE = "bedrock.amazonaws.com"


def pass_role_statement(role: iam.IRole) -> iam.PolicyStatement:
    """``iam:PassRole`` on this service role only, and only to Bedrock (who creates jobs needs it)."""
    return iam.PolicyStatement(
        sid="PassServiceRoleToBedrock",
        actions=["iam:PassRole"],
        resources=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": BEDROCK_SERVICE}},
    )


def job_arn_pattern(stack: Stack) -> str:
    return stack.format_arn(service="bedrock", resource="model-invocation-job", resource_name="*")


def job_statement(stack: Stack, *extra_actions: str) -> iam.PolicyStatement:
    """Create, watch, stop and tag jobs of this account and Region (whoever submits: the runner or
    the scheduler). The runner tags each job with its run ID at creation, to find it after a crash."""
    return iam.PolicyStatement(
        sid="CreateWatchStopAndTagJobs",
        actions=[
            "bedrock:CreateModelInvocationJob",
            "bedrock:GetModelInvocationJob",
            "bedrock:StopModelInvocationJob",
            "bedrock:TagResource",
            *extra_actions,
        ],
        resources=[job_arn_pattern(stack)],
    )


class BedrockServiceRole(Construct):
    """Service role for ``CreateModelInvocationJob(roleArn=...)``.

    Trusted by Bedrock only for batch jobs of this account and Region (confused-deputy protection);
    permissions are exactly what a job needs.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        models: Sequence[ModelRef],
        encryption_key: kms.IKey | None,
        vpc: VpcConfig | None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            description=f"Assumed by Amazon Bedrock to run batch inference jobs of {stack.stack_name}",
            assumed_by=iam.ServicePrincipal(
                BEDROCK_SERVICE,
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": job_arn_pattern(stack)},
                },
            ),
        )
        statements = self._data_access(input_bucket, output_bucket, stack.account)
        if encryption_key is not None:
            statements.append(data_key_statement(self, encryption_key))
        if vpc is not None:
            statements.extend(_vpc_statements(vpc, stack))

        # Customer-managed policies rather than inline ones: versioned and reviewable on their own.
        # The model grants get a policy of their own: profiles expand to many ARNs, and one managed
        # policy holds at most 6,144 characters.
        self.policy = iam.ManagedPolicy(
            self,
            "Permissions",
            description=f"What Amazon Bedrock may do while running batch jobs of {stack.stack_name}",
            statements=statements,
            roles=[self.role],
        )
        invoke = model_statements(self, models, actions=[INVOKE])
        self.model_policy = iam.ManagedPolicy(
            self,
            "ModelAccess",
            description=f"The models Amazon Bedrock may invoke for batch jobs of {stack.stack_name}",
            statements=invoke,
            roles=[self.role],
        )
        acknowledge_wildcard_resources(self.model_policy, profile_wildcards(self, models))
        object_reason = (
            "Job inputs and outputs are keyed by run and job IDs chosen at submit time; the bucket is fixed."
        )
        wildcards = {
            input_bucket.arn_for_objects("*"): object_reason,
            output_bucket.arn_for_objects("*"): object_reason,
        }
        if vpc is not None:
            wildcards["*"] = (
                "The EC2 Describe* calls Bedrock makes for a VPC job support no resource-level "
                "permissions, so '*' is the only resource they accept."
            )
            wildcards[_eni_arn(stack)] = (
                "Network interfaces are created per job; creation and deletion are limited by the Bedrock "
                "job tags and the configured subnets."
            )
        acknowledge_wildcard_resources(self.policy, wildcards)

    def _data_access(
        self, input_bucket: s3.IBucket, output_bucket: s3.IBucket, account: str
    ) -> list[iam.PolicyStatement]:
        # aws:ResourceAccount stops a job from being pointed at a look-alike bucket in another account.
        same_account = {"StringEquals": {"aws:ResourceAccount": account}}
        return [
            iam.PolicyStatement(
                sid="ListBatchBuckets",
                actions=["s3:ListBucket"],
                resources=[input_bucket.bucket_arn, output_bucket.bucket_arn],
                conditions=same_account,
            ),
            iam.PolicyStatement(
                sid="ReadInput",
                actions=["s3:GetObject"],
                resources=[input_bucket.arn_for_objects("*")],
                conditions=same_account,
            ),
            iam.PolicyStatement(
                sid="WriteOutput",
                # AWS documents Get, Put and List on both buckets for the batch role. Bedrock never
                # writes input, so that is left out; reading back its own output stays, as AWS lists it.
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[output_bucket.arn_for_objects("*")],
                conditions=same_account,
            ),
        ]


def _eni_arn(stack: Stack) -> str:
    return stack.format_arn(service="ec2", resource="network-interface", resource_name="*")


def _vpc_statements(vpc: VpcConfig, stack: Stack) -> list[iam.PolicyStatement]:
    """Network-interface permissions Bedrock needs when a job carries a vpcConfig."""
    subnet_arns = [
        stack.format_arn(service="ec2", resource="subnet", resource_name=subnet) for subnet in vpc.subnet_ids
    ]
    group_arns = [
        stack.format_arn(service="ec2", resource="security-group", resource_name=group)
        for group in vpc.security_group_ids
    ]
    eni_arn = _eni_arn(stack)
    job_arns = job_arn_pattern(stack)
    statements = [
        iam.PolicyStatement(
            sid="DescribeNetwork",
            actions=[
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeVpcs",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
            ],
            # EC2 Describe* actions do not support resource-level permissions.
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="CreateJobNetworkInterfaces",
            actions=["ec2:CreateNetworkInterface"],
            resources=[eni_arn],
            conditions={
                "StringEquals": {"aws:RequestTag/BedrockManaged": "true"},
                "ArnEquals": {"aws:RequestTag/BedrockModelInvocationJobArn": job_arns},
            },
        ),
        iam.PolicyStatement(
            sid="UseConfiguredSubnetsAndGroups",
            actions=["ec2:CreateNetworkInterface"],
            resources=[*subnet_arns, *group_arns],
        ),
        iam.PolicyStatement(
            sid="ManageJobNetworkInterfaces",
            actions=[
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            resources=[eni_arn],
            conditions={
                "ArnEquals": {"ec2:Subnet": subnet_arns},
                "ArnLike": {"ec2:ResourceTag/BedrockModelInvocationJobArn": job_arns},
            },
        ),
        iam.PolicyStatement(
            sid="TagJobNetworkInterfaces",
            actions=["ec2:CreateTags"],
            resources=[eni_arn],
            conditions={
                "StringEquals": {"ec2:CreateAction": "CreateNetworkInterface"},
                "ForAllValues:StringEquals": {
                    "aws:TagKeys": ["BedrockManaged", "BedrockModelInvocationJobArn"]
                },
            },
        ),
    ]
    return statements
