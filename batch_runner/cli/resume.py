"""Continue a run that stopped: upload the shards not uploaded yet and submit queued ones.

Safe to run any number of times, from any machine: the run is read from the local state directory
or, failing that, from the stack's input bucket, and a shard that already has a job is never
submitted again.
"""

from __future__ import annotations

import argparse
from typing import Any

from batch_runner.cli.common import add_aws_options
from batch_runner.cli.run_args import load_run
from batch_runner.cli.run_output import print_run


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "resume",
        help="continue a run that stopped (upload, submit queued shards)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", metavar="RUN", help="run name, as printed by submit")
    parser.add_argument(
        "--state-dir", help="local run state (env BATCH_RUNNER_STATE_DIR; default .batch-runner)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_aws_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    batch_run = load_run(args)
    batch_run.resume()
    print_run(batch_run, as_json=args.json)
    return 0
