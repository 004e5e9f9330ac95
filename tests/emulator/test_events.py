"""EventBridge: every status change is the documented event, recorded and put on the default bus."""

from __future__ import annotations

import json
from typing import Any

from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.local import Emulator
from tests.emulator.helpers import CLAUDE, create_job, unique

DETAIL_FIELDS = {
    "version",
    "accountId",
    "batchJobName",
    "batchJobArn",
    "batchModelId",
    "status",
    "failureMessage",
    "creationTime",
}


def queue_receiving(emulator: Emulator, pattern: dict[str, Any]) -> tuple[str, str]:
    """An SQS queue that an EventBridge rule on the default bus feeds; returns its URL and the rule."""
    sqs, events = emulator.client("sqs"), emulator.client("events")
    url: str = sqs.create_queue(QueueName=unique("events"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
    return url, rule


def drain(emulator: Emulator, url: str) -> list[dict[str, Any]]:
    sqs = emulator.client("sqs")
    bodies: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [json.loads(message["Body"]) for message in messages]
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_each_status_change_is_recorded_as_the_documented_event(emulator: Emulator) -> None:
    name = unique("evented")
    arn = create_job(emulator, jobName=name)
    emulator.run_until_idle()
    events = [event for event in emulator.events() if event["resources"] == [arn]]
    assert [event["detail"]["status"] for event in events] == [
        "Submitted",
        "Validating",
        "Scheduled",
        "InProgress",
        "Completed",
    ]
    for event in events:
        assert (event["source"], event["detail-type"]) == ("aws.bedrock", "Batch Inference Job State Change")
        assert (event["account"], event["region"]) == ("123456789012", "us-east-1")
        assert set(event["detail"]) == DETAIL_FIELDS
        assert event["detail"]["batchJobName"] == name
        assert event["detail"]["batchJobArn"] == arn
        assert event["detail"]["batchModelId"] == f"arn:aws:bedrock:us-east-1::foundation-model/{CLAUDE}"
        assert event["detail"]["failureMessage"] == ""


def test_events_reach_rules_on_the_default_bus(emulator: Emulator) -> None:
    url, _ = queue_receiving(emulator, {"source": ["aws.bedrock"], "detail": {"status": ["Completed"]}})
    arn = create_job(emulator)
    emulator.run_until_idle()
    delivered = [body for body in drain(emulator, url) if body["resources"] == [arn]]
    assert [body["detail"]["status"] for body in delivered] == ["Completed"]
    assert delivered[0]["detail-type"] == "Batch Inference Job State Change"


def test_the_stacks_alert_rule_publishes_failed_jobs_to_its_topic(emulator: Emulator) -> None:
    sqs, sns = emulator.client("sqs"), emulator.client("sns")
    url = sqs.create_queue(QueueName=unique("alerts"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = emulator.stack_outputs[OutputKey.NOTIFICATION_TOPIC_ARN]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    prefix = emulator.stack_outputs[OutputKey.JOB_NAME_PREFIX]  # the runner names every job with it
    emulator.configure(job_outcome="Failed")
    failed = create_job(emulator, jobName=prefix + unique("job"))
    foreign = create_job(emulator, jobName=unique("other-tool"))  # another environment's or tool's job
    emulator.configure(job_outcome=None)
    completed = create_job(emulator, jobName=prefix + unique("job"))
    emulator.run_until_idle()
    alerts = drain(emulator, url)
    assert [alert["detail"]["batchJobArn"] for alert in alerts] == [failed]
    assert alerts[0]["detail"]["status"] == "Failed"
    assert completed not in json.dumps(alerts) and foreign not in json.dumps(alerts)


def test_delivery_is_best_effort_and_never_stalls_a_job(emulator: Emulator) -> None:
    url, rule = queue_receiving(emulator, {"source": ["aws.bedrock"]})
    emulator.client("sqs").delete_queue(QueueUrl=url)  # the rule now points at nothing
    arn = create_job(emulator)
    try:
        emulator.run_until_idle()
    finally:
        events = emulator.client("events")
        events.remove_targets(Rule=rule, Ids=["queue"])
        events.delete_rule(Name=rule)
    assert emulator.client("bedrock").get_model_invocation_job(jobIdentifier=arn)["status"] == "Completed"
    assert [e["detail"]["status"] for e in emulator.events() if e["resources"] == [arn]][-1] == "Completed"
