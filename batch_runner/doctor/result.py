"""What one check found, and the facts the checks share while they run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from batch_runner.aws.clients import AwsContext


@dataclass(frozen=True)
class CheckResult:
    """``ok`` is True (passed), False (failed: ``fix`` says what to do) or None (could not verify:
    ``detail`` says why, ``fix`` how to let doctor verify it)."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""


def passed(name: str, detail: str) -> CheckResult:
    return CheckResult(name, True, detail)


def failed(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, False, detail, fix)


def unverified(name: str, detail: str, fix: str = "") -> CheckResult:
    return CheckResult(name, None, detail, fix)


@dataclass
class CheckTarget:
    """The account, Region and resources under check, filled in as checks succeed."""

    aws: AwsContext
    region: str
    account: str = ""
    caller_arn: str = ""
    stack: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    input_bucket: str = ""
    output_bucket: str = ""
    role_arn: str = ""
    kms_key: str | None = None
    allowed_models: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    subnet_ids: tuple[str, ...] = ()  # the VPC configuration jobs run with; empty: no VPC
    security_group_ids: tuple[str, ...] = ()
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        """One client per service for the whole run (creating a boto3 client is slow)."""
        if service not in self._clients:
            self._clients[service] = self.aws.client(service)
        return self._clients[service]

    @property
    def job_arn_pattern(self) -> str:
        return f"arn:aws:bedrock:{self.region}:{self.account}:model-invocation-job/*"


def statement_json(statement: dict[str, Any]) -> str:
    """A policy statement as the fix prints it: indented JSON ready to paste."""
    return json.dumps(statement, indent=2)


def error_code(err: Exception) -> str:
    response = getattr(err, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def error_message(err: Exception) -> str:
    response = getattr(err, "response", None) or {}
    return str(response.get("Error", {}).get("Message", "")) or str(err)


ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
