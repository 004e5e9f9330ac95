"""Fixtures of the command-line tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batch_runner.cli import main
from batch_runner.local import Emulator


@pytest.fixture
def cli(emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    """``cli(*args)`` runs a command against the emulator: (exit code, parsed --json or stdout, stderr)."""
    common = ["--endpoint-url", emulator.endpoint_url, "--state-dir", str(tmp_path / "state")]

    def run(*args: str) -> tuple[int, Any, str]:
        code = main([*args, *common])
        out, err = capsys.readouterr()
        return code, json.loads(out) if "--json" in args and code == 0 else out, err

    return run
