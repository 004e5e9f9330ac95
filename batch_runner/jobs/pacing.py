"""How often ``wait`` polls and for how long: plain settings, importable without the AWS side."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_POLL_SECONDS = 30.0
MAX_POLL_SECONDS = 300.0
GROWTH = 1.5  # the interval grows by half while nothing changes


@dataclass(frozen=True)
class Pacing:
    """How often to poll and how long to wait at most (``timeout`` None: until done)."""

    poll: float = DEFAULT_POLL_SECONDS
    max_poll: float = MAX_POLL_SECONDS
    timeout: float | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if self.poll <= 0:
            raise ValueError(f"poll interval must be positive, got {self.poll}")
        if self.timeout is not None and self.timeout < 0:
            raise ValueError(f"timeout must not be negative, got {self.timeout}")
