"""Alerts: EventBridge rules -> encrypted, TLS-only SNS topic; failed-job alarm; batch dashboard."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from tests.infra.conftest import Synthesized

ALERT_STATUSES = {"Failed", "PartiallyCompleted", "Expired", "Stopped"}


def _rules(synthesized: Synthesized, env_name: str) -> dict[str, dict[str, object]]:
    deployed = synthesized.deployed(env_name)
    return {rule: deployed.properties(rule) for rule in deployed.logical_ids("AWS::Events::Rule")}


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
        statuses.extend(pattern["detail"]["status"])
    expected = ALERT_STATUSES | (
        {"Completed"} if synthesized.configs[env_name].notify_on_completed else set()
    )
    assert sorted(statuses) == sorted(expected)  # each status in exactly one rule: one email per event


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
    rules = deployed.logical_ids("AWS::Events::Rule")
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


def test_dashboard_graphs_batch_metrics_for_every_allowed_model(
    synthesized: Synthesized, env_name: str
) -> None:
    deployed = synthesized.deployed(env_name)
    body = json.loads(
        deployed.properties(deployed.only("AWS::CloudWatch::Dashboard", "Dashboard"))["DashboardBody"]
    )
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
