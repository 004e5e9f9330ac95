"""A batch job as the emulated service keeps it, and how it is shown by Get and List."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from batch_runner.local.clock import iso8601
from batch_runner.local.models import base_model_id

TERMINAL = frozenset({"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"})
# Statuses that count against the per-model quota of submitted and in-progress jobs.
ACTIVE = frozenset({"Submitted", "Validating", "Scheduled", "InProgress", "Stopping"})


def model_arn(region: str, account_id: str, model_id: str) -> str:
    """The ARN of what ``modelId`` names: as given, an inference profile, or a foundation model."""
    if model_id.startswith("arn:"):
        return model_id
    if base_model_id(model_id) != model_id:
        return f"arn:aws:bedrock:{region}:{account_id}:inference-profile/{model_id}"
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def echoed_model_id(region: str, model_id: str) -> str:
    """``modelId`` as Get and List return it: a bare foundation-model ID comes back as its ARN
    (observed on AWS, reference section 9b); profile IDs and ARNs as given (their echo was not
    observed)."""
    if model_id.startswith("arn:") or base_model_id(model_id) != model_id:
        return model_id
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


@dataclass
class InputFile:
    """One validated input file: its name in the output layout and its parsed records."""

    name: str
    records: list[dict[str, Any]]


@dataclass
class Job:
    job_id: str
    arn: str
    account_id: str
    region: str
    name: str
    model_id: str
    role_arn: str
    client_request_token: str | None
    input_data_config: dict[str, Any]
    output_data_config: dict[str, Any]
    invocation_type: str
    timeout_hours: int
    vpc_config: dict[str, Any] | None
    tags: list[dict[str, str]]
    submit_time: float
    forced_outcome: str | None = None
    status: str = "Submitted"
    message: str | None = None
    status_since: float = 0.0  # emulator time the current status began
    last_modified_time: float = 0.0
    end_time: float | None = None
    # Filled in by validation and processing.
    files: list[InputFile] = field(default_factory=list)
    total_records: int | None = None
    processed: int = 0
    succeeded: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    output_lines: dict[str, list[str]] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def expiration_time(self) -> float:
        return self.submit_time + self.timeout_hours * 3600

    def describe(self) -> dict[str, Any]:
        """The Get response and the List summary (the service model gives both the same members)."""
        body: dict[str, Any] = {
            "jobArn": self.arn,
            "jobName": self.name,
            "modelId": echoed_model_id(self.region, self.model_id),
            "roleArn": self.role_arn,
            "status": self.status,
            "submitTime": iso8601(self.submit_time),
            "lastModifiedTime": iso8601(self.last_modified_time),
            "inputDataConfig": self.input_data_config,
            "outputDataConfig": self.output_data_config,
            "timeoutDurationInHours": self.timeout_hours,
            "jobExpirationTime": iso8601(self.expiration_time),
            "modelInvocationType": self.invocation_type,
        }
        if self.client_request_token is not None:
            body["clientRequestToken"] = self.client_request_token
        if self.message:
            body["message"] = self.message
        if self.end_time is not None:
            body["endTime"] = iso8601(self.end_time)
        if self.vpc_config is not None:
            body["vpcConfig"] = self.vpc_config
        if self.total_records is not None:
            body.update(
                totalRecordCount=self.total_records,
                processedRecordCount=self.processed,
                successRecordCount=self.succeeded,
                errorRecordCount=self.failed,
            )
        return body
