"""The emulator: moto plus the Bedrock batch-job service, in-process or as a foreground server."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from batch_runner.aws.clients import AwsContext
from batch_runner.aws.stack_outputs import DEFAULT_ENVIRONMENT, OutputKey, stack_name
from batch_runner.local import local_identity, step_functions
from batch_runner.local.admin import AdminApp
from batch_runner.local.clock import Clock, ManualClock, WallClock, iso8601
from batch_runner.local.config import EmulatorConfig
from batch_runner.local.control_plane import ControlPlane
from batch_runner.local.events import EventLog
from batch_runner.local.faults import FaultInjector
from batch_runner.local.job_store import JobStore
from batch_runner.local.jobs import Job
from batch_runner.local.lambdas import LambdaDeliveries
from batch_runner.local.lifecycle import Lifecycle
from batch_runner.local.moto_state import S3State, fire_schedules
from batch_runner.local.stack import deploy, project_root, stack_template
from batch_runner.local.wsgi import EmulatorApp

DEFAULT_REGION = "us-east-1"
# The emulator's own clients (deploying, tests' set-up) act as the account root; the default
# credentials "testing" are the submitter user (batch_runner.local.local_identity).
FAKE_CREDENTIALS = {"aws_access_key_id": "emulator-root", "aws_secret_access_key": "testing"}
_TICK_SECONDS = 0.25
# The deployed sweep runs every few minutes; the emulator's comes sooner, so a demo never waits.
_SWEEP_SECONDS = 30.0


class _QuietRequestHandler(MotoRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class Emulator:
    """Runs moto and the Bedrock batch-job emulation behind one HTTP endpoint.

    ``clock`` defaults to the wall clock; pass a ``ManualClock`` for deterministic tests. With
    ``deploy_stack`` the dev stack synthesized from ``app.py`` (the bundled template when installed,
    or ``template``, when given) is
    created through moto's CloudFormation on start.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        clock: Clock | None = None,
        region: str = DEFAULT_REGION,
        environment: str = DEFAULT_ENVIRONMENT,
        deploy_stack: bool = True,
        template: dict[str, Any] | None = None,
        root: Path | None = None,
        log_requests: bool = False,
    ) -> None:
        self._initial_config = config or EmulatorConfig()
        self._config = self._initial_config
        self.clock: Clock = clock or WallClock()
        self.region = region
        self.stack_name = stack_name(environment)
        self._environment = environment
        self._deploy_stack = deploy_stack
        self._template = template
        self._root = root or project_root()
        self.stack_outputs: dict[str, str] = {}
        self._faults = FaultInjector(self._config)
        self._stopping = threading.Event()
        self.deliveries = LambdaDeliveries(
            lambda: AwsContext(region=self.region, endpoint_url=self.endpoint_url), self._stopping
        )
        self._events = EventLog(self.deliveries.submit)
        self._store = JobStore(
            self.clock,
            lambda: self._config,
            Lifecycle(lambda: self._config, self._faults, self._events),
            self._faults,
        )
        self.app = EmulatorApp(
            ControlPlane(self._store),
            AdminApp(self),
            DomainDispatcherApplication(create_backend_app),
            self._faults,
            lambda: self._config,
            self.deliveries.submit,
        )
        self._server: BaseWSGIServer | None = None
        self._handler = MotoRequestHandler if log_requests else _QuietRequestHandler
        self._threads: list[threading.Thread] = []
        self._host: step_functions.Host | None = None

    # Serving ------------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Emulator:
        """Serve in a background thread and deploy the stack; returns once ready.

        Raises ``OSError`` when the port is taken (werkzeug itself would exit the process).
        """
        _check_free(host, port)
        self._server = make_server(host, port, self.app, threaded=True, request_handler=self._handler)
        # Before the stack is deployed: its Lambda functions go to moto's backend without Docker.
        self._host = step_functions.Host(self.endpoint_url, FAKE_CREDENTIALS, self.deliveries)
        step_functions.attach(self._host)
        self._spawn(self._server.serve_forever)
        self._spawn(self.deliveries.serve)
        if not isinstance(self.clock, ManualClock):
            self._spawn(self._tick)
        if self._deploy_stack:
            self._deploy()
        return self

    def serve_forever(self) -> None:
        """Block until ``stop`` is called (or Ctrl-C in the foreground)."""
        while not self._stopping.wait(0.5):
            pass

    def stop(self) -> None:
        self._stopping.set()
        # The Lambda worker may be mid-invocation, calling this server: let it finish first.
        for thread in self._threads:
            if thread.name.endswith(self.deliveries.serve.__name__):
                thread.join(timeout=30)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._server = None
        if self._host is not None:
            step_functions.detach(self._host)
            self._host = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Any) -> None:
        thread = threading.Thread(target=target, daemon=True, name=f"bedrock-emulator-{target.__name__}")
        thread.start()
        self._threads.append(thread)

    def _tick(self) -> None:
        """With a wall clock, move jobs along (and emit their events) even when nobody polls, and
        fire the stack's schedule rules (the orchestration sweep) every ``_SWEEP_SECONDS``."""
        last_sweep = self.clock.now()
        while not self._stopping.wait(_TICK_SECONDS):
            try:
                self._store.advance()
                if self.clock.now() - last_sweep >= _SWEEP_SECONDS:
                    last_sweep = self.clock.now()
                    self.fire_schedules()
            except Exception:  # keep time running; the trace says what went wrong
                traceback.print_exc(file=sys.stderr)

    def fire_schedules(self) -> int:
        """Deliver a scheduled event to every schedule rule's targets now; returns how many rules."""
        at = iso8601(self.clock.now())
        return fire_schedules(DEFAULT_ACCOUNT_ID, self.region, self.deliveries.submit, at)

    def settle(self, max_rounds: int = 100) -> None:
        """Until nothing moves: every job ended, every queued Lambda invocation run, and every Step
        Functions execution at rest (ended, or waiting on a task token). Manual clock only."""
        for _ in range(max_rounds):
            self.quiesce()
            if self._store.next_change() is None:
                return
            self.run_until_idle()
        raise RuntimeError(f"the emulator did not settle in {max_rounds} rounds")

    def quiesce(self, timeout: float = step_functions.DEFAULT_REST_TIMEOUT_SECONDS) -> None:
        """Without moving the clock: until no Lambda invocation is queued or running and every Step
        Functions execution has ended or waits on a task token.

        Executions run on their own threads; ``Wait`` states and Retry intervals pass in real time,
        so this returns only after them (``RuntimeError`` naming the executions after ``timeout``).
        """
        while True:
            self.deliveries.join()
            step_functions.wait_until_at_rest(timeout)
            if self.deliveries.idle():
                return

    def wait_for_execution(
        self, execution_arn: str, timeout: float = step_functions.DEFAULT_REST_TIMEOUT_SECONDS
    ) -> str:
        """Until a Step Functions execution ends, even one waiting on a task token (a heartbeat or
        timeout passes in real time); returns its status, e.g. ``"SUCCEEDED"``."""
        return step_functions.wait_until_ended(execution_arn, timeout)

    def _deploy(self) -> None:
        template = self._template or stack_template(self._root, self._environment)
        cloudformation = self.client("cloudformation")
        self.stack_outputs = deploy(cloudformation, self.stack_name, template)
        local_identity.provision(self.client("iam"), self.stack_outputs, DEFAULT_ACCOUNT_ID)

    def client(self, service: str) -> Any:
        """A boto3 client pointed at the emulator with fake credentials."""
        return boto3.client(
            service, region_name=self.region, endpoint_url=self.endpoint_url, **FAKE_CREDENTIALS
        )

    # Controls -----------------------------------------------------------------------------

    @property
    def config(self) -> EmulatorConfig:
        return self._config

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change settings at runtime; fault draws restart from the (possibly new) seed."""
        self._config = self._config.updated(changes)
        self._faults.configure(self._config)
        return self._config

    def advance(self, seconds: float) -> None:
        """Move a manual clock forward and let jobs progress accordingly."""
        if not isinstance(self.clock, ManualClock):
            raise ValueError("only a manual clock can be advanced; this emulator runs on the wall clock")
        self.clock.advance(seconds)
        self._store.advance()

    def run_until_idle(self, max_seconds: float = 30 * 24 * 3600) -> None:
        """Advance a manual clock from one status change to the next until every job is terminal."""
        if not isinstance(self.clock, ManualClock):
            raise ValueError("only a manual clock can be run forward; this emulator runs on the wall clock")
        deadline = self.clock.now() + max_seconds
        while (due := self._store.next_change()) is not None and due <= deadline:
            self.clock.advance(max(0.0, due - self.clock.now()))
            self._store.advance()

    def jobs(self) -> list[Job]:
        self._store.advance()
        return self._store.jobs()

    def events(self) -> list[dict[str, Any]]:
        self._store.advance()
        return self._events.all()

    def reset(self) -> None:
        """Forget every job and event, stop running Step Functions executions, restore the start-up config.

        moto state (buckets, objects, roles) is kept; if something else in the process reset moto
        (``moto.mock_aws`` does on entry and exit), the stack is deployed again.
        """
        self.deliveries.reset()
        step_functions.stop_running_executions()
        self._store.reset()
        self._events.clear()
        self._config = self._initial_config
        self._faults.configure(self._config)
        self.ensure_deployed()

    def ensure_deployed(self) -> None:
        """Deploy the stack again when moto's state no longer holds it (outputs may change)."""
        if not self._deploy_stack or self._server is None:
            return
        bucket = self.stack_outputs.get(OutputKey.INPUT_BUCKET)
        if bucket and S3State(DEFAULT_ACCOUNT_ID).bucket(bucket) is not None:
            return
        cloudformation = self.client("cloudformation")
        with contextlib.suppress(ClientError):
            cloudformation.delete_stack(StackName=self.stack_name)
        self._deploy()


def _check_free(host: str, port: int) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
