"""The emulator as an ``AwsContext`` for doctor tests."""

from __future__ import annotations

import pytest

from batch_runner.aws.clients import AwsContext
from batch_runner.local import Emulator
from tests.doctor.identities import REGION, ROOT_KEY, use_key


@pytest.fixture(autouse=True)
def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks of the stack, roles and models run as the account root unless a test picks an identity."""
    use_key(monkeypatch, ROOT_KEY)


@pytest.fixture
def emulator_ctx(emulator: Emulator) -> AwsContext:
    return AwsContext(region=REGION, endpoint_url=emulator.endpoint_url)
