"""Step Functions state machines that execute in the emulator, and Lambda invokes that run handlers.

moto executes state machines (an ASL interpreter ported from LocalStack) when
``default_user_config["stepfunctions"]["execute_state_machine"]`` is on. ``attach`` turns that on for
the process, with Lambda's backend without Docker, and applies these patches once. moto is
pinned (5.2.5): ``check_moto`` names each internal replaced here and fails loudly when one changed.

(a) aws-sdk integrations (``arn:aws:states:::aws-sdk:<service>:<action>``). moto passes parameters
    and results through unchanged, so camelCase APIs such as Bedrock's miss their PascalCase ASL
    names. Both go through botocore's shapes here, as on AWS ("parameters are PascalCase even if the
    native API is camelCase"). Error names carry the service in PascalCase as AWS writes them:
    ``Bedrock.ServiceQuotaExceededException``, ``DynamoDb.ConditionalCheckFailedException``.
(b) CloudFormation creates ``AWS::StepFunctions::StateMachine`` in the executing backend, so the
    stack's own state machines can be started.
(d) Every call the interpreter makes (aws-sdk, optimized integrations such as ``sns:publish``,
    Lambda) goes to the emulator attached last, as the account's root.
Lambda ``Invoke``, from a state machine or any client, runs the function's handler in-process
    (``batch_runner.local.lambdas``). A handler's exception is a function error, so Retry and Catch
    work. Asynchronous invokes (``InvocationType=Event``, SNS subscriptions) go to the emulator's
    delivery queue and never run on the caller's thread: that may hold the job store's lock.

EventBridge delivery to Lambda targets is in ``lambdas``; a state machine target starts an
execution through ``start_from_event`` (``moto_state.deliver``).

An execution is *at rest* when it has ended or waits on a task token. ``wait_until_at_rest`` (via
``Emulator.settle`` and ``Emulator.quiesce``) waits for every execution to get there. An execution
with a Map or Parallel state counts as at rest once one of its branches waits on a token.

Caveats: ``Wait`` states, Retry intervals, ``TimeoutSeconds`` and ``HeartbeatSeconds`` run on the
wall clock, not the emulator's manual clock. The interpreter sleeps in real time. Keep them out of
state machines under test, or make them short. moto names a missed heartbeat ``States.Timeout``,
never ``States.HeartbeatTimeout``. AWS matches both, so Catch ``States.Timeout``.
"""

from __future__ import annotations

import inspect
import json
import re
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.config import Config
from moto.awslambda.models import LambdaFunction
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.config import default_user_config
from moto.stepfunctions import models as moto_stepfunctions
from moto.stepfunctions import responses as moto_stepfunctions_responses
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service,
    state_task_service_aws_sdk,
    state_task_service_callback,
)
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from batch_runner.local.lambdas import LambdaDeliveries, invoke_response

StateTaskService: Any = state_task_service.StateTaskService
StateTaskServiceAwsSdk: Any = state_task_service_aws_sdk.StateTaskServiceAwsSdk
StateTaskServiceCallback: Any = state_task_service_callback.StateTaskServiceCallback

_PARSER = "moto.stepfunctions.parser.asl.component.state.exec"
# Every module that binds ``boto_client_for`` by name (``grep -rn boto_client_for moto/stepfunctions``).
_CLIENT_USERS = (
    f"{_PARSER}.state_map.result_writer.resource_eval.resource_eval_s3",
    f"{_PARSER}.state_map.item_reader.eval.resource_eval_s3",
    f"{_PARSER}.state_task.lambda_eval_utils",
    *(
        f"{_PARSER}.state_task.service.state_task_service_{name}"
        for name in (
            "unsupported",
            "glue",
            "events",
            "ecs",
            "sqs",
            "sfn",
            "dynamodb",
            "batch",
            "sns",
            "aws_sdk",
        )
    ),
)
# moto's own bindings (``_SERVICE_ERROR_NAMES``); other services follow the rule in ``_error_service``.
_ERROR_SERVICE_NAMES = {"dynamodb": "DynamoDb", "sfn": "Sfn"}
_REST_POLL_SECONDS = 0.005
DEFAULT_REST_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Host:
    """An emulator serving this process: where the interpreter's calls go, and whose queue takes
    asynchronous Lambda invokes."""

    endpoint_url: str
    credentials: Mapping[str, str]
    deliveries: LambdaDeliveries

    @property
    def port(self) -> int | None:
        return urlsplit(self.endpoint_url).port


