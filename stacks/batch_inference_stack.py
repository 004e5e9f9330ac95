"""One deployable environment: wires the components together and exports what the runner needs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, RemovalPolicy, Stack, Tags
from constructs import Construct

from batch_runner.aws.stack_outputs import OutputKey, stack_name
from stacks.buckets import BatchBuckets
from stacks.config import EnvironmentConfig
from stacks.encryption import DataKey
from stacks.notifications import JobNotifications
from stacks.observability import BatchObservability
from stacks.orchestration import Orchestration
from stacks.service_role import BedrockServiceRole
from stacks.submitter_access import SubmitterAccess


class BatchInferenceStack(Stack):
    """Buckets, Bedrock service role, submitter access, alerts and dashboard for one environment."""

    def __init__(self, scope: Construct, *, config: EnvironmentConfig) -> None:
        name = stack_name(config.name)
        super().__init__(
            scope,
            name,
            stack_name=name,
            description=f"Amazon Bedrock batch inference: buckets, service role and alerts ({config.name})",
            # Without account/region in the config the stack stays environment-agnostic and deploys
            # into whatever account and Region the credentials point at.
            env=Environment(account=config.account, region=config.region),
        )
        removal = RemovalPolicy.RETAIN if config.retain_data_on_delete else RemovalPolicy.DESTROY

        data_key = (
            DataKey(
                self, "DataKey", description=f"Encrypts Bedrock batch data of {name}", removal_policy=removal
            )
            if config.kms
            else None
        )
        encryption_key = data_key.key if data_key else None
        buckets = BatchBuckets(
            self,
            "Buckets",
            retention_days=config.retention_days,
            encryption_key=encryption_key,
            removal_policy=removal,
        )
        service_role = BedrockServiceRole(
            self,
            "BedrockServiceRole",
            input_bucket=buckets.input_bucket,
            output_bucket=buckets.output_bucket,
            models=config.models,
            encryption_key=encryption_key,
            vpc=config.vpc,
        )
        submitters = SubmitterAccess(
            self,
            "Submitters",
            service_role=service_role.role,
            input_bucket=buckets.input_bucket,
            output_bucket=buckets.output_bucket,
            models=config.models,
            encryption_key=encryption_key,
            attach_to_role_arns=config.submitter_role_arns,
            role_principals=config.submitter_role_principals,
        )
        if data_key is not None:
            data_key.allow_use_through_s3([service_role.role], sid="BedrockServiceRoleViaS3")
            data_key.allow_use_through_s3(submitters.roles, sid="SubmittersViaS3")

        notifications = JobNotifications(
            self,
            "Notifications",
            emails=config.notification_emails,
            notify_on_completed=config.notify_on_completed,
            job_name_prefix=config.job_name_prefix,
            removal_policy=removal,
        )
        observability = BatchObservability(
            self,
            "Observability",
            model_ids=config.model_ids,
            failure_rule=notifications.failure_rule,
            attention_rule=notifications.attention_rule,
            attention_statuses=notifications.attention_statuses,
            alert_topic=notifications.topic,
        )
        alarm_arns = [observability.failed_jobs_alarm_arn]
        orchestration = None
        if config.orchestration is not None and config.orchestration.enabled:
            orchestration = Orchestration(
                self,
                "Orchestration",
                config=config.orchestration,
                input_bucket=buckets.input_bucket,
                output_bucket=buckets.output_bucket,
                service_role=service_role.role,
                models=config.models,
                alert_topic=notifications.topic,
                encryption_key=encryption_key,
                removal_policy=removal,
            )
            submitters.allow_orchestrated_runs(orchestration.registry, encryption_key)
            alarm_arns.extend(orchestration.alarm_arns)
        notifications.allow_alarms(alarm_arns)

        for key, value in config.tags.items():
            Tags.of(self).add(key, value)
        buckets.tag_auto_delete_provider(config.tags)

        outputs: dict[str, str] = {
            OutputKey.INPUT_BUCKET: buckets.input_bucket.bucket_name,
            OutputKey.OUTPUT_BUCKET: buckets.output_bucket.bucket_name,
            OutputKey.SERVICE_ROLE_ARN: service_role.role.role_arn,
            OutputKey.SUBMITTER_POLICY_ARN: submitters.policy.managed_policy_arn,
            OutputKey.NOTIFICATION_TOPIC_ARN: notifications.topic.topic_arn,
            OutputKey.REGION: self.region,
            OutputKey.ALLOWED_MODELS: ",".join(config.model_ids),
            OutputKey.JOB_NAME_PREFIX: config.job_name_prefix,
        }
        if orchestration is not None:
            outputs[OutputKey.RUN_REGISTRY_TABLE] = orchestration.registry.table_name
            outputs[OutputKey.SCHEDULER_FUNCTION] = orchestration.scheduler.function_name
        if submitters.role is not None:
            outputs[OutputKey.SUBMITTER_ROLE_ARN] = submitters.role.role_arn
        if encryption_key is not None:
            outputs[OutputKey.KMS_KEY_ARN] = encryption_key.key_arn
        if config.vpc is not None:
            outputs[OutputKey.SUBNET_IDS] = ",".join(config.vpc.subnet_ids)
            outputs[OutputKey.SECURITY_GROUP_IDS] = ",".join(config.vpc.security_group_ids)
        for key, value in outputs.items():
            CfnOutput(self, key, value=value)
