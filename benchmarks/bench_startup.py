"""Command start-up: how long `--help` and `status` take as whole processes, side by side.

    python benchmarks/bench_startup.py [--repeat 15] [--baseline GIT_REF]

Starts the emulator in this process (dev stack deployed), submits the bundled example and lets its
jobs finish, then times each command as a fresh interpreter, interleaved round by round so a
drifting machine affects every contender alike:

- ``import boto3``: ``python -c "import boto3"``, the yardstick (any command that calls AWS pays it);
- ``--help``: ``python -m batch_runner --help``;
- ``submit --help``: ``python -m batch_runner submit --help``;
- ``status``: ``python -m batch_runner status RUN`` on the finished run (no job is read again).

With ``--baseline REF`` the same batch_runner commands also run from a ``git worktree`` of REF
(e.g. the commit before a change), so the saving is measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "batch_runner" / "data" / "examples"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
FAKE_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


def finished_run(state_dir: Path, endpoint_url: str, emulator: object) -> str:
    from batch_runner import submit

    run = submit(
        BUNDLED / "conversations.csv",
        model=MODEL,
        prompt=(BUNDLED / "prompt.j2").read_text(encoding="utf-8"),
        endpoint_url=endpoint_url,
        state_dir=state_dir,
    )
    emulator.run_until_idle()  # type: ignore[attr-defined]
    run.status()
    return run.name


def time_once(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--baseline", metavar="GIT_REF", help="also time the runner at this commit")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    # Fake credentials: everything here talks to the emulator, never to an account.
    for name, value in FAKE_ENV.items():
        os.environ.setdefault(name, value)
    from batch_runner.local import Emulator
    from batch_runner.local.clock import ManualClock

    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    emulator = Emulator(clock=ManualClock(), region="us-east-1")
    emulator.start()
    try:
        state_dir = work / "state"
        run = finished_run(state_dir, emulator.endpoint_url, emulator)
        env = {**os.environ, "AWS_ENDPOINT_URL": emulator.endpoint_url}
        trees = {"": ROOT}
        if args.baseline:
            baseline = work / "baseline"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(baseline), args.baseline], cwd=ROOT, check=True
            )
            trees[f" @{args.baseline[:10]}"] = baseline
        python = sys.executable
        contenders: dict[str, tuple[list[str], Path]] = {
            "import boto3": ([python, "-c", "import boto3"], ROOT)
        }
        for label, tree in trees.items():
            contenders[f"--help{label}"] = ([python, "-m", "batch_runner", "--help"], tree)
            contenders[f"submit --help{label}"] = ([python, "-m", "batch_runner", "submit", "--help"], tree)
            status = [python, "-m", "batch_runner", "status", run, "--state-dir", str(state_dir)]
            contenders[f"status (finished run){label}"] = (status, tree)
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for argv, tree in contenders.values():  # warm-up: file caches, .pyc files
            time_once(argv, {**env, "PYTHONPATH": str(tree)}, tree)
        for _ in range(args.repeat):
            for name, (argv, tree) in contenders.items():
                times[name].append(time_once(argv, {**env, "PYTHONPATH": str(tree)}, tree))
    finally:
        emulator.stop()
        if args.baseline:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(work / "baseline")], cwd=ROOT, check=False
            )
        shutil.rmtree(work, ignore_errors=True)

    yardstick = statistics.median(times["import boto3"])
    print(f"{args.repeat} interleaved rounds, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
    print("| command | best s | median s | median vs `import boto3` |")
    print("|---|---:|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| `{name}` | {min(values):.3f} | {median:.3f} | {median / yardstick:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
