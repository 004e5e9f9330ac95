"""Record IDs: what goes into the JSONL (``recordId``) and what the user knows a row by.

Decision: the JSONL always carries runner-generated IDs, ``R`` + the 0-based row number in ten
digits (``R0000000042``). They are 11 characters from ``[A-Za-z0-9]`` (the safe form: AWS has not
confirmed length or character rules), unique within a dataset, and stable across runs of the same
dataset. IDs the user supplies (``--id-column``, or ``recordId`` in pre-formatted JSONL) may hold
any characters, so they live only in the record index, which maps each runner ID back to the row
and the user's ID.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

from batch_runner.exceptions import DatasetError
from batch_runner.results.runner_ids import RUNNER_ID_DIGITS, RUNNER_ID_PREFIX, format_runner_id

MAX_ROWS = 10**RUNNER_ID_DIGITS
MAX_USER_ID_LENGTH = 1024


def runner_record_id(row: int) -> str:
    """The ``recordId`` of the 0-based input row ``row``."""
    if not 0 <= row < MAX_ROWS:
        raise DatasetError(f"datasets are limited to {MAX_ROWS:,} rows; split the dataset")
    return format_runner_id(row)


def row_of_record_id(record_id: str) -> int | None:
    """Inverse of ``runner_record_id``; None for IDs the runner did not generate."""
    digits = record_id[len(RUNNER_ID_PREFIX) :]
    if not record_id.startswith(RUNNER_ID_PREFIX) or len(digits) != RUNNER_ID_DIGITS or not digits.isdigit():
        return None
    return int(digits)


def user_id(value: Any, *, where: str, column: str) -> str:
    """Check one user-supplied ID and return it as text (results are joined on text)."""
    if isinstance(value, bool) or not isinstance(value, str | Integral):  # Integral: numpy ints too
        raise DatasetError(
            f"{where}: ID column {column!r} holds {_describe(value)}; IDs must be text or integers"
        )
    text = str(value) if isinstance(value, str) else str(int(value))
    if not text.strip():
        raise DatasetError(f"{where}: ID column {column!r} is empty; every row needs an ID")
    if len(text) > MAX_USER_ID_LENGTH:
        raise DatasetError(
            f"{where}: ID in column {column!r} is {len(text)} characters long; "
            f"the limit is {MAX_USER_ID_LENGTH}"
        )
    if any(ord(char) < 32 for char in text):
        raise DatasetError(f"{where}: ID in column {column!r} contains control characters; remove them")
    return text


def _describe(value: Any) -> str:
    return "no value" if value is None else f"a {type(value).__name__} ({value!r:.40})"
