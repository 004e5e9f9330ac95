"""The orchestration's Lambda functions, built alike: own role and log group, the project's code.

Each function gets a role of its own (least privilege: the caller adds its statements), a log group
with a retention, Python 3.11 on x86_64 (the wheels ``stacks.lambda_bundle`` unpacks), and the
acknowledgements every one of them needs, with their reasons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.encryption import data_key_statement, registry_key_statement
from stacks.security_checks import acknowledge, acknowledge_wildcard_resources, skip_checkov

LOG_RETENTION = logs.RetentionDays.THREE_MONTHS


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between the orchestration's functions."""

    handler: str
    description: str
    code_dir: str
    memory_mb: int
    timeout: Duration
    environment: Mapping[str, str]
    logs_say: str  # what the function logs, for the reviewers of its unencrypted log group
    reserved_concurrency: int | None = None
    ephemeral_storage_mb: int = 512
    dead_letter_queue: sqs.IQueue | None = None
    statements: Sequence[iam.PolicyStatement] = ()  # the role's grants, beside its own logs
    wildcards: Mapping[str, str] = field(default_factory=dict)  # wildcard resource -> why


@dataclass(frozen=True)
class HandlerFunction:
    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup


def read_job_output(output_bucket: s3.IBucket, sid: str) -> iam.PolicyStatement:
    """Read the jobs' output files, which Bedrock writes under runs/ in the output bucket."""
    return iam.PolicyStatement(
        sid=sid, actions=["s3:GetObject"], resources=[output_bucket.arn_for_objects("runs/*")]
    )


def key_statements(scope: Construct, key: kms.IKey | None, *, s3: bool) -> list[iam.PolicyStatement]:
    """The data key, when the environment has one: registry items through DynamoDB, and (``s3``)
    objects through S3."""
    if key is None:
        return []
    return [registry_key_statement(scope, key), *([data_key_statement(scope, key)] if s3 else [])]


def handler_function(
    scope: Construct, construct_id: str, spec: FunctionSpec, removal_policy: RemovalPolicy
) -> HandlerFunction:
    stack = Stack.of(scope)
    log_group = logs.LogGroup(
        scope, f"{construct_id}Logs", retention=LOG_RETENTION, removal_policy=removal_policy
    )
    skip_checkov(log_group, "CKV_AWS_158", f"{spec.logs_say}; encrypted at rest by CloudWatch Logs.")
    acknowledge(
        log_group,
        "HIPAA.Security-CloudWatchLogGroupEncrypted",
        f"{spec.logs_say}, never record content; CloudWatch Logs encrypts it at rest with a service key.",
    )
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        description=f"{spec.description} ({stack.stack_name})",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
    )
    logs_statement = iam.PolicyStatement(
        sid="Logs", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
    )
    policy = iam.ManagedPolicy(
        scope,
        f"{construct_id}Policy",
        description=f"{spec.description} ({stack.stack_name})",
        statements=[logs_statement, *spec.statements],
        roles=[role],
    )
    if spec.wildcards:
        acknowledge_wildcard_resources(policy, dict(spec.wildcards))
    acknowledge(
        role,
        "HIPAA.Security-IAMNoInlinePolicy",
        "The inline statements are the grants CDK adds for the function's own resources (its dead-letter "
        "queue, data keys, state machine), each scoped to that resource; the rest is in the managed policy.",
    )
    function = lambda_.Function(
        scope,
        construct_id,
        description=spec.description,
        runtime=lambda_.Runtime.PYTHON_3_11,
        architecture=lambda_.Architecture.X86_64,
        code=lambda_.Code.from_asset(spec.code_dir),
        handler=spec.handler,
        memory_size=spec.memory_mb,
        ephemeral_storage_size=Size.mebibytes(spec.ephemeral_storage_mb),
        timeout=spec.timeout,
        reserved_concurrent_executions=spec.reserved_concurrency,
        role=role,
        log_group=log_group,
        dead_letter_queue=spec.dead_letter_queue,
        retry_attempts=2 if spec.dead_letter_queue else None,
        environment=dict(spec.environment),
    )
    acknowledge(
        function,
        "AwsSolutions-L1",
        "Python 3.11 is the runtime the bundled wheels are downloaded for (stacks/lambda_target.py).",
    )
    acknowledge(
        function,
        "HIPAA.Security-LambdaInsideVPC",
        "The function calls only AWS APIs (Bedrock, S3, DynamoDB, Step Functions) over TLS.",
    )
    skip_checkov(
        function, "CKV_AWS_117", "The function calls only AWS APIs (Bedrock, S3, DynamoDB, Step Functions)."
    )
    skip_checkov(
        function,
        "CKV_AWS_173",
        "The variables hold resource names and the scheduling policy, no secrets; Lambda encrypts them "
        "at rest.",
    )
    # CDK makes the function depend on its role as well as on the role's policy; cfn-lint calls the
    # first redundant (the function's Role property already orders them).
    cfn_function = function.node.default_child
    assert isinstance(cfn_function, lambda_.CfnFunction)
    cfn_function.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
    return HandlerFunction(function, role, log_group)
