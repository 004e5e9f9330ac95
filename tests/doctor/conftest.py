"""The emulator as an ``AwsContext`` for doctor tests."""

from __future__ import annotations

import pytest

from batch_runner.aws.clients import AwsContext
from batch_runner.local import Emulator
from tests.doctor.identities import REGION


@pytest.fixture
def emulator_ctx(emulator: Emulator) -> AwsContext:
    return AwsContext(region=REGION, endpoint_url=emulator.endpoint_url)
