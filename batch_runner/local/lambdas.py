"""Lambda functions of the deployed stack, run in-process: synchronous and asynchronous invokes.

Every invocation runs the function's ``Handler`` imported from this checkout (moto holds only a
placeholder for the code); the handler gets the function's environment variables and an
``AwsContext`` pointing at the emulator as keyword arguments ``environ=`` and ``aws=``.

Asynchronous invocations (EventBridge targets, ``InvocationType=Event``) go on a queue that one
worker thread serves, as Lambda's asynchronous invocation with reserved concurrency 1 would: the job
store records events while holding its lock, and the handler calls back into Bedrock, so a handler
never runs on the thread that recorded the event. Tests call ``join()`` to wait for deliveries and
``lose_next()`` to drop events, as EventBridge may. Synchronous invocations (``Invoke`` from a
client or a state machine) run on the request's thread: ``invoke_response`` answers as Lambda does,
a handler's exception becoming a function error.
"""

from __future__ import annotations

import importlib
import json
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.awslambda.utils import get_backend

from batch_runner.aws.clients import AwsContext

# What Lambda's runtime answers for an exception the handler did not catch (the response carries
# ``X-Amz-Function-Error: Unhandled``); Step Functions matches ``errorType`` in Retry and Catch.
FUNCTION_ERROR = "Unhandled"


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
        self.aws = aws
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

    def idle(self) -> bool:
        """Nothing queued and nothing running."""
        return self._queue.unfinished_tasks == 0

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
        return run_handler(get_backend(account, region).get_function(function_arn), event, self.aws())


def run_handler(function: Any, event: Any, aws: AwsContext) -> Any:
    """Call moto's ``function``'s handler, imported from this checkout, with ``event``."""
    module, _, name = str(function.handler).rpartition(".")
    handler = getattr(importlib.import_module(module), name)
    environ = dict(function.environment_vars or {})
    return handler(event, None, aws=aws, environ=environ)


def invoke_response(function: Any, body: str | bytes | None, aws: AwsContext) -> tuple[bytes, str | None]:
    """A synchronous ``Invoke``: the response payload and the function error, if any."""
    try:
        result = run_handler(function, json.loads(body) if body else {}, aws)
    except Exception as err:  # what the Python runtime reports for an uncaught exception
        return _error_payload(type(err).__name__, str(err), err), FUNCTION_ERROR
    try:
        return json.dumps(result).encode(), None
    except (TypeError, ValueError) as err:
        return _error_payload(
            "Runtime.MarshalError", f"Unable to marshal response: {err}", err
        ), FUNCTION_ERROR


def _error_payload(error_type: str, message: str, err: BaseException) -> bytes:
    frames = [frame for frame in traceback.extract_tb(err.__traceback__) if frame.filename != __file__]
    stack = [line.rstrip("\n") for line in traceback.format_list(frames)]
    return json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": stack}).encode()
