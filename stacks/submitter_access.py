"""What people and jobs that submit batches may do: one customer-managed policy, optionally a role."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from batch_runner.orchestration.settings import EVENT_SOURCE
from stacks.encryption import data_key_statement, registry_key_statement
from stacks.model_access import ModelRef
from stacks.model_grants import INVOKE, model_statements, profile_wildcards
from stacks.security_checks import acknowledge_wildcard_resources
from stacks.service_role import job_arn_pattern, job_statement, pass_role_statement

MODEL_ACTIONS = (
    "bedrock:CreateModelInvocationJob",
    "bedrock:GetFoundationModel",
    "bedrock:GetInferenceProfile",
    INVOKE,
)
# `doctor` reads: the caller's own role and the service role (trust policy), and simulates their
# policies (IAM's SimulatePrincipalPolicy) to show exactly which permission is missing.
DOCTOR_ROLE_READS = ("iam:GetRole", "iam:SimulatePrincipalPolicy")
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
        job_arns = job_arn_pattern(stack)

        statements = [
            job_statement(stack, "bedrock:ListTagsForResource"),
            iam.PolicyStatement(
                sid="ListJobsAndModels",
                actions=[
                    "bedrock:ListModelInvocationJobs",
                    "bedrock:ListFoundationModels",
                    "bedrock:ListInferenceProfiles",
                    # doctor: is the model offered and agreed to in this account and Region
                    "bedrock:GetFoundationModelAvailability",
                    *SERVICE_QUOTA_READS,
                ],
                # These actions support no resource types (IAM Service Authorization Reference for
                # Amazon Bedrock and Service Quotas): "*" is the only resource they accept.
                resources=["*"],
            ),
            pass_role_statement(service_role),
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
                # `retry --on-demand` writes the records it ran through bedrock-runtime beside the
                # jobs' output, as runs/<run>/output/on-demand-<shard>/ (batch_runner.jobs.retrying).
                sid="WriteOnDemandOutput",
                actions=["s3:PutObject"],
                resources=[output_bucket.arn_for_objects("runs/*/output/on-demand-*")],
            ),
            iam.PolicyStatement(
                sid="ReadStackOutputs",
                actions=["cloudformation:DescribeStacks"],
                resources=[stack.stack_id],
            ),
        ]
        # A job is created on the model as well as on the job ARN. The runner reads model details, and
        # retries the few records a batch job failed on demand, on the same allowed models.
        invoke = model_statements(self, models, actions=MODEL_ACTIONS)
        statements.extend(invoke)
        if encryption_key is not None:
            statements.append(data_key_statement(self, encryption_key))

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

        # Only the roles this stack knows of: the service role and the roles holding this policy.
        statements.append(
            iam.PolicyStatement(
                sid="DoctorReadsRoles",
                actions=list(DOCTOR_ROLE_READS),
                resources=[service_role.role_arn, *(role.role_arn for role in attached_roles)],
            )
        )
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
            "ListInferenceProfiles), GetFoundationModelAvailability and the Service Quotas reads support "
            "no resource types in the IAM "
            "Service Authorization Reference, so '*' is the only resource they accept.",
            job_arns: "Job IDs are assigned by Bedrock when a job is created; the ARN is fixed to this "
            "account and Region.",
            input_bucket.arn_for_objects("*"): object_reason,
            output_bucket.arn_for_objects("*"): object_reason,
            output_bucket.arn_for_objects("runs/*/output/on-demand-*"): "Run names and shard numbers "
            "are chosen per run; writes stay under the on-demand prefixes of runs in this bucket.",
        }
        wildcards.update(profile_wildcards(self, models))
        acknowledge_wildcard_resources(self.policy, wildcards)
        # Everyone holding the policy, for the data key's key policy.
        self.roles: list[iam.IRole] = attached_roles

    def allow_orchestrated_runs(self, registry: dynamodb.ITable, key: kms.IKey | None) -> None:
        """Register runs and ask for cancel or retry (registry items, through the data key when the
        environment has one), and wake the scheduler (only events with the runner's own source)."""
        if key is not None:
            self.policy.add_statements(registry_key_statement(self, key))
        self.policy.add_statements(
            iam.PolicyStatement(
                sid="RegisterAndRequestRuns",
                actions=["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"],
                resources=[registry.table_arn],
            ),
            iam.PolicyStatement(
                sid="WakeTheScheduler",
                actions=["events:PutEvents"],
                resources=[
                    Stack.of(self).format_arn(service="events", resource="event-bus", resource_name="default")
                ],
                conditions={"StringEquals": {"events:source": EVENT_SOURCE}},
            ),
        )
