"""Lambda functions of the deployed stack, run in-process: EventBridge's asynchronous invoke.

Events for a Lambda target go on a queue that one worker thread serves, as Lambda's asynchronous
invocation with reserved concurrency 1 would: the job store records events while holding its lock,
and the handler calls back into Bedrock, so a handler never runs on the thread that recorded the
event. The handler is the function's ``Handler`` imported from this checkout (moto holds only a
placeholder for the code); it gets the function's environment variables and an ``AwsContext``
pointing at the emulator as keyword arguments. Tests call ``join()`` to wait for deliveries and
``lose_next()`` to drop events, as EventBridge may.
"""

from __future__ import annotations

import importlib
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.awslambda.models import lambda_backends

from batch_runner.aws.clients import AwsContext


@dataclass(frozen=True)
class Invocation:
    function_arn: str
    event: dict[str, Any]


@dataclass(frozen=True)
class Failure:
    function_arn: str
    error: str


class LambdaDeliveries:
    def __init__(self, aws: Callable[[], AwsContext], stopping: threading.Event) -> None:
        self._aws = aws
        self._stopping = stopping
        self._queue: queue.Queue[Invocation] = queue.Queue()
        self._lock = threading.Lock()
        self._lose = 0
        self.delivered: list[Invocation] = []
        self.failures: list[Failure] = []

    def submit(self, function_arn: str, event: dict[str, Any]) -> None:
        """Queue an asynchronous invocation (returns at once, as EventBridge does)."""
        with self._lock:
            if self._lose > 0:
                self._lose -= 1
                return
        self._queue.put(Invocation(function_arn, event))

    def lose_next(self, count: int = 1) -> None:
        """Drop the next ``count`` deliveries: EventBridge and Lambda do not promise every event."""
        with self._lock:
            self._lose += count

    def join(self) -> None:
        """Wait until every queued invocation has run (those it queues too)."""
        self._queue.join()

    def reset(self) -> None:
        self.join()
        with self._lock:
            self._lose = 0
            self.delivered.clear()
            self.failures.clear()

    def serve(self) -> None:
        """The worker: run by the emulator on a thread of its own until it stops."""
        while not self._stopping.is_set():
            try:
                invocation = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.invoke(invocation.function_arn, invocation.event)
                self.delivered.append(invocation)
            except Exception as err:  # the function failed: Lambda would retry, then dead-letter
                self.failures.append(Failure(invocation.function_arn, f"{type(err).__name__}: {err}"))
                traceback.print_exc(file=sys.stderr)
            finally:
                self._queue.task_done()

    def invoke(self, function_arn: str, event: dict[str, Any]) -> Any:
        """Run the function's handler now, on this thread."""
        _, _, _, region, account, *_ = function_arn.split(":")
        function = lambda_backends[account][region].get_function(function_arn)
        module, _, name = str(function.handler).rpartition(".")
        handler = getattr(importlib.import_module(module), name)
        environ = dict(function.environment_vars or {})
        return handler(event, None, aws=self._aws(), environ=environ)
