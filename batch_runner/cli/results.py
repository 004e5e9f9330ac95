"""Collect a run's results into one file: one row per input row, joined by record ID.

Every job's output prefix is listed (keys are never guessed) and each output file streamed; each
input row gets the model's answer (text, or the vector for embeddings), stop reason, tokens, or
error_code/error_message for failed records, or status "missing" when no output holds it (partial
results of unfinished, stopped or expired jobs are kept). For records retried in later jobs, the
newest outcome wins. Job statuses are refreshed first (nothing is submitted). The file (.csv,
.jsonl or .parquet) is written atomically: an interrupted run leaves no partial file and can
simply be run again.

Prints the reconciliation, total = succeeded + failed + missing, and any warnings. Exit code 0
when the file is written, whatever the records' outcomes. --json prints the reconciliation object
(total, succeeded, failed, missing, unexpected, malformed, superseded, tokens, per-job tallies,
complete, warnings) instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from batch_runner.cli.run_args import add_command, load_run
from batch_runner.exceptions import AwsError
from batch_runner.results.writers import SUPPORTED_SUFFIXES, check_output_path
from batch_runner.run_results import write_results
from batch_runner.tracking import refresh


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers, "results", "join the jobs' output to the input rows into a file", __doc__
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help=f"output file; the format follows the extension ({', '.join(SUPPORTED_SUFFIXES)})",
    )
    parser.add_argument("--include-input", action="store_true", help="add the input columns to each row")
    parser.add_argument("--json", action="store_true", help="print the reconciliation as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    check_output_path(out)  # a wrong extension fails before any download
    batch_run = load_run(args)
    try:
        refresh(batch_run, submit=False)  # current job statuses, so unfinished jobs are flagged right
    except AwsError as err:
        print(f"warning: job statuses not refreshed ({err}); using the last ones recorded", file=sys.stderr)
    reconciliation = write_results(batch_run, out, include_input=args.include_input)
    if args.json:
        print(json.dumps(reconciliation.to_dict(), indent=2, default=str))
        return 0
    print(f"wrote {out}: {reconciliation.summary()}")
    print(f"tokens: {reconciliation.input_tokens} input, {reconciliation.output_tokens} output")
    for warning in reconciliation.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    return 0
