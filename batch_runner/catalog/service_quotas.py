"""Live batch quotas for one model from the Service Quotas API, over the defaults.

Quotas are per model and Region, named "<quota> for <model display name>". Applied values (what the
account has, including increases) win over AWS defaults, which win over the data-file defaults.
When Service Quotas cannot be read (no permission, no endpoint, an emulator without it) the
defaults are used and the reason is recorded, never raised: quotas refine the plan, they do not
gate it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.catalog.quotas import ModelQuotas, quota_model_name

SERVICE_CODE = "bedrock"
SOURCE_SERVICE_QUOTAS = "service-quotas"
SOURCE_DEFAULTS = "defaults"

_GB = 1_000_000_000
# Quota-name beginnings (lowercase) -> ModelQuotas field and the factor from the quota's unit.
# Order matters: "records per input file" must be tried before "records per batch inference job".
_FIELDS: tuple[tuple[str, str, int], ...] = (
    ("minimum number of records", "min_records_per_job", 1),
    ("records per input file", "max_records_per_file", 1),
    ("records per batch inference job", "max_records_per_job", 1),
    ("batch inference input file size", "max_file_bytes", _GB),
    ("batch inference job size", "max_job_bytes", _GB),
    ("sum of in-progress and submitted batch inference jobs", "max_concurrent_jobs", 1),
)


@dataclass(frozen=True)
class QuotaLookup:
    quotas: ModelQuotas
    source: str  # SOURCE_SERVICE_QUOTAS when at least one value came from the API
    detail: str = ""  # why the API was not used, or which values it gave


def quota_values(quotas: Iterable[Mapping[str, Any]], model_name: str) -> dict[str, int]:
    """ModelQuotas field values from Service Quotas entries that belong to ``model_name``."""
    suffix = f" for {model_name}".lower()
    values: dict[str, int] = {}
    for quota in quotas:
        name = str(quota.get("QuotaName", "")).lower()
        value = quota.get("Value")
        if not name.endswith(suffix) or value is None:
            continue
        for beginning, field_name, factor in _FIELDS:
            if name.startswith(beginning):
                values[field_name] = int(float(value) * factor)
                break
    return values


def _list(client: Any, operation: str) -> list[Mapping[str, Any]]:
    pages = client.get_paginator(operation).paginate(ServiceCode=SERVICE_CODE)
    return [quota for page in pages for quota in page.get("Quotas", [])]


def read_quotas(client_factory: Callable[[], Any], model_id: str, defaults: ModelQuotas) -> QuotaLookup:
    """Quotas for ``model_id``: applied values > AWS defaults > ``defaults``."""
    name = quota_model_name(model_id)
    if name is None:
        return QuotaLookup(defaults, SOURCE_DEFAULTS, f"no Service Quotas name known for {model_id}")
    try:
        client = client_factory()
        aws_defaults = quota_values(_list(client, "list_aws_default_service_quotas"), name)
        applied = quota_values(_list(client, "list_service_quotas"), name)
    except (ClientError, BotoCoreError) as err:
        return QuotaLookup(defaults, SOURCE_DEFAULTS, f"Service Quotas not readable: {err}")
    values = {**aws_defaults, **applied}
    if not values:
        return QuotaLookup(defaults, SOURCE_DEFAULTS, f"Service Quotas lists no batch quotas for {name}")
    found = ", ".join(f"{k}={v}" for k, v in sorted(values.items()))
    return QuotaLookup(replace(defaults, **values), SOURCE_SERVICE_QUOTAS, f"{name}: {found}")
