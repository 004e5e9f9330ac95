"""Uploading shard files to S3: multipart and concurrent through s3transfer, skipping finished ones.

Every object carries its sha256 in user metadata, so a resumed run can tell an upload that
finished (same size and hash) from one that never started, without reading the object back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.aws.errors import aws_error, error_code

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

SHA256_METADATA = "sha256"
# Shards are at most 1 GB; 64 MB parts keep a 1 GB file to 16 parts that upload in parallel.
PART_BYTES = 64 * 1024 * 1024
MAX_CONCURRENCY = 8

# Key segments Bedrock accepts in an S3 URI: letters, digits and -!_*'(). (no =, +, ~ or spaces).
_BEDROCK_KEY = re.compile(r"[-!_*'().a-zA-Z0-9]+(?:/[-!_*'().a-zA-Z0-9]+)*")


@dataclass(frozen=True)
class Upload:
    path: Path
    key: str
    sha256: str


def check_bedrock_key(key: str) -> str:
    """Fail fast on a key Bedrock would reject at CreateModelInvocationJob."""
    if not _BEDROCK_KEY.fullmatch(key):
        raise ValueError(f"S3 key {key!r} has characters Bedrock rejects in job URIs")
    return key


def uploaded_sha256(s3: Any, bucket: str, key: str) -> tuple[str, int] | None:
    """(sha256, size) recorded on the object, or None when it is not there (or not ours)."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if error_code(err) in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise aws_error(err, f"checking s3://{bucket}/{key}") from err
    except BotoCoreError as err:
        raise aws_error(err, f"checking s3://{bucket}/{key}") from err
    sha = head.get("Metadata", {}).get(SHA256_METADATA)
    return (str(sha), int(head.get("ContentLength", -1))) if sha else None


def already_uploaded(s3: Any, bucket: str, upload: Upload) -> bool:
    """Whether S3 holds this exact file; the local file need not exist when the answer is yes."""
    found = uploaded_sha256(s3, bucket, upload.key)
    if found is None or found[0] != upload.sha256:
        return False
    return not upload.path.is_file() or found[1] == upload.path.stat().st_size


def upload_files(
    s3: Any, bucket: str, uploads: Sequence[Upload], *, config: TransferConfig | None = None
) -> list[Upload]:
    """Upload what is not there yet, all files concurrently; returns the ones actually sent."""
    pending = [u for u in uploads if not already_uploaded(s3, bucket, u)]
    if not pending:
        return []
    # s3transfer is imported when there is something to send: it costs more than a status pass.
    from boto3.s3.transfer import TransferConfig, create_transfer_manager

    config = config or TransferConfig(
        multipart_threshold=PART_BYTES, multipart_chunksize=PART_BYTES, max_concurrency=MAX_CONCURRENCY
    )
    try:
        with create_transfer_manager(s3, config) as manager:
            futures = [
                manager.upload(
                    str(u.path),
                    bucket,
                    u.key,
                    extra_args={"Metadata": {SHA256_METADATA: u.sha256}, "ContentType": "application/jsonl"},
                )
                for u in pending
            ]
            for future in futures:
                future.result()
    except (ClientError, BotoCoreError) as err:
        raise aws_error(err, f"uploading to s3://{bucket}") from err
    return pending
