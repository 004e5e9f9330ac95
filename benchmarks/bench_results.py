"""Results collection: join + write throughput and peak memory, side by side.

    python benchmarks/bench_results.py [--records 10000 200000 1000000] [--naive-max 200000] [--source s3]
    python benchmarks/bench_results.py --schema [--records 200000 1000000]

For each size, generates N Claude output records in the real batch output format (about 1.8 KB a
line, shuffled, files of at most 50,000 records, one job per file, 1% error lines) and the run's
record index on local disk, then runs three contenders, each in its own subprocess so peak RSS is
its own:

- ``runner``: ``batch_runner.results.collect_results`` through ``LocalOutputSource`` (the same
  parse/join/write path S3 feeds), writing CSV;
- ``naive``: pandas, every ``.out`` file read with ``read_json(lines=True)``, normalized, merged
  with the index and written as CSV (what a notebook does);
- ``bound``: a minimal orjson line loop (parse, pull the answer, write CSV with ``csv.writer``; no
  join), the upper bound for any per-line parser in Python;
- ``bound_fast_csv``: the same loop with the runner's CSV field encoder, for reference.

The naive baseline is skipped above ``--naive-max`` records (it needs ~13 GB at 1M).

With ``--source s3`` the output files are uploaded to the local emulator (``python -m batch_runner
local serve``, its own process) and every contender reads them from its S3 API with boto3: the
runner through ``S3OutputSource``, the bound and pandas with ``get_object``. The emulator's CPU
is not counted in anyone's CPU seconds.

With ``--schema`` the answers are JSON audits for ``examples/concern_audit/schema.json`` (2% break
the schema, 1% are fenced with prose around them, 1% are cut off at max_tokens) and two contenders
run on the same files: ``runner`` (no schema: the answer is text) and ``runner_schema`` (every
answer parsed and validated, a column per property), which gives the overhead of the schema.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "counseling_conversations.csv"
BUCKET = "bench-output"
OUTPUT_PREFIX = "runs/bench/output"
RECORDS_PER_FILE = 50_000
AUDIT_SCHEMA = ROOT / "examples" / "concern_audit" / "schema.json"
INTERVENTIONS = [
    "reflective listening",
    "validation",
    "open question",
    "psychoeducation",
    "grounding technique",
]
SYSTEM = (
    "You are a careful, warm and practical counselling assistant. Read the client's message, reflect "
    "what you hear, avoid diagnosis, suggest one or two concrete next steps and, when there is any sign "
    "of risk, point to professional and emergency help. Answer in plain language, in under 200 words."
)


def _conversations() -> list[tuple[str, str]]:
    if DATA.exists():
        with open(DATA, newline="", encoding="utf-8") as handle:
            return [(row["Context"], row["Response"]) for row in csv.DictReader(handle)]
    words = [
        "I",
        "have",
        "been",
        "feeling",
        "anxious",
        "about",
        "work",
        "and",
        "cannot",
        "sleep",
        "well",
        "at",
        "night",
    ]
    rng = random.Random(1)
    return [(" ".join(rng.choices(words, k=45)), " ".join(rng.choices(words, k=160))) for _ in range(1000)]


def generate(folder: Path, count: int, *, schema: bool = False) -> list[str]:
    """Write the output files and record index; returns the job IDs, oldest first."""
    conversations = _conversations()
    rng = random.Random(count)
    index_path = folder / "record-index.jsonl"
    job_ids = []
    with open(index_path, "wb") as index:
        for start in range(0, count, RECORDS_PER_FILE):
            job_id = f"job{start // RECORDS_PER_FILE:09d}"
            job_ids.append(job_id)
            rows = list(range(start, min(count, start + RECORDS_PER_FILE)))
            for row in rows:
                context, response = conversations[row % len(conversations)]
                index.write(
                    orjson.dumps(
                        {
                            "recordId": f"R{row:010d}",
                            "row": row,
                            "id": None,
                            "input": {"Context": context, "Response": response},
                        }
                    )
                    + b"\n"
                )
            rng.shuffle(rows)
            job_dir = folder / BUCKET / OUTPUT_PREFIX / job_id
            job_dir.mkdir(parents=True)
            with open(job_dir / "shard-0000.jsonl.out", "wb") as out:
                for row in rows:
                    context, response = conversations[row % len(conversations)]
                    if schema:
                        response, stop_reason = _audit_answer(context, response, rng)
                    else:
                        stop_reason = "end_turn"
                    out.write(_output_line(row, context, response, rng, stop_reason) + b"\n")
            (job_dir / "manifest.json.out").write_bytes(
                orjson.dumps({"totalRecordCount": len(rows), "processedRecordCount": len(rows)})
            )
    return job_ids


def _audit_answer(context: str, response: str, rng: random.Random) -> tuple[str, str]:
    """A concern-audit answer as a model writes it: mostly valid JSON, sometimes not."""
    words = context.split()
    audit = {
        "concerns": [" ".join(words[i : i + 3]) for i in range(0, min(len(words), 9), 3)] or ["none stated"],
        "interventions": rng.sample(INTERVENTIONS, 2),
        "resolved": rng.choice(["yes", "no"]),
        "risk_flag": rng.random() < 0.1,
        "note": response[:300],
    }
    draw = rng.random()
    if draw < 0.02:
        audit["resolved"] = "maybe"
    text = orjson.dumps(audit).decode()
    if 0.02 <= draw < 0.03:
        return f"Here is the audit:\n```json\n{text}\n```\nI hope this helps.", "end_turn"
    if 0.03 <= draw < 0.04:
        return text[: len(text) // 2], "max_tokens"
    return text, "end_turn"


def _output_line(row: int, context: str, response: str, rng: random.Random, stop_reason: str) -> bytes:
    model_input = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1024,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": [{"type": "text", "text": f"Client message:\n{context}"}]}],
    }
    line: dict[str, object] = {"recordId": f"R{row:010d}", "modelInput": model_input}
    if rng.random() < 0.01:
        line["error"] = {"errorCode": 400, "errorMessage": "Input is too long for requested model."}
    else:
        line["modelOutput"] = {
            "id": f"msg_bdrk_{row:024d}",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-haiku-20241022",
            "content": [{"type": "text", "text": response}],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": 120 + len(context) // 4, "output_tokens": len(response) // 4},
        }
    return orjson.dumps(line)


def _out_files(folder: Path) -> list[Path]:
    return sorted((folder / BUCKET / OUTPUT_PREFIX).glob("*/*.out"))


def _from_s3() -> bool:
    return bool(os.environ.get("AWS_ENDPOINT_URL"))


def _s3_client() -> Any:
    import boto3

    return boto3.client("s3")


def _record_bodies(folder: Path) -> Iterator[Any]:
    """Each output file's body as a binary stream: the local file, or the S3 object."""
    if not _from_s3():
        for path in _out_files(folder):
            if path.name != "manifest.json.out":
                with open(path, "rb") as handle:
                    yield handle
        return
    s3 = _s3_client()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=OUTPUT_PREFIX):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("manifest.json.out"):
                yield s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"]


