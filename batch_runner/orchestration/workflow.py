"""Each orchestrated run's workflow: one Step Functions execution a person can watch in the console.

The state machine (``stacks/orchestration_workflow.py``) is: wait for the run (a task token, with
a heartbeat and a timeout) -> collect the results -> notify. It schedules nothing: the scheduler
does, for every run at once. The workflow shows one run's life, and runs what follows its end.

- The scheduler starts an execution for an active run that has none (named ``<run>-<round>``;
  a retry requested after the results were collected is a new round).
- The execution's first task hands its token to ``attach`` (a small Lambda), which stores it on
  the registry item.
- Each pass sends a heartbeat for every waiting run; when the run finishes, the token is returned
  with the run's outcome and the execution moves on to collect and notify.

The run may finish before the token is stored, or while it is being stored: whichever of the two
writers (``attach``, the scheduler) sees both the token and the finished state on the item it just
wrote sends the token back. Both may; the second is told the task is gone, which is harmless.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.aws.errors import aws_error, error_code
from batch_runner.orchestration.registry import FINISHED, Registry, RegistryEntry

# What Step Functions answers for a token whose task already ended (returned, timed out, stopped).
GONE = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken", "ExecutionDoesNotExist")
MAX_EXECUTION_NAME = 80


def execution_name(run: str, round_number: int) -> str:
    return f"{run}-{round_number}"[:MAX_EXECUTION_NAME]


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives an execution of ``state_machine_arn`` named ``name``."""
    prefix, _, machine = state_machine_arn.rpartition(":stateMachine:")
    return f"{prefix}:execution:{machine}:{name}"


@dataclass(frozen=True)
class Workflows:
    """The runs' executions, through an injected Step Functions client."""

    sfn: Any
    state_machine_arn: str

    def start(self, entry: RegistryEntry) -> str:
        """Start the run's next execution; its ARN (the same one when it was started before)."""
        name = execution_name(entry.run, entry.workflows_started + 1)
        try:
            started = self.sfn.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=name,
                input=json.dumps({"run": entry.run, "round": entry.workflows_started + 1}),
            )
        except ClientError as err:
            if error_code(err) == "ExecutionAlreadyExists":  # a pass that crashed after starting it
                return execution_arn(self.state_machine_arn, name)
            raise aws_error(err, f"starting the workflow of run {entry.run}") from err
        except BotoCoreError as err:
            raise aws_error(err, f"starting the workflow of run {entry.run}") from err
        return str(started["executionArn"])

    def heartbeat(self, token: str) -> bool:
        """Tell the waiting execution the run is still being driven; False when it stopped waiting."""
        return self._send(self.sfn.send_task_heartbeat, taskToken=token)

    def finish(self, entry: RegistryEntry) -> bool:
        """Return the token: the execution goes on to collect and notify."""
        output = {"run": entry.run, "outcome": entry.outcome}
        return self._send(self.sfn.send_task_success, taskToken=entry.task_token, output=json.dumps(output))

    def _send(self, call: Callable[..., Any], **params: Any) -> bool:
        try:
            call(**params)
        except ClientError as err:
            if error_code(err) in GONE:
                return False
            raise aws_error(err, "answering a run's workflow") from err
        except BotoCoreError as err:
            raise aws_error(err, "answering a run's workflow") from err
        return True


def hand_back(registry: Registry, workflows: Workflows, written: RegistryEntry | None) -> bool:
    """After a write that may have completed the pair (finished, token): return the token and
    clear it, so the next round starts a new execution. True when this call returned it."""
    if written is None or written.state != FINISHED or not written.task_token:
        return False
    workflows.finish(written)
    registry.update(written.run, {"task_token": "", "execution": ""})
    return True
