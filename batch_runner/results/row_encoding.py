"""Result rows encoded part by part, each part where its values are at hand.

The row-addressed join (``row_join``) encodes a record's outcome as soon as its output line is
parsed and the index columns when its row is written, so a joined row is two or three byte
strings put together, never values decoded and encoded again. Two encodings:

- ``CsvParts``: CSV fields exactly as ``writers`` writes them (``csv.writer``'s default dialect);
- ``JsonParts``: JSON object members, a row's line being its JSONL line (written as it is), read
  back as a dict by ``records()`` and column-wise by Arrow for Parquet.

A part is a run of encoded fields without the brackets or separators around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from batch_runner.results.csv_fields import (
    csv_bytes,
    csv_encoder,
    csv_field,
    csv_json_field,
    csv_property_fields,
    csv_text,
)

if TYPE_CHECKING:
    from batch_runner.results.typed_answers import TypedAnswers

_SHORT_FIELDS = 1024


class CsvParts:
    """Row parts as CSV fields; ``*_kinds`` give each column's kind (see ``columns.value_kind``)."""

    def __init__(
        self,
        id_kind: str,
        properties: Sequence[str] = (),
        property_kinds: Sequence[str] = (),
        input_kinds: Sequence[str] = (),
        typed: TypedAnswers | None = None,
    ) -> None:
        self._id_field = csv_encoder(id_kind)
        self._properties = (
            csv_property_fields(
                properties,
                property_kinds,
                None if typed is None else typed.record,
                () if typed is None else typed.attributes,
            )
            if properties
            else None
        )
        self._input_fields = [csv_encoder(kind) for kind in input_kinds]
        # status and seven empty fields, then a schema's property columns, empty too.
        self.missing = b"missing" + b"," * (7 + len(properties))
        self._fields: dict[str | None, str] = {None: ""}

    def outcome(self, fields: Sequence[Any]) -> bytes:
        """status .. job_id, then the schema's property columns from the parsed answer (last)."""
        status, answer, stop_reason, input_tokens, output_tokens, code, message, job_id = fields[:8]
        # These columns hold the same Python types in every run (an answer is text or a vector),
        # so their encoding never depends on the column's kind. Stop reasons and job IDs repeat:
        # each is encoded once.
        short = self._fields
        stop_field = short.get(stop_reason) or self._short(stop_reason)
        job_field = short.get(job_id) or self._short(job_id)
        if code is None and message is None and type(answer) is str and type(output_tokens) is int:
            # Encoded to UTF-8 first: a parsed answer keeps its UTF-8 (the schema's decoder asked
            # for it), which makes this a copy, and quoting bytes is quicker than text.
            data = csv_bytes(answer.encode())
            tokens = "" if input_tokens is None else input_tokens
            tail = f",{stop_field},{tokens},{output_tokens},,,{job_field}"
            if self._properties is not None:
                tail = self._properties(fields[8], tail)
            return status.encode() + b"," + data + tail.encode()
        else:
            text = ",".join(
                (
                    status,
                    csv_json_field(answer),
                    stop_field,
                    csv_field(input_tokens),
                    csv_field(output_tokens),
                    csv_field(code),
                    csv_field(message),
                    job_field,
                )
            )
        if self._properties is not None:
            return self._properties(fields[8], text).encode()
        return text.encode()

    def _short(self, value: str | None) -> str:
        """A field that repeats (stop reason, job ID), encoded once (a bounded number of them)."""
        field = self._fields.get(value)
        if field is None:
            field = csv_field(value)
            if len(self._fields) < _SHORT_FIELDS:
                self._fields[value] = field
        return field

    # A whole row of the runner's record ID for ``row``, no user ID and no input columns: the
    # format takes (row, row, outcome).
    runner_line = b"R%010d,,%d,%s\r\n"

    def prefix(self, record_id: str, user_id: Any, row: int) -> bytes:
        return f"{csv_text(record_id)},{self._id_field(user_id)},{row}".encode()

    def inputs(self, values: Sequence[Any]) -> bytes:
        return ",".join(
            [field(value) for field, value in zip(self._input_fields, values, strict=True)]
        ).encode()

    @staticmethod
    def line(prefix: bytes, outcome: bytes, inputs: bytes | None) -> bytes:
        if inputs is None:
            return b"%s,%s\r\n" % (prefix, outcome)
        return b"%s,%s,%s\r\n" % (prefix, outcome, inputs)


class JsonParts:
    """Row parts as the members of a JSON object, keyed by the row's column names: a joined line
    is exactly the JSONL row ``writers`` writes (``orjson.dumps`` of the row as a dict), read
    back as a dict with ``decode``, or column-wise by Arrow's JSON reader for Parquet."""

    def __init__(
        self, columns: Sequence[str], properties: Sequence[str] = (), typed: TypedAnswers | None = None
    ) -> None:
        # The columns: three of the row (record_id, id, row), eight of the outcome, one per
        # property, then the inputs.
        outcome_end = 3 + 8 + len(properties)
        self._prefix_keys = tuple(columns[:3])
        self._outcome_keys = tuple(columns[3:outcome_end])
        self._input_keys = tuple(columns[outcome_end:])
        self._properties = tuple(properties)
        self._typed = typed
        self.missing = self._members(["missing", *[None] * (7 + len(self._properties))])
        record_id, user_id, row = (orjson.dumps(key) for key in self._prefix_keys)
        # A whole row of the runner's record ID for ``row``, no user ID and no input columns: the
        # format takes (row, row, outcome).
        self.runner_line = b'{%s:"R%%010d",%s:null,%s:%%d,%%s}' % (record_id, user_id, row)

    def _members(self, values: Sequence[Any]) -> bytes:
        return orjson.dumps(dict(zip(self._outcome_keys, values, strict=True)))[1:-1]

    def outcome(self, fields: Sequence[Any]) -> bytes:
        if not self._properties:
            return self._members(fields)
        parsed = fields[8]
        typed = self._typed
        if type(parsed) is dict:
            answer: Sequence[Any] = [parsed.get(name) for name in self._properties]
        elif typed is not None and type(parsed) is typed.record:
            answer = typed.values(parsed)
        else:
            answer = [None] * len(self._properties)
        return self._members([*fields[:8], *answer])

    def prefix(self, record_id: str, user_id: Any, row: int) -> bytes:
        return orjson.dumps(dict(zip(self._prefix_keys, (record_id, user_id, row), strict=True)))[1:-1]

    def inputs(self, values: Sequence[Any]) -> bytes:
        return orjson.dumps(dict(zip(self._input_keys, values, strict=True)))[1:-1]

    @staticmethod
    def line(prefix: bytes, outcome: bytes, inputs: bytes | None) -> bytes:
        if inputs is None:
            return b"{%s,%s}" % (prefix, outcome)
        return b"{%s,%s,%s}" % (prefix, outcome, inputs)

    @staticmethod
    def decode(line: bytes) -> dict[str, Any]:
        values: dict[str, Any] = orjson.loads(line)
        return values


RowParts = CsvParts | JsonParts