_HOSTS: list[Host] = []
_HOSTS_LOCK = threading.Lock()
_PATCH_LOCK = threading.Lock()
_patched = False


def attach(host: Host) -> None:
    """Execute state machines and run Lambda handlers for ``host`` (the newest attached serves the
    interpreter's calls). Call before the stack is deployed: Lambda's backend changes."""
    check_moto()
    _patch_once()
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    default_user_config["lambda"]["use_docker"] = False
    with _HOSTS_LOCK:
        _HOSTS.append(host)


def detach(host: Host) -> None:
    with _HOSTS_LOCK:
        if host in _HOSTS:
            _HOSTS.remove(host)


def _serving(port: int | None = None) -> Host:
    with _HOSTS_LOCK:
        if not _HOSTS:
            raise RuntimeError("no emulator is running to serve Step Functions and Lambda calls")
        return next((host for host in reversed(_HOSTS) if host.port == port), _HOSTS[-1])


# Rest points ----------------------------------------------------------------------------------

_WAITING: weakref.WeakSet[CallbackEndpoint] = weakref.WeakSet()
_WAITING_LOCK = threading.Lock()


def _executions() -> list[Any]:
    found = []
    for account in list(stepfunctions_parser_backends.values()):
        for backend in list(account.values()):
            for machine in list(backend.state_machines):
                found.extend(list(machine.executions))
    return found


def _token_waits(execution: Any) -> list[CallbackEndpoint]:
    """The task tokens the execution waits on (no answer yet)."""
    worker = execution.exec_worker
    env = worker.env if worker is not None else None
    if env is None:
        return []
    with _WAITING_LOCK:
        waiting = list(_WAITING)
    return [
        endpoint
        for endpoint in waiting
        if endpoint.get_outcome() is None and env.callback_pool_manager.get(endpoint.callback_id) is endpoint
    ]


def busy_executions() -> list[str]:
    """ARNs of the executions that are running and not waiting on a task token."""
    return [
        execution.execution_arn
        for execution in _executions()
        if execution.exec_status == ExecutionStatus.RUNNING and not _token_waits(execution)
    ]


def wait_until_at_rest(timeout: float = DEFAULT_REST_TIMEOUT_SECONDS) -> None:
    """Until every execution has ended or waits on a task token (``Wait`` states pass in real time)."""
    deadline = time.monotonic() + timeout
    while busy := busy_executions():
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"Step Functions executions still running after {timeout:g} s (a Wait state, a long "
                f"Retry interval or a handler that does not return?): {', '.join(busy)}"
            )
        time.sleep(_REST_POLL_SECONDS)


def wait_until_ended(execution_arn: str, timeout: float = DEFAULT_REST_TIMEOUT_SECONDS) -> str:
    """Until the execution has ended, waiting tokens included (their timeouts pass in real time);
    returns its status."""
    deadline = time.monotonic() + timeout
    while True:
        execution = next((e for e in _executions() if e.execution_arn == execution_arn), None)
        if execution is None:
            raise ValueError(f"no Step Functions execution {execution_arn}")
        if execution.exec_status != ExecutionStatus.RUNNING:
            return str(execution.exec_status.value)
        if time.monotonic() > deadline:
            raise RuntimeError(f"the execution {execution_arn} still runs after {timeout:g} s")
        time.sleep(_REST_POLL_SECONDS)


def stop_running_executions() -> int:
    """Stop every running execution as StopExecution would (ends Wait states); returns how many.

    As with moto's StopExecution, one waiting on a task token stays parked and RUNNING (waking it
    would fail it instead); it does nothing more."""
    running = [e for e in _executions() if e.exec_status == ExecutionStatus.RUNNING]
    for execution in running:
        execution.stop(stop_date=datetime.now(tz=UTC), error=None, cause=None)
    return len(running)


