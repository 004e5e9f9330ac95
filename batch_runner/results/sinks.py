"""Where results are written: a local file, standard output (``-``), or an S3 object.

Every destination gets the whole file or nothing it could mistake for it: a local file is written
under a temporary name and moved into place once complete; an S3 object is a multipart upload
(parts of ``PART_BYTES``, streamed as they fill, so memory stays flat) completed only at the end and
aborted on any error; standard output is a pipe, whose reader sees the rows as they come.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from batch_runner.exceptions import UsageError

STDOUT = "-"
S3_SCHEME = "s3://"
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}
OPENAI = "openai"  # JSONL in the OpenAI Batch API's output shape
FILE_FORMATS = (*FORMATS.values(), OPENAI)
PART_BYTES = 8 << 20  # S3 parts are at least 5 MiB, except the last

S3ClientFactory = Callable[[], Any]


@dataclass(frozen=True)
class Destination:
    """A checked place and format for results; ``location`` is a path, ``-`` or an s3:// URI."""

    location: str
    file_format: str

    @property
    def is_stdout(self) -> bool:
        return self.location == STDOUT

    @property
    def s3_address(self) -> tuple[str, str] | None:
        if not self.location.startswith(S3_SCHEME):
            return None
        bucket, _, key = self.location[len(S3_SCHEME) :].partition("/")
        return bucket, key


def destination(location: str | Path | Destination, file_format: str | None = None) -> Destination:
    """Check ``location`` and choose the format (``file_format``, else the name's ending; standard
    output defaults to CSV) before any work, so a typo costs nothing."""
    if isinstance(location, Destination):
        return location
    text = str(location)
    if file_format is not None and file_format not in FILE_FORMATS:
        raise UsageError(f"unknown results format {file_format!r}; use one of {', '.join(FILE_FORMATS)}")
    if text == STDOUT:
        return Destination(text, file_format or "csv")
    if text.startswith(S3_SCHEME):
        bucket, _, key = text[len(S3_SCHEME) :].partition("/")
        if not bucket or not key or key.endswith("/"):
            raise UsageError(f"cannot write results to {text}: give s3://BUCKET/KEY, the object to write")
    suffix = PurePosixPath(text).suffix.lower()
    chosen = file_format or FORMATS.get(suffix)
    if chosen is None:
        raise UsageError(
            f"cannot write results to {text}: unsupported extension {suffix or '(none)'!r};"
            f" use one of {', '.join(FORMATS)}, or name the format with --format"
        )
    if text.startswith(S3_SCHEME):
        return Destination(text, chosen)
    path = Path(text)
    if not path.parent.is_dir():
        raise UsageError(f"cannot write results to {path}: directory {path.parent} does not exist")
    return Destination(text, chosen)


def check_bucket(dest: Destination, s3: Any) -> None:
    """Fail before the join when the destination bucket does not exist (exit 2)."""
    address = dest.s3_address
    if address is None:
        return
    from botocore.exceptions import ClientError

    from batch_runner.aws.errors import error_code

    try:
        s3.head_bucket(Bucket=address[0])
    except ClientError as err:
        if error_code(err) in ("404", "NoSuchBucket", "NotFound"):
            raise UsageError(
                f"cannot write results to {dest.location}: bucket {address[0]} does not exist; "
                "check the name or create it"
            ) from err
        # 403 and the like: the caller may still be allowed to put objects; the upload will tell.


@contextmanager
def open_sink(dest: Destination, s3: S3ClientFactory | None = None) -> Iterator[IO[bytes]]:
    """A binary file-like to write the results into; committed only if the block ends normally."""
    address = dest.s3_address
    if dest.is_stdout:
        stdout = _Counting(sys.stdout.buffer)
        yield stdout  # type: ignore[misc]
        stdout.flush()
    elif address is not None:
        if s3 is None:
            raise UsageError(f"cannot write results to {dest.location}: no S3 client")
        upload = MultipartUpload(s3(), *address)
        try:
            yield upload  # type: ignore[misc]
            upload.complete()
        except BaseException:
            upload.abort()
            raise
    else:
        path = Path(dest.location)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb", buffering=1 << 20) as handle:
                yield handle
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


class _Counting:
    """A write-only stream that knows its position (pyarrow's Parquet writer asks for it), over a
    pipe or an upload, neither of which can tell."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._position = 0
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._raw.write(data)
        size = memoryview(data).nbytes
        self._position += size
        return size

    def writelines(self, lines: Iterable[bytes]) -> None:
        for line in lines:
            self.write(line)

    def tell(self) -> int:
        return self._position

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        self._raw.flush()

    def close(self) -> None:  # the owner closes the real stream
        self.closed = True


class MultipartUpload(_Counting):
    """Bytes written become parts of one S3 object as they fill; a small result is one PutObject."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        super().__init__(None)
        self._client = client
        self._bucket = bucket
        self._key = key
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    @property
    def uri(self) -> str:
        return f"{S3_SCHEME}{self._bucket}/{self._key}"

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._buffer += data
        size = memoryview(data).nbytes
        self._position += size
        if len(self._buffer) >= PART_BYTES:
            self._send_part()
        return size

    def flush(self) -> None:
        pass  # parts go when full; the rest at complete()

    def _send_part(self) -> None:
        if self._upload_id is None:
            created = self._call(
                lambda: self._client.create_multipart_upload(Bucket=self._bucket, Key=self._key), "starting"
            )
            self._upload_id = str(created["UploadId"])
        number = len(self._parts) + 1
        body = bytes(self._buffer)
        sent = self._call(
            lambda: self._client.upload_part(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=body
            ),
            f"uploading part {number} of",
        )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})
        self._buffer.clear()

    def complete(self) -> None:
        if self._upload_id is None:
            body = bytes(self._buffer)
            self._call(
                lambda: self._client.put_object(Bucket=self._bucket, Key=self._key, Body=body), "writing"
            )
            return
        if self._buffer:
            self._send_part()
        parts = {"Parts": self._parts}
        self._call(
            lambda: self._client.complete_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload=parts
            ),
            "completing",
        )

    def abort(self) -> None:
        """Drop the parts sent so far (S3 would keep, and bill, them until a lifecycle rule ran)."""
        if self._upload_id is not None:
            # The error that made the upload stop is the one to report, not a failure to clean up.
            with suppress(Exception):
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=self._key, UploadId=self._upload_id
                )

    def _call(self, call: Callable[[], Any], doing: str) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        from batch_runner.aws.errors import aws_error, error_code
        from batch_runner.exceptions import ConfigurationError

        try:
            return call()
        except ClientError as err:
            if error_code(err) in ("AccessDenied", "403"):
                raise ConfigurationError(
                    f"no permission to write {self.uri} (AccessDenied): allow s3:PutObject on it for "
                    "your identity, or write the results elsewhere"
                ) from err
            raise aws_error(err, f"{doing} {self.uri}") from err
        except BotoCoreError as err:
            raise aws_error(err, f"{doing} {self.uri}") from err
