"""Alerts: EventBridge rules on this stack's jobs -> encrypted, TLS-only SNS topic; failed-job alarm;
batch dashboard. The topic and key policies are evaluated for both publishers (EventBridge, CloudWatch)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import Synthesized
from tests.infra.iam_simulation import service_allowed
from tests.infra.template_values import Deployment

ALERT_STATUSES = {"Failed", "PartiallyCompleted", "Expired", "Stopped"}


def _alert_rule_ids(deployed: Deployment) -> list[str]:
    """The alert rules (the orchestration's rules wake its scheduler, they alert nobody)."""
    return [rule for rule in deployed.logical_ids("AWS::Events::Rule") if rule.startswith("Notifications")]


def _rules(synthesized: Synthesized, env_name: str) -> dict[str, dict[str, object]]:
    deployed = synthesized.deployed(env_name)
    return {rule: deployed.properties(rule) for rule in _alert_rule_ids(deployed)}


def test_rules_match_bedrock_batch_job_state_changes_needing_attention(
    synthesized: Synthesized, env_name: str
) -> None:
    rules = _rules(synthesized, env_name)
    statuses: list[str] = []
    for properties in rules.values():
        pattern = properties["EventPattern"]
        assert isinstance(pattern, dict)
        assert pattern["source"] == ["aws.bedrock"]
        assert pattern["detail-type"] == ["Batch Inference Job State Change"]
        assert set(pattern) == {"source", "detail-type", "detail"}
        assert set(pattern["detail"]) == {"status", "batchJobName"}
        statuses.extend(pattern["detail"]["status"])
    expected = ALERT_STATUSES | (
        {"Completed"} if synthesized.configs[env_name].notify_on_completed else set()
    )
    assert sorted(statuses) == sorted(expected)  # each status in exactly one rule: one email per event


def test_rules_match_only_this_environment_s_job_names(synthesized: Synthesized, env_name: str) -> None:
    # Bedrock sends every job of the account and Region to the default bus; the runner names this
    # environment's jobs "<JobNamePrefix output><run>-s<NNNNN>".
    prefix = synthesized.configs[env_name].job_name_prefix
    assert prefix == f"{env_name}."
    for properties in _rules(synthesized, env_name).values():
        assert properties["EventPattern"]["detail"]["batchJobName"] == [{"prefix": prefix}]


def test_every_rule_notifies_the_topic(synthesized: Synthesized, env_name: str) -> None:
    deployed = synthesized.deployed(env_name)
    topic_arn = deployed.ref(deployed.only("AWS::SNS::Topic", "Notifications"))
    for properties in _rules(synthesized, env_name).values():
        assert properties["Targets"] == [{"Arn": topic_arn, "Id": "Target0"}]
        assert properties["State"] == "ENABLED"


def test_topic_is_encrypted_with_a_customer_key_eventbridge_and_alarms_may_use(
    synthesized: Synthesized, env_name: str
) -> None:
    deployed = synthesized.deployed(env_name)
    key = deployed.only("AWS::KMS::Key", "TopicKey")
    topic = deployed.properties(deployed.only("AWS::SNS::Topic", "Notifications"))
    assert topic["KmsMasterKeyId"] == deployed.get_att(key, "Arn")
    key_properties = deployed.properties(key)
    assert key_properties["EnableKeyRotation"] is True
    services = {
        item["Principal"]["Service"]
        for item in key_properties["KeyPolicy"]["Statement"]
        if "Service" in item["Principal"] and "kms:GenerateDataKey*" in item["Action"]
    }
    assert services == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}


def test_only_this_stacks_rules_may_publish_as_eventbridge(synthesized: Synthesized, env_name: str) -> None:
    deployed = synthesized.deployed(env_name)
    topic_arn = deployed.ref(deployed.only("AWS::SNS::Topic", "Notifications"))
    policy = deployed.properties(deployed.only("AWS::SNS::TopicPolicy", "Notifications"))["PolicyDocument"]
    (deny,) = [item for item in policy["Statement"] if item.get("Sid") == "OnlyThisStacksRulesPublish"]
    allowed_sources = deny.pop("Condition")["ArnNotEquals"]["aws:SourceArn"]
    assert deny == {
        "Sid": "OnlyThisStacksRulesPublish",
        "Effect": "Deny",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": topic_arn,
    }
    rules = _alert_rule_ids(deployed)
    assert sorted(allowed_sources) == sorted(deployed.get_att(rule, "Arn") for rule in rules)


