"""What every model adapter does: turn one rendered prompt into one native request body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from batch_runner.exceptions import UsageError

# Used when the caller gives no --max-tokens: long enough for a paragraph-length answer, and the
# number the AWS examples use. Output tokens are billed as produced, so a high cap costs nothing
# by itself, but the cost estimate scales with it.
DEFAULT_MAX_TOKENS = 1024


@dataclass(frozen=True)
class RequestSettings:
    """The request-shaping options shared by every record of a run."""

    system_prompt: str | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float | None = None
    options: Mapping[str, object] = field(default_factory=dict)


class ModelAdapter:
    """Builds and checks native ``modelInput`` bodies for one model family.

    Subclasses set ``family`` and ``required_fields`` and implement ``build``. ``required_fields``
    lists the top-level body fields the service needs; pre-formatted records are checked against it.
    """

    family: ClassVar[str]
    description: ClassVar[str]
    required_fields: ClassVar[tuple[str, ...]]
    produces_text: ClassVar[bool] = True  # False for embeddings: no output tokens to estimate
    # Every top-level field the request shape takes, when the service rejects others; None: not checked.
    allowed_fields: ClassVar[frozenset[str] | None] = None

    def __init__(self, model_id: str, settings: RequestSettings) -> None:
        self.model_id = model_id
        self.settings = settings
        self.check_settings()

    def check_settings(self) -> None:
        """Raise ``UsageError`` for options this family cannot honour."""
        if self.settings.max_tokens < 1:
            raise UsageError(f"max tokens must be a positive integer, not {self.settings.max_tokens}")
        temperature = self.settings.temperature
        if temperature is not None and not 0 <= temperature <= 1:
            raise UsageError(f"temperature must be between 0 and 1, not {temperature}")
        unknown = sorted(set(self.settings.options) - set(self.accepted_options()))
        if unknown:
            raise UsageError(
                f"model option(s) {', '.join(unknown)} do not apply to {self.description} models; "
                f"accepted: {', '.join(self.accepted_options()) or 'none'}"
            )

    def accepted_options(self) -> tuple[str, ...]:
        return ()

    def build(self, text: str) -> dict[str, Any]:
        raise NotImplementedError

    def with_temperature(self, target: dict[str, Any]) -> dict[str, Any]:
        """``target`` plus ``temperature``, when one was given (otherwise the model's default applies)."""
        if self.settings.temperature is not None:
            target["temperature"] = self.settings.temperature
        return target

    def missing_fields(self, body: Mapping[str, Any]) -> list[str]:
        return [name for name in self.required_fields if name not in body]

    def unexpected_fields(self, body: Mapping[str, Any]) -> list[str]:
        if self.allowed_fields is None:
            return []
        return sorted(set(body) - self.allowed_fields)
