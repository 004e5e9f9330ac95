"""Planning directories: where submit writes a plan's shards before the run takes them over.

Each is ``<state dir>/runs/<run>/.planning-<random>/`` beside a lock file ``.planning-<random>.lock``
that its process holds (``flock``) from before the directory exists until the plan is launched or
discarded. The kernel drops the lock when the process dies, however it dies, so the next submit tells a
crashed plan (lock free: removed) from another live process's plan (lock held: left alone). A
directory without a lock file was left by a version before locks, or is being created this instant:
it is removed once it is an hour old.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # Windows: no flock; debris is left for the user to delete
    fcntl = None  # type: ignore[assignment]

PREFIX = ".planning-"
LOCK_SUFFIX = ".lock"
UNLOCKED_GRACE_SECONDS = 3600


@dataclass
class PlanningDir:
    """A directory this process plans into, locked against cleaners until ``release``."""

    path: Path
    _lock: IO[bytes] | None = field(default=None, repr=False)

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + LOCK_SUFFIX)

    def release(self) -> None:
        """Delete the directory if it is still there, then drop the lock (in that order, so a
        cleaner never finds it unlocked while it holds files)."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.lock_path.unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def new_planning_dir(parent: Path) -> PlanningDir:
    """A fresh, locked planning directory under ``parent``."""
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        path = parent / f"{PREFIX}{secrets.token_hex(6)}"
        try:
            lock = (parent / (path.name + LOCK_SUFFIX)).open("xb")
        except FileExistsError:
            continue
        if fcntl is not None:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        path.mkdir()
        return PlanningDir(path, lock)


def remove_abandoned(state_dir: Path) -> list[Path]:
    """Remove the planning directories (and lock files) of processes that are gone; returns them."""
    if fcntl is None:
        return []
    removed = []
    for lock in sorted(state_dir.glob(f"runs/*/{PREFIX}*{LOCK_SUFFIX}")):
        directory = lock.with_name(lock.name.removesuffix(LOCK_SUFFIX))
        existed = directory.exists()
        if _remove_if_unlocked(lock, directory) and existed:
            removed.append(directory)
    for directory in sorted(state_dir.glob(f"runs/*/{PREFIX}*")):
        unlocked = not directory.with_name(directory.name + LOCK_SUFFIX).exists()
        if directory.is_dir() and unlocked and _age(directory) > UNLOCKED_GRACE_SECONDS:
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
    return removed


def _remove_if_unlocked(lock_path: Path, directory: Path) -> bool:
    """If nobody holds the lock, remove the directory and the lock file while holding it."""
    assert fcntl is not None
    try:
        handle = lock_path.open("rb")
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a live process plans there
        shutil.rmtree(directory, ignore_errors=True)
        lock_path.unlink(missing_ok=True)
    return True


def _age(path: Path) -> float:
    with contextlib.suppress(OSError):
        return time.time() - os.stat(path).st_mtime
    return 0.0
