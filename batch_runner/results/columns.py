"""The result columns and how each column's values are typed (``kinds``) for the writers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import orjson

# The result columns, in output order. With an output schema, one column per top-level property
# follows (``answer_`` prefixed when its name is a result column's); input columns
# (``include_input``) come last under their own names; one whose name is taken by an earlier
# column gets an ``input_`` prefix, so a dataset column called ``id`` or ``status`` never clobbers
# a result.
RESULT_COLUMNS = (
    "record_id",
    "id",
    "row",
    "status",
    "answer",
    "stop_reason",
    "input_tokens",
    "output_tokens",
    "error_code",
    "error_message",
    "job_id",
)
# The columns a record index line gives (the rest come from the record's outcome).
INDEX_COLUMNS = RESULT_COLUMNS[:3]
OUTCOME_COLUMNS = RESULT_COLUMNS[3:]

_AWKWARD_NAME = re.compile(r'[,"\\]|^$')


def property_columns(properties: Sequence[str]) -> tuple[str, ...]:
    """The result columns of an output schema's top-level properties, in order: a property named
    like a result column (``status``) becomes ``answer_status``."""
    return unique_columns(tuple(properties), set(RESULT_COLUMNS), "answer_")


def input_columns(names: Sequence[str], properties: Sequence[str]) -> tuple[str, ...]:
    """The result columns of the input columns ``names`` (``include_input``)."""
    return unique_columns(tuple(names), {*RESULT_COLUMNS, *property_columns(properties)}, "input_")


def shown_columns(properties: Sequence[str]) -> list[str]:
    """``property_columns`` as a line of text names them: a name with a comma, quote, control
    character or edge space is written as a JSON string, so the list reads unambiguously."""
    return [
        column
        if column.isprintable() and column == column.strip() and not _AWKWARD_NAME.search(column)
        else orjson.dumps(column).decode()
        for column in property_columns(properties)
    ]


def unique_columns(names: tuple[str, ...], taken: set[str], prefix: str) -> tuple[str, ...]:
    """``names`` as columns: one already taken (or taken by an earlier name) gets ``prefix``."""
    taken = set(taken)
    columns = []
    for name in names:
        column = name
        while column in taken:
            column = prefix + column
        taken.add(column)
        columns.append(column)
    return tuple(columns)


def value_kind(types: Iterable[type], *, vectors: bool = False) -> str:
    """The kind of a column whose values have these Python types: ``string``, ``int``, ``float``,
    ``bool``, ``vector`` (list of numbers), ``json`` (mixed or nested) or ``null`` (no value)."""
    present = set(types) - {type(None)}
    if not present:
        return "null"
    if present == {str}:
        return "string"
    if present == {bool}:
        return "bool"
    if present == {int}:
        return "int"
    if present <= {int, float}:
        return "float"
    if vectors and present == {list}:
        return "vector"  # extraction only ever returns lists of numbers as answers
    return "json"
