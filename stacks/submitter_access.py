"""What people and jobs that submit batches may do: one customer-managed policy, optionally a role."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.encryption import S3_DATA_KEY_ACTIONS, s3_via_service
from stacks.model_access import GLOBAL_PREFIX, ModelRef, allowed_model_arns, invoke_grants
from stacks.security_checks import acknowledge_wildcard_resources
from stacks.service_role import BEDROCK_SERVICE, job_arn_pattern

# Service Quotas reads: the runner checks record and job quotas per model before submitting.
SERVICE_QUOTA_READS = (
    "servicequotas:GetServiceQuota",
    "servicequotas:ListAWSDefaultServiceQuotas",
    "servicequotas:ListServiceQuotas",
)


class SubmitterAccess(Construct):
    """A managed policy to submit, watch and stop batch jobs on this stack's buckets and models.

    Attached to existing roles from the config and, if asked, to a dedicated submitter role.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service_role: iam.IRole,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        models: Sequence[ModelRef],
        encryption_key: kms.IKey | None,
        attach_to_role_arns: Sequence[str],
        role_principals: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        arn_parts = {"partition": stack.partition, "region": stack.region, "account": stack.account}
        job_arns = job_arn_pattern(stack)

        statements = [
            iam.PolicyStatement(
                sid="CreateJobsOnAllowedModels",
                actions=["bedrock:CreateModelInvocationJob"],
                resources=[*allowed_model_arns(models, **arn_parts), job_arns],
            ),
            iam.PolicyStatement(
                sid="WatchStopAndTagJobs",
                # The runner tags each job with its run ID at creation, to find it again after a crash.
                actions=[
                    "bedrock:GetModelInvocationJob",
                    "bedrock:StopModelInvocationJob",
                    "bedrock:TagResource",
                    "bedrock:ListTagsForResource",
                ],
                resources=[job_arns],
            ),
            iam.PolicyStatement(
                sid="ListJobsAndModels",
                actions=[
                    "bedrock:ListModelInvocationJobs",
                    "bedrock:ListFoundationModels",
                    "bedrock:ListInferenceProfiles",
                    *SERVICE_QUOTA_READS,
                ],
                # These actions support no resource types (IAM Service Authorization Reference for
                # Amazon Bedrock and Service Quotas): "*" is the only resource they accept.
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="DescribeAllowedModels",
                actions=["bedrock:GetFoundationModel", "bedrock:GetInferenceProfile"],
                resources=allowed_model_arns(models, **arn_parts),
            ),
            iam.PolicyStatement(
                sid="PassServiceRoleToBedrock",
                actions=["iam:PassRole"],
                resources=[service_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": BEDROCK_SERVICE}},
            ),
            iam.PolicyStatement(
                sid="ListBatchBuckets",
                actions=["s3:ListBucket", "s3:GetBucketLocation"],
                resources=[input_bucket.bucket_arn, output_bucket.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="WriteInput",
                actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                resources=[input_bucket.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="ReadOutput",
                actions=["s3:GetObject"],
                resources=[output_bucket.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="ReadStackOutputs",
                actions=["cloudformation:DescribeStacks"],
                resources=[stack.stack_id],
            ),
        ]
        for index, grant in enumerate(invoke_grants(models, **arn_parts)):
            # On-demand retries of the few records a batch job failed, on the same allowed models.
            statements.append(
                iam.PolicyStatement(
                    sid=f"InvokeAllowedModels{index}",
                    actions=["bedrock:InvokeModel"],
                    resources=list(grant.resources),
                    conditions=dict(grant.conditions) if grant.conditions else None,
                )
            )
        if encryption_key is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="BatchDataKey",
                    actions=list(S3_DATA_KEY_ACTIONS),
                    resources=[encryption_key.key_arn],
                    conditions=s3_via_service(self),
                )
            )

        attached_roles: list[iam.IRole] = [
            iam.Role.from_role_arn(self, f"Attached{index}", arn, mutable=True)
            for index, arn in enumerate(attach_to_role_arns)
        ]
        self.role: iam.Role | None = None
        if role_principals:
            self.role = iam.Role(
                self,
                "Role",
                description=f"Submits and watches Bedrock batch jobs of {stack.stack_name}",
                assumed_by=iam.CompositePrincipal(*(iam.ArnPrincipal(arn) for arn in role_principals)),
            )
            attached_roles.append(self.role)

        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Submit, watch and stop Bedrock batch jobs of {stack.stack_name}",
            statements=statements,
            roles=attached_roles,
        )
        object_reason = "Object keys are chosen per run at submit time; the bucket is fixed."
        wildcards = {
            "*": "List actions (bedrock:ListModelInvocationJobs, ListFoundationModels, "
            "ListInferenceProfiles) and the Service Quotas reads support no resource types in the IAM "
            "Service Authorization Reference, so '*' is the only resource they accept.",
            job_arns: "Job IDs are assigned by Bedrock when a job is created; the ARN is fixed to this "
            "account and Region.",
            input_bucket.arn_for_objects("*"): object_reason,
            output_bucket.arn_for_objects("*"): object_reason,
        }
        for grant in invoke_grants(models, **arn_parts)[1:]:
            wildcards[grant.resources[0]] = (
                f"A {GLOBAL_PREFIX}. inference profile routes to any commercial Region; the grant only "
                "applies to requests made through that profile (bedrock:InferenceProfileArn condition)."
            )
        acknowledge_wildcard_resources(self.policy, wildcards)
        self.principals: list[iam.IRole] = attached_roles