def _body_lines(body: Any) -> Iterator[bytes]:
    if isinstance(body, io.BufferedReader):  # a local file (botocore bodies are IOBase too)
        yield from body
        return
    pending = b""
    for chunk in body.iter_chunks(1 << 20):
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        yield from lines
    if pending:
        yield pending


# Worker processes the last runner contender used (0: none), for its peak memory.
WORKERS_USED = [0]


def run_runner(
    folder: Path, out: Path, job_ids: list[str], output_schema: Path | None = None, workers: int | None = None
) -> int:
    from batch_runner.results import JobOutputRef, LocalOutputSource, S3OutputSource, collect_results
    from batch_runner.results.join import PARALLEL_BYTES
    from batch_runner.results.worker_pool import default_workers

    jobs = [
        JobOutputRef(
            f"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/{job_id}",
            f"s3://{BUCKET}/{OUTPUT_PREFIX}/",
            "Completed",
        )
        for job_id in job_ids
    ]
    if workers is None:  # what collect_results chooses by default
        big = sum(path.stat().st_size for path in _out_files(folder)) >= PARALLEL_BYTES
        workers = min(default_workers(), len(job_ids)) if big else 0
    WORKERS_USED[0] = workers if workers > 1 else 0
    source = S3OutputSource(_s3_client(), new_client=_s3_client) if _from_s3() else LocalOutputSource(folder)
    rec = collect_results(
        source,
        jobs,
        folder / "record-index.jsonl",
        out,
        work_dir=folder,
        output_schema=output_schema,
        workers=workers,
    )
    return rec.total


def run_runner_here(folder: Path, out: Path, job_ids: list[str]) -> int:
    """The runner without worker processes (``--workers 0``)."""
    return run_runner(folder, out, job_ids, workers=0)


def run_runner_schema(folder: Path, out: Path, job_ids: list[str]) -> int:
    """The runner with ``--output-schema``: every answer parsed, validated and split into columns."""
    return run_runner(folder, out, job_ids, output_schema=AUDIT_SCHEMA)


def run_runner_schema_here(folder: Path, out: Path, job_ids: list[str]) -> int:
    return run_runner(folder, out, job_ids, output_schema=AUDIT_SCHEMA, workers=0)


