"""Planning benchmark: our build_plan against the two ways people write batch JSONL today.

    python benchmarks/bench_planning.py [--rows 10000 200000 1000000] [--repeat 3] [--workdir DIR]

For each size it generates a dataset of conversation-length rows (about 1.1 KB each, sampled with
a fixed seed from ../shared/data/counseling_conversations.csv), then runs, each in its own
subprocess so peak RSS is per approach:

- ours:   batch_runner.prepare.planning.build_plan (validates every record, shards, writes the record index)
- pandas: pandas.read_csv, a Python loop into dicts, an f-string prompt and json.dumps per line
- loop:   csv.reader, an f-string prompt and orjson.dumps per line (the same request bytes as ours)

All three build Claude Messages requests from the same prompt. Times are for the work only
(reading through writing, after imports); peak RSS is the whole child process (os.wait4). Each
approach runs ``--repeat`` times, interleaved with the others, and the fastest run is reported
(on a shared machine the slower ones measure the neighbours).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL_DATASET = ROOT / ".." / "shared" / "data" / "counseling_conversations.csv"
MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
PROMPT = "Context: {{ Context }}\nResponse: {{ Response }}"
APPROACHES = ("ours", "pandas", "loop")


def claude_body(text: str) -> dict[str, object]:
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    }


def run_ours(data: Path, out: Path) -> None:
    from batch_runner.catalog.quotas import default_quotas
    from batch_runner.prepare.plan import SubmitOptions
    from batch_runner.prepare.planning import build_plan

    options = SubmitOptions(model_id=MODEL, prompt_template=PROMPT)
    build_plan(data, options, quotas=default_quotas(MODEL), workdir=out)


def run_pandas(data: Path, out: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(data)
    with (out / "requests.jsonl").open("w", encoding="utf-8") as handle:
        for number, row in enumerate(frame.to_dict("records")):
            text = f"Context: {row['Context']}\nResponse: {row['Response']}"
            handle.write(json.dumps({"recordId": f"R{number:010d}", "modelInput": claude_body(text)}) + "\n")


def run_loop(data: Path, out: Path) -> None:
    import orjson

    with data.open(encoding="utf-8", newline="") as source, (out / "requests.jsonl").open("wb") as handle:
        reader = csv.reader(source)
        next(reader)
        for number, (context, response) in enumerate(reader):
            record = {
                "recordId": f"R{number:010d}",
                "modelInput": claude_body(f"Context: {context}\nResponse: {response}"),
            }
            handle.write(orjson.dumps(record) + b"\n")


def child(approach: str, data: Path, out: Path) -> None:
    runner = {"ours": run_ours, "pandas": run_pandas, "loop": run_loop}[approach]
    # Imports are not part of the timed work.
    if approach == "pandas":
        import pandas  # noqa: F401
    elif approach == "ours":
        sys.path.insert(0, str(ROOT))
        import batch_runner.prepare.planning  # noqa: F401
    else:
        import orjson  # noqa: F401
    start = time.perf_counter()
    runner(data, out)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def measure(approach: str, data: Path, out: Path) -> dict[str, float]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    command = [sys.executable, __file__, "--child", approach, str(data), str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{approach} failed with exit code {process.returncode}")
    result = json.loads(output)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return result


def generate(path: Path, rows: int) -> None:
    with REAL_DATASET.open(encoding="utf-8", newline="") as handle:
        real = list(csv.DictReader(handle))
    rng = random.Random(20251126)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Context", "Response"])
        for _ in range(rows):
            row = real[rng.randrange(len(real))]
            writer.writerow([row["Context"], row["Response"]])


def same_requests(ours: Path, loop: Path) -> bool:
    shards = sorted(ours.glob("shard-*.jsonl"))
    with (loop / "requests.jsonl").open("rb") as expected:
        for shard in shards:
            with shard.open("rb") as actual:
                while block := actual.read(1 << 20):
                    if expected.read(len(block)) != block:
                        return False
        return expected.read(1) == b""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per approach; the fastest is reported")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch space (default: a temp dir)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-planning-", dir=args.workdir))
    print(f"# {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; scratch {base}")
    print("| rows | dataset | approach | seconds | CPU s | peak RSS MB | ours faster by |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for rows in args.rows:
        data = base / f"conversations-{rows}.csv"
        generate(data, rows)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in APPROACHES}
        for _ in range(args.repeat):
            for name in APPROACHES:
                runs[name].append(measure(name, data, base / f"{name}-{rows}"))
        results = {name: min(runs[name], key=lambda run: run["seconds"]) for name in APPROACHES}
        if not same_requests(base / f"ours-{rows}", base / f"loop-{rows}"):
            raise SystemExit("ours and loop wrote different request bytes")
        for name in APPROACHES:
            result = results[name]
            ratio = result["seconds"] / results["ours"]["seconds"]
            print(
                f"| {rows:,} | {data.stat().st_size / 1e6:,.0f} MB | {name} | {result['seconds']:.2f} | "
                f"{result['cpu_seconds']:.2f} | {result['peak_rss_mb']:.0f} | {ratio:.2f}x |",
                flush=True,
            )
        for name in APPROACHES:
            shutil.rmtree(base / f"{name}-{rows}")
        data.unlink()
    base.rmdir()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        main()
