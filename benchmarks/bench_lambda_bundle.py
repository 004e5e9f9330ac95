#!/usr/bin/env python3
"""Size and cold import time of the orchestration Lambdas' code (stacks/lambda_bundle.py).

    python benchmarks/bench_lambda_bundle.py --repeat 7

Builds the scheduler's and the collector's bundles from the wheelhouse (scripts/setup.sh fills it)
and, for comparison, the collector with its wheels unpacked whole (pyarrow untrimmed) and the
collector with precompiled bytecode (unchecked-hash .pyc files, valid whatever the files' times). Sizes:
the files' bytes, and a zip -9 of the directory (what Lambda limits: 250 MB unzipped). Import
time: a fresh `python -I -S -B` per run with only the bundle on sys.path and no bytecode (Lambda's
code directory is read-only, so it compiles every module it imports on a cold start); runs of the
variants interleave, and the table shows the fastest and the median.
"""

from __future__ import annotations

import argparse
import compileall
import py_compile
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stacks.lambda_bundle import lambda_code_dir  # noqa: E402
from stacks.lambda_target import lambda_requirements, target_wheels  # noqa: E402

SCHEDULER_IMPORTS = "import batch_runner.orchestration.handlers"
COLLECTOR_IMPORTS = (
    "import batch_runner.orchestration.handlers, batch_runner.jobs.run_results, "
    "batch_runner.results.writers, pyarrow, pyarrow.parquet"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lambda-bundle-") as scratch:
        untrimmed = _untrimmed_collector(Path(scratch) / "untrimmed", lambda_code_dir())
        compiled = shutil.copytree(lambda_code_dir(collector=True), Path(scratch) / "compiled")
        compileall.compile_dir(
            compiled, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
        variants = {
            "scheduler": (lambda_code_dir(), SCHEDULER_IMPORTS),
            "collector, trimmed pyarrow": (lambda_code_dir(collector=True), COLLECTOR_IMPORTS),
            "collector, whole wheels": (untrimmed, COLLECTOR_IMPORTS),
            "collector, trimmed, with bytecode": (compiled, COLLECTOR_IMPORTS),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.repeat):
            for name, (bundle, imports) in variants.items():
                times[name].append(_import_seconds(bundle, imports))
        print("| bundle | unzipped MB | zip -9 MB | cold import s (fastest) | median |")
        print("|---|---:|---:|---:|---:|")
        for name, (bundle, _) in variants.items():
            unzipped, zipped = _sizes(bundle, Path(scratch) / "bundle.zip")
            print(
                f"| {name} | {unzipped / 1e6:.1f} | {zipped / 1e6:.1f} | {min(times[name]):.2f} "
                f"| {statistics.median(times[name]):.2f} |"
            )


def _untrimmed_collector(target: Path, scheduler: Path) -> Path:
    """The collector's wheels unpacked whole, plus the same runner package."""
    for wheel in target_wheels(lambda_requirements(collector=True)):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(target)
    for path in (scheduler / "batch_runner").rglob("*"):
        if path.is_file():
            copy = target / path.relative_to(scheduler)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(path.read_bytes())
    return target


def _import_seconds(bundle: Path, imports: str) -> float:
    code = (
        f"import sys, time; sys.path.insert(0, {str(bundle)!r}); start = time.perf_counter(); "
        f"{imports}; print(time.perf_counter() - start)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code], capture_output=True, text=True, check=True
    )
    return float(done.stdout)


def _sizes(bundle: Path, archive: Path) -> tuple[int, int]:
    files = sorted(p for p in bundle.rglob("*") if p.is_file())
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for path in files:
            out.write(path, path.relative_to(bundle))
    return sum(p.stat().st_size for p in files), archive.stat().st_size


if __name__ == "__main__":
    main()