def run_naive(folder: Path, out: Path, job_ids: list[str]) -> int:
    import pandas as pd

    frames = [pd.read_json(io.BytesIO(body.read()), lines=True) for body in _record_bodies(folder)]
    outputs = pd.concat(frames, ignore_index=True)
    outputs["job_id"] = None
    body = pd.json_normalize(outputs["modelOutput"].where(outputs["modelOutput"].notna(), {}).tolist())
    errors = pd.json_normalize(outputs["error"].where(outputs["error"].notna(), {}).tolist())
    outputs["answer"] = body["content"].map(
        lambda blocks: (
            "".join(b["text"] for b in blocks if b.get("type") == "text")
            if isinstance(blocks, list)
            else None
        )
    )
    outputs["stop_reason"] = body["stop_reason"]
    outputs["input_tokens"] = body["usage.input_tokens"]
    outputs["output_tokens"] = body["usage.output_tokens"]
    outputs["error_code"] = errors["errorCode"]
    outputs["error_message"] = errors["errorMessage"]
    index = pd.read_json(folder / "record-index.jsonl", lines=True)
    merged = index[["recordId", "id", "row"]].merge(
        outputs[
            [
                "recordId",
                "answer",
                "stop_reason",
                "input_tokens",
                "output_tokens",
                "error_code",
                "error_message",
                "job_id",
            ]
        ],
        on="recordId",
        how="left",
    )
    merged.to_csv(out, index=False)
    return len(merged)


def _bound_rows(folder: Path) -> Iterator[tuple[str, str, str | None]]:
    for body in _record_bodies(folder):
        for raw in _body_lines(body):
            if raw.strip():
                line = orjson.loads(raw)
                body = line.get("modelOutput") or {}
                answer = "".join(b["text"] for b in body.get("content", ()) if b.get("type") == "text")
                yield line["recordId"], answer, body.get("stop_reason")


def run_bound(folder: Path, out: Path, job_ids: list[str]) -> int:
    count = 0
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        for row in _bound_rows(folder):
            writer.writerow(row)
            count += 1
    return count


def run_bound_fast_csv(folder: Path, out: Path, job_ids: list[str]) -> int:
    """The bound with the runner's CSV field encoder instead of csv.writer (several times faster)."""
    from batch_runner.results.csv_fields import csv_field

    count = 0
    with open(out, "wb", buffering=1 << 20) as handle:
        for row in _bound_rows(folder):
            handle.write((",".join(map(csv_field, row)) + "\r\n").encode())
            count += 1
    return count


CONTENDERS = {
    "runner": run_runner,
    "runner_here": run_runner_here,
    "runner_schema": run_runner_schema,
    "runner_schema_here": run_runner_schema_here,
    "naive": run_naive,
    "bound": run_bound,
    "bound_fast_csv": run_bound_fast_csv,
}


