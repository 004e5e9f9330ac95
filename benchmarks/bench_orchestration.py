"""The scheduler's cost per pass at 100, 1,000 and 5,000 jobs, on the emulator (manual clock).

One run of N one-record shards, a quota of N: pass 1 creates every job, pass 2 sees them all live
and changes nothing, pass 3 sees them all ended. For each pass: API calls by operation, bytes the
scheduler wrote to S3 (the manifest), and wall time. Beside it, what the laptop-driven `submit`
writes for the same N jobs (the manifest after every job created) for comparison.

    python benchmarks/bench_orchestration.py --jobs 100 1000 5000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tests.conftest  # noqa: F401  (fake credentials: nothing can reach a real account)
from batch_runner.local import Emulator, ManualClock
from tests.orchestration.helpers import queued_run, registry_table, scheduler


class Meter:
    """Counts a client's API calls and the bytes of the bodies it sends."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.bytes_sent = 0

    def attach(self, client: Any) -> Any:
        client.meta.events.register("provide-client-params.*.*", self._count)
        return client

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls[model.name] += 1
        body = params.get("Body")
        if isinstance(body, bytes | bytearray):
            self.bytes_sent += len(body)

    def reset(self) -> None:
        self.calls.clear()
        self.bytes_sent = 0


def measure(emulator: Emulator, jobs: int, workdir: Path) -> list[dict[str, Any]]:
    emulator.reset()
    emulator.configure(min_records_per_job=1, max_active_jobs_per_model=jobs)
    table = registry_table(emulator)
    queued_run(emulator, workdir, table, f"bench-{jobs}", jobs, quota=jobs, records_per_shard=1)
    passes = scheduler(emulator, table)
    meter = Meter()
    for client in passes.clients.values():
        meter.attach(client)
    rows = []
    for label, before in (
        ("creates every job", None),
        ("all live, nothing new", None),
        ("all ended", "idle"),
    ):
        if before == "idle":
            emulator.run_until_idle()
        meter.reset()
        start = time.perf_counter()
        report = passes.run_pass()
        seconds = time.perf_counter() - start
        rows.append(
            {
                "jobs": jobs,
                "pass": label,
                "created": sum(len(v) for v in report.created.values()),
                "calls": sum(meter.calls.values()),
                "by_operation": dict(meter.calls),
                "bytes_written": meter.bytes_sent,
                "seconds": seconds,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, nargs="+", default=[100, 1000, 5000])
    args = parser.parse_args()
    emulator = Emulator(clock=ManualClock())
    emulator.start()
    try:
        print("| jobs | pass | jobs created | API calls | calls by operation | S3 bytes written | seconds |")
        print("|---:|---|---:|---:|---|---:|---:|")
        for jobs in args.jobs:
            with tempfile.TemporaryDirectory() as workdir:
                for row in measure(emulator, jobs, Path(workdir)):
                    operations = ", ".join(f"{k} {v}" for k, v in sorted(row["by_operation"].items()))
                    print(
                        f"| {row['jobs']:,} | {row['pass']} | {row['created']:,} | {row['calls']:,} | "
                        f"{operations} | {row['bytes_written']:,} | {row['seconds']:.2f} |"
                    )
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
