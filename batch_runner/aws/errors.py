"""Turning botocore errors into the runner's own, keeping the service's code and message."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.exceptions import AwsError


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def error_message(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Message", "")) or str(err)


def aws_error(err: ClientError | BotoCoreError, doing: str) -> AwsError:
    """``AwsError("<doing> failed: <Code>: <message>")``; raise it ``from err``."""
    if isinstance(err, ClientError):
        code = error_code(err)
        return AwsError(f"{doing} failed: {code}: {error_message(err)}", code=code)
    return AwsError(f"{doing} failed: {err}")
