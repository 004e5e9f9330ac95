"""Each orchestrated run's workflow: a Step Functions execution to watch a run by, and what follows its end.

    WaitForRun (task token, heartbeat, timeout) -> Collect (Lambda) -> Notify (SNS)
         \\ timed out / stopped ------------------> NotifyStalled -> Fail
                                Collect failed ---> NotifyCollectFailed -> Fail

The scheduler starts one execution per run (``batch_runner.orchestration.workflow``) and sends
its heartbeat; the first task's Lambda (``attach``) keeps the token on the run's registry item until
the scheduler hands it back when the run has finished. Scheduling stays in the scheduler: a state
machine's concurrency limit would be per execution, and the quota is per account. The ASL uses only
what the local emulator (moto's interpreter) executes: Lambda and SNS tasks, Retry, Catch, Fail;
no Wait, Map, JSONata or variables (``tests/infra`` checks).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from batch_runner.orchestration.collector import PART_PREFIX, RESULTS_FOLDER
from batch_runner.orchestration.settings import (
    INPUT_BUCKET_VARIABLE,
    REGISTRY_TABLE_VARIABLE,
    SETTINGS_VARIABLE,
    STATE_MACHINE_VARIABLE,
)
from stacks.lambda_bundle import lambda_code_dir
from stacks.orchestration_config import OrchestrationConfig
from stacks.orchestration_functions import (
    LOG_RETENTION,
    FunctionSpec,
    HandlerFunction,
    handler_function,
    key_statements,
    read_job_output,
)
from stacks.security_checks import (
    WILDCARD_RULE,
    acknowledge,
    acknowledge_wildcard_resources,
    skip_checkov,
)

ATTACH_HANDLER = "batch_runner.orchestration.handlers.attach_workflow"
COLLECT_HANDLER = "batch_runner.orchestration.handlers.collect"
# A run can queue for weeks behind a busy quota; past this, its workflow notifies that it gave up
# waiting (the run itself goes on, and `results` works from a laptop).
RUN_TIMEOUT = Duration.days(90)
# The collector streams (tens of MB whatever the size); memory buys CPU (1,769 MB is one vCPU).
# A run of about 50 million records fits in 15 minutes; larger runs collect from a laptop.
COLLECTOR_MEMORY_MB = 2048
COLLECTOR_TIMEOUT = Duration.minutes(15)
# A large Parquet collection is written to local disk, then cut into parts.
COLLECTOR_DISK_MB = 10240
# What the workflow's task functions need not have, and why (cdk-nag rule, checkov check, reason).
TASK_FUNCTION_EXCEPTIONS = (
    (
        "HIPAA.Security-LambdaDLQ",
        "CKV_AWS_116",
        "Invoked synchronously by the run's workflow, which catches its failure and notifies; a "
        "dead-letter queue only ever receives asynchronous invocations.",
    ),
    (
        "HIPAA.Security-LambdaConcurrency",
        "CKV_AWS_115",
        "Invoked once per run by this stack's workflow (which retries throttling); reserving "
        "concurrency would take it from the account's unreserved pool for no protection.",
    ),
)
VERSIONS_ONLY = "Versions of this function only (CDK's invoke grant)."


def state_machine_name(stack: Stack) -> str:
    return f"{stack.stack_name}-runs"


def state_machine_arn(stack: Stack) -> str:
    """Built from the fixed name: the functions the machine calls need it before it exists."""
    return stack.format_arn(
        service="states",
        resource="stateMachine",
        resource_name=state_machine_name(stack),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def heartbeat_timeout(sweep_minutes: int) -> Duration:
    """Three sweeps and two minutes: the scheduler beats at least once a sweep."""
    return Duration.seconds(3 * sweep_minutes * 60 + 120)


class RunWorkflow(Construct):
    """The attach and collect functions and the state machine that runs them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: OrchestrationConfig,
        registry: dynamodb.ITable,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        alert_topic: sns.ITopic,
        encryption_key: kms.IKey | None,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.state_machine_arn = state_machine_arn(stack)
        environment = {
            SETTINGS_VARIABLE: config.settings.to_json(),
            REGISTRY_TABLE_VARIABLE: registry.table_name,
            INPUT_BUCKET_VARIABLE: input_bucket.bucket_name,
            STATE_MACHINE_VARIABLE: self.state_machine_arn,
        }
        write_registry = iam.PolicyStatement(
            sid="UpdateRunItem", actions=["dynamodb:UpdateItem"], resources=[registry.table_arn]
        )
        hand_back = iam.PolicyStatement(
            sid="HandBackToken", actions=["states:SendTaskSuccess"], resources=[self.state_machine_arn]
        )
        attach = handler_function(
            self,
            "Attach",
            FunctionSpec(
                handler=ATTACH_HANDLER,
                description="Keeps a run's workflow token on its registry item",
                code_dir=str(lambda_code_dir()),
                memory_mb=256,
                timeout=Duration.seconds(30),
                environment=environment,
                logs_say="One line per run (its name)",
                statements=[write_registry, hand_back, *key_statements(self, encryption_key, s3=False)],
            ),
            removal_policy,
        )
        collector = handler_function(
            self,
            "Collector",
            FunctionSpec(
                handler=COLLECT_HANDLER,
                description="Collects a finished run's results into S3",
                code_dir=str(lambda_code_dir(collector=True)),
                memory_mb=COLLECTOR_MEMORY_MB,
                timeout=COLLECTOR_TIMEOUT,
                ephemeral_storage_mb=COLLECTOR_DISK_MB,
                environment=environment,
                logs_say="One line per run (its name, record counts, where the results are)",
                statements=[
                    write_registry,
                    *self._collector_statements(input_bucket, output_bucket),
                    *key_statements(self, encryption_key, s3=True),
                ],
                wildcards=self._collector_wildcards(input_bucket, output_bucket),
            ),
            removal_policy,
        )
        for task in (attach, collector):
            for nag_rule, checkov_check, reason in TASK_FUNCTION_EXCEPTIONS:
                acknowledge(task.function, nag_rule, reason)
                skip_checkov(task.function, checkov_check, reason)
        self.state_machine = self._state_machine(
            stack, config, attach, collector, alert_topic, removal_policy
        )

    @staticmethod
    def _collector_statements(
        input_bucket: s3.IBucket, output_bucket: s3.IBucket
    ) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(
                sid="ReadRuns", actions=["s3:GetObject"], resources=[input_bucket.arn_for_objects("runs/*")]
            ),
            iam.PolicyStatement(
                sid="WriteResults",
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[input_bucket.arn_for_objects(f"runs/*/{RESULTS_FOLDER}*")],
            ),
            iam.PolicyStatement(
                sid="RemoveStaleParts",
                actions=["s3:DeleteObject"],
                resources=[input_bucket.arn_for_objects(f"runs/*/{RESULTS_FOLDER}{PART_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="ListRuns",
                actions=["s3:ListBucket"],
                resources=[input_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["runs/*"]}},
            ),
            read_job_output(output_bucket, "ReadOutput"),
            iam.PolicyStatement(
                sid="ListOutput",
                actions=["s3:ListBucket"],
                resources=[output_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["runs/*"]}},
            ),
        ]

    @staticmethod
    def _collector_wildcards(input_bucket: s3.IBucket, output_bucket: s3.IBucket) -> dict[str, str]:
        return {
            input_bucket.arn_for_objects("runs/*"): "Run names are chosen per run; the collector reads "
            "only under runs/ (manifests, record indexes).",
            input_bucket.arn_for_objects(f"runs/*/{RESULTS_FOLDER}*"): "The collector writes only each "
            "run's results folder.",
            input_bucket.arn_for_objects(f"runs/*/{RESULTS_FOLDER}{PART_PREFIX}*"): "The collector removes "
            "only result parts an earlier collection left.",
            output_bucket.arn_for_objects("runs/*"): "Job output keys are chosen by Bedrock under runs/.",
        }

    def _state_machine(
        self,
        stack: Stack,
        config: OrchestrationConfig,
        attach: HandlerFunction,
        collector: HandlerFunction,
        alert_topic: sns.ITopic,
        removal_policy: RemovalPolicy,
    ) -> sfn.StateMachine:
        def notify(state_id: str, subject: str, message: str) -> tasks.SnsPublish:
            return tasks.SnsPublish(
                self,
                state_id,
                topic=alert_topic,
                subject=sfn.JsonPath.format(subject, sfn.JsonPath.string_at("$.run")),
                message=sfn.TaskInput.from_text(sfn.JsonPath.json_to_string(sfn.JsonPath.object_at(message))),
                result_path=sfn.JsonPath.DISCARD,
            )

        wait = tasks.LambdaInvoke(
            self,
            "WaitForRun",
            comment="The scheduler drives the run; it hands this token back when every job has ended",
            lambda_function=attach.function,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {"run": sfn.JsonPath.string_at("$.run"), "token": sfn.JsonPath.task_token}
            ),
            heartbeat_timeout=sfn.Timeout.duration(heartbeat_timeout(config.sweep_minutes)),
            task_timeout=sfn.Timeout.duration(RUN_TIMEOUT),
            result_path="$.ended",
        )
        collect = tasks.LambdaInvoke(
            self,
            "Collect",
            comment="The run's results into S3 (runs/<run>/results/) with its reconciliation",
            lambda_function=collector.function,
            payload=sfn.TaskInput.from_object(
                {"run": sfn.JsonPath.string_at("$.run"), "round": sfn.JsonPath.number_at("$.round")}
            ),
            payload_response_only=True,
            result_path="$.collected",
        )
        stalled = notify("NotifyStalled", "Batch run {} stopped being followed", "$.error").next(
            sfn.Fail(self, "RunNotFollowed", error="RunNotFollowed")
        )
        collect_failed = notify("NotifyCollectFailed", "Batch run {}: results not collected", "$.error").next(
            sfn.Fail(self, "ResultsNotCollected", error="ResultsNotCollected")
        )
        for task in (wait, collect):  # a function at its concurrency limit says so: try again later
            task.add_retry(
                errors=["Lambda.TooManyRequestsException"],
                interval=Duration.seconds(5),
                max_attempts=10,
                backoff_rate=2,
            )
        wait.add_catch(stalled, errors=[sfn.Errors.ALL], result_path="$.error")
        collect.add_catch(collect_failed, errors=[sfn.Errors.ALL], result_path="$.error")
        done = notify("Notify", "Batch run {} finished", "$.collected")
        log_group = logs.LogGroup(
            self, "WorkflowLogs", retention=LOG_RETENTION, removal_policy=removal_policy
        )
        skip_checkov(
            log_group,
            "CKV_AWS_158",
            "Execution history (run names, counts, result locations), no record content; encrypted at rest "
            "by CloudWatch Logs.",
        )
        acknowledge(
            log_group,
            "HIPAA.Security-CloudWatchLogGroupEncrypted",
            "Execution history holds run names, record counts and result locations, never record content; "
            "CloudWatch Logs encrypts it at rest with a service key.",
        )
        machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name(stack),
            comment="One execution per orchestrated run: wait for it, collect its results, notify",
            definition_body=sfn.DefinitionBody.from_chainable(wait.next(collect).next(done)),
            state_machine_type=sfn.StateMachineType.STANDARD,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
            removal_policy=removal_policy,
        )
        # CDK makes the machine depend on its role as well as on the role's policy; cfn-lint calls the
        # first redundant (the RoleArn property already orders them).
        cfn_machine = machine.node.default_child
        assert isinstance(cfn_machine, sfn.CfnStateMachine)
        cfn_machine.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        alert_topic.grant_publish(machine)  # and the topic key's data keys, when it has one
        acknowledge(
            machine,
            f"{WILDCARD_RULE}[Action::kms:GenerateDataKey*]",
            "CDK's publish grant on the encrypted alert topic: data keys of that topic's key only "
            "(GenerateDataKey and GenerateDataKeyWithoutPlaintext, as SNS asks for either).",
        )
        acknowledge(
            machine,
            "HIPAA.Security-IAMNoInlinePolicy",
            "The inline statements are the grants CDK adds for the machine's own tasks (invoke the two "
            "functions, publish to the alert topic), its logs and X-Ray, each scoped as narrowly as the "
            "services allow.",
        )
        acknowledge_wildcard_resources(
            machine,
            {
                "*": "CloudWatch Logs delivery and X-Ray trace writes support no resource type (IAM Service "
                "Authorization Reference); CDK adds these for the state machine's logging and tracing.",
                f"{attach.function.function_arn}:*": VERSIONS_ONLY,
                f"{collector.function.function_arn}:*": VERSIONS_ONLY,
            },
        )
        return machine
