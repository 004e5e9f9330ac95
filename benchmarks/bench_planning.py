"""Planning benchmark: our build_plan against the two ways people write batch JSONL today.

    python benchmarks/bench_planning.py [--rows 10000 200000 1000000] [--repeat 3] [--workdir DIR] [--sources]

For each size it generates a dataset of conversation-length rows (about 1.1 KB each, sampled with
a fixed seed from ../shared/data/counseling_conversations.csv), then runs, each in its own
subprocess so peak RSS is per approach:

- ours:   batch_runner.prepare.planning.build_plan (validates every record, shards, writes the record index)
- polars: polars scans the CSV and builds the request lines and the record index column-wise
          (struct.json_encode), streamed into two files (the same bytes as ours, both checked)
- pandas: pandas.read_csv, a Python loop into dicts, an f-string prompt and json.dumps per line
- loop:   csv.reader, an f-string prompt and orjson.dumps per line (the same request bytes as ours)

With ``--sources``, ours also plans the same rows from two other places:

- ours-parquet: a Parquet file of ``large_string`` columns, as pandas 3 and polars write them;
- ours-s3:      the CSV from S3, streamed from the local emulator (``local serve --no-stack``) over
                HTTP; the emulator's own CPU and memory are not counted.

All of them build Claude Messages requests from the same prompt. Times are for the work only
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
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL_DATASET = ROOT / ".." / "shared" / "data" / "counseling_conversations.csv"
MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
PROMPT = "Context: {{ Context }}\nResponse: {{ Response }}"
APPROACHES = ("ours", "polars", "pandas", "loop")
SOURCE_APPROACHES = ("ours-parquet", "ours-s3")
S3_BUCKET = "bench-planning"


def claude_body(text: str) -> dict[str, object]:
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    }


def run_ours(data: Path | str, out: Path) -> None:
    from batch_runner.aws.clients import AwsContext
    from batch_runner.catalog.quotas import default_quotas
    from batch_runner.prepare.plan import SubmitOptions
    from batch_runner.prepare.planning import build_plan

    options = SubmitOptions(model_id=MODEL, prompt_template=PROMPT)
    aws = AwsContext(region="us-east-1", endpoint_url=os.environ.get("BENCH_S3_ENDPOINT"))
    build_plan(data, options, quotas=default_quotas(MODEL), workdir=out, s3=lambda: aws.client("s3"))


def run_ours_parquet(data: Path, out: Path) -> None:
    run_ours(data.with_suffix(".parquet"), out)


def run_ours_s3(data: Path, out: Path) -> None:
    run_ours(f"s3://{S3_BUCKET}/{data.name}", out)


def run_polars(data: Path, out: Path) -> None:
    import polars as pl

    rows = pl.scan_csv(data, infer_schema=False).with_row_index("row")
    record_id = pl.lit("R") + pl.col("row").cast(pl.String).str.zfill(10)
    text = pl.lit("Context: ") + pl.col("Context") + pl.lit("\nResponse: ") + pl.col("Response")
    content = pl.concat_list(pl.struct(type=pl.lit("text"), text=text))
    body = pl.struct(
        anthropic_version=pl.lit("bedrock-2023-05-31"),
        max_tokens=pl.lit(1024),
        messages=pl.concat_list(pl.struct(role=pl.lit("user"), content=content)),
    )
    request = pl.struct(recordId=record_id, modelInput=body).struct.json_encode()
    index = pl.struct(
        recordId=record_id, row=pl.col("row"), id=pl.lit(None), input=pl.struct("Context", "Response")
    ).struct.json_encode()
    lines = {"include_header": False, "quote_style": "never", "lazy": True}  # one JSON text per line
    pl.collect_all(
        [
            rows.select(request).sink_csv(out / "requests.jsonl", **lines),
            rows.select(index).sink_csv(out / "record-index.ndjson", **lines),
        ]
    )


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
    runners = {"ours": run_ours, "polars": run_polars, "pandas": run_pandas, "loop": run_loop}
    runner = {**runners, "ours-parquet": run_ours_parquet, "ours-s3": run_ours_s3}[approach]
    # Imports are not part of the timed work.
    if approach == "pandas":
        import pandas  # noqa: F401
    elif approach == "polars":
        import polars  # noqa: F401
    elif approach.startswith("ours"):
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


def same_bytes(parts: list[Path], whole: Path) -> bool:
    """Whether the files ``parts``, one after the other, hold the bytes of ``whole``."""
    with whole.open("rb") as expected:
        for part in parts:
            with part.open("rb") as actual:
                while block := actual.read(1 << 20):
                    if expected.read(len(block)) != block:
                        return False
        return expected.read(1) == b""


def requests_of(output: Path) -> list[Path]:
    return sorted(output.glob("shard-*.jsonl")) or [output / "requests.jsonl"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per approach; the fastest is reported")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch space (default: a temp dir)")
    parser.add_argument("--sources", action="store_true", help="also plan from Parquet and from S3")
    args = parser.parse_args()
    approaches = APPROACHES + (SOURCE_APPROACHES if args.sources else ())
    emulator = start_emulator() if args.sources else None
    try:
        run_all(args, approaches)
    finally:
        if emulator is not None:
            emulator.terminate()
            emulator.wait()


def start_emulator() -> subprocess.Popen[bytes]:
    """``local serve`` on a free port, its address in BENCH_S3_ENDPOINT for the children."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "batch_runner", "local", "serve", "--no-stack", "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ.update(
        BENCH_S3_ENDPOINT=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    for _ in range(600):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.1)
    process.terminate()
    raise SystemExit("the emulator did not start")


