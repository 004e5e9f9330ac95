"""Wait until every job of a run has ended, showing progress; submit queued shards meanwhile.

On a terminal a progress bar is redrawn (records processed of total, jobs by state, elapsed, ETA);
otherwise a plain line is printed when something changes. The poll interval adapts to the run: a
tenth of how long its oldest job has been going, from 2 seconds up to 5 minutes (--poll SECONDS
fixes the base instead), backing off while nothing changes; throttling and server errors are
retried.

Records are counted as `results` counts them: by each record's newest attempt, so records a
`retry` (batch or on demand) fixed count as succeeded.

An orchestrated run is only read, as `status` reads it: the progress line adds the stack's word
(why queued shards wait, the time since the scheduler's last pass), and the wait ends once the
stack has marked the run finished, after its automatic retries.

--json prints the final status as `status --json` does (the progress still goes to stderr).

Exit codes: 0 every job ended and every record succeeded, in its first job or after `retry`;
3 every job ended but records remain failed or missing (counted, with each job that did not
complete and the service's reason; `results` keeps what they produced, `retry` sends them again);
1 AWS refused a call or could not be reached; 2 a usage mistake (unknown run, bad flag);
124 --timeout reached; 130 interrupted (Ctrl-C stops the waiting, not the jobs).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from batch_runner.cli.run_args import add_command, load_run
from batch_runner.cli.status import print_status
from batch_runner.exceptions import UsageError
from batch_runner.jobs.pacing import Pacing


def register(subparsers: Any) -> None:
    parser = add_command(subparsers, "wait", "wait until every job has ended, with progress", __doc__)
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="give up after this long (exit 124)")
    parser.add_argument(
        "--poll",
        type=float,
        metavar="SECONDS",
        help="base poll interval (default: adaptive, 2 s for a new run up to 5 min for a long one)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the final status as JSON (as status --json)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from batch_runner.jobs.waiting import check_succeeded, wait_for_run
    from batch_runner.progress import ProgressDisplay

    if (args.poll is not None and args.poll <= 0) or (args.timeout is not None and args.timeout < 0):
        raise UsageError("--poll must be positive and --timeout not negative, e.g. --poll 30 --timeout 3600")
    batch_run = load_run(args)
    display = ProgressDisplay(sys.stderr)
    try:
        status = wait_for_run(
            batch_run,
            Pacing(poll=args.poll, timeout=args.timeout),
            on_progress=display.update,
            read=batch_run.status,
        )
    except KeyboardInterrupt:
        print(
            f"stopped waiting; the jobs keep running: `status {batch_run.name}` or `wait {batch_run.name}`",
            file=sys.stderr,
        )
        return 130
    finally:
        display.close()
    if args.json:
        print(json.dumps(status.to_dict(), indent=2))
    else:
        print_status(status)
    check_succeeded(batch_run, status)
    return 0
