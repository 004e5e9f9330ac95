"""Turns dataset chunks into JSONL request lines and record-index lines, validating every record.

Record lines are ``{"recordId": ..., "modelInput": {...}}``; index lines are
``{"recordId", "row", "id", "input"}`` (see ``Plan.record_index_path``). Plain-substitution
templates over text columns take the column-wise path in ``records_columnar``; everything else (Jinja2
logic, non-text or missing values, pre-formatted input) is encoded here row by row with orjson.
Both produce byte-identical lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import orjson

from batch_runner.catalog.models import DEFAULT_MAX_TOKENS, ModelAdapter
from batch_runner.exceptions import DatasetError, TemplateError
from batch_runner.prepare.datasets import Chunk
from batch_runner.prepare.openai_batch import OpenAIBatchRequests, is_openai_line
from batch_runner.prepare.oversized import OversizeCheck
from batch_runner.prepare.prompts import PromptTemplate, missing_variable_error
from batch_runner.prepare.record_ids import runner_record_id, user_id
from batch_runner.prepare.shards import Lines
from batch_runner.prepare.user_ids import UserIdRegistry

PRE_FORMATTED_ID = "recordId"
PRE_FORMATTED_INPUT = "modelInput"


@dataclass(frozen=True)
class EncodedChunk:
    requests: Lines
    index: bytes | memoryview
    prompt_chars: int  # characters of rendered prompt text, for the token estimate
    skipped: tuple[str, ...] = ()  # rows left out as too large for the context window (where they are)
    # Pre-formatted records: the sum of their own output-token caps (a record without one counts
    # the default); None when every record has the run's --max-tokens.
    output_budget: int | None = None


def dumps_line(value: dict[str, Any]) -> bytes:
    # default=str: values with no JSON form (decimals, bytes) appear as their text in the index
    return orjson.dumps(value, default=str, option=orjson.OPT_APPEND_NEWLINE)


class RowEncoder:
    """Encodes any chunk one row at a time; the reference for the column-wise path."""

    def __init__(
        self,
        adapter: ModelAdapter | None,
        template: PromptTemplate | None,
        system_prompt: str | None,
        id_column: str | None,
        ids: UserIdRegistry | None,
        oversize: OversizeCheck | None = None,
        openai: OpenAIBatchRequests | None = None,
    ) -> None:
        self.adapter = adapter
        self.oversize = oversize
        self.openai = openai  # builds requests from OpenAI batch lines, when the first line is one
        self._openai_lines: bool | None = None  # decided by the first pre-formatted line
        self.template = template
        # Sent with every record besides its rendered prompt: the system prompt, schema instructions.
        self.fixed_chars = len(system_prompt or "") + (
            adapter.added_prompt_chars() if adapter is not None else 0
        )
        self.id_column = id_column
        self.ids = ids

    def encode(self, chunk: Chunk) -> EncodedChunk:
        requests: list[bytes] = []
        index: list[bytes] = []
        user_ids: list[str] = []
        id_rows: list[int] = []
        skipped: list[str] = []
        chars = 0
        own_total = 0  # pre-formatted records' own output-token caps, summed
        for offset, row in enumerate(chunk.records()):
            row_number = chunk.first_row + offset
            where = chunk.where(offset)
            record_id = runner_record_id(row_number)
            budget = None  # the record's output budget, when it sets its own
            if self.template is None:
                model_input, uid = self._pre_formatted(row, where)
                record_chars = len(orjson.dumps(model_input))  # the whole request stands in for the prompt
                budget = self.adapter.requested_max_tokens(model_input) if self.adapter is not None else None
            else:
                text = self._render(row, where)
                record_chars = len(text) + self.fixed_chars
                assert self.adapter is not None
                model_input, uid = self.adapter.build(text), self._user_id(row, where)
            if uid is not None:
                user_ids.append(uid)
                id_rows.append(row_number)
            entry: dict[str, Any] = {"recordId": record_id, "row": row_number, "id": uid}
            problem = self.oversize.problem(record_chars, budget) if self.oversize is not None else None
            if problem is None:
                chars += record_chars
                own_total += DEFAULT_MAX_TOKENS if budget is None else budget
                requests.append(orjson.dumps({"recordId": record_id, "modelInput": model_input}) + b"\n")
            else:
                assert self.oversize is not None
                if not self.oversize.skip:
                    raise self.oversize.refuse(where, problem)
                entry["skipped"] = self.oversize.skipped(problem)  # before "input": see results.join
                skipped.append(where)
            entry["input"] = row
            index.append(dumps_line(entry))
        if self.ids is not None:
            self.ids.add(user_ids, id_rows)
        ends = list(accumulate(map(len, requests)))
        own_budget = own_total if self.template is None else None
        return EncodedChunk(
            Lines(b"".join(requests), ends), b"".join(index), chars, tuple(skipped), own_budget
        )

    def _render(self, row: dict[str, Any], where: str) -> str:
        assert self.template is not None
        if self.template.missing_columns(list(row)):
            raise missing_variable_error(self.template, list(row), where=where)
        text = self.template.render(row, where=where)
        if not text.strip():
            # Bedrock refuses blank text (Claude: "text content blocks must contain non-whitespace
            # text"; Titan: inputText minLength 1), so the record would fail after a long queue.
            raise TemplateError(
                f"{where}: the prompt is empty (the template renders only whitespace for this row); "
                "fill the row's values or put text in the template"
            )
        return text

    def _user_id(self, row: dict[str, Any], where: str) -> str | None:
        if self.id_column is None:
            return None
        if self.id_column not in row:
            raise DatasetError(
                f"{where}: ID column {self.id_column!r} is missing; available columns: {', '.join(row)}"
            )
        return user_id(row[self.id_column], where=where, column=self.id_column)

    def _pre_formatted(self, row: dict[str, Any], where: str) -> tuple[Any, str | None]:
        if self._openai_lines is None:
            self._openai_lines = self.openai is not None and is_openai_line(row)
        if self._openai_lines:
            if not is_openai_line(row):
                raise DatasetError(
                    f"{where}: not an OpenAI batch request (custom_id, body) like the first line; "
                    "a file holds one kind of line"
                )
            assert self.openai is not None
            body, custom_id = self.openai.model_input(row, where)
            return body, user_id(custom_id, where=where, column="custom_id")
        model_input = row.get(PRE_FORMATTED_INPUT)
        if not isinstance(model_input, dict):
            raise DatasetError(
                f"{where}: no {PRE_FORMATTED_INPUT!r} object; without a prompt template every line must "
                'hold a pre-formatted request ({"recordId": ..., "modelInput": {...}}), '
                "or pass --prompt to build requests from columns"
            )
        if self.adapter is not None:
            missing = self.adapter.missing_fields(model_input)
            if missing:
                raise DatasetError(
                    f"{where}: modelInput lacks {', '.join(missing)}, required for "
                    f"{self.adapter.description} requests; add the field(s)"
                )
            unexpected = self.adapter.unexpected_fields(model_input)
            if unexpected:
                raise DatasetError(
                    f"{where}: modelInput has {', '.join(unexpected)}, which {self.adapter.description} "
                    "requests do not take, so every record would fail; check --invocation-type"
                )
            over = self.adapter.max_tokens_over_ceiling(model_input)
            if over is not None:
                field = ".".join(self.adapter.max_tokens_field)
                raise DatasetError(
                    f"{where}: modelInput {field} is {over}, above the {self.adapter.output_ceiling} "
                    f"output tokens {self.adapter.model_id} accepts, so the record would fail; "
                    f"lower it to {self.adapter.output_ceiling} or less"
                )
        uid = row.get(PRE_FORMATTED_ID)
        return model_input, None if uid is None else user_id(uid, where=where, column=PRE_FORMATTED_ID)
