"""Job alerts: EventBridge rules on this stack's Bedrock batch jobs, delivered to an encrypted SNS topic.

Bedrock sends every job's state changes in the account and Region to the default event bus; the rules
match only jobs whose name starts with the environment's job-name prefix (the runner names every job
"<prefix><run>-s<NNNNN>"), so other environments and tools do not alert here.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

EVENT_SOURCE = "aws.bedrock"
EVENT_DETAIL_TYPE = "Batch Inference Job State Change"
# Statuses a person should look at; PartiallyCompleted is a success with gaps, still worth a look.
ALERT_STATUSES = ("Failed", "PartiallyCompleted", "Expired", "Stopped")
# Statuses that mean a job produced nothing usable: these drive the alarm.
FAILURE_STATUSES = ("Failed", "Expired")
SUCCESS_STATUS = "Completed"


def job_state_pattern(statuses: Sequence[str], job_name_prefix: str) -> events.EventPattern:
    return events.EventPattern(
        source=[EVENT_SOURCE],
        detail_type=[EVENT_DETAIL_TYPE],
        detail={"status": list(statuses), "batchJobName": [{"prefix": job_name_prefix}]},
    )


class JobNotifications(Construct):
    """An encrypted topic plus the rules that feed it (together: every status in ``ALERT_STATUSES``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        emails: Sequence[str],
        notify_on_completed: bool,
        job_name_prefix: str,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        # The AWS-managed alias/aws/sns key cannot be used by EventBridge or CloudWatch alarms (its key
        # policy cannot be changed), so the topic gets its own customer-managed key. The rules'
        # SnsTopic targets add the EventBridge grant to its key policy; ``allow_alarms`` adds CloudWatch's.
        self.key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts Bedrock batch job alerts",
            enable_key_rotation=True,
            pending_window=Duration.days(30),
            removal_policy=removal_policy,
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="Bedrock batch job alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

        # Two rules, both delivering to the topic: failures get their own rule so that its
        # AWS/Events TriggeredRules metric counts exactly the failed jobs for the alarm.
        self.failure_rule = events.Rule(
            self,
            "JobFailureRule",
            description="Bedrock batch inference jobs that ended Failed or Expired",
            event_pattern=job_state_pattern(FAILURE_STATUSES, job_name_prefix),
            targets=[targets.SnsTopic(self.topic)],
        )
        self.attention_statuses = [status for status in ALERT_STATUSES if status not in FAILURE_STATUSES]
        if notify_on_completed:
            self.attention_statuses.append(SUCCESS_STATUS)
        self.attention_rule = events.Rule(
            self,
            "JobAttentionRule",
            description="Bedrock batch inference jobs that ended with gaps or were stopped",
            event_pattern=job_state_pattern(self.attention_statuses, job_name_prefix),
            targets=[targets.SnsTopic(self.topic)],
        )
        # The targets' grant names the bare EventBridge service, which would let any account's rule
        # publish here; only this stack's rules may (the confused-deputy guard of the Bedrock role).
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyThisStacksRulesPublish",
                effect=iam.Effect.DENY,
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "ArnNotEquals": {
                        "aws:SourceArn": [self.failure_rule.rule_arn, self.attention_rule.rule_arn]
                    }
                },
            )
        )

    def allow_alarms(self, alarm_arns: Sequence[str]) -> None:
        """Let these CloudWatch alarms (of this account) publish to the topic and use its key.

        CDK writes the topic policy, which replaces the SNS default that let the account's services
        publish: without this, an alarm's notification is refused. The alarm ARNs must not refer to
        the alarms' resources (the key would then depend on the alarm, which depends on the topic,
        which depends on the key), so callers build them from the alarms' fixed names.
        """
        # EventBridge's key grant (added by the rules' targets) stays as CDK writes it: the key encrypts
        # only this topic, and the topic policy already limits EventBridge to this stack's rules.
        account = Stack.of(self).account
        only_these_alarms = {
            "ArnEquals": {"aws:SourceArn": list(alarm_arns)},
            "StringEquals": {"aws:SourceAccount": account},
        }
        alarms = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsPublish",
                principals=[alarms],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=only_these_alarms,
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsPublishToTopic",
                principals=[alarms],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                # In a key policy "*" means this key.
                resources=["*"],
                conditions=only_these_alarms,
            )
        )
