"""Job alerts: EventBridge rules on Bedrock batch job state changes, delivered to an encrypted SNS topic."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
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


def job_state_pattern(statuses: Sequence[str]) -> events.EventPattern:
    return events.EventPattern(
        source=[EVENT_SOURCE],
        detail_type=[EVENT_DETAIL_TYPE],
        detail={"status": list(statuses)},
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
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        # The AWS-managed alias/aws/sns key cannot be used by EventBridge (its key policy cannot be
        # changed), so the topic gets its own customer-managed key. The rules' SnsTopic targets add
        # the EventBridge grant to its key policy; CloudWatch alarms need theirs added here.
        self.key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts Bedrock batch job alerts",
            enable_key_rotation=True,
            pending_window=Duration.days(30),
            removal_policy=removal_policy,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsPublishToTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                # In a key policy "*" means this key.
                resources=["*"],
            )
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
            event_pattern=job_state_pattern(FAILURE_STATUSES),
            targets=[targets.SnsTopic(self.topic)],
        )
        other_statuses = [status for status in ALERT_STATUSES if status not in FAILURE_STATUSES]
        if notify_on_completed:
            other_statuses.append(SUCCESS_STATUS)
        self.attention_rule = events.Rule(
            self,
            "JobAttentionRule",
            description="Bedrock batch inference jobs that ended with gaps or were stopped",
            event_pattern=job_state_pattern(other_statuses),
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
