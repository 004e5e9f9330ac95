"""Model adapters: build each model family's native ``modelInput`` request body."""

from batch_runner.catalog.model_ids import ModelRef, parse_model_id
from batch_runner.catalog.models.base import DEFAULT_MAX_TOKENS, ModelAdapter, RequestSettings
from batch_runner.catalog.models.registry import (
    FAMILY_OPTION,
    SUPPORTED_FAMILIES,
    adapter_for,
    is_embedding_model,
    model_family,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "FAMILY_OPTION",
    "SUPPORTED_FAMILIES",
    "ModelAdapter",
    "ModelRef",
    "RequestSettings",
    "adapter_for",
    "is_embedding_model",
    "model_family",
    "parse_model_id",
]
