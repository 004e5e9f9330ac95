"""The scheduler's cost per pass at 100, 1,000 and 5,000 jobs, on the emulator (manual clock).

One run of N one-record shards, a quota of N: pass 1 creates every job, pass 2 sees them all live
and changes nothing, pass 3 sees them all ended; then the run's totals. For each pass: API calls by
operation, bytes the scheduler wrote to S3 (the manifest), wall time, and the CPU time of the
scheduler's own thread: the emulator answers in other threads of this process, so that is what a
Lambda would spend besides waiting for AWS. Then, side by side on the run's final manifest, what
writing it costs as the scheduler does (orjson, gzip level 1) and as it did (``json.dumps`` of
``asdict``, plain JSON).

    python benchmarks/bench_orchestration.py --jobs 100 1000 5000
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tests.conftest  # noqa: F401  (fake credentials: nothing can reach a real account)
from batch_runner.jobs.run_state import RunManifest, read_remote
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


def best_of(work: Callable[[], object], repeat: int = 5) -> float:
    timings = []
    for _ in range(repeat):
        start = time.process_time()
        work()
        timings.append(time.process_time() - start)
    return min(timings)


def manifest_write(manifest: RunManifest) -> dict[str, Any]:
    encoded = manifest.to_bytes()
    return {
        "jobs": len(manifest.shards),
        "json_bytes": len(encoded),
        "gzip_bytes": len(gzip.compress(encoded, compresslevel=1, mtime=0)),
        "before_seconds": best_of(lambda: json.dumps(asdict(manifest), indent=2).encode()),
        "now_seconds": best_of(lambda: gzip.compress(manifest.to_bytes(), compresslevel=1, mtime=0)),
    }


def measure(
    emulator: Emulator, jobs: int, workdir: Path, writes: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    emulator.reset()
    emulator.configure(min_records_per_job=1, max_active_jobs_per_model=jobs)
    table = registry_table(emulator)
    queued_run(emulator, workdir, table, f"bench-{jobs}", jobs, quota=jobs, records_per_shard=1)
    passes = scheduler(emulator, table)
    meter = Meter()
    for client in passes.clients.values():
        meter.attach(client)
    rows: list[dict[str, Any]] = []
    for label, before in (
        ("creates every job", None),
        ("all live, nothing new", None),
        ("all ended", "idle"),
    ):
        if before == "idle":
            emulator.run_until_idle()
        meter.reset()
        start, cpu = time.perf_counter(), time.thread_time()
        report = passes.run_pass()
        seconds, cpu = time.perf_counter() - start, time.thread_time() - cpu
        rows.append(
            {
                "jobs": jobs,
                "pass": label,
                "created": sum(len(v) for v in report.created.values()),
                "calls": sum(meter.calls.values()),
                "by_operation": dict(meter.calls),
                "bytes_written": meter.bytes_sent,
                "seconds": seconds,
                "cpu_seconds": cpu,
            }
        )
    manifest = read_remote(passes.clients["s3"], passes.settings.input_bucket, f"bench-{jobs}")
    assert manifest is not None
    writes.append(manifest_write(manifest))
    total: Counter[str] = Counter()
    for row in rows:
        total.update(row["by_operation"])
    rows.append(
        {
            "jobs": jobs,
            "pass": "whole run (3 passes)",
            "created": sum(row["created"] for row in rows),
            "calls": sum(row["calls"] for row in rows),
            "by_operation": dict(total),
            "bytes_written": sum(row["bytes_written"] for row in rows),
            "seconds": sum(row["seconds"] for row in rows),
            "cpu_seconds": sum(row["cpu_seconds"] for row in rows),
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
        print(
            "| jobs | pass | jobs created | API calls | calls by operation | S3 bytes written | seconds "
            "| scheduler CPU s |"
        )
        print("|---:|---|---:|---:|---|---:|---:|---:|")
        writes: list[dict[str, Any]] = []
        for jobs in args.jobs:
            with tempfile.TemporaryDirectory() as workdir:
                for row in measure(emulator, jobs, Path(workdir), writes):
                    operations = ", ".join(f"{k} {v}" for k, v in sorted(row["by_operation"].items()))
                    print(
                        f"| {row['jobs']:,} | {row['pass']} | {row['created']:,} | {row['calls']:,} | "
                        f"{operations} | {row['bytes_written']:,} | {row['seconds']:.2f} | "
                        f"{row['cpu_seconds']:.2f} |"
                    )
        print()
        print(
            "| jobs | manifest JSON bytes | gzip level 1 bytes | smaller by | json.dumps(asdict) CPU s "
            "| orjson + gzip CPU s | faster by |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for write in writes:
            print(
                f"| {write['jobs']:,} | {write['json_bytes']:,} | {write['gzip_bytes']:,} | "
                f"{write['json_bytes'] / write['gzip_bytes']:.1f}x | {write['before_seconds']:.3f} | "
                f"{write['now_seconds']:.3f} | {write['before_seconds'] / write['now_seconds']:.1f}x |"
            )
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
