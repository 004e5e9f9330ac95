"""Amazon Titan Text Embeddings V2: one ``inputText`` per record, no generation settings."""

from __future__ import annotations

from typing import Any

from batch_runner.catalog.models.base import ModelAdapter
from batch_runner.exceptions import UsageError

DIMENSIONS = (256, 512, 1024)


class TitanTextEmbeddingsV2(ModelAdapter):
    family = "titan-embed"
    description = "Amazon Titan Text Embeddings V2"
    required_fields = ("inputText",)
    produces_text = False

    def accepted_options(self) -> tuple[str, ...]:
        return ("dimensions", "normalize", "input_column")

    def check_settings(self) -> None:
        super().check_settings()
        if self.settings.system_prompt:
            raise UsageError("embedding models take no system prompt; remove --system")
        if self.settings.output_schema is not None:
            raise UsageError(
                f"{self.model_id} is an embedding model: it returns vectors, not text, so --output-schema "
                "does not apply; remove it or choose a text model"
            )
        dimensions = self.settings.options.get("dimensions")
        if dimensions is not None and dimensions not in DIMENSIONS:
            raise UsageError(
                f"embedding dimensions must be one of {', '.join(map(str, DIMENSIONS))}, not {dimensions}"
            )
        normalize = self.settings.options.get("normalize")
        if normalize is not None and not isinstance(normalize, bool):
            raise UsageError(f"embedding option normalize must be true or false, not {normalize!r}")

    def build(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {"inputText": text}
        for name in ("dimensions", "normalize"):
            if name in self.settings.options:
                body[name] = self.settings.options[name]
        return body
