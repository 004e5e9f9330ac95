"""The runner's record IDs, ``R`` + the 0-based row number in ten digits (``R0000000042``).

Defined here, below both sides of the contract: the planner writes them (``prepare.record_ids``,
which checks the row range) and the row-addressed join reads a row number straight out of them.
"""

from __future__ import annotations

RUNNER_ID_PREFIX = "R"
RUNNER_ID_DIGITS = 10
RUNNER_ID_LENGTH = len(RUNNER_ID_PREFIX) + RUNNER_ID_DIGITS


def format_runner_id(row: int) -> str:
    return f"{RUNNER_ID_PREFIX}{row:0{RUNNER_ID_DIGITS}d}"
