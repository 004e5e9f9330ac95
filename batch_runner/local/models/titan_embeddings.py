"""Amazon Titan Text Embeddings V2: deterministic vectors derived from the input's hash."""

from __future__ import annotations

import math
import random
from typing import Any

from batch_runner.local.models.base import (
    Invocation,
    approximate_tokens,
    check_keys,
    check_type,
    digest,
    malformed,
    require_object,
)

DIMENSIONS = (1024, 512, 256)
EMBEDDING_TYPES = ("float", "binary")
MAX_INPUT_CHARACTERS = 50_000


class TitanEmbeddingsV2:
    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def invoke(self, body: Any, schema_fault: str | None = None) -> Invocation:
        request = require_object(body)
        check_keys(request, required=("inputText",), allowed=("dimensions", "normalize", "embeddingTypes"))
        check_type(request, "inputText", str, "String")
        check_type(request, "normalize", bool, "Boolean")
        text: str = request["inputText"]
        if not text:
            raise malformed("#/inputText: expected minLength: 1, actual: 0")
        if len(text) > MAX_INPUT_CHARACTERS:
            raise malformed(f"#/inputText: expected maxLength: {MAX_INPUT_CHARACTERS}, actual: {len(text)}")
        dimensions = request.get("dimensions", 1024)
        if dimensions not in DIMENSIONS:
            raise malformed(f"#/dimensions: {dimensions} is not a valid enum value")
        types = request.get("embeddingTypes", ["float"])
        if not isinstance(types, list) or not types or any(t not in EMBEDDING_TYPES for t in types):
            raise malformed("#/embeddingTypes: expected a non-empty array of [float, binary]")
        vector = _vector(text, dimensions, normalize=request.get("normalize", True))
        by_type: dict[str, list[float] | list[int]] = {}
        if "float" in types:
            by_type["float"] = vector
        if "binary" in types:
            by_type["binary"] = [1 if value > 0 else 0 for value in vector]
        tokens = approximate_tokens(text)
        response: dict[str, Any] = {"inputTextTokenCount": tokens, "embeddingsByType": by_type}
        if "float" in types:
            response = {"embedding": vector, **response}
        return Invocation(body=response, input_tokens=tokens, output_tokens=0)


def _vector(text: str, dimensions: int, *, normalize: bool) -> list[float]:
    rng = random.Random(digest("titan-embed-text-v2", text))
    raw = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    scale = 1.0 / math.sqrt(sum(value * value for value in raw)) if normalize else 0.05
    return [round(value * scale, 8) for value in raw]
