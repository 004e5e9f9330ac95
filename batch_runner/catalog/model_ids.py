"""Tell the base model and its family from anything Bedrock accepts as ``modelId``.

Accepted: foundation-model IDs (``anthropic.claude-3-haiku-20240307-v1:0``), system inference-profile
IDs with a geography prefix (``us.``, ``eu.``, ``apac.``, ``global.``, ...), and foundation-model or
inference-profile ARNs. Application inference-profile ARNs and custom-model ARNs carry no model name,
so their family cannot be told from the ID.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Model providers as they appear as the first dotted segment of a foundation-model ID.
_PROVIDERS = frozenset(
    {
        "ai21",
        "amazon",
        "anthropic",
        "cohere",
        "deepseek",
        "meta",
        "mistral",
        "openai",
        "qwen",
        "stability",
        "twelvelabs",
        "writer",
        "luma",
        "moonshot",
        "google",
        "minimax",
        "nvidia",
    }
)
_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d*:(?P<kind>[a-z-]+)/(?P<name>.+)$")


@dataclass(frozen=True)
class ModelRef:
    """What the runner knows about a ``modelId`` without calling AWS."""

    model_id: str  # exactly as given
    base_model_id: str | None  # e.g. "anthropic.claude-3-haiku-20240307-v1:0"; None when not derivable
    geo_prefix: str | None  # e.g. "us" for "us.anthropic...", None for a foundation model


def parse_model_id(model_id: str) -> ModelRef:
    name = model_id.strip()
    match = _ARN.match(name)
    if match:
        if match["kind"] not in ("foundation-model", "inference-profile"):
            return ModelRef(model_id, None, None)
        name = match["name"]
    first, _, rest = name.partition(".")
    if first in _PROVIDERS or not rest:
        return ModelRef(model_id, name or None, None)
    # A geography prefix precedes the provider: "us.anthropic...", "global.amazon...".
    provider = rest.partition(".")[0]
    if provider in _PROVIDERS:
        return ModelRef(model_id, rest, first)
    return ModelRef(model_id, name, None)
