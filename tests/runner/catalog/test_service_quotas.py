"""Live quotas from Service Quotas, matched by the model's display name, with a silent fallback."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from batch_runner.catalog.quotas import ModelQuotas
from batch_runner.catalog.service_quotas import (
    SOURCE_DEFAULTS,
    SOURCE_SERVICE_QUOTAS,
    quota_values,
    read_quotas,
)

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def _quota(name: str, value: float, code: str = "L-00000000") -> dict[str, Any]:
    return {"ServiceCode": "bedrock", "QuotaCode": code, "QuotaName": name, "Value": value}


AWS_DEFAULTS = [
    _quota("Minimum number of records per batch inference job for Claude 3 Haiku", 100),
    _quota("Records per input file per batch inference job for Claude 3 Haiku", 50000),
    _quota("Records per batch inference job for Claude 3 Haiku", 50000),
    _quota("Batch inference input file size (in GB) for Claude 3 Haiku", 1),
    _quota("Batch inference job size (in GB) for Claude 3 Haiku", 5),
    _quota("Sum of in-progress and submitted batch inference jobs using a base model for Claude 3 Haiku", 20),
    # Other models' quotas, including one whose name ends like Haiku's, must not leak in.
    _quota("Records per batch inference job for Claude 3.5 Haiku", 7),
    _quota("Records per batch inference job for Nova Pro V1", 9),
    _quota("On-demand InvokeModel requests per minute for Claude 3 Haiku", 1000),
]
APPLIED = [
    _quota("Records per batch inference job for Claude 3 Haiku", 200000),
    _quota("Sum of in-progress and submitted batch inference jobs using a base model for Claude 3 Haiku", 50),
]


def _stubbed(default_quotas: list[dict[str, Any]], applied: list[dict[str, Any]]) -> Any:
    client = boto3.client("service-quotas", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response(
        "list_aws_default_service_quotas", {"Quotas": default_quotas}, {"ServiceCode": "bedrock"}
    )
    stubber.add_response("list_service_quotas", {"Quotas": applied}, {"ServiceCode": "bedrock"})
    stubber.activate()
    return client


def test_applied_values_beat_aws_defaults_and_names_match_exactly() -> None:
    lookup = read_quotas(lambda: _stubbed(AWS_DEFAULTS, APPLIED), f"us.{HAIKU}", ModelQuotas())
    assert lookup.source == SOURCE_SERVICE_QUOTAS
    assert lookup.quotas == ModelQuotas(
        min_records_per_job=100,
        max_records_per_file=50_000,
        max_records_per_job=200_000,
        max_file_bytes=1_000_000_000,
        max_job_bytes=5_000_000_000,
        max_concurrent_jobs=50,
    )
    assert "Claude 3 Haiku" in lookup.detail


def test_gigabyte_quotas_become_bytes() -> None:
    values = quota_values([_quota("Batch inference job size (in GB) for Nova Pro V1", 100)], "Nova Pro V1")
    assert values == {"max_job_bytes": 100_000_000_000}


def test_unreachable_service_quotas_falls_back_to_defaults_and_says_why() -> None:
    client = boto3.client("service-quotas", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error("list_aws_default_service_quotas", "AccessDeniedException", "not allowed")
    stubber.activate()
    defaults = ModelQuotas(max_concurrent_jobs=3)
    lookup = read_quotas(lambda: client, HAIKU, defaults)
    assert lookup.quotas is defaults
    assert lookup.source == SOURCE_DEFAULTS
    assert "AccessDeniedException" in lookup.detail


def test_a_model_without_a_known_display_name_uses_defaults_without_calling() -> None:
    def no_client() -> Any:
        raise AssertionError("Service Quotas should not be called")

    lookup = read_quotas(no_client, "acme.unknown-v1", ModelQuotas())
    assert lookup.source == SOURCE_DEFAULTS
    assert "no Service Quotas name known" in lookup.detail
