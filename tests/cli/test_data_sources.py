"""`submit` reads datasets from S3 (objects and prefixes of parts), compressed files and standard
input, against the emulator over HTTP; each plans exactly like the same data as a local file."""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.cli import main
from batch_runner.local import Emulator
from batch_runner.prepare.datasets import sources
from tests.cli.test_submit import HAIKU, input_keys
from tests.emulator.helpers import unique

ROWS = [{"id": f"id-{n}", "text": f'Message {n}, "quoted"\nsecond line'} for n in range(120)]
PROMPT = ["--model", HAIKU, "--prompt-text", "Summarize: {{ text }}", "--id-column", "id"]


def csv_bytes(rows: list[dict[str, str]] = ROWS) -> bytes:
    lines = ["id,text"] + [f'{row["id"]},"{row["text"].replace(chr(34), chr(34) * 2)}"' for row in rows]
    return ("\n".join(lines) + "\n").encode()


def jsonl_bytes(rows: list[dict[str, Any]] = ROWS) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def parquet_bytes(rows: list[dict[str, Any]] = ROWS, *, row_group_size: int | None = None) -> bytes:
    table = pa.Table.from_pylist(
        rows, schema=pa.schema([("id", pa.large_string()), ("text", pa.large_string())])
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=row_group_size)
    return sink.getvalue()


def zstd(data: bytes) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as stream:
        stream.write(data)
    return sink.getvalue().to_pybytes()


def dry_run(capsys: pytest.CaptureFixture[str], dataset: str, *extra: str) -> tuple[int, Any, str]:
    code = main(["submit", dataset, *PROMPT, "--dry-run", "--json", *extra])
    captured = capsys.readouterr()
    return code, json.loads(captured.out)["plan"] if code == 0 else None, captured.err


@pytest.fixture
def reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    """The plan of the rows as a plain local CSV file."""
    (tmp_path / "plain.csv").write_bytes(csv_bytes())
    code, plan, err = dry_run(capsys, str(tmp_path / "plain.csv"))
    assert code == 0, err
    return plan


def same_plan(plan: Any, reference: Any) -> bool:
    return [s["sha256"] for s in plan["shards"]] == [s["sha256"] for s in reference["shards"]]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("d.csv.gz", gzip.compress(csv_bytes())),
        ("d.csv.zst", zstd(csv_bytes())),
        ("d.jsonl.gz", gzip.compress(jsonl_bytes())),
        ("d.jsonl.zst", zstd(jsonl_bytes())),
        ("d.ndjson", jsonl_bytes()),
        ("d.parquet", parquet_bytes()),
    ],
)
def test_compressed_and_other_local_files_plan_like_the_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reference: Any, name: str, data: bytes
) -> None:
    (tmp_path / name).write_bytes(data)
    code, plan, err = dry_run(capsys, str(tmp_path / name))
    assert code == 0, err
    assert same_plan(plan, reference)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("cut.csv.gz", gzip.compress(csv_bytes())[:-40], "cut.csv.gz (gzip) cannot be read"),
        ("plain.csv.gz", csv_bytes(), "plain.csv.gz (gzip) cannot be read"),
        ("d.parquet.gz", gzip.compress(parquet_bytes()), "Parquet is read as it is, not gzip-compressed"),
        ("d.txt", csv_bytes(), "unsupported file type '.txt'; use one of .csv"),
    ],
)
def test_bad_compressed_files_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes, expected: str
) -> None:
    (tmp_path / name).write_bytes(data)
    code, _, err = dry_run(capsys, str(tmp_path / name))
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert expected in err


def test_a_file_of_another_name_is_read_with_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reference: Any
) -> None:
    (tmp_path / "export.txt").write_bytes(csv_bytes())
    code, plan, err = dry_run(capsys, str(tmp_path / "export.txt"), "--format", "csv")
    assert code == 0, err
    assert same_plan(plan, reference)


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)

    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize(
    ("data", "extra"),
    [
        (csv_bytes(), []),
        (jsonl_bytes(), []),
        (gzip.compress(jsonl_bytes()), []),
        (zstd(csv_bytes()), []),
        (parquet_bytes(), []),
        (b"\xef\xbb\xbf" + csv_bytes(), ["--format", "csv"]),
    ],
    ids=["csv", "jsonl", "jsonl.gz", "csv.zst", "parquet", "format"],
)
def test_standard_input_is_recognised_and_plans_like_the_file(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    reference: Any,
    data: bytes,
    extra: list[str],
) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(data))
    code, plan, err = dry_run(capsys, "-", *extra)
    assert code == 0, err
    assert same_plan(plan, reference)


