"""Orchestrated runs: a run registry, a scheduler Lambda and the rules that wake it.

The scheduler (reserved concurrency 1, so passes never overlap) wakes when any Bedrock batch job in
the account ends (every job frees a slot of the shared per-model quota, whoever started it), when a
runner sends one of its own events for this stack (run submitted, cancel or retry requested), and on
a schedule, the sweep that makes up for a lost event. Code: ``batch_runner.orchestration``, packaged
by ``stacks.lambda_bundle`` without Docker.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from batch_runner.jobs.tracking import TERMINAL_STATUSES
from batch_runner.orchestration.registry import STATE_INDEX
from batch_runner.orchestration.settings import (
    EVENT_SOURCE,
    INPUT_BUCKET_VARIABLE,
    REGISTRY_TABLE_VARIABLE,
    RUNNER_EVENTS,
    SETTINGS_VARIABLE,
    STATE_MACHINE_VARIABLE,
)
from stacks.lambda_bundle import lambda_code_dir
from stacks.model_access import ModelRef
from stacks.model_grants import model_statements
from stacks.notifications import EVENT_DETAIL_TYPE
from stacks.notifications import EVENT_SOURCE as BEDROCK_EVENT_SOURCE
from stacks.orchestration_config import OrchestrationConfig
from stacks.orchestration_functions import FunctionSpec, handler_function, key_statements, read_job_output
from stacks.orchestration_workflow import RunWorkflow
from stacks.security_checks import acknowledge, skip_checkov
from stacks.service_role import job_arn_pattern, job_statement, pass_role_statement

SCHEDULER_HANDLER = "batch_runner.orchestration.handlers.schedule"
# A pass lists the account's live jobs and reads each active run's manifest: seconds, even at
# thousands of jobs; the timeout leaves room for throttled APIs.
SCHEDULER_TIMEOUT = Duration.minutes(5)


class Orchestration(Construct):
    """Registry table, scheduler function, its triggers, dead letters and an errors alarm."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: OrchestrationConfig,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        service_role: iam.IRole,
        models: Sequence[ModelRef],
        alert_topic: sns.ITopic,
        encryption_key: kms.IKey | None,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.registry = self._registry(encryption_key, removal_policy)
        dead_letters = sqs.Queue(
            self,
            "SchedulerDeadLetters",
            # SSE-SQS: EventBridge may send to it without a key policy grant (it may not with the
            # AWS-managed SQS key); the messages are trigger events, no record content.
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        skip_checkov(
            dead_letters,
            "CKV_AWS_27",
            "Encrypted at rest with SSE-SQS; a KMS key would need EventBridge grants for messages that "
            "are only trigger events.",
        )
        acknowledge(
            dead_letters, "AwsSolutions-SQS3", "This queue is the dead-letter queue of the scheduler."
        )
        self.workflow = RunWorkflow(
            self,
            "Workflow",
            config=config,
            registry=self.registry,
            input_bucket=input_bucket,
            output_bucket=output_bucket,
            alert_topic=alert_topic,
            encryption_key=encryption_key,
            removal_policy=removal_policy,
        )
        scheduler = handler_function(
            self,
            "Scheduler",
            FunctionSpec(
                handler=SCHEDULER_HANDLER,
                description="One pass over the orchestrated runs: refresh, share the quota, submit shards",
                code_dir=str(lambda_code_dir()),
                memory_mb=512,
                timeout=SCHEDULER_TIMEOUT,
                reserved_concurrency=1,
                dead_letter_queue=dead_letters,
                environment={
                    SETTINGS_VARIABLE: config.settings.to_json(),
                    REGISTRY_TABLE_VARIABLE: self.registry.table_name,
                    INPUT_BUCKET_VARIABLE: input_bucket.bucket_name,
                    STATE_MACHINE_VARIABLE: self.workflow.state_machine_arn,
                },
                logs_say="One summary line per pass (run names, job counts)",
                statements=[
                    *self._statements(input_bucket, output_bucket, service_role, models),
                    *key_statements(self, encryption_key, s3=True),
                ],
                wildcards=self._wildcards(output_bucket, input_bucket),
            ),
            removal_policy,
        )
        self.scheduler = scheduler.function
        self._triggers(stack, config, dead_letters)
        self.alarm_arns = self._alarms(stack, alert_topic)

    def _registry(self, key: kms.IKey | None, removal_policy: RemovalPolicy) -> dynamodb.Table:
        # Table, not TableV2: the local emulator's CloudFormation has no AWS::DynamoDB::GlobalTable.
        table = dynamodb.Table(
            self,
            "RunRegistry",
            partition_key=dynamodb.Attribute(name="run", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED
            if key
            else dynamodb.TableEncryption.AWS_MANAGED,
            encryption_key=key,
            removal_policy=removal_policy,
        )
        table.add_global_secondary_index(
            index_name=STATE_INDEX,
            partition_key=dynamodb.Attribute(name="state", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
        )
        if key is None:
            skip_checkov(
                table,
                "CKV_AWS_119",
                "This environment chose kms: false; the table is encrypted with the AWS-managed key, "
                "as the buckets use S3-managed keys.",
            )
        acknowledge(
            table,
            "HIPAA.Security-DynamoDBInBackupPlan",
            "Point-in-time recovery keeps 35 days of restorable history; the registry only indexes runs "
            "whose state lives in S3.",
        )
        return table

    def _statements(
        self,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        service_role: iam.IRole,
        models: Sequence[ModelRef],
    ) -> list[iam.PolicyStatement]:
        machine = self.workflow.state_machine_arn
        return [
            job_statement(Stack.of(self)),
            iam.PolicyStatement(sid="ListJobs", actions=["bedrock:ListModelInvocationJobs"], resources=["*"]),
            pass_role_statement(service_role),
            iam.PolicyStatement(
                sid="ListInputBucket", actions=["s3:ListBucket"], resources=[input_bucket.bucket_arn]
            ),
            iam.PolicyStatement(
                sid="ReadWriteRuns",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[input_bucket.arn_for_objects("runs/*")],
            ),
            read_job_output(output_bucket, "ReadRunOutput"),
            iam.PolicyStatement(
                sid="Registry",
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                resources=[self.registry.table_arn, f"{self.registry.table_arn}/index/{STATE_INDEX}"],
            ),
            iam.PolicyStatement(sid="StartWorkflows", actions=["states:StartExecution"], resources=[machine]),
            iam.PolicyStatement(
                sid="AnswerWorkflows",
                actions=["states:SendTaskSuccess", "states:SendTaskHeartbeat"],
                resources=[machine],
            ),
            # Only the job creation on the allowed models: the service role, not the scheduler, invokes them.
            *model_statements(self, models, actions=["bedrock:CreateModelInvocationJob"])[:1],
        ]

    def _wildcards(self, output_bucket: s3.IBucket, input_bucket: s3.IBucket) -> dict[str, str]:
        return {
            "*": "bedrock:ListModelInvocationJobs supports no resource type (IAM Service Authorization "
            "Reference): '*' is the only resource it accepts; the scheduler counts every live job.",
            job_arn_pattern(Stack.of(self)): "Job IDs are assigned by Bedrock at creation; the ARN is fixed "
            "to this account and Region.",
            input_bucket.arn_for_objects("runs/*"): "Run names are chosen per run; the scheduler reads and "
            "writes only under runs/.",
            output_bucket.arn_for_objects("runs/*"): "Job output keys are chosen by Bedrock under runs/.",
        }

    def _triggers(self, stack: Stack, config: OrchestrationConfig, dead_letters: sqs.IQueue) -> None:
        def target() -> targets.LambdaFunction:
            return targets.LambdaFunction(self.scheduler, dead_letter_queue=dead_letters, retry_attempts=8)

        events.Rule(
            self,
            "JobEnded",
            description="Any Bedrock batch job in the account ended: a slot of its model's quota is free",
            event_pattern=events.EventPattern(
                source=[BEDROCK_EVENT_SOURCE],
                detail_type=[EVENT_DETAIL_TYPE],
                detail={"status": list(TERMINAL_STATUSES)},
            ),
            targets=[target()],
        )
        events.Rule(
            self,
            "RunnerEvents",
            description="A runner submitted a run of this stack or asked to cancel or retry one",
            event_pattern=events.EventPattern(
                source=[EVENT_SOURCE], detail_type=list(RUNNER_EVENTS), detail={"stack": [stack.stack_name]}
            ),
            targets=[target()],
        )
        events.Rule(
            self,
            "Sweep",
            description="Safety sweep: a pass even when an event was lost",
            schedule=events.Schedule.rate(Duration.minutes(config.sweep_minutes)),
            targets=[target()],
        )

    def _alarms(self, stack: Stack, alert_topic: sns.ITopic) -> list[str]:
        # Fixed name, so the alert topic's policy can name the alarm without depending on it.
        alarm_name = f"{stack.stack_name}-scheduler-errors"
        alarm = cloudwatch.Alarm(
            self,
            "SchedulerErrors",
            alarm_name=alarm_name,
            alarm_description="The orchestration scheduler failed a pass; runs wait until a pass succeeds. "
            "See the function's log group.",
            metric=self.scheduler.metric_errors(period=Duration.minutes(5)),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(alert_topic))
        return [
            stack.format_arn(
                service="cloudwatch",
                resource="alarm",
                resource_name=alarm_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
        ]
