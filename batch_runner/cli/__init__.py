"""Command line: parse arguments, call the core, format output, map errors to exit codes.

Each command lives in its own module in this package and exposes ``register(subparsers)``, which
adds its parser and sets ``handler`` to a function ``(args) -> int``. Building the parser imports
no command's core: handlers import it when they run, so ``--help`` stays instant. The core never
imports this package. May import: anything in ``batch_runner``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path

from batch_runner.exceptions import BatchRunnerError
from batch_runner.version import __version__

# Command modules, in the order `--help` lists them. A command is added by adding its module here.
COMMAND_MODULES: tuple[str, ...] = (
    "submit",
    "resume",
    "status",
    "wait",
    "results",
    "retry",
    "cancel",
    "runs",
    "cost",
    "local",
    "doctor",
    "demo",
)

# Modules an optional part of the runner needs, and what installs them (pyproject's extras).
_LOCAL_EXTRA = "pip install 'bedrock-batch-runner[local]'"
OPTIONAL_MODULES = {
    "moto": _LOCAL_EXTRA,
    "werkzeug": _LOCAL_EXTRA,
    "flask": _LOCAL_EXTRA,
    "aws_cdk": _LOCAL_EXTRA,
    "constructs": _LOCAL_EXTRA,
    "cdk_nag": _LOCAL_EXTRA,
    "pandas": "pip install pandas",
}
EXIT_MISSING_EXTRA = 2

# Every command exits with one of these (README, "Exit codes"); errors are one line on stderr.
EXIT_CODES = """\
exit codes:
  0    done (wait: every record succeeded, in its first job or after retry)
  1    AWS refused a call or could not be reached (expired credentials, endpoint down, throttled
       out), or a confirmation was declined; doctor: a check failed
  2    a mistake in the input or the configuration: nothing was uploaded or submitted
  3    wait: every job ended but records remain failed or missing (retry sends them again);
       doctor: nothing failed but some checks could not be verified
  70   a bug in batch-runner (results that do not reconcile): please report it
  77   cancel/retry: the orchestrated run belongs to another caller (--force to ask anyway)
  124  wait --timeout reached; the jobs keep running
  130  interrupted (Ctrl-C); jobs already submitted keep running"""


def program_name(argv0: str | None = None) -> str:
    """The command as the user typed it: ``batch-runner`` (the console script) or
    ``python -m batch_runner``."""
    name = Path(argv0 if argv0 is not None else (sys.argv[0] if sys.argv else "")).name
    return "python -m batch_runner" if name in ("", "__main__.py", "-c") else name


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or program_name(),
        description="Run Amazon Bedrock batch inference jobs from a dataset and a prompt template.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        import_module(f"batch_runner.cli.{name}").register(subparsers)
    return parser


# A reader that goes away (`... | head`) ends the command quietly with the exit code a shell gives a
# process killed by SIGPIPE (128 + 13), never a BrokenPipeError traceback.
BROKEN_PIPE_EXIT = 141

# What AWS answers for a bucket or a job that does not exist (any more), and the commands that act
# on runs made earlier (whose resources may since have gone).
_GONE_CODES = frozenset({"NoSuchBucket", "ResourceNotFoundException"})
_EARLIER_RUN_COMMANDS = frozenset({"resume", "status", "wait", "results", "retry", "cancel", "runs", "cost"})


def _vanished(err: BatchRunnerError, args: argparse.Namespace) -> str | None:
    """For a run whose bucket or job no longer exists (most often: a local emulator restarted, and
    it keeps nothing), one line that says so instead of the raw service error."""
    if getattr(err, "code", "") not in _GONE_CODES or args.command not in _EARLIER_RUN_COMMANDS:
        return None
    run = getattr(args, "run", None)
    where = f"run {run}" if isinstance(run, str) else "the stack's input bucket"
    return (
        f"{where} points at AWS resources that no longer exist ({err}); a local emulator forgets its "
        "buckets and jobs when it restarts: submit the dataset again"
        + (
            f" as a new run, and remove the run's state under .batch-runner/runs/{run}"
            if isinstance(run, str)
            else ""
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _dispatch(argv)
        finally:
            sys.stdout.flush()  # here, not at interpreter exit, where a closed pipe can only be reported
    except BrokenPipeError:
        _discard_stdout()
        return BROKEN_PIPE_EXIT


def _discard_stdout() -> None:
    """Point stdout at /dev/null so nothing buffered is written to the closed pipe again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # a stdout without a file descriptor (captured in tests)
        pass


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return int(handler(args))
    except BatchRunnerError as err:
        print(f"error: {_vanished(err, args) or err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as err:
        missing = (err.name or "").split(".")[0]
        if missing not in OPTIONAL_MODULES:
            raise
        print(
            f"error: `{parser.prog} {args.command}` needs {missing}, which is not installed: "
            + OPTIONAL_MODULES[missing],
            file=sys.stderr,
        )
        return EXIT_MISSING_EXTRA
    except Exception as err:
        # The core wraps the AWS errors it expects; anything else from the SDK (an endpoint that
        # answers garbage, a connection that drops) still deserves one line, not a traceback.
        # botocore is imported here, where it is caught, so `--help` never loads it.
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError

        if not isinstance(err, BotoCoreError | ClientError | ResponseParserError):
            raise
        print(f"error: AWS call failed: {err}", file=sys.stderr)
        return 1
