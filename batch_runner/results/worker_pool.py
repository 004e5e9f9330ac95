"""An ordered map over forked worker processes, for per-chunk work that is all CPU.

Parsing and encoding output lines holds the interpreter lock, so threads cannot share it; output
chunks are independent, so processes can. Workers are forked (Linux only): they inherit
everything the work needs (the schema check, the encoders) without pickling it, and only the
chunks and their small results cross the pipes. Where fork is not safe (macOS, Windows) or there
is one CPU, the same work runs in this process.

Items are sent round-robin by a feeder thread while this thread receives the results in item
order, so a worker blocked on sending a large result can never deadlock against a send to it.
At most ``depth`` items per worker are in flight, which bounds memory. Workers ignore Ctrl-C:
the caller's process stops them, like any failure, in ``ordered_map``'s cleanup.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from batch_runner.exceptions import InternalError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

T = TypeVar("T")
R = TypeVar("R")
# ``setup(worker number)`` runs in the worker and gives the work for each item; leaving it
# finishes the worker's part (closes its files) before the pool reports it done.
Setup = Callable[[int], AbstractContextManager[Callable[[T], R]]]

MAX_WORKERS = 8
_RESULT = "result"
_FAILED = "failed"
_END = -1


def available_cpus() -> int:
    """CPUs this process may use: its affinity, within a container's CPU quota (cgroup v2)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
    return min(cpus, _cgroup_cpus() or cpus)


def _cgroup_cpus(path: Path = Path("/sys/fs/cgroup/cpu.max")) -> int | None:
    """The CPU quota of this process's cgroup (``"200000 100000"``: 2), or None without one."""
    try:
        quota, period = path.read_text().split()[:2]
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):  # no cgroup v2, no limit ("max"), or unreadable
        return None


def default_workers() -> int:
    """Workers to use when the caller does not say: one per CPU (at most ``MAX_WORKERS``), or
    none where forking is not safe or there is a single CPU."""
    cpus = available_cpus()
    return min(cpus, MAX_WORKERS) if sys.platform == "linux" and cpus > 1 else 0


def ordered_map(setup: Setup[T, R], items: Iterable[T], workers: int, depth: int = 2) -> Iterator[R]:
    """The work's result for every item, in the items' order; ``workers`` 0: in this process."""
    if workers <= 0:
        with setup(0) as work:
            for item in items:
                yield work(item)
        return
    try:
        pool = _Pool(setup, workers, depth)
    except OSError:  # no fork (a large process without the memory to commit, a process limit)
        yield from ordered_map(setup, items, 0)
        return
    try:
        yield from pool.results(items)
    finally:
        pool.stop()


class _Pool:
    def __init__(self, setup: Setup[Any, Any], workers: int, depth: int) -> None:
        import multiprocessing  # only where workers are used

        context = multiprocessing.get_context("fork")
        self._pipes: list[Connection] = []
        self._processes: list[Any] = []
        self._order: queue.Queue[int | BaseException] = queue.Queue()
        self._room = threading.Semaphore(workers * depth)
        self._stopping = threading.Event()
        self._feeder: threading.Thread | None = None
        try:
            for number in range(workers):
                ours, theirs = context.Pipe()
                self._pipes.append(ours)
                process = context.Process(
                    target=_serve, args=(setup, number, theirs), name=f"results-worker-{number}", daemon=True
                )
                process.start()
                theirs.close()
                self._processes.append(process)
        except BaseException:
            self.stop()  # the workers already started
            raise

    def results(self, items: Iterable[Any]) -> Iterator[Any]:
        self._feeder = threading.Thread(target=self._feed, args=(items,), name="results-feeder", daemon=True)
        self._feeder.start()
        while True:
            worker = self._order.get()
            if isinstance(worker, BaseException):
                raise worker  # reading the items failed: raised here, after the items before it
            if worker == _END:
                break
            result = self._receive(worker)
            self._room.release()
            yield result
        for worker in range(len(self._pipes)):
            self._receive(worker)  # each worker's files are complete once it says so

    def _feed(self, items: Iterable[Any]) -> None:
        pipes = self._pipes
        try:
            for number, item in enumerate(items):
                while not self._room.acquire(timeout=0.1):
                    if self._stopping.is_set():
                        return
                if self._stopping.is_set():
                    return
                worker = number % len(pipes)
                if not self._send(worker, item):
                    return
                self._order.put(worker)
            for worker in range(len(pipes)):
                if not self._send(worker, None):
                    return
            self._order.put(_END)
        except BaseException as err:  # handed to the receiving thread, which raises it
            if not self._stopping.is_set():
                self._order.put(err)

    def _send(self, worker: int, item: Any) -> bool:
        try:
            self._pipes[worker].send(item)
        except OSError:
            # The worker has gone (failed, or was killed): receiving from it says why.
            if not self._stopping.is_set():
                self._order.put(worker)
            return False
        return True

    def _receive(self, worker: int) -> Any:
        try:
            kind, value = self._pipes[worker].recv()
        except (EOFError, ConnectionResetError):
            process = self._processes[worker]
            process.join(timeout=1)
            raise InternalError(
                f"results worker {worker} stopped unexpectedly (exit code {process.exitcode})"
            ) from None
        if kind == _FAILED:
            raise value
        return value

    def stop(self) -> None:
        self._stopping.set()
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for pipe in self._pipes:
            pipe.close()  # a feeder blocked on a send to a stopped worker fails and quits
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():  # deaf to SIGTERM: it must not outlive the temp files
                process.kill()
                process.join(timeout=5)
        if self._feeder is not None:
            self._feeder.join(timeout=5)


def _serve(setup: Setup[Any, Any], number: int, pipe: Connection) -> None:
    """A worker's life: run the work on each item until told to finish, then say so."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with setup(number) as work:
            while True:
                try:
                    item = pipe.recv()
                except EOFError:
                    return  # the caller has stopped the pool
                if item is None:
                    break
                pipe.send((_RESULT, work(item)))
        pipe.send((_RESULT, None))
    except BaseException as err:
        _report(pipe, number, err)


def _report(pipe: Connection, number: int, err: BaseException) -> None:
    try:
        pickle.loads(pickle.dumps(err))  # some exceptions cannot be rebuilt from their args
    except Exception:
        trace = traceback.format_exc(limit=-3)
        err = InternalError(f"results worker {number} failed: {err!r}\n{trace}")
    with contextlib.suppress(OSError):  # the caller has stopped the pool and is not listening
        pipe.send((_FAILED, err))
