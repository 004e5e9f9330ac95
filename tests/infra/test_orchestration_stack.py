"""What `orchestration.enabled` adds to a stack (dev enables it): registry, scheduler, triggers."""

from __future__ import annotations

from aws_cdk.assertions import Match

from batch_runner.orchestration.registry import STATE_INDEX
from batch_runner.orchestration.settings import EVENT_SOURCE, RUNNER_EVENTS, SETTINGS_VARIABLE
from stacks.orchestration import SCHEDULER_HANDLER
from tests.infra.conftest import Synthesized


def test_only_enabled_environments_get_it(synthesized: Synthesized) -> None:
    assert not [r for r in synthesized.templates["prod"]["Resources"] if r.startswith("Orchestration")]


def test_the_registry_is_encrypted_recoverable_and_indexed_by_state(synthesized: Synthesized) -> None:
    synthesized.template("dev").has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "run", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "GlobalSecondaryIndexes": [Match.object_like({"IndexName": STATE_INDEX})],
        },
    )


def test_one_scheduler_at_a_time_with_dead_letters_and_the_project_s_code(synthesized: Synthesized) -> None:
    template = synthesized.template("dev")
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": SCHEDULER_HANDLER,
            "Runtime": "python3.11",
            "ReservedConcurrentExecutions": 1,
            "DeadLetterConfig": Match.object_like({"TargetArn": Match.any_value()}),
            "LoggingConfig": Match.object_like({"LogGroup": Match.any_value()}),
            "Environment": {
                "Variables": Match.object_like({SETTINGS_VARIABLE: Match.string_like_regexp("teams")})
            },
        },
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 90})
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"AlarmName": "BedrockBatch-dev-scheduler-errors", "MetricName": "Errors", "Threshold": 1},
    )


def test_job_ends_runner_events_and_a_sweep_wake_it(synthesized: Synthesized) -> None:
    template = synthesized.template("dev")
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.bedrock"],
                "detail-type": ["Batch Inference Job State Change"],
                "detail": {"status": ["Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"]},
            },
            "Targets": [Match.object_like({"DeadLetterConfig": Match.any_value()})],
        },
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": [EVENT_SOURCE],
                "detail-type": list(RUNNER_EVENTS),
                "detail": {"stack": ["BedrockBatch-dev"]},
            }
        },
    )
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(5 minutes)"})


def test_submitters_may_register_runs_and_wake_the_scheduler_only_as_the_runner(
    synthesized: Synthesized,
) -> None:
    synthesized.template("dev").has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "WakeTheScheduler",
                                "Action": "events:PutEvents",
                                "Condition": {"StringEquals": {"events:source": EVENT_SOURCE}},
                            }
                        )
                    ]
                )
            }
        },
    )
