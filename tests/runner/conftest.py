"""Fixtures shared by the runner tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.runner import results_samples


@pytest.fixture(scope="module")
def _moto_s3() -> Iterator[Any]:
    with results_samples.moto_bucket() as client:
        yield client


@pytest.fixture
def s3(_moto_s3: Any) -> Iterator[Any]:
    """An S3 client on moto holding ``results_samples.BUCKET``, emptied after each test (one moto
    per test module: starting it per test is slow)."""
    yield _moto_s3
    results_samples.empty_bucket(_moto_s3)
