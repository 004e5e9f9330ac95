"""Arguments of the commands that act on one existing run, and loading that run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch_runner.cli.common import add_aws_options

if TYPE_CHECKING:
    from batch_runner.runs import Run


def add_command(subparsers: Any, name: str, help: str, doc: str | None) -> argparse.ArgumentParser:
    """A subcommand taking RUN, ``--state-dir`` and the AWS options; the module docstring is its help."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", metavar="RUN", help="run name, as printed by submit")
    add_state_dir(parser)
    add_aws_options(parser)
    return parser


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir", help="local run state (env BATCH_RUNNER_STATE_DIR; default .batch-runner)"
    )


def load_run(args: argparse.Namespace) -> Run:
    """The run named on the command line: local manifest first, else the stack's input bucket."""
    from batch_runner.runs import Run

    return Run.load(
        args.run,
        state_dir=Path(args.state_dir) if args.state_dir else None,
        region=args.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        stack=args.stack,
        env=args.env,
    )