def stage_sources(data: Path) -> None:
    """The Parquet twin of ``data`` and its copy in the emulator's S3."""
    import boto3
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    table = pa_csv.read_csv(data, parse_options=pa_csv.ParseOptions(newlines_in_values=True))
    large = pa.schema([(name, pa.large_string()) for name in table.column_names])
    pq.write_table(table.cast(large), data.with_suffix(".parquet"))
    s3 = boto3.client("s3", endpoint_url=os.environ["BENCH_S3_ENDPOINT"], region_name="us-east-1")
    existing = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    if S3_BUCKET not in existing:
        s3.create_bucket(Bucket=S3_BUCKET)
    s3.upload_file(str(data), S3_BUCKET, data.name)


def run_all(args: argparse.Namespace, approaches: tuple[str, ...]) -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-planning-", dir=args.workdir))
    print(f"# {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; scratch {base}")
    print("| rows | dataset | approach | seconds | CPU s | peak RSS MB | ours faster by |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for rows in args.rows:
        data = base / f"conversations-{rows}.csv"
        generate(data, rows)
        if len(approaches) > len(APPROACHES):
            # In a process of its own: a parent that loaded pyarrow would pass its peak RSS to the children.
            subprocess.run([sys.executable, __file__, "--stage", str(data)], check=True)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in approaches}
        for _ in range(args.repeat):
            for name in approaches:
                runs[name].append(measure(name, data, base / f"{name}-{rows}"))
        results = {name: min(runs[name], key=lambda run: run["seconds"]) for name in approaches}
        expected = base / f"loop-{rows}" / "requests.jsonl"
        for name in (name for name in approaches if name.startswith("ours") or name == "polars"):
            if not same_bytes(requests_of(base / f"{name}-{rows}"), expected):
                raise SystemExit(f"{name} and loop wrote different request bytes")
        index = base / f"ours-{rows}" / "record-index.ndjson"
        if not same_bytes([base / f"polars-{rows}" / "record-index.ndjson"], index):
            raise SystemExit("polars and ours wrote different record indexes")
        for name in approaches:
            result = results[name]
            ratio = result["seconds"] / results["ours"]["seconds"]
            print(
                f"| {rows:,} | {data.stat().st_size / 1e6:,.0f} MB | {name} | {result['seconds']:.2f} | "
                f"{result['cpu_seconds']:.2f} | {result['peak_rss_mb']:.0f} | {ratio:.2f}x |",
                flush=True,
            )
        for name in approaches:
            shutil.rmtree(base / f"{name}-{rows}")
        data.unlink()
        data.with_suffix(".parquet").unlink(missing_ok=True)
    base.rmdir()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    elif len(sys.argv) == 3 and sys.argv[1] == "--stage":
        stage_sources(Path(sys.argv[2]))
    else:
        main()
