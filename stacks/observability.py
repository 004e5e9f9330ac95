"""A CloudWatch dashboard of batch progress per allowed model, and an alarm on failed jobs."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
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


class BatchObservability(Construct):
    """Dashboard ``<stack>-batch`` and alarm ``failed jobs >= 1 in 5 minutes`` -> the alert topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_ids: Sequence[str],
        failure_rule: events.IRule,
        alert_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        failed_jobs = cloudwatch.Metric(
            namespace="AWS/Events",
            metric_name="TriggeredRules",
            dimensions_map={"RuleName": failure_rule.rule_name},
            statistic="Sum",
            period=PERIOD,
            label="Jobs ended Failed or Expired",
        )
        self.failed_jobs_alarm = cloudwatch.Alarm(
            self,
            "FailedJobsAlarm",
            alarm_description="A Bedrock batch inference job ended Failed or Expired; see the job's "
            "failure message with `python -m batch_runner status`.",
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
                title=title,
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
                        title="Jobs ended Failed or Expired",
                        left=[failed_jobs],
                        left_annotations=[self.failed_jobs_alarm.to_annotation()],
                        width=24,
                    )
                ],
            ],
        )
