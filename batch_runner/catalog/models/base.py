"""What every model adapter does: turn one rendered prompt into one native request body."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import orjson

from batch_runner.catalog.models.output_limits import max_output_tokens
from batch_runner.catalog.output_schema import INSTRUCTIONS, NATIVE, PREFILL, OutputSchema, StructuredOutput
from batch_runner.exceptions import UsageError

# Used when the caller gives no --max-tokens: long enough for a paragraph-length answer, and the
# number the AWS examples use. Output tokens are billed as produced, so a high cap costs nothing
# by itself, but the cost estimate scales with it.
DEFAULT_MAX_TOKENS = 1024
# `--model-option structured_output=native|prompt`: how requests ask for JSON, for families that can
# do both, when the model ID cannot tell (an application inference profile) or to override the choice.
STRUCTURED_OUTPUT_OPTION = "structured_output"
STRUCTURED_OUTPUT_CHOICES = ("native", "prompt")


@dataclass(frozen=True)
class RequestSettings:
    """The request-shaping options shared by every record of a run."""

    system_prompt: str | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float | None = None
    options: Mapping[str, object] = field(default_factory=dict)
    output_schema: OutputSchema | None = None  # answers must be JSON matching it (--output-schema)


class ModelAdapter:
    """Builds and checks native ``modelInput`` bodies for one model family.

    Subclasses set ``family`` and ``required_fields`` and implement ``build``. ``required_fields``
    lists the top-level body fields the service needs; pre-formatted records are checked against it.

    With an output schema, ``structured_output`` says how the requests ask for JSON. ``ask_for_json``
    chooses it (prompt instructions unless a family overrides it); ``build`` puts the prompt text
    through ``user_text``, which appends the instructions when the mechanism uses them.
    """

    family: ClassVar[str]
    description: ClassVar[str]
    required_fields: ClassVar[tuple[str, ...]]
    produces_text: ClassVar[bool] = True  # False for embeddings: no output tokens to estimate
    # Every top-level field the request shape takes, when the service rejects others; None: not checked.
    allowed_fields: ClassVar[frozenset[str] | None] = None
    text_field: ClassVar[str] = "messages"  # the body field holding the prompt text
    native_json: ClassVar[bool] = False  # the family can ask for decoding under a JSON Schema
    # Where a body sets its output-token cap, as a path of keys; () when the family has none.
    max_tokens_field: ClassVar[tuple[str, ...]] = ()

    def __init__(self, model_id: str, settings: RequestSettings) -> None:
        self.model_id = model_id
        self.settings = settings
        self.check_settings()
        schema = settings.output_schema
        self.structured_output: StructuredOutput | None = None if schema is None else self.ask_for_json()
        # Built once: appended to every record's prompt text.
        uses_instructions = self.mechanism in (PREFILL, INSTRUCTIONS)
        self._instructions = (
            f"\n\n{schema.instructions()}" if schema is not None and uses_instructions else ""
        )

    def check_settings(self) -> None:
        """Raise ``UsageError`` for options this family cannot honour."""
        if self.settings.max_tokens < 1:
            raise UsageError(f"max tokens must be a positive integer, not {self.settings.max_tokens}")
        ceiling = self.output_ceiling
        if ceiling is not None and self.settings.max_tokens > ceiling:
            raise UsageError(
                f"{self.model_id} accepts at most {ceiling} output tokens, not {self.settings.max_tokens}; "
                f"set --max-tokens to {ceiling} or less"
            )
        temperature = self.settings.temperature
        if temperature is not None and not 0 <= temperature <= 1:
            raise UsageError(f"temperature must be between 0 and 1, not {temperature}")
        accepted = (*self.accepted_options(), *((STRUCTURED_OUTPUT_OPTION,) if self.native_json else ()))
        unknown = sorted(set(self.settings.options) - set(accepted))
        if unknown:
            raise UsageError(
                f"model option(s) {', '.join(unknown)} do not apply to {self.description} models; "
                f"accepted: {', '.join(accepted) or 'none'}"
            )
        self.structured_choice()

    @cached_property
    def output_ceiling(self) -> int | None:
        """The most output tokens the model accepts per request; None when unknown (not checked)."""
        return max_output_tokens(self.model_id) if self.max_tokens_field else None

    def requested_max_tokens(self, body: Mapping[str, Any]) -> int | None:
        """The output-token cap a (pre-formatted) body sets, when it sets an integer one."""
        value: Any = body
        for name in self.max_tokens_field:
            if not isinstance(value, Mapping):
                return None
            value = value.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def max_tokens_over_ceiling(self, body: Mapping[str, Any]) -> int | None:
        """The body's output-token cap when it is above the model's ceiling (Bedrock would reject the
        record), else None."""
        ceiling = self.output_ceiling
        requested = self.requested_max_tokens(body) if ceiling is not None else None
        return requested if requested is not None and ceiling is not None and requested > ceiling else None

    def structured_choice(self) -> str | None:
        """``native``, ``prompt`` or None (decided by the model ID), from the model options."""
        choice = self.settings.options.get(STRUCTURED_OUTPUT_OPTION)
        if choice is None:
            return None
        if choice not in STRUCTURED_OUTPUT_CHOICES:
            raise UsageError(
                f"model option {STRUCTURED_OUTPUT_OPTION} must be "
                f"{' or '.join(STRUCTURED_OUTPUT_CHOICES)}, not {choice!r}"
            )
        if self.settings.output_schema is None:
            raise UsageError(f"model option {STRUCTURED_OUTPUT_OPTION} needs --output-schema")
        return str(choice)

    def accepted_options(self) -> tuple[str, ...]:
        return ()

    def build(self, text: str) -> dict[str, Any]:
        raise NotImplementedError

    def build_conversation(self, turns: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """A request for a conversation: ``(role, text)`` turns, ``user`` and ``assistant`` in turn,
        the last one the user's (its text is what ``build`` takes; earlier turns come before it)."""
        *history, (_, text) = turns
        if not history:
            return self.build(text)
        if self.history_message(history[0]) is None:
            raise UsageError(
                f"{self.description} requests take a single user message here, not a conversation "
                "with earlier turns; send one user message per request"
            )
        body = self.build(text)
        body[self.text_field] = [self.history_message(turn) for turn in history] + body[self.text_field]
        return body

    def history_message(self, turn: tuple[str, str]) -> Any:
        """One earlier turn as the family's messages hold it; None: the family takes no history."""
        return None

    def ask_for_json(self) -> StructuredOutput:
        """How requests ask for JSON matching the output schema: prompt instructions, unless a
        family overrides this with its native mechanism or a prefill."""
        return StructuredOutput(INSTRUCTIONS, detail={"field": self.text_field})

    def user_text(self, text: str) -> str:
        """The user turn's text: the rendered prompt, then the schema instructions when they apply."""
        return text + self._instructions

    @property
    def mechanism(self) -> str | None:
        """The ``output_schema`` mechanism the requests use, or None without a schema."""
        return self.structured_output.mechanism if self.structured_output is not None else None

    @property
    def prefill(self) -> str | None:
        """Text the model's reply is started with, or None."""
        return self.structured_output.prefill if self.structured_output is not None else None

    @cached_property
    def native_schema(self) -> dict[str, Any]:
        """The schema as native structured output takes it; built once, shared by every record."""
        if self.settings.output_schema is None:
            raise ValueError("no output schema")
        return self.settings.output_schema.native_schema()

    def added_prompt_chars(self) -> int:
        """Characters every request sends beyond the rendered prompt and system prompt, for the
        token estimate: the instructions, or the schema that native structured output turns into
        a prompt of its own."""
        if self.mechanism == NATIVE:
            return len(orjson.dumps(self.native_schema))
        return len(self._instructions) + len(self.prefill or "")

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
