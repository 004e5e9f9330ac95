"""Collect a run's results into one file: one row per input row, joined by record ID.

Every job's output prefix is listed (keys are never guessed) and each output file streamed; each
input row gets the model's answer (text, or the vector for embeddings), stop reason, tokens, or
error_code/error_message for failed records, or status "missing" when no output holds it (partial
results of unfinished, stopped or expired jobs are kept). For records retried in later jobs, the
newest outcome wins. Job statuses are refreshed first (nothing is submitted). The file (.csv,
.jsonl or .parquet) is written atomically: an interrupted run leaves no partial file and can
simply be run again.

--out is a local path, an s3://BUCKET/KEY (one multipart upload, streamed as it is written and
completed only at the end), or - for standard output (CSV unless --format says otherwise; the
summary then goes to stderr), e.g. `results RUN --out - | duckdb -c "from read_csv('/dev/stdin')"`.
--format openai writes JSONL in the OpenAI Batch API's output shape: one line per row with id,
custom_id (the row's ID), response.body (a chat.completion with choices and usage) or error.

Columns: record_id, id, row, status (succeeded|failed|missing), answer, stop_reason,
input_tokens, output_tokens, error_code, error_message, job_id; then, for a run submitted with
--output-schema, one column per top-level property of the schema (named as in the schema, or
answer_<name> when that name is one of the columns above; nested values are JSON text in CSV and
Parquet, JSON in JSONL; typed Parquet columns for string, integer, number and boolean
properties); then the input columns with --include-input (input_<name> when taken).

With --output-schema, each succeeded answer is parsed (code fences and text around the JSON
object are tolerated; a prefilled reply gets its opening "{" back) and validated. An answer that
does not parse or validate becomes status failed with error_code "schema" and error_message
naming the problem (e.g. "$.resolved: 'maybe' is not one of ['yes', 'no']"); its answer, tokens
and stop reason are kept and its property columns are empty. Such rows count as failed; `retry
--failed-schema` resends only them.

For a run the stack orchestrates, the results it collected when the run finished (see `status`)
are fetched rather than joined again, when they are of the format asked for and --include-input is
not given; --collect-here joins them on this machine anyway. Parquet parts of a large run are
joined into the one file asked for.

Outputs of more than 32 MB are parsed by worker processes, one per CPU (at most 8), each reading
whole output objects with its own S3 connection; the file is the same byte for byte. --workers N
sets how many (0: parse in this process, e.g. beside other busy work). Linux only: elsewhere the
outputs are parsed in this process.

Prints the reconciliation, total = succeeded + failed + missing, and any warnings. Exit code 0
when the file is written, whatever the records' outcomes. --json prints the reconciliation object
(total, succeeded, failed, schema_failed, missing, unexpected, malformed, superseded, tokens,
per-job tallies, complete, warnings) instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from batch_runner.cli.run_args import add_command, load_run
from batch_runner.exceptions import AwsError
from batch_runner.results.sinks import FILE_FORMATS
from batch_runner.results.worker_pool import MAX_WORKERS
from batch_runner.results.writers import SUPPORTED_SUFFIXES


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers, "results", "join the jobs' output to the input rows into a file", __doc__
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help=f"output file ({', '.join(SUPPORTED_SUFFIXES)}), s3://BUCKET/KEY, or - for standard output",
    )
    parser.add_argument(
        "--format",
        choices=FILE_FORMATS,
        help="csv, jsonl, parquet, or openai (OpenAI batch output JSONL); default: from the extension, "
        "CSV for -",
    )
    parser.add_argument("--include-input", action="store_true", help="add the input columns to each row")
    parser.add_argument("--json", action="store_true", help="print the reconciliation as JSON")
    parser.add_argument(
        "--workers",
        type=_workers,
        metavar="N",
        help="processes that parse the outputs: 0 for this one only; default: one per CPU (at most "
        "8) when the outputs pass 32 MB, on Linux",
    )
    parser.add_argument(
        "--collect-here",
        action="store_true",
        help="join the outputs on this machine even when the stack has collected the run's results",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from batch_runner.jobs.run_results import run_output_schema, write_results
    from batch_runner.jobs.tracking import refresh
    from batch_runner.results.writers import check_output_path

    destination = check_output_path(args.out, args.format)  # a wrong extension fails before any download
    # With the rows on standard output, everything said about them goes to stderr.
    report = sys.stderr if destination.is_stdout else sys.stdout
    batch_run = load_run(args)
    if not args.collect_here and not args.include_input and _fetched(batch_run, args, destination, report):
        return 0
    try:
        refresh(batch_run, submit=False)  # current job statuses, so unfinished jobs are flagged right
    except AwsError as err:
        if err.code == "ResourceNotFoundException":
            raise  # the job is gone (a restarted emulator): its output is too, say so once
        print(f"warning: job statuses not refreshed ({err}); using the last ones recorded", file=sys.stderr)
    reconciliation = write_results(
        batch_run,
        destination.location,
        include_input=args.include_input,
        file_format=destination.file_format,
        workers=args.workers,
    )
    if args.json:
        print(json.dumps(reconciliation.to_dict(), indent=2, default=str), file=report)
        return 0
    where = "standard output" if destination.is_stdout else destination.location
    print(f"wrote {where}: {reconciliation.summary()}", file=report)
    print(f"tokens: {reconciliation.input_tokens} input, {reconciliation.output_tokens} output", file=report)
    schema = run_output_schema(batch_run)
    if schema is not None:
        print(schema_line(batch_run.name, reconciliation.schema_failed, schema.properties), file=report)
    for warning in reconciliation.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(
            f"expected a number of processes from 0 to {MAX_WORKERS}, got {text!r}"
        )
    return value


def _fetched(batch_run: Any, args: argparse.Namespace, destination: Any, report: Any) -> bool:
    """Write the stack's collection to the destination, if it has the current one in this format."""
    from batch_runner.orchestration.collected import current_collection, fetch_collection

    collection = current_collection(batch_run)
    if collection is None:
        return False
    fetched = fetch_collection(batch_run, collection, destination)
    if fetched is None:
        print(
            f"note: the stack collected {collection.file_format} ({collection.uri}); "
            f"joining {destination.file_format} here",
            file=sys.stderr,
        )
        return False
    if args.json:
        print(json.dumps(fetched.reconciliation, indent=2, default=str), file=report)
        return True
    where = "standard output" if destination.is_stdout else destination.location
    print(f"wrote {where} from the stack's collection {collection.uri}: {fetched.summary()}", file=report)
    stored = fetched.reconciliation
    tokens = stored.get("input_tokens", 0), stored.get("output_tokens", 0)
    print(f"tokens: {tokens[0]} input, {tokens[1]} output", file=report)
    for warning in stored.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    return True


def schema_line(run_name: str, failures: int, properties: tuple[str, ...]) -> str:
    from batch_runner.results.join import shown_columns

    if not failures:
        return f"output schema: no answer failed it; columns {', '.join(shown_columns(properties))}"
    return (
        f"output schema: {failures} answer(s) did not parse or validate: rows with error_code"
        f' "schema" (error_message says why, answer keeps the text); resend them with'
        f" `python -m batch_runner retry {run_name} --failed-schema`"
    )
