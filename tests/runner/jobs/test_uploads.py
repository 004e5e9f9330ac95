"""Uploads: multipart and concurrent, verifiable by hash, skipped when already done."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from batch_runner.aws.clients import AwsContext
from batch_runner.jobs.uploads import SHA256_METADATA, Upload, check_bedrock_key, upload_files
from batch_runner.local import Emulator

SMALL_PARTS = TransferConfig(
    multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=4
)


def _file(path: Path, size: int) -> Upload:
    data = os.urandom(size)
    path.write_bytes(data)
    return Upload(path, f"runs/upload-test/input/{path.name}", hashlib.sha256(data).hexdigest())


def test_multipart_upload_of_several_files_then_skip_on_resume(
    emulator: Emulator, emulator_aws: AwsContext, tmp_path: Path
) -> None:
    s3 = emulator_aws.client("s3")
    bucket = emulator.stack_outputs["InputBucketName"]
    big = _file(tmp_path / "shard-00000.jsonl", 12 * 1024 * 1024)  # 3 parts
    small = _file(tmp_path / "shard-00001.jsonl", 1000)
    assert upload_files(s3, bucket, [big, small], config=SMALL_PARTS) == [big, small]

    head = s3.head_object(Bucket=bucket, Key=big.key)
    assert head["ContentLength"] == 12 * 1024 * 1024
    assert head["ETag"].strip('"').endswith("-3")  # really multipart
    assert head["Metadata"][SHA256_METADATA] == big.sha256
    body = s3.get_object(Bucket=bucket, Key=small.key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == small.sha256

    # Resumed: nothing is sent again.
    assert upload_files(s3, bucket, [big, small], config=SMALL_PARTS) == []
    # A file whose content changed is sent again.
    changed = _file(tmp_path / "shard-00001.jsonl", 1000)
    assert upload_files(s3, bucket, [big, changed], config=SMALL_PARTS) == [changed]


@pytest.mark.parametrize("key", ["runs/r/input/shard-00001.jsonl", "runs/My-Run.2/x_(1)!.jsonl"])
def test_keys_bedrock_accepts(key: str) -> None:
    assert check_bedrock_key(key) == key


@pytest.mark.parametrize(
    "key", ["runs/date=2026-01-01/a.jsonl", "runs/a b.jsonl", "runs/a+b.jsonl", "runs/~a.jsonl"]
)
def test_keys_bedrock_rejects(key: str) -> None:
    with pytest.raises(ValueError, match="Bedrock rejects"):
        check_bedrock_key(key)
