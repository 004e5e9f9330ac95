"""Every command answers --help, so a newcomer can always find their way."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.parsers import ResponseParserError

from batch_runner import cli
from batch_runner.cli import COMMAND_MODULES, build_parser


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batch_runner", *args], capture_output=True, text=True, check=False
    )


def test_top_level_help_lists_every_command() -> None:
    result = _run("--help")
    assert result.returncode == 0, result.stderr
    assert "usage: python -m batch_runner" in result.stdout
    for name in COMMAND_MODULES:
        assert name.replace("_", "-").split(".")[-1] in result.stdout


def _command_names() -> list[str]:
    subparsers = build_parser()._subparsers
    if subparsers is None:
        return []
    action = subparsers._group_actions[0]
    return sorted(getattr(action, "choices", {}) or {})


@pytest.mark.parametrize("command", _command_names() or ["--version"])
def test_each_command_has_help(command: str) -> None:
    args = [command, "--help"] if command != "--version" else [command]
    result = _run(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize(
    "error",
    [
        ResponseParserError("Unable to parse response (not XML), invalid XML received"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    ],
)
def test_unexpected_sdk_error_is_one_line(
    error: Exception, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(_args: argparse.Namespace) -> int:
        raise error

    parser = build_parser()
    monkeypatch.setattr(parser, "parse_args", lambda _argv: argparse.Namespace(handler=broken))
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main(["runs"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: AWS call failed: ")
    assert "Traceback" not in err and err.count("\n") == 1


def test_top_level_help_and_readme_list_the_same_exit_codes() -> None:
    import re
    from pathlib import Path

    from batch_runner.exceptions import (
        AwsError,
        InternalError,
        JobsUnsuccessfulError,
        UsageError,
        WaitTimeoutError,
    )

    shown = re.findall(r"^  (\d+) ", cli.EXIT_CODES, re.MULTILINE)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    assert re.findall(r"^\| `(\d+)` \|", section, re.MULTILINE) == shown
    raised = {AwsError("x").exit_code, UsageError.exit_code, JobsUnsuccessfulError.exit_code}
    raised |= {InternalError.exit_code, WaitTimeoutError.exit_code}
    assert {str(code) for code in raised} <= set(shown)
    assert "exit codes:" in _run("--help").stdout


@pytest.mark.parametrize(
    ("argv0", "shown"),
    [
        ("/venv/bin/batch-runner", "batch-runner"),
        ("/repo/batch_runner/__main__.py", "python -m batch_runner"),
    ],
)
def test_version_names_the_command_it_was_called_by(
    argv0: str, shown: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", [argv0, "--version"])
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"{shown} {cli.__version__}"


def test_a_missing_optional_module_says_what_to_install() -> None:
    # moto blocked, as in `pip install bedrock-batch-runner` without the [local] extra.
    code = (
        "import sys; sys.modules['moto'] = None; sys.argv = ['batch-runner']\n"
        "from batch_runner.cli import main; raise SystemExit(main(['local', 'serve', '--port', '0']))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == cli.EXIT_MISSING_EXTRA
    assert result.stderr == (
        "error: `batch-runner local` needs moto, which is not installed: "
        "pip install 'bedrock-batch-runner[local]'\n"
    )