def test_empty_standard_input_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(b""))
    code, _, err = dry_run(capsys, "-")
    assert (code, err) == (
        2,
        "error: standard input is empty: it has no header row and no data rows; add rows\n",
    )


@pytest.fixture
def bucket(emulator: Emulator) -> str:
    """``<the stack's input bucket>/<a prefix of this test's own>``: the default identity (the
    emulator's submitter) may read there, as a submitter on AWS may."""
    return f"{emulator.stack_outputs[OutputKey.INPUT_BUCKET]}/{unique('datasets')}"


def put(emulator: Emulator, bucket: str, key: str, data: bytes) -> str:
    """Store ``data`` at ``key`` under the ``bucket`` location (as the account root); its URI."""
    name, _, prefix = bucket.partition("/")
    emulator.client("s3").put_object(Bucket=name, Key=f"{prefix}/{key}".lstrip("/"), Body=data)
    return f"s3://{bucket}/{key}"


@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("in/d.csv", csv_bytes()),
        ("in/d.csv.gz", gzip.compress(csv_bytes())),
        ("in/d.jsonl.zst", zstd(jsonl_bytes())),
        ("in/d.parquet", parquet_bytes()),
    ],
)
def test_s3_objects_plan_like_the_local_file(
    emulator: Emulator,
    bucket: str,
    capsys: pytest.CaptureFixture[str],
    reference: Any,
    key: str,
    data: bytes,
) -> None:
    uri = put(emulator, bucket, key, data)
    code, plan, err = dry_run(capsys, uri, "--endpoint-url", emulator.endpoint_url)
    assert code == 0, err
    assert same_plan(plan, reference)


@pytest.mark.parametrize("kind", ["parquet", "jsonl"])
def test_an_s3_prefix_reads_its_parts_in_key_order(
    emulator: Emulator, bucket: str, capsys: pytest.CaptureFixture[str], reference: Any, kind: str
) -> None:
    encode = parquet_bytes if kind == "parquet" else jsonl_bytes
    # Written out of order, with the markers Spark and Hive leave beside their parts.
    put(emulator, bucket, f"out/part-00002.{kind}", encode(ROWS[80:]))
    put(emulator, bucket, f"out/part-00000.{kind}", encode(ROWS[:40]))
    put(emulator, bucket, f"out/part-00001.{kind}", encode(ROWS[40:80]))
    put(emulator, bucket, "out/_SUCCESS", b"")
    put(emulator, bucket, f"out/.part-00000.{kind}.crc", b"crc")
    code, plan, err = dry_run(capsys, f"s3://{bucket}/out/", "--endpoint-url", emulator.endpoint_url)
    assert code == 0, err
    assert same_plan(plan, reference)


