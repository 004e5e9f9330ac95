"""The scheduler's Lambda carries the build interpreter's compiled wheels: a real deploy must be
synthesized where they import in Lambda (the emulator's synth runs the handlers in-process)."""

from __future__ import annotations

import pytest

from stacks.config import ConfigError
from stacks.lambda_bundle import RUNTIME_VERSION, check_build_platform


def test_the_lambda_platform_is_accepted() -> None:
    major, minor = (int(part) for part in RUNTIME_VERSION.split("."))
    check_build_platform("Linux", "x86_64", (major, minor))


@pytest.mark.parametrize(
    ("system", "machine", "version"),
    [("Darwin", "arm64", (3, 11)), ("Linux", "aarch64", (3, 11)), ("Linux", "x86_64", (3, 12))],
)
def test_another_platform_is_refused_in_one_line_naming_the_fix(
    system: str, machine: str, version: tuple[int, int]
) -> None:
    with pytest.raises(
        ConfigError, match=r"synthesize on Linux x86_64 with Python 3\.11 .*enabled: false"
    ) as err:
        check_build_platform(system, machine, version)
    assert "\n" not in str(err.value) and f"{system} {machine}" in str(err.value)
