"""Showing a run's progress while waiting.

``ProgressDisplay`` is the CLI's: on a terminal the line is rewritten in place (records processed of
total, jobs by state, elapsed, ETA); in a log or a pipe a line is printed when something changed,
or every ``every`` seconds, so CI logs stay short but show that the wait is alive.
``TqdmProgress`` is the Python API's (``Run.wait()``): a tqdm bar, which is a widget in Jupyter.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from batch_runner.jobs.tracking import RunStatus

BAR_WIDTH = 24
PLAIN_EVERY_SECONDS = 300.0


class ProgressDisplay:
    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        every: float = PLAIN_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty() if tty is None else tty
        self._every = every
        self._clock = clock
        self._started = clock()
        self._first_processed: int | None = None
        self._last_line = ""
        self._last_stack = ""
        self._last_printed = 0.0

    def update(self, status: RunStatus) -> None:
        line = self.line(status)
        now = self._clock()
        if self._tty:
            padding = " " * max(0, len(self._last_line) - len(line))
            self._stream.write(f"\r{line}{padding}")
        elif self._changed(line, status) or now - self._last_printed >= self._every:
            self._stream.write(line + "\n")
            self._last_printed = now
        self._stream.flush()
        self._last_line = line
        self._last_stack = _stack_state(status)

    def close(self) -> None:
        if self._tty and self._last_line:
            self._stream.write("\n")
            self._stream.flush()

    def line(self, status: RunStatus) -> str:
        elapsed = self._clock() - self._started
        if self._first_processed is None:
            self._first_processed = status.processed
        total = max(status.records, 1)
        share = min(status.processed / total, 1.0)
        counts = ", ".join(f"{n} {label}" for label, n in sorted(status.counts().items()))
        text = f"{status.processed}/{status.records} records ({share:.0%}) | jobs: {counts}"
        stack = describe_stack(status)
        if stack:
            text += f" | stack: {stack}"
        text += f" | {format_duration(elapsed)} elapsed"
        eta = self._eta(status, elapsed)
        if eta is not None:
            text += f" | ETA {format_duration(eta)}"
        if self._tty:
            filled = int(share * BAR_WIDTH)
            text = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {text}"
        return text

    def _eta(self, status: RunStatus, elapsed: float) -> float | None:
        """From the records processed since waiting began; None until there is a rate."""
        done = status.processed - (self._first_processed or 0)
        if done <= 0 or elapsed <= 0 or status.finished:
            return None
        return max(0, status.records - status.processed) * elapsed / done

    def _changed(self, line: str, status: RunStatus) -> bool:
        # Compare without the clock parts (elapsed, ETA, the last pass's age), so a quiet run does
        # not print a line per poll.
        return (
            line.split(" | ")[:2] != self._last_line.split(" | ")[:2]
            or _stack_state(status) != self._last_stack
        )


def describe_stack(status: RunStatus) -> str | None:
    """An orchestrated run as the stack last recorded it, in a few words: why its shards wait (or
    its state) and how long ago the scheduler's last pass was; None for a run driven from here."""
    view = status.orchestration
    if view is None:
        return None
    if not view.get("registered"):
        return "not registered with the scheduler"
    words = _stack_state(status)
    age = last_pass_age(status)
    return words if age is None else f"{words}, last pass {format_duration(age)} ago"


def _stack_state(status: RunStatus) -> str:
    view = status.orchestration or {}
    if view.get("waiting_reason"):
        return str(view["waiting_reason"])
    outcome = f" ({view['outcome']})" if view.get("outcome") else ""
    return f"{view.get('state', '')}{outcome}"


def last_pass_age(status: RunStatus) -> float | None:
    """Seconds from the scheduler's last pass over the run to when ``status`` was taken."""
    view = status.orchestration or {}
    try:
        then = datetime.fromisoformat(str(view.get("last_pass_at")))
        now = datetime.fromisoformat(status.checked_at)
    except ValueError:
        return None
    return max(0.0, (now - then).total_seconds())


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class TqdmProgress:
    """A run's progress as a tqdm bar: a widget in Jupyter, a redrawn line in a terminal
    (``tqdm.auto`` chooses). What ``Run.wait()`` shows by default; pass ``update`` as
    ``on_progress``, then ``close()``."""

    def __init__(self, run: str, *, file: TextIO | None = None) -> None:
        from tqdm.auto import tqdm  # loaded when a bar is shown, never by the CLI or the Lambda

        # No rate or ETA: records processed before the wait began would make both wrong.
        self._bar = tqdm(
            total=0,
            desc=f"run {run}",
            file=file,
            dynamic_ncols=True,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} records [{elapsed}{postfix}]",
        )

    def update(self, status: RunStatus) -> None:
        self._bar.total = status.records
        self._bar.n = min(status.processed, status.records)
        postfix = "jobs: " + ", ".join(f"{n} {label}" for label, n in sorted(status.counts().items()))
        stack = describe_stack(status)
        self._bar.set_postfix_str(postfix + (f"; stack: {stack}" if stack else ""), refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()