def _worker(name: str, folder: Path, out: Path, job_ids: list[str]) -> None:
    # Libraries are imported before the clock starts: the table compares work, not start-up.
    sys.path.insert(0, str(ROOT))
    if name == "naive":
        import pandas  # noqa: F401
    else:
        import batch_runner.results.collect  # noqa: F401  (the package itself loads lazily)
    if _from_s3():
        _s3_client()  # boto3 and its service model loaded
    before = _cpu_seconds()
    started = time.perf_counter()
    rows = CONTENDERS[name](folder, out, job_ids)
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - before  # worker processes included: they have been waited for
    # Peak memory of the process plus, for each worker, the largest worker's: an upper bound, as
    # pages a worker shares with the process it was forked from count twice.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if WORKERS_USED[0]:
        peak += WORKERS_USED[0] * resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"rows": rows, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak / 1024}))


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _measure(name: str, folder: Path, job_ids: list[str]) -> dict[str, float]:
    out = folder / f"out-{name}.csv"
    command = [sys.executable, __file__, "--worker", name, "--data", str(folder), "--out", str(out)]
    result = subprocess.run(
        [*command, "--jobs", ",".join(job_ids)], capture_output=True, text=True, check=True
    )
    out.unlink(missing_ok=True)
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def _best(runs: list[dict[str, float]]) -> dict[str, float]:
    """The fastest run's times, the largest peak RSS: on a shared machine noise only adds time."""
    return {
        "seconds": min(r["seconds"] for r in runs),
        "cpu_seconds": min(r["cpu_seconds"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
    }


# records, contender, naive, bound, bound_fast_csv (the streaming bound), this contender
Row = tuple[int, str, dict[str, float] | None, dict[str, float], dict[str, float], dict[str, float]]


def _ratio(numerator: dict[str, float] | None, denominator: dict[str, float], style: str) -> str:
    if numerator is None:
        return "not run"
    wall = numerator["seconds"] / denominator["seconds"]
    cpu = numerator["cpu_seconds"] / denominator["cpu_seconds"]
    return f"{wall:.1f}x / {cpu:.1f}x" if style == "x" else f"{wall:.0%} / {cpu:.0%}"


def _table(results: list[Row]) -> Iterator[str]:
    yield (
        "| records | contender | wall s | CPU s | records/s (wall) | peak RSS (MB)"
        " | speed vs naive (wall / CPU) | share of bound (wall / CPU)"
        " | share of bound_fast_csv (wall / CPU) |"
    )
    yield "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    for count, name, naive, bound, fast, measured in results:
        yield (
            f"| {count:,} | {name} | {measured['seconds']:.2f} | {measured['cpu_seconds']:.2f}"
            f" | {count / measured['seconds']:,.0f} | {measured['peak_rss_mb']:.0f}"
            f" | {_ratio(naive, measured, 'x')} | {_ratio(bound, measured, '%')}"
            f" | {_ratio(fast, measured, '%')} |"
        )


def _overhead_line(count: int, plain: dict[str, float], schema: dict[str, float], how: str) -> str:
    wall, cpu = schema["seconds"] / plain["seconds"], schema["cpu_seconds"] / plain["cpu_seconds"]
    return (
        f"- {count:,} records, {how}: runner {plain['seconds']:.2f} s wall /"
        f" {plain['cpu_seconds']:.2f} s CPU,"
        f" runner_schema {schema['seconds']:.2f} s / {schema['cpu_seconds']:.2f} s: overhead"
        f" {wall:.2f}x wall / {cpu:.2f}x CPU;"
        f" peak RSS {plain['peak_rss_mb']:.0f} / {schema['peak_rss_mb']:.0f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--naive-max", type=int, default=200_000, help="skip pandas above this many records")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; the fastest counts")
    parser.add_argument("--work-dir", type=Path, default=None, help="where to generate data (default: temp)")
    parser.add_argument(
        "--schema", action="store_true", help="JSON answers; runner without vs with the output schema"
    )
    parser.add_argument(
        "--source",
        choices=["local", "s3"],
        default="local",
        help="read output files from disk or the emulator's S3",
    )
    parser.add_argument("--worker", choices=sorted(CONTENDERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--jobs", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.data, args.out, args.jobs.split(","))
        return 0
    rows: list[Row] = []
    emulator = _start_emulator() if args.source == "s3" else None
    try:
        for count in args.records:
            rows += _measure_size(args, count)
    finally:
        if emulator is not None:
            emulator.terminate()
            emulator.wait()
    if rows:
        print("\n".join(_table(rows)))
    return 0


def _start_emulator() -> subprocess.Popen[bytes]:
    """The emulator in its own process, its endpoint in this process's environment (children
    inherit it); the bucket created."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "batch_runner", "local", "serve", "--no-stack", "--port", str(port)]
    emulator = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(f"{endpoint}/_emulator/health", timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
    )
    _s3_client().create_bucket(Bucket=BUCKET)
    return emulator


def _upload(folder: Path) -> None:
    s3 = _s3_client()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    for path in _out_files(folder):
        s3.upload_file(str(path), BUCKET, path.relative_to(folder / BUCKET).as_posix())


def _measure_size(args: argparse.Namespace, count: int) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-results-", dir=args.work_dir) as tmp:
        folder = Path(tmp)
        job_ids = generate(folder, count, schema=args.schema)
        size_mb = sum(p.stat().st_size for p in _out_files(folder)) / 1e6
        print(f"{count:,} records: {size_mb:,.0f} MB of output files", file=sys.stderr)
        if args.source == "s3":
            _upload(folder)
        if args.schema:
            names = ["runner", "runner_schema", "runner_here", "runner_schema_here"]
        else:
            names = ["runner", "runner_here", "bound", "bound_fast_csv"]
            names += ["naive"] if count <= args.naive_max else []
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        for _ in range(args.repeat):  # interleaved, so load from other processes hits all alike
            for name in names:
                runs[name].append(_measure(name, folder, job_ids))
                print(f"  {name}: {runs[name][-1]}", file=sys.stderr)
        best = {name: _best(name_runs) for name, name_runs in runs.items()}
        if args.schema:
            print(_overhead_line(count, best["runner"], best["runner_schema"], "worker processes"))
            print(_overhead_line(count, best["runner_here"], best["runner_schema_here"], "one process"))
            return rows
        rows += [
            (count, name, best.get("naive"), best["bound"], best["bound_fast_csv"], best[name])
            for name in names
        ]
    return rows


if __name__ == "__main__":
    sys.exit(main())
