"""Default quotas per model from the package data file."""

from __future__ import annotations

import pytest

from batch_runner.catalog.quotas import ModelQuotas, default_quotas, quota_model_name


def test_unlisted_models_get_the_general_defaults() -> None:
    assert default_quotas("cohere.command-r-v1:0") == ModelQuotas(
        min_records_per_job=100,
        max_records_per_file=50_000,
        max_records_per_job=50_000,
        max_file_bytes=1_000_000_000,
        max_job_bytes=5_000_000_000,
        max_concurrent_jobs=20,
    )


@pytest.mark.parametrize(
    ("model_id", "field", "value"),
    [
        ("us.meta.llama4-scout-17b-instruct-v1:0", "min_records_per_job", 50),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
            "max_job_bytes",
            100_000_000_000,
        ),
        ("amazon.titan-embed-text-v2:0", "max_concurrent_jobs", 3),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "min_records_per_job", 100),
    ],
)
def test_per_model_exceptions_apply_through_prefixes_and_arns(model_id: str, field: str, value: int) -> None:
    assert getattr(default_quotas(model_id), field) == value


@pytest.mark.parametrize(
    ("model_id", "name"),
    [
        ("us.anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku"),
        ("apac.amazon.nova-pro-v1:0", "Nova Pro V1"),
        ("mistral.mistral-large-2407-v1:0", "Mistral Large 2 (24.07)"),
        ("cohere.command-r-v1:0", None),
    ],
)
def test_service_quotas_display_names(model_id: str, name: str | None) -> None:
    assert quota_model_name(model_id) == name
