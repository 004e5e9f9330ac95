"""Shared pytest fixtures: a local AWS (moto + Bedrock batch emulation) over real HTTP.

Registered for the whole suite from ``tests/conftest.py``. Fixtures:

``emulator_session`` (session scope)
    A running ``batch_runner.local.Emulator`` on a free port of 127.0.0.1, driven by a
    ``ManualClock`` (time stands still until a test moves it) with the dev stack synthesized
    from ``app.py`` deployed through moto's CloudFormation. moto state (buckets, roles, objects)
    lives for the whole session: use unique keys/names per test.

``emulator`` (function scope)
    The same emulator, with jobs, recorded events and config reset before and after the test.
    What a test uses:
      - ``emulator.endpoint_url`` -> ``"http://127.0.0.1:<port>"``
      - ``emulator.stack_outputs`` -> ``{"InputBucketName": ..., "OutputBucketName": ...,
        "ServiceRoleArn": ..., ...}`` (keys are ``batch_runner.aws.stack_outputs.OutputKey``)
      - ``emulator.client("s3")`` -> a boto3 client pointed at the emulator
      - ``emulator.configure(min_records_per_job=1, record_error_rate=0.1, ...)`` -> set any
        ``EmulatorConfig`` field (limits, timing, fault injection) for this test
      - ``emulator.advance(seconds)`` -> move the clock; ``emulator.run_until_idle()`` -> advance
        until every job is terminal (Completed/Failed/...), outputs written
      - ``emulator.settle()`` -> advance until nothing moves: every job ended, every queued Lambda
        event run, every Step Functions execution at rest (ended, or waiting on a task token);
        ``emulator.quiesce()`` -> the same without moving the clock;
        ``emulator.wait_for_execution(arn)`` -> until an execution ends (real-time timeouts too)
      - ``emulator.events()`` -> recorded EventBridge events (dicts as EventBridge delivers them)
      - ``emulator.jobs()`` -> every job; ``emulator.reset()`` -> forget jobs and events

``emulator_aws`` (function scope)
    A ``batch_runner.aws.clients.AwsContext`` pointing at the emulator (region us-east-1), for the
    runner's own code: ``emulator_aws.client("bedrock")``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch_runner.aws.clients import AwsContext
from batch_runner.local import Emulator, ManualClock

REGION = "us-east-1"


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[Emulator]:
    emulator = Emulator(clock=ManualClock(), region=REGION)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def emulator(emulator_session: Emulator) -> Iterator[Emulator]:
    emulator_session.reset()
    try:
        yield emulator_session
    finally:
        emulator_session.reset()


@pytest.fixture
def emulator_aws(emulator: Emulator) -> AwsContext:
    return AwsContext(region=REGION, endpoint_url=emulator.endpoint_url)


def hand_written_template() -> dict[str, object]:
    """A minimal stand-in for the dev stack (two buckets and a service role), for tests that
    need a stack independent of ``app.py``."""
    loaded: dict[str, object] = json.loads(
        (Path(__file__).parent / "emulator" / "dev_stack_template.json").read_text()
    )
    return loaded
