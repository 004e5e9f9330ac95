"""Run the whole journey on the local emulator, no AWS account needed.

Starts the emulator in this process with the dev stack deployed, submits the bundled example (a
concern/intervention audit of 160 synthetic client–therapist exchanges, Claude 3 Haiku, answers as
JSON checked against the example's output schema) with the Python API, waits for the jobs with a
progress bar, writes the joined results file (one column per schema field) and prints a summary:
records, succeeded/failed, the answers' yes/no counts, tokens, and the cost in batch vs on demand.
Run state lives in a temporary directory and everything is stopped when the demo ends, unless
--keep-running. With --orchestrated the run is handed over to the stack instead: the emulator runs
the stack's scheduler Lambda, which submits the jobs and writes the run's manifest, and the demo only
watches that manifest until it shows the run finished, then collects the results.
Exit status: 0 when every record succeeded, 1 otherwise.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batch_runner.demo import DemoSummary


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the bundled example end to end on the local emulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        default="demo-results.csv",
        metavar="PATH",
        help="results file; .csv, .jsonl or .parquet (default: demo-results.csv)",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="keep the emulator serving afterwards (run state in .batch-runner) to explore the run "
        "with the other commands; Ctrl-C stops it",
    )
    parser.add_argument(
        "--orchestrated",
        action="store_true",
        help="hand the run over to the stack: its scheduler (run by the emulator) submits and tracks "
        "the jobs; this process only watches the manifest the stack writes",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from batch_runner.demo import run_demo
    from batch_runner.jobs.tracking import RunStatus
    from batch_runner.progress import ProgressDisplay

    bar = ProgressDisplay(sys.stderr)

    def started(endpoint: str, stack: str) -> None:
        print(f"Local emulator on {endpoint}, stack {stack} deployed", flush=True)

    def progress(status: RunStatus) -> None:
        bar.update(status)

    def ready(summary: DemoSummary, endpoint: str) -> None:
        _print_summary(summary)
        print(
            "\nThe emulator keeps running; in another shell, from this directory:\n"
            f"  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
            "AWS_REGION=us-east-1\n"
            f"  python -m batch_runner status {summary.run}\n"
            f"  python -m batch_runner cost {summary.run}\n"
            f"  python -m batch_runner results {summary.run} --out again.csv --include-input\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )

    if args.keep_running:
        # Ctrl-C and SIGTERM end the serving, even when started in the background (SIGINT ignored).
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
    print("Demo: a concern/intervention audit of client–therapist exchanges, on the local emulator")
    if args.orchestrated:
        print(
            "Orchestrated: this machine hands the run over to the stack; its scheduler submits the "
            "jobs and writes the run's manifest, which the demo only watches",
            flush=True,
        )
    summary = run_demo(
        args.out,
        keep_running=args.keep_running,
        on_start=started,
        on_progress=progress,
        on_ready=ready,
        orchestrated=args.orchestrated,
    )
    bar.close()
    if not args.keep_running:
        _print_summary(summary)
        print(
            "Next: `python -m batch_runner demo --keep-running` to explore the run with the other "
            "commands, or the README's 'The journey on AWS' to run it for real."
        )
    return 0 if summary.state == "Completed" and summary.succeeded == summary.records else 1


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _print_summary(summary: DemoSummary) -> None:
    from batch_runner.catalog.pricing import format_usd

    cost = (
        f"{format_usd(summary.batch_usd)} in batch vs {format_usd(summary.on_demand_usd)} on demand "
        f"(prices as of {summary.prices_as_of})"
        if summary.batch_usd is not None and summary.on_demand_usd is not None
        else "no listed price for this model"
    )
    print(
        "\n".join(
            [
                f"Run {summary.run}: {summary.state} in {summary.seconds:.1f}s ({summary.jobs} job(s)"
                f"{', driven by the stack' if summary.orchestrated else ''})",
                f"  records:  {summary.records} ({summary.succeeded} succeeded, {summary.failed} failed, "
                f"{summary.missing} missing)",
                *_answer_lines(summary),
                f"  tokens:   {summary.input_tokens:,} input, {summary.output_tokens:,} output",
                f"  cost:     {cost}",
                f"  results:  {summary.output_path}",
                *([f"  the stack collected them too: {summary.collected}"] if summary.collected else []),
            ]
        ),
        flush=True,
    )


def _answer_lines(summary: DemoSummary) -> list[str]:
    if not summary.columns:
        return []
    indent = " " * 12
    columns = ", ".join(summary.columns)
    lines = [f"  answers:  JSON checked against the output schema, a column each: {columns}"]
    if summary.schema_failed:
        lines.append(f"{indent}{summary.schema_failed} did not match the schema (error_code schema)")
    for name, counts in summary.tallies.items():
        lines.append(f"{indent}{name}: " + ", ".join(f"{value} {count}" for value, count in counts.items()))
    return lines
