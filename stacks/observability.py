"""A CloudWatch dashboard of batch progress, and an alarm on this stack's failed jobs.

Bedrock's batch metrics (AWS/Bedrock/Batch) have one dimension, the model: they count every job on
the model in the account and Region and cannot be narrowed to this stack's jobs, so their graphs say
so. What can be narrowed is: the alarm and the "jobs ended" graph count the stack's EventBridge rules,
which match only this environment's job names.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from constructs import Construct

BATCH_NAMESPACE = "AWS/Bedrock/Batch"
BATCH_METRICS = (
    ("NumberOfRecordsPendingProcessing", "Records pending"),
    ("NumberOfInputTokensProcessedPerMinute", "Input tokens processed per minute"),
    ("NumberOfOutputTokensProcessedPerMinute", "Output tokens processed per minute"),
)
ACCOUNT_WIDE = " (all jobs on the model in this account and Region)"
PERIOD = Duration.minutes(5)


def batch_metric(metric_name: str, model_id: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=BATCH_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"ModelId": model_id},
        statistic="Average",
        period=PERIOD,
        label=model_id,
    )


def jobs_matched(rule: events.IRule, label: str) -> cloudwatch.Metric:
    """Events a rule matched per period: this stack's jobs that reached the rule's statuses."""
    return cloudwatch.Metric(
        namespace="AWS/Events",
        metric_name="TriggeredRules",
        dimensions_map={"RuleName": rule.rule_name},
        statistic="Sum",
        period=PERIOD,
        label=label,
    )


def _either(statuses: Sequence[str]) -> str:
    return " or ".join(filter(None, [", ".join(statuses[:-1]), statuses[-1]]))


class BatchObservability(Construct):
    """Dashboard ``<stack>-batch`` and alarm ``<stack>-failed-jobs`` (one failed job in 5 minutes) -> the
    alert topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_ids: Sequence[str],
        failure_rule: events.IRule,
        attention_rule: events.IRule,
        attention_statuses: Sequence[str],
        alert_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        failed_jobs = jobs_matched(failure_rule, "Jobs ended Failed or Expired")
        # A fixed name, so the topic and its key can name the alarm's ARN without depending on it.
        alarm_name = f"{stack.stack_name}-failed-jobs"
        self.failed_jobs_alarm_arn = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=alarm_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.failed_jobs_alarm = cloudwatch.Alarm(
            self,
            "FailedJobsAlarm",
            alarm_name=alarm_name,
            alarm_description="A Bedrock batch inference job of this stack ended Failed or Expired; see "
            "the job's failure message with `python -m batch_runner status`.",
            metric=failed_jobs,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            # No event means no failed job, not an unknown state.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.failed_jobs_alarm.add_alarm_action(actions.SnsAction(alert_topic))

        graphs: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title=title + ACCOUNT_WIDE,
                left=[batch_metric(metric_name, model_id) for model_id in model_ids],
                width=8,
            )
            for metric_name, title in BATCH_METRICS
        ]
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            widgets=[
                graphs,
                [
                    # A graph with the alarm's threshold rather than an AlarmWidget: it shows the same
                    # thing without a reference to the alarm, which local emulators cannot resolve.
                    cloudwatch.GraphWidget(
                        title="This stack's jobs that ended",
                        left=[
                            failed_jobs,
                            jobs_matched(attention_rule, f"Jobs ended {_either(attention_statuses)}"),
                        ],
                        left_annotations=[self.failed_jobs_alarm.to_annotation()],
                        width=24,
                    )
                ],
            ],
        )