def test_an_error_in_a_part_names_the_part_and_its_line(
    emulator: Emulator, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put(emulator, bucket, "bad/part-0.jsonl", jsonl_bytes(ROWS[:60]))
    put(emulator, bucket, "bad/part-1.jsonl", jsonl_bytes([*ROWS[60:], {"id": "x"}]))
    code, _, err = dry_run(capsys, f"s3://{bucket}/bad/", "--endpoint-url", emulator.endpoint_url)
    assert code == 2
    assert f"row 121 (line 61 of s3://{bucket}/bad/part-1.jsonl)" in err


def test_parquet_on_s3_is_read_by_byte_ranges_not_whole(
    emulator: Emulator, bucket: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sources, "RANGE_BUFFER", 16 << 10)
    noise = random.Random(7)
    rows = [{"id": f"id-{n}", "text": noise.randbytes(24).hex()} for n in range(3 * 8192)]  # incompressible
    data = parquet_bytes(rows, row_group_size=8192)  # a chunk of rows is one row group
    uri = put(emulator, bucket, "big/d.parquet", data)
    ranges: list[str | None] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        ranges.append(params.get("Range"))

    real_client = sources.S3Object.__init__

    def spying_init(self: sources.S3Object, client: Any, *args: Any, **kwargs: Any) -> None:
        client.meta.events.register("provide-client-params.s3.GetObject", record)
        real_client(self, client, *args, **kwargs)

    monkeypatch.setattr(sources.S3Object, "__init__", spying_init)
    code, plan, err = dry_run(capsys, uri, "--endpoint-url", emulator.endpoint_url)
    assert code == 0, err
    assert plan["record_count"] == 3 * 8192
    assert ranges and all(r is not None for r in ranges)
    sizes = [
        int(end) - int(start) + 1 for start, end in (r.removeprefix("bytes=").split("-") for r in ranges if r)
    ]
    assert max(sizes) < len(data) / 2  # about one row group per GET, never the object


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://{bucket}/nope.csv", "dataset not found: s3://{bucket}/nope.csv"),
        ("s3://{bucket}/in", "end the URI with / to read the parts under a prefix"),
        ("s3://{bucket}/empty/", "no objects under s3://{bucket}/empty/"),
        ("s3://no-such-bucket-{bucket}/d.csv", "dataset not found: s3://no-such-bucket-{bucket}/d.csv"),
        ("s3://{bucket}/mixed/", "holds csv and jsonl parts"),
        ("s3:///d.csv", "no bucket name"),
    ],
)
def test_missing_s3_data_is_one_line_exit_2_and_nothing_uploaded(
    emulator: Emulator,
    bucket: str,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    uri: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As the account root, which may see what does not exist (a submitter would be refused first).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAACCOUNTROOT00000")
    put(emulator, bucket, "in/d.csv", csv_bytes())
    put(emulator, bucket, "mixed/a.csv", csv_bytes())
    put(emulator, bucket, "mixed/b.jsonl", jsonl_bytes())
    before = input_keys(emulator)
    argv = ["submit", uri.format(bucket=bucket), *PROMPT, "--yes", "--endpoint-url", emulator.endpoint_url]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert expected.format(bucket=bucket) in err
    assert input_keys(emulator) == before
    assert emulator.jobs() == []


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_submit_from_s3_creates_the_job(
    emulator: Emulator, bucket: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = put(emulator, bucket, "in/reviews.csv.gz", gzip.compress(csv_bytes()))
    argv = ["submit", uri, *PROMPT, "--yes", "--json", "--endpoint-url", emulator.endpoint_url]
    assert main(argv) == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["run"].startswith("reviews-")
    assert [job.name.split(".", 1)[-1] for job in emulator.jobs()] == [f"{summary['run']}-s00000"]
    manifest = json.loads((workdir / ".batch-runner" / "runs" / summary["run"] / "manifest.json").read_text())
    assert manifest["dataset"]["source"] == uri


@pytest.mark.parametrize(
    ("code", "headers", "expected"),
    [
        (
            "AccessDenied",
            {},
            "no permission to read s3://b/d.csv (AccessDenied): allow s3:GetObject and s3:ListBucket",
        ),
        (
            "PermanentRedirect",
            {"x-amz-bucket-region": "eu-west-1"},
            "s3://b/d.csv is in another Region (eu-west-1)",
        ),
        ("NoSuchBucket", {}, "dataset not found: s3://b/d.csv (NoSuchBucket); check the bucket and key"),
    ],
)
def test_s3_refusals_become_one_line_the_caller_can_act_on(
    code: str, headers: dict[str, str], expected: str
) -> None:
    from botocore.exceptions import ClientError

    from batch_runner.exceptions import UsageError

    def refused() -> None:
        response: Any = {
            "Error": {"Code": code, "Message": "m"},
            "ResponseMetadata": {"HTTPHeaders": headers},
        }
        raise ClientError(response, "HeadObject")

    with pytest.raises(UsageError, match=re.escape(expected)):
        sources.s3_call(refused, "s3://b/d.csv")


def test_python_submits_an_s3_uri_with_a_format(emulator: Emulator, bucket: str, workdir: Path) -> None:
    from batch_runner import submit

    uri = put(emulator, bucket, "exports/reviews.data", jsonl_bytes())
    run = submit(
        uri,
        model=HAIKU,
        prompt="Summarize: {{ text }}",
        id_column="id",
        format="jsonl",
        run="py-s3",
        endpoint_url=emulator.endpoint_url,
    )
    assert run.summary()["records"] == 120
    assert [job.name.split(".", 1)[-1] for job in emulator.jobs()] == ["py-s3-s00000"]


def test_no_permission_to_read_the_dataset_is_one_line_exit_2(
    emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The default identity holds the submitter policy: the stack's buckets, not this one.
    elsewhere = unique("elsewhere")
    emulator.client("s3").create_bucket(Bucket=elsewhere)
    uri = put(emulator, elsewhere, "d.csv", csv_bytes())
    before = input_keys(emulator)
    code = main(["submit", uri, *PROMPT, "--yes", "--endpoint-url", emulator.endpoint_url])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err == (
        f"error: no permission to read {uri} (403): allow s3:GetObject and s3:ListBucket on it "
        "for your identity, or use another --profile\n"
    )
    assert input_keys(emulator) == before and emulator.jobs() == []
