"""How often ``wait`` polls and for how long: plain settings, importable without the AWS side.

By default the interval adapts to the run: a tenth of how long its oldest unfinished job has been
going (or of the wait so far), at least 2 seconds and at most 5 minutes. A job that ends in seconds
(the emulator) is seen within seconds; a day-long batch is polled every few minutes. A fixed
``poll`` replaces that base. Either way the interval grows by half while nothing changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MIN_POLL_SECONDS = 2.0
MAX_POLL_SECONDS = 300.0
ADAPTIVE_SHARE = 0.1  # of the time the run has been going
GROWTH = 1.5  # the interval grows by half while nothing changes


@dataclass(frozen=True)
class Pacing:
    """How often to poll (``poll`` None: adaptive) and how long to wait at most (``timeout`` None:
    until done)."""

    poll: float | None = None
    max_poll: float = MAX_POLL_SECONDS
    timeout: float | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if self.poll is not None and self.poll <= 0:
            raise ValueError(f"poll interval must be positive, got {self.poll}")
        if self.timeout is not None and self.timeout < 0:
            raise ValueError(f"timeout must not be negative, got {self.timeout}")

    def base_interval(self, running_seconds: float) -> float:
        """The interval after a change, for a run going for ``running_seconds``."""
        if self.poll is not None:
            return min(self.poll, self.max_poll)
        return min(max(MIN_POLL_SECONDS, running_seconds * ADAPTIVE_SHARE), self.max_poll)