def test_topic_refuses_publishing_without_tls(synthesized: Synthesized, env_name: str) -> None:
    synthesized.template(env_name).has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "sns:Publish",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            "Effect": "Deny",
                            "Principal": "*",
                            "Resource": {"Ref": Match.string_like_regexp("^NotificationsTopic")},
                            "Sid": "AllowPublishThroughSSLOnly",
                        }
                    ]
                )
            }
        },
    )


def test_email_subscriptions_come_from_the_config(synthesized: Synthesized, env_name: str) -> None:
    subscriptions = synthesized.template(env_name).find_resources("AWS::SNS::Subscription")
    endpoints = sorted(item["Properties"]["Endpoint"] for item in subscriptions.values())
    assert endpoints == sorted(synthesized.configs[env_name].notification_emails)
    assert all(item["Properties"]["Protocol"] == "email" for item in subscriptions.values())


def test_alarm_fires_on_one_failed_or_expired_job_and_notifies_the_topic(
    synthesized: Synthesized, env_name: str
) -> None:
    deployed = synthesized.deployed(env_name)
    failure_rule = next(
        name
        for name, rule in _rules(synthesized, env_name).items()
        if "Failed" in rule["EventPattern"]["detail"]["status"]
    )
    assert _rules(synthesized, env_name)[failure_rule]["EventPattern"]["detail"]["status"] == [
        "Failed",
        "Expired",
    ]
    alarm = deployed.properties(deployed.only("AWS::CloudWatch::Alarm", "FailedJobsAlarm"))
    # A fixed name: the topic and key policies name the alarm's ARN without depending on the alarm.
    assert alarm["AlarmName"] == f"{deployed.stack_name}-failed-jobs"
    assert alarm["AlarmActions"] == [deployed.ref(deployed.only("AWS::SNS::Topic", "Notifications"))]
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"
    [metric] = alarm["Metrics"]
    assert metric["MetricStat"]["Metric"] == {
        "Namespace": "AWS/Events",
        "MetricName": "TriggeredRules",
        "Dimensions": [{"Name": "RuleName", "Value": deployed.ref(failure_rule)}],
    }
    assert metric["MetricStat"]["Stat"] == "Sum"


def _dashboard(synthesized: Synthesized, env_name: str) -> dict[str, Any]:
    deployed = synthesized.deployed(env_name)
    body: dict[str, Any] = json.loads(
        deployed.properties(deployed.only("AWS::CloudWatch::Dashboard", "Dashboard"))["DashboardBody"]
    )
    return body


def test_dashboard_graphs_batch_metrics_for_every_allowed_model(
    synthesized: Synthesized, env_name: str
) -> None:
    body = _dashboard(synthesized, env_name)
    series = {
        (metric[0], metric[1], metric[2], metric[3])
        for widget in body["widgets"]
        for metric in widget["properties"]["metrics"]
        if metric[0] == "AWS/Bedrock/Batch"
    }
    expected = {
        ("AWS/Bedrock/Batch", name, "ModelId", model)
        for name in (
            "NumberOfRecordsPendingProcessing",
            "NumberOfInputTokensProcessedPerMinute",
            "NumberOfOutputTokensProcessedPerMinute",
        )
        for model in synthesized.configs[env_name].model_ids
    }
    assert series == expected


def test_dashboard_counts_this_stack_s_jobs_and_says_which_graphs_are_account_wide(
    synthesized: Synthesized, env_name: str
) -> None:
    deployed = synthesized.deployed(env_name)
    rules = {deployed.ref(rule) for rule in _rules(synthesized, env_name)}
    for widget in _dashboard(synthesized, env_name)["widgets"]:
        metrics = widget["properties"]["metrics"]
        if all(metric[0] == "AWS/Events" for metric in metrics):
            # The stack's rules match only its job names: these graphs are scoped.
            assert widget["properties"]["title"] == "This stack's jobs that ended"
            assert {metric[3] for metric in metrics} == rules
        else:
            # AWS/Bedrock/Batch has no job dimension: the graph says what it counts.
            assert {metric[0] for metric in metrics} == {"AWS/Bedrock/Batch"}
            assert widget["properties"]["title"].endswith(
                "(all jobs on the model in this account and Region)"
            )


