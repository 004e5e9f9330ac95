"""Choose the adapter for a model ID and invocation type."""

from __future__ import annotations

import re
from dataclasses import replace

from batch_runner.catalog.invocation import CONVERSE, INVOKE_MODEL
from batch_runner.catalog.model_ids import parse_model_id
from batch_runner.catalog.models.anthropic import ClaudeMessages
from batch_runner.catalog.models.base import ModelAdapter, RequestSettings
from batch_runner.catalog.models.converse import Converse
from batch_runner.catalog.models.meta import Llama3, Llama4
from batch_runner.catalog.models.mistral import MistralChat, MistralText
from batch_runner.catalog.models.nova import NovaMessages
from batch_runner.catalog.models.titan import TitanTextEmbeddingsV2
from batch_runner.exceptions import ModelNotSupportedError, UsageError

# First match wins; patterns apply to the base model ID (geography prefix and ARN removed).
_FAMILY_PATTERNS: tuple[tuple[re.Pattern[str], type[ModelAdapter]], ...] = (
    (re.compile(r"^anthropic\.claude"), ClaudeMessages),
    (re.compile(r"^amazon\.nova-(2-)?(micro|lite|pro|premier)"), NovaMessages),
    (re.compile(r"^amazon\.titan-embed-text-v2"), TitanTextEmbeddingsV2),
    (re.compile(r"^meta\.llama3"), Llama3),
    (re.compile(r"^meta\.llama4"), Llama4),
    (re.compile(r"^mistral\.(mistral-large-2407|pixtral)"), MistralChat),
    (re.compile(r"^mistral\.(mistral|mixtral)-"), MistralText),
)
ADAPTERS: dict[str, type[ModelAdapter]] = {cls.family: cls for _, cls in _FAMILY_PATTERNS}
SUPPORTED_FAMILIES: tuple[str, ...] = tuple(ADAPTERS)
# Lets callers name the family when the model ID cannot tell it (application inference profiles).
FAMILY_OPTION = "family"


def model_family(model_id: str) -> str | None:
    """The adapter family for a model ID, or None when no adapter recognises it."""
    base = parse_model_id(model_id).base_model_id
    if base is None:
        return None
    for pattern, cls in _FAMILY_PATTERNS:
        if pattern.match(base):
            return cls.family
    return None


def is_embedding_model(model_id: str, family: str | None) -> bool:
    base = parse_model_id(model_id).base_model_id or ""
    return family == TitanTextEmbeddingsV2.family or "embed" in base


def adapter_for(model_id: str, invocation_type: str, settings: RequestSettings) -> ModelAdapter:
    """The adapter that builds ``modelInput`` bodies for this model and invocation type."""
    options = dict(settings.options)
    family = str(options.pop(FAMILY_OPTION, "") or "") or model_family(model_id)
    settings = replace(settings, options=options)
    if family is not None and family not in ADAPTERS:
        raise ModelNotSupportedError(
            f"unknown model family {family!r}; supported: {', '.join(SUPPORTED_FAMILIES)}"
        )
    if invocation_type == CONVERSE:
        if is_embedding_model(model_id, family):
            raise UsageError(
                f"{model_id} is an embedding model, which the Converse invocation type does not support; "
                f"use --invocation-type {INVOKE_MODEL}"
            )
        return Converse(model_id, settings)
    if invocation_type != INVOKE_MODEL:
        raise UsageError(f"invocation type must be {INVOKE_MODEL} or {CONVERSE}, not {invocation_type!r}")
    if family is None:
        raise ModelNotSupportedError(
            f"cannot build requests for model {model_id!r}: supported model families are "
            f"{', '.join(SUPPORTED_FAMILIES)}; for other text models use --invocation-type {CONVERSE}, "
            "or pass a pre-formatted JSONL file whose lines hold modelInput"
        )
    return ADAPTERS[family](model_id, settings)
