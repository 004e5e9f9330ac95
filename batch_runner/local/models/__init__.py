"""Emulated models, one per family, chosen from the job's model ID and invocation type.

The emulator's own reading of the model formats (from the Bedrock documentation), independent of
the runner's request builders, so the two cannot be wrong in the same way. Batch jobs use them
today; runtime operations (InvokeModel/Converse) can reuse ``resolve`` unchanged.
"""

from __future__ import annotations

import re

from batch_runner.local.models.anthropic import ClaudeMessages
from batch_runner.local.models.base import EmulatedModel, Invocation, ModelError
from batch_runner.local.models.converse import Converse
from batch_runner.local.models.llama import Llama
from batch_runner.local.models.mistral import Mistral
from batch_runner.local.models.nova import Nova
from batch_runner.local.models.titan_embeddings import TitanEmbeddingsV2

__all__ = ["EmulatedModel", "Invocation", "ModelError", "base_model_id", "resolve"]

_ARN_PREFIX = re.compile(r"arn:aws[^:]*:bedrock:[^:]*:[^:]*:(foundation-model|inference-profile)/")
_GEO_PREFIX = re.compile(r"(us|eu|apac|ap|ca|jp|au|us-gov|global)\.")


def base_model_id(model_id: str) -> str:
    """``us.anthropic.claude-3-5-haiku-...`` or a profile/model ARN -> ``anthropic.claude-3-5-haiku-...``."""
    bare = _ARN_PREFIX.sub("", model_id, count=1)
    match = _GEO_PREFIX.match(bare)
    if match and "." in bare[match.end() :]:
        bare = bare[match.end() :]
    return bare


def resolve(model_id: str, invocation_type: str = "InvokeModel") -> EmulatedModel | None:
    """The emulated model for a job, or None when the emulator knows no model by that ID."""
    base = base_model_id(model_id)
    native = _native(model_id, base)
    if invocation_type == "Converse":
        return Converse(model_id, base) if native is not None else None
    return native


def _native(model_id: str, base: str) -> EmulatedModel | None:
    if base.startswith("anthropic.claude"):
        return ClaudeMessages(model_id, base)
    if base.startswith("amazon.nova"):
        return Nova(model_id)
    if base.startswith("amazon.titan-embed-text-v2"):
        return TitanEmbeddingsV2(model_id)
    if base.startswith("meta.llama3") or base.startswith("meta.llama4"):
        return Llama(model_id)
    if base.startswith("mistral."):
        return Mistral(model_id)
    return None
