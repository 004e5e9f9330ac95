"""OpenAI Batch API input files: each line's chat completion request becomes a request of the
chosen Bedrock model's family.

A line is ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {...}}``. From
the body, ``messages`` (system or developer messages first, then user and assistant turns ending
with the user's; text content only), ``max_tokens`` or ``max_completion_tokens``, ``temperature``
and ``response_format`` (``text``, or ``json_schema``: the run's output schema, the same on every
line) are honoured; ``model`` is replaced by the Bedrock model. Anything else the family could not
honour (``top_p``, ``stop``, tools, images, ``n`` above 1, ...) is refused with the line number,
never dropped. ``custom_id`` becomes the record's ID in the results.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import orjson

from batch_runner.catalog.models import DEFAULT_MAX_TOKENS, ModelAdapter, RequestSettings, adapter_for
from batch_runner.catalog.output_schema import OutputSchema, StructuredOutput, output_schema
from batch_runner.exceptions import DatasetError, UsageError

CHAT_COMPLETIONS = "/v1/chat/completions"
_LINE_FIELDS = frozenset({"custom_id", "method", "url", "body"})
_BODY_FIELDS = ("messages", "model", "max_tokens", "max_completion_tokens", "temperature", "response_format")
# Fields that change nothing when they hold these values.
_NEUTRAL = {"n": 1, "stream": False}
_SYSTEM_ROLES = ("system", "developer")
_TURN_ROLES = ("user", "assistant")


def is_openai_line(row: dict[str, Any]) -> bool:
    return "custom_id" in row and "body" in row


@dataclass(frozen=True)
class _LineSettings:
    system: str | None
    max_tokens: int
    temperature: float | None


class OpenAIBatchRequests:
    """Builds each line's ``modelInput`` with an adapter for that line's settings (adapters are
    shared between lines that set the same), and lifts the one output schema the lines ask for."""

    def __init__(
        self, model_id: str, invocation_type: str, defaults: RequestSettings, schema: OutputSchema | None
    ) -> None:
        self.model_id = model_id
        self.invocation_type = invocation_type
        self.defaults = defaults
        self.given_schema = schema  # --output-schema, which the lines' response_format must agree with
        self.schema: OutputSchema | None = None  # what the lines asked for
        self._schema_key: bytes | None = None
        self._schema_seen = False
        self._adapters: dict[_LineSettings, ModelAdapter] = {}

    @property
    def lifted_schema(self) -> dict[str, Any] | None:
        """The schema the lines asked for, when no --output-schema did."""
        return self.schema.document if self.schema is not None and self.given_schema is None else None

    @property
    def structured_output(self) -> StructuredOutput | None:
        if self.schema is None or not self._adapters:
            return None
        return next(iter(self._adapters.values())).structured_output

    def model_input(self, row: dict[str, Any], where: str) -> tuple[dict[str, Any], Any]:
        """The request body for one line and its ``custom_id``."""
        unknown = sorted(set(row) - _LINE_FIELDS)
        if unknown:
            raise DatasetError(f"{where}: unknown field(s) {', '.join(unknown)} in an OpenAI batch line")
        if row.get("method", "POST") != "POST" or row.get("url", CHAT_COMPLETIONS) != CHAT_COMPLETIONS:
            raise DatasetError(
                f"{where}: only POST {CHAT_COMPLETIONS} requests can be sent to Bedrock, not "
                f"{row.get('method')} {row.get('url')}"
            )
        body = row["body"]
        if not isinstance(body, dict):
            raise DatasetError(f"{where}: body must be a JSON object (the chat completion request)")
        self._check_fields(body, where)
        system, turns = _conversation(body.get("messages"), where)
        settings = _LineSettings(
            self._system(system, where),
            _max_tokens(body, where, self.defaults.max_tokens),
            _temperature(body, where, self.defaults.temperature),
        )
        self._note_schema(body.get("response_format"), where)
        try:
            return self._adapter(settings).build_conversation(turns), row["custom_id"]
        except UsageError as err:
            raise DatasetError(f"{where}: {err}") from err

    def _check_fields(self, body: dict[str, Any], where: str) -> None:
        refused = sorted(
            name
            for name, value in body.items()
            if name not in _BODY_FIELDS and not (name in _NEUTRAL and value == _NEUTRAL[name])
        )
        if refused:
            raise DatasetError(
                f"{where}: body field(s) {', '.join(refused)} cannot be honoured by Bedrock batch "
                f"requests; remove them (accepted: {', '.join(_BODY_FIELDS)})"
            )

    def _system(self, system: str | None, where: str) -> str | None:
        if system is not None and self.defaults.system_prompt:
            raise DatasetError(
                f"{where}: the line has its own system message and --system was given too; use one"
            )
        return system if system is not None else self.defaults.system_prompt

    def _note_schema(self, response_format: Any, where: str) -> None:
        schema_document = _schema_document(response_format, where)
        key = None if schema_document is None else orjson.dumps(schema_document, option=orjson.OPT_SORT_KEYS)
        if self._schema_seen and key != self._schema_key:
            raise DatasetError(
                f"{where}: response_format differs from the first line's; every line of a run must ask "
                "for the same (results parse one schema per run)"
            )
        if not self._schema_seen:
            self._schema_seen, self._schema_key = True, key
            lifted = None if schema_document is None else output_schema(schema_document)
            given = self.given_schema
            if given is not None and lifted is not None and lifted.document != given.document:
                raise DatasetError(
                    f"{where}: --output-schema differs from the line's response_format; drop the flag "
                    "(the lines' json_schema becomes the run's output schema)"
                )
            self.schema = lifted or given

    def _adapter(self, settings: _LineSettings) -> ModelAdapter:
        adapter = self._adapters.get(settings)
        if adapter is None:
            request = replace(
                self.defaults,
                system_prompt=settings.system,
                max_tokens=settings.max_tokens,
                temperature=settings.temperature,
                output_schema=self.schema,
            )
            adapter = self._adapters[settings] = adapter_for(self.model_id, self.invocation_type, request)
        return adapter


def _conversation(messages: Any, where: str) -> tuple[str | None, list[tuple[str, str]]]:
    if not isinstance(messages, list) or not messages:
        raise DatasetError(f"{where}: body.messages must be a non-empty list of messages")
    systems: list[str] = []
    turns: list[tuple[str, str]] = []
    for number, message in enumerate(messages, 1):
        at = f"{where}: message {number}"
        if not isinstance(message, dict) or not set(message) <= {"role", "content"}:
            extra = sorted(set(message) - {"role", "content"}) if isinstance(message, dict) else []
            raise DatasetError(
                f"{at} must hold only role and content"
                + (f", not {', '.join(extra)} (tool calls and names cannot be sent)" if extra else "")
            )
        role, text = message.get("role"), _text(message.get("content"), at)
        if role in _SYSTEM_ROLES:
            if turns:
                raise DatasetError(f"{at}: a {role} message must come before the conversation")
            systems.append(text)
        elif role in _TURN_ROLES:
            expected = _TURN_ROLES[len(turns) % 2]
            if role != expected:
                raise DatasetError(f"{at} is {role}, not {expected}: turns alternate, starting with user")
            turns.append((role, text))
        else:
            raise DatasetError(f"{at} has role {role!r}; send system, developer, user or assistant")
    if not turns or turns[-1][0] != "user":
        raise DatasetError(f"{where}: the conversation must end with a user message")
    return ("\n\n".join(systems) if systems else None), turns


def _text(content: Any, at: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        for part in content
    ):
        return "".join(part["text"] for part in content)
    raise DatasetError(f"{at}: content must be text (a string or text parts); images cannot be sent")


def _max_tokens(body: dict[str, Any], where: str, default: int) -> int:
    given = [name for name in ("max_completion_tokens", "max_tokens") if body.get(name) is not None]
    if len(given) > 1 and body["max_tokens"] != body["max_completion_tokens"]:
        raise DatasetError(f"{where}: max_tokens and max_completion_tokens differ; keep one")
    if not given:
        return default or DEFAULT_MAX_TOKENS
    value = body[given[0]]
    if not isinstance(value, int) or isinstance(value, bool):
        raise DatasetError(f"{where}: {given[0]} must be an integer, not {value!r}")
    return value


def _temperature(body: dict[str, Any], where: str, default: float | None) -> float | None:
    value = body.get("temperature")
    if value is None:
        return default
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise DatasetError(f"{where}: temperature must be a number, not {value!r}")
    return float(value)


def _schema_document(response_format: Any, where: str) -> dict[str, Any] | None:
    if response_format is None or response_format == {"type": "text"}:
        return None
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        definition = response_format.get("json_schema")
        if isinstance(definition, dict) and isinstance(definition.get("schema"), dict):
            return dict(definition["schema"])
    if isinstance(response_format, dict) and response_format.get("type") == "json_object":
        raise DatasetError(
            f"{where}: response_format json_object names no schema, so the answers could not be checked; "
            "give a json_schema"
        )
    raise DatasetError(f"{where}: response_format must be text or json_schema with a schema object")