def start_from_event(state_machine_arn: str, event: dict[str, Any]) -> None:
    """An EventBridge rule's state machine target: start an execution with the event as its input."""
    _, _, _, region, account, *_ = state_machine_arn.split(":")
    stepfunctions_parser_backends[account][region].start_execution(
        state_machine_arn, name=str(event.get("id") or uuid.uuid4()), execution_input=json.dumps(event)
    )


# The patches --------------------------------------------------------------------------------

_SESSION_LOCK = threading.Lock()
_CLIENTS: dict[tuple[str, str, str], Any] = {}


def _client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """(d) moto's ``boto_client_for``, aimed at the emulator instead of localhost:$MOTO_PORT."""
    host = _serving()
    key = (host.endpoint_url, region, service)
    with _SESSION_LOCK:  # boto3 sessions are not thread-safe; its clients are
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = boto3.session.Session().client(
                service,
                region_name=region,
                endpoint_url=host.endpoint_url,
                config=Config(
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                    read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                ),
                **host.credentials,
            )
        return client


_BOTOCORE = botocore.session.get_session()


def _operation(task: Any, service: str | None, action: str | None) -> Any:
    name = action or task.resource.api_action
    model = _BOTOCORE.get_service_model(task._get_boto_service_name(service))
    return model.operation_model(name[0].upper() + name[1:])


def _normalise_parameters(
    self: Any,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """(a) ``Bucket`` stays ``Bucket``, Bedrock's ``JobName`` becomes ``jobName``, in place."""
    self._to_boto_request(parameters, _operation(self, boto_service_name, service_action_name).input_shape)


def _normalise_response(
    self: Any, response: Any, boto_service_name: str | None = None, service_action_name: str | None = None
) -> None:
    """(a) Bedrock's ``invocationJobSummaries`` becomes ``InvocationJobSummaries``, in place."""
    self._from_boto_response(response, _operation(self, boto_service_name, service_action_name).output_shape)


def _error_service(service_name: str) -> str:
    """(a) The service as error names spell it: each word of botocore's service ID capitalised
    (``Bedrock``, ``S3``, ``Sns``, ``SecretsManager``), acronyms too (``DynamoDb``, ``Sfn``)."""
    lowered = service_name.lower()
    if lowered in _ERROR_SERVICE_NAMES:
        return _ERROR_SERVICE_NAMES[lowered]
    try:
        service_id = str(_BOTOCORE.get_service_model(lowered).service_id)
    except Exception:  # not a botocore service name: moto's own fallback
        return service_name
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]*[a-z]+|[A-Z]+|\d+", service_id)
    return "".join(word[0].upper() + word[1:].lower() for word in words)


_original_wait = StateTaskServiceCallback._eval_wait_for_task_token


def _wait_for_task_token(
    self: Any, env: Any, timeout_seconds: int, callback_endpoint: Any, heartbeat_endpoint: Any
) -> Any:
    """moto's token wait, marked so that ``busy_executions`` can tell a parked execution.

    A token may come back while the task's own call is still running (a Lambda that hands its
    token back at once): AWS completes the task then. moto, with a heartbeat, starts a fresh
    heartbeat wait after the call and misses that answer until the heartbeat times out.
    """
    answered = callback_endpoint.get_outcome()
    if answered is not None:
        return answered
    with _WAITING_LOCK:
        _WAITING.add(callback_endpoint)
    try:
        return _original_wait(self, env, timeout_seconds, callback_endpoint, heartbeat_endpoint)
    finally:
        with _WAITING_LOCK:
            _WAITING.discard(callback_endpoint)


def _invoke(
    self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
) -> bytes:
    """moto's ``Invoke`` without Docker: run the handler (asynchronously for ``Event``)."""
    function = self.get_function(function_name, qualifier)
    host = _serving(_port(headers.get("Host", "")))
    kind = headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if kind == "DryRun":
        return b""
    if kind == "Event":
        host.deliveries.submit(function.function_arn, json.loads(body) if body else {})
        return b""
    payload, error = invoke_response(function, body, host.deliveries.aws())
    if error is not None:
        response_headers["x-amz-function-error"] = error
    return payload


