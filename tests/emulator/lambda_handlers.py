"""Lambda handlers the Step Functions tests deploy (``Handler: tests.emulator.lambda_handlers.<name>``).

The emulator calls them in-process with the function's environment variables and an ``AwsContext``
pointing at itself, as it calls the stack's own handlers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batch_runner.aws.clients import AwsContext


def count(
    event: dict[str, Any], context: Any, *, aws: AwsContext, environ: Mapping[str, str]
) -> dict[str, Any]:
    """How many items the event carries, and the function's own setting."""
    return {"count": len(event.get("items", [])), "label": environ.get("LABEL", "")}


def park_token(
    event: dict[str, Any], context: Any, *, aws: AwsContext, environ: Mapping[str, str]
) -> dict[str, Any]:
    """Store the task token in DynamoDB, where whoever resumes the execution finds it."""
    item = {"key": {"S": event["key"]}, "token": {"S": event["token"]}}
    aws.client("dynamodb").put_item(TableName=environ["TABLE"], Item=item)
    return {"parked": event["key"]}


def fail(
    event: dict[str, Any], context: Any, *, aws: AwsContext, environ: Mapping[str, str]
) -> dict[str, Any]:
    raise ValueError(f"cannot handle {event.get('what', 'this')}")
