#!/usr/bin/env python3
"""Download the orchestration Lambdas' wheels for their runtime into build/wheelhouse/.

Run by scripts/setup.sh, where the network is allowed; synth then builds the Lambda code from these
wheels offline, on any machine. Does nothing when every wheel is already there. Exit code 1, with
one line, when a pinned version has no wheel for the Lambda runtime.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stacks.config import ConfigError  # noqa: E402
from stacks.lambda_target import (  # noqa: E402
    PLATFORM,
    RUNTIME_VERSION,
    WHEELHOUSE,
    lambda_requirements,
    target_wheels,
    wheel_for,
)


def main() -> int:
    try:
        wanted = lambda_requirements(collector=True)  # the collector's set holds the scheduler's
        missing = [requirement for requirement in wanted if wheel_for(requirement) is None]
        if missing:
            _download([str(requirement) for requirement in missing])
        target_wheels(wanted)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def _download(requirements: list[str]) -> None:
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--platform",
            PLATFORM,
            "--python-version",
            RUNTIME_VERSION,
            "--implementation",
            "cp",
            "--only-binary=:all:",
            "--no-deps",
            "--dest",
            str(WHEELHOUSE),
            *requirements,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        return
    unavailable = re.search(r"No matching distribution found for (\S+)", result.stderr)
    if unavailable:
        raise ConfigError(
            f"{unavailable.group(1)} has no wheel for the Lambda runtime (python{RUNTIME_VERSION}, "
            f"{PLATFORM}): pin a version that has one in stacks/lambda_target.py (TARGET_VERSIONS)"
        )
    last = (result.stderr.strip().splitlines() or ["no output"])[-1]
    raise ConfigError(f"pip download of the Lambda wheels failed: {last}")


if __name__ == "__main__":
    sys.exit(main())
