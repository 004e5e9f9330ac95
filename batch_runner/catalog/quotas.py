"""Default batch quotas per model, from ``batch_runner/data/quotas.yaml``.

These are the fallback: the submission side reads live values from Service Quotas when it can and
applies them (and any flags) with ``dataclasses.replace``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from batch_runner.catalog.tables import load_data_file, model_entry

QUOTAS_FILE = "quotas.yaml"


@dataclass(frozen=True)
class ModelQuotas:
    """Per-model batch limits. Defaults come from a data file; flags and Service Quotas override."""

    min_records_per_job: int = 100
    max_records_per_file: int = 50_000
    max_records_per_job: int = 50_000
    max_file_bytes: int = 1_000_000_000
    max_job_bytes: int = 5_000_000_000
    max_concurrent_jobs: int = 20


_LIMIT_NAMES = tuple(field.name for field in fields(ModelQuotas))


def default_quotas(model_id: str) -> ModelQuotas:
    """The documented default quotas for this model (the general defaults for unlisted models)."""
    data = load_data_file(QUOTAS_FILE)
    values = {name: int(data["defaults"][name]) for name in _LIMIT_NAMES if name in data["defaults"]}
    entry = model_entry(data["models"], model_id) or {}
    values.update({name: int(entry[name]) for name in _LIMIT_NAMES if name in entry})
    return ModelQuotas(**values)


def quota_model_name(model_id: str) -> str | None:
    """The model's display name in Service Quotas names ("... for Claude 3 Haiku"), when known."""
    entry = model_entry(load_data_file(QUOTAS_FILE)["models"], model_id)
    name = entry.get("quota_name") if entry else None
    return str(name) if name else None
