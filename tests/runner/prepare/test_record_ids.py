"""Record IDs: safe runner IDs in the JSONL, user IDs checked and kept for the index."""

from __future__ import annotations

import re
from typing import Any

import pytest

from batch_runner.exceptions import DatasetError
from batch_runner.prepare.record_ids import MAX_ROWS, row_of_record_id, runner_record_id, user_id


@pytest.mark.parametrize("row", [0, 1, 41, 999_999, MAX_ROWS - 1])
def test_runner_ids_are_short_alphanumeric_and_reversible(row: int) -> None:
    record_id = runner_record_id(row)
    assert re.fullmatch(r"[A-Za-z0-9]{1,11}", record_id)
    assert row_of_record_id(record_id) == row


def test_runner_ids_sort_in_row_order() -> None:
    ids = [runner_record_id(row) for row in (0, 9, 10, 123_456)]
    assert ids == sorted(ids)


def test_rows_beyond_the_id_space_are_refused() -> None:
    with pytest.raises(DatasetError, match="split the dataset"):
        runner_record_id(MAX_ROWS)


@pytest.mark.parametrize("foreign", ["CALL0000001", "R12", "r0000000001", "R00000000x1"])
def test_foreign_ids_map_to_no_row(foreign: str) -> None:
    assert row_of_record_id(foreign) is None


@pytest.mark.parametrize(("value", "expected"), [("a b/c=1", "a b/c=1"), (7, "7"), ("ünï", "ünï")])
def test_user_ids_may_hold_any_printable_text(value: Any, expected: str) -> None:
    assert user_id(value, where="row 1", column="key") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "holds no value"),
        ("", "is empty"),
        ("   ", "is empty"),
        (True, "holds a bool"),
        (1.5, "holds a float"),
        ("x" * 1025, "1025 characters long"),
        ("a\nb", "control characters"),
    ],
)
def test_invalid_user_ids_are_reported_with_row_and_column(value: Any, message: str) -> None:
    with pytest.raises(DatasetError, match=rf"row 4: .*'key'.*{message}|row 4: .*{message}"):
        user_id(value, where="row 4", column="key")
