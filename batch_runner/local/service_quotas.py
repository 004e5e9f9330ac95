"""Service Quotas for ``bedrock``: the batch quotas of the emulated models, from ``EmulatorConfig``.

So the limits a test sets (``min_records_per_job=10``) reach a client the way real quotas do:
``ListAWSDefaultServiceQuotas`` / ``ListServiceQuotas`` with ``ServiceCode=bedrock`` answer
"<quota> for <model display name>" entries (json 1.1 protocol). Other service codes go to moto.
"""

from __future__ import annotations

import hashlib
from typing import Any

from batch_runner.local.config import EmulatorConfig
from batch_runner.local.errors import ValidationError

TARGET_PREFIX = "ServiceQuotasV20190624."
_OPERATIONS = ("ListServiceQuotas", "ListAWSDefaultServiceQuotas")
_GB = 1_000_000_000
PAGE_SIZE = 100

# Display names Service Quotas uses for the models the emulator runs (quota names cannot be derived
# from model IDs).
MODEL_NAMES = (
    "Claude 3 Haiku",
    "Claude 3.5 Haiku",
    "Claude 3.5 Sonnet",
    "Claude 3.7 Sonnet",
    "Claude Sonnet 4",
    "Claude Sonnet 4.5",
    "Claude Haiku 4.5",
    "Nova Micro V1",
    "Nova Lite V1",
    "Nova Pro V1",
    "Titan Text Embeddings V2",
    "Llama 3.1 8B Instruct",
    "Llama 3.1 70B Instruct",
    "Llama 3.3 70B Instruct",
    "Mistral Large 2 (24.07)",
    "Mistral Small",
)


def handles(target: str, body: dict[str, Any]) -> bool:
    operation = target.removeprefix(TARGET_PREFIX)
    return (
        target.startswith(TARGET_PREFIX) and operation in _OPERATIONS and body.get("ServiceCode") == "bedrock"
    )


def _quotas(config: EmulatorConfig, model: str) -> list[tuple[str, float, str, bool]]:
    """(name, value, unit, adjustable) of one model's batch quotas."""
    # The one documented per-model exception; Validating enforces it too.
    job_bytes = config.job_bytes_limit(nova_pro=model == "Nova Pro V1")
    active = config.max_active_jobs_per_model
    return [
        (
            f"Minimum number of records per batch inference job for {model}",
            config.min_records_per_job,
            "None",
            False,
        ),
        (
            f"Records per input file per batch inference job for {model}",
            config.max_records_per_file,
            "None",
            True,
        ),
        (f"Records per batch inference job for {model}", config.max_records_per_job, "None", True),
        (f"Batch inference input file size (in GB) for {model}", config.max_file_bytes / _GB, "None", False),
        (f"Batch inference job size (in GB) for {model}", job_bytes / _GB, "None", False),
        (
            f"Sum of in-progress and submitted batch inference jobs using a base model for {model}",
            active,
            "None",
            True,
        ),
    ]


def answer(body: dict[str, Any], config: EmulatorConfig, account_id: str, region: str) -> dict[str, Any]:
    """One page of quotas (``NextToken`` is the index of the next entry)."""
    entries = []
    for model in MODEL_NAMES:
        for name, value, unit, adjustable in _quotas(config, model):
            code = "L-" + hashlib.sha256(name.encode()).hexdigest()[:8].upper()
            entries.append(
                {
                    "ServiceCode": "bedrock",
                    "ServiceName": "Amazon Bedrock",
                    "QuotaArn": f"arn:aws:servicequotas:{region}:{account_id}:bedrock/{code}",
                    "QuotaCode": code,
                    "QuotaName": name,
                    "Value": float(value),
                    "Unit": unit,
                    "Adjustable": adjustable,
                    "GlobalQuota": False,
                }
            )
    try:
        start = int(body.get("NextToken") or 0)
        size = int(body.get("MaxResults") or PAGE_SIZE)
    except ValueError as err:
        raise ValidationError("Invalid NextToken or MaxResults.") from err
    if not 0 <= start <= len(entries) or not 1 <= size <= 100:
        raise ValidationError("Invalid NextToken or MaxResults.")
    page: dict[str, Any] = {"Quotas": entries[start : start + size]}
    if start + size < len(entries):
        page["NextToken"] = str(start + size)
    return page
