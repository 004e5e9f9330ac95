"""Service Quotas answers the emulator's batch limits for bedrock, as the real API lists them."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from batch_runner.local import Emulator


def quotas(emulator: Emulator, operation: str) -> dict[str, float]:
    paginator = emulator.client("service-quotas").get_paginator(operation)
    pages = list(paginator.paginate(ServiceCode="bedrock", PaginationConfig={"PageSize": 25}))
    assert len(pages) > 1 and all(len(page["Quotas"]) <= 25 for page in pages)
    entries: list[dict[str, Any]] = [quota for page in pages for quota in page["Quotas"]]
    assert all(entry["ServiceCode"] == "bedrock" and entry["QuotaCode"].startswith("L-") for entry in entries)
    return {entry["QuotaName"]: entry["Value"] for entry in entries}


@pytest.mark.parametrize("operation", ["list_aws_default_service_quotas", "list_service_quotas"])
def test_batch_quotas_follow_the_emulator_config(emulator: Emulator, operation: str) -> None:
    emulator.configure(
        min_records_per_job=10,
        max_records_per_file=500,
        max_file_bytes=2_000_000,
        max_active_jobs_per_model=4,
    )
    listed = quotas(emulator, operation)
    active = "Sum of in-progress and submitted batch inference jobs using a base model for"
    assert listed["Minimum number of records per batch inference job for Claude 3 Haiku"] == 10
    assert listed["Records per input file per batch inference job for Claude 3.5 Haiku"] == 500
    assert listed["Records per batch inference job for Nova Lite V1"] == 50_000
    assert listed["Batch inference input file size (in GB) for Claude 3 Haiku"] == 0.002
    assert listed["Batch inference job size (in GB) for Claude 3 Haiku"] == 5
    assert listed["Batch inference job size (in GB) for Nova Pro V1"] == 100
    assert listed[f"{active} Claude 3 Haiku"] == 4
    assert listed[f"{active} Titan Text Embeddings V2"] == 4


def test_other_services_still_reach_moto(emulator: Emulator) -> None:
    with pytest.raises(ClientError) as excinfo:
        emulator.client("service-quotas").list_aws_default_service_quotas(ServiceCode="ec2", MaxResults=5)
    assert excinfo.value.response["Error"]["Code"] != "ValidationException"
