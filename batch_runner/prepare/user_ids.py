"""Collects user-supplied IDs while streaming and reports duplicates at the end.

IDs are kept as Arrow arrays (their bytes plus 8 per row) rather than a Python set, so a million
IDs cost tens of megabytes, and duplicates are found with one group-by.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from batch_runner.exceptions import DatasetError
from batch_runner.prepare.jsonl_lines import int_range

_SHOWN = 5  # duplicates listed in the error, and rows listed per duplicate; the rest are counted


class UserIdRegistry:
    def __init__(self, column: str) -> None:
        self.column = column
        self._ids: list[pa.Array] = []
        self._rows: list[pa.Array] = []

    def add(self, ids: list[str], rows: list[int]) -> None:
        """Records ``ids[i]`` as the ID of 0-based row ``rows[i]``."""
        self._ids.append(pa.array(ids, pa.large_string()))
        self._rows.append(pa.array([row + 1 for row in rows], pa.int64()))

    def add_column(self, ids: pa.Array, first_row: int) -> None:
        """Records a column of IDs for consecutive rows starting at 0-based ``first_row``."""
        self._ids.append(ids.cast(pa.large_string()))
        self._rows.append(int_range(first_row + 1, len(ids)))

    def check_unique(self) -> None:
        if not self._ids:
            return
        table = pa.table({"id": pa.concat_arrays(self._ids), "row": pa.concat_arrays(self._rows)})
        groups = table.group_by("id", use_threads=False).aggregate([("row", "list")])
        duplicated = groups.filter(pc.greater(pc.list_value_length(groups["row_list"]), 1))
        if duplicated.num_rows == 0:
            return
        shown = [
            f"{value!r} (rows {_row_list(rows)})"
            for value, rows in zip(
                duplicated["id"].to_pylist()[:_SHOWN],
                duplicated["row_list"].to_pylist()[:_SHOWN],
                strict=True,
            )
        ]
        more = f" and {duplicated.num_rows - _SHOWN} more" if duplicated.num_rows > _SHOWN else ""
        raise DatasetError(
            f"ID column {self.column!r} has duplicate values: {'; '.join(shown)}{more}; "
            "IDs must be unique (use another column, or omit --id-column to number rows)"
        )


def _row_list(rows: list[int]) -> str:
    """The first rows of a duplicate and how many there are: one ID on every row of a large
    dataset must not make a megabyte-long error line."""
    listed = ", ".join(map(str, rows[:_SHOWN]))
    return listed if len(rows) <= _SHOWN else f"{listed}, ... {len(rows):,} in all"
