"""Emulator time. Tests use a manual clock they advance explicitly; demos use the wall clock."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, emulator time."""
        ...


class WallClock:
    """Real time: jobs move through their phases as configured seconds pass."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """Time stands still until ``advance`` is called, so job progress is deterministic."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock cannot go backwards")
        with self._lock:
            self._now += seconds


def to_datetime(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def iso8601(epoch_seconds: float) -> str:
    """The timestamp format rest-json services send and botocore parses."""
    return to_datetime(epoch_seconds).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