OTHER_ACCOUNT = "999999999999"
# (case, service, aws:SourceArn, aws:SourceAccount, may publish?); "{...}" filled per environment.
PUBLISHERS: list[tuple[str, str, str | None, str | None, bool]] = [
    ("this stack's failure rule", "events.amazonaws.com", "{failure_rule}", "{account}", True),
    ("this stack's attention rule", "events.amazonaws.com", "{attention_rule}", "{account}", True),
    ("another rule of the account", "events.amazonaws.com", "{rules}/other", "{account}", False),
    ("this stack's alarm", "cloudwatch.amazonaws.com", "{alarm}", "{account}", True),
    ("another alarm of the account", "cloudwatch.amazonaws.com", "{alarms}other", "{account}", False),
    (
        "this alarm's name in another account",
        "cloudwatch.amazonaws.com",
        "{foreign_alarm}",
        OTHER_ACCOUNT,
        False,
    ),
    ("this alarm without its account", "cloudwatch.amazonaws.com", "{alarm}", None, False),
    ("the alarm's account without its ARN", "cloudwatch.amazonaws.com", None, "{account}", False),
    ("another service", "s3.amazonaws.com", "{alarm}", "{account}", False),
]


def _publisher_context(
    synthesized: Synthesized, env_name: str, source_arn: str | None, source_account: str | None
) -> dict[str, Any]:
    deployed = synthesized.deployed(env_name)
    rules = {
        "failure_rule" if "Failure" in rule else "attention_rule": deployed.get_att(rule, "Arn")
        for rule in _alert_rule_ids(deployed)
    }
    alarms = f"arn:aws:cloudwatch:{deployed.region}:{deployed.account}:alarm:"
    alarm_name = f"{deployed.stack_name}-failed-jobs"
    names = {
        **rules,
        "account": deployed.account,
        "rules": f"arn:aws:events:{deployed.region}:{deployed.account}:rule",
        "alarms": alarms,
        "alarm": f"{alarms}{alarm_name}",
        "foreign_alarm": f"{alarms.replace(deployed.account, OTHER_ACCOUNT)}{alarm_name}",
    }
    context: dict[str, Any] = {"aws:SecureTransport": "true"}
    if source_arn is not None:
        context["aws:SourceArn"] = source_arn.format(**names)
    if source_account is not None:
        context["aws:SourceAccount"] = source_account.format(**names)
    return context


def _topic_allows(synthesized: Synthesized, env_name: str, service: str, context: dict[str, Any]) -> bool:
    deployed = synthesized.deployed(env_name)
    topic = deployed.ref(deployed.only("AWS::SNS::Topic", "Notifications"))
    policy = deployed.properties(deployed.only("AWS::SNS::TopicPolicy", "Notifications"))["PolicyDocument"]
    return service_allowed(policy, service, "sns:Publish", topic, context, owner=deployed.account)


def _key_allows(
    synthesized: Synthesized, env_name: str, service: str, action: str, context: dict[str, Any]
) -> bool:
    deployed = synthesized.deployed(env_name)
    key = deployed.only("AWS::KMS::Key", "TopicKey")
    policy = deployed.properties(key)["KeyPolicy"]
    return service_allowed(
        policy, service, action, deployed.get_att(key, "Arn"), context, owner=deployed.account
    )


@pytest.mark.parametrize(
    ("service", "source_arn", "source_account", "expected"),
    [case[1:] for case in PUBLISHERS],
    ids=[case[0] for case in PUBLISHERS],
)
def test_topic_and_key_policies_let_exactly_this_stack_s_rules_and_alarm_publish(
    synthesized: Synthesized,
    env_name: str,
    service: str,
    source_arn: str | None,
    source_account: str | None,
    expected: bool,
) -> None:
    context = _publisher_context(synthesized, env_name, source_arn, source_account)
    assert _topic_allows(synthesized, env_name, service, context) is expected
    if service == "cloudwatch.amazonaws.com":
        # The key policy carries the same conditions for alarms.
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            assert _key_allows(synthesized, env_name, service, action, context) is expected, action


def test_alarm_cannot_publish_without_tls(synthesized: Synthesized, env_name: str) -> None:
    context = _publisher_context(synthesized, env_name, "{alarm}", "{account}")
    context["aws:SecureTransport"] = "false"
    assert not _topic_allows(synthesized, env_name, "cloudwatch.amazonaws.com", context)


def test_topic_key_lets_eventbridge_encrypt(synthesized: Synthesized, env_name: str) -> None:
    # The topic policy limits EventBridge to this stack's rules; the key serves only this topic.
    context = _publisher_context(synthesized, env_name, "{failure_rule}", "{account}")
    assert _key_allows(synthesized, env_name, "events.amazonaws.com", "kms:GenerateDataKey", context)