def _invoke_from_event_source(self: Any, body: str, request_headers: Any, response_headers: Any) -> bytes:
    """moto's event sources (SNS subscriptions) call this: Lambda invokes them asynchronously."""
    _serving().deliveries.submit(self.function_arn, json.loads(body) if body else {})
    return b""


def _port(host_header: str) -> int | None:
    _, _, port = host_header.rpartition(":")
    return int(port) if port.isdigit() else None


def _patch_once() -> None:
    global _patched
    with _PATCH_LOCK:
        if _patched:
            return
        users: list[Any] = [boto_client, *(import_module(name) for name in _CLIENT_USERS)]
        for module in users:
            module.boto_client_for = _client_for  # (d)
        StateTaskServiceAwsSdk._normalise_parameters = _normalise_parameters
        StateTaskServiceAwsSdk._normalise_response = _normalise_response
        StateTaskServiceAwsSdk._normalise_service_error_name = staticmethod(_error_service)
        StateTaskServiceCallback._eval_wait_for_task_token = _wait_for_task_token
        stepfunctions: Any = moto_stepfunctions
        stepfunctions.stepfunctions_backends = stepfunctions_parser_backends  # (b)
        simple: Any = LambdaSimpleBackend
        simple.invoke = _invoke
        function: Any = LambdaFunction
        function.invoke = _invoke_from_event_source
        _patched = True


# Self-checks ----------------------------------------------------------------------------------


def _parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def _moto_internals() -> dict[str, bool]:
    """What the patches rely on, each a fact about moto 5.2.5's source."""
    original_wait = _original_wait if _patched else StateTaskServiceCallback._eval_wait_for_task_token
    machine: Any = moto_stepfunctions.StateMachine
    clients_found = all(hasattr(import_module(name), "boto_client_for") for name in _CLIENT_USERS)
    return {
        "stepfunctions.responses.get_backend reads default_user_config": "default_user_config"
        in moto_stepfunctions_responses.get_backend.__code__.co_names,
        "StateMachine.create_from_cloudformation_json uses stepfunctions_backends": "stepfunctions_backends"
        in machine.create_from_cloudformation_json.__func__.__code__.co_names,
        "boto_client_for(region, service, state_credentials) in every module listed": clients_found
        and _parameters(_client_for if _patched else boto_client.boto_client_for)
        == ["region", "service", "state_credentials"],
        "StateTaskService normalises nothing itself": _parameters(StateTaskService._normalise_parameters)
        == ["self", "parameters", "boto_service_name", "service_action_name"]
        and _parameters(StateTaskService._normalise_response)
        == ["self", "response", "boto_service_name", "service_action_name"]
        and all(hasattr(StateTaskService, name) for name in ("_to_boto_request", "_from_boto_response")),
        "StateTaskServiceAwsSdk._normalise_service_error_name is a static method": isinstance(
            StateTaskServiceAwsSdk.__dict__.get("_normalise_service_error_name"), staticmethod
        ),
        "StateTaskServiceCallback._eval_wait_for_task_token(env, timeout, endpoint, heartbeat)": _parameters(
            original_wait
        )
        == ["self", "env", "timeout_seconds", "callback_endpoint", "heartbeat_endpoint"],
        "CallbackEndpoint.get_outcome and callback_id": hasattr(CallbackEndpoint, "get_outcome")
        and "callback_id" in CallbackEndpoint.__annotations__,
        "LambdaSimpleBackend.invoke(function_name, qualifier, body, headers, response_headers)": _parameters(
            LambdaSimpleBackend.invoke
        )
        == ["self", "function_name", "qualifier", "body", "headers", "response_headers"],
        "LambdaFunction.invoke(body, request_headers, response_headers)": _parameters(LambdaFunction.invoke)
        == ["self", "body", "request_headers", "response_headers"],
    }


def check_moto() -> None:
    """Raise when moto's internals differ from what the patches were written against."""
    changed = [fact for fact, holds in _moto_internals().items() if not holds]
    if changed:
        raise RuntimeError(
            "moto changed what batch_runner/local/step_functions.py patches (written for moto 5.2.5): "
            + "; ".join(changed)
        )
