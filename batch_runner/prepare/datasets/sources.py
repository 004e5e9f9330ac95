"""Where a dataset's bytes come from: a local file, standard input (``-``), or S3 (one object, or a
prefix of parts), decompressed when the name ends in ``.gz`` or ``.zst``.

A ``ByteSource`` opens its bytes from the start as often as a reader asks (the CSV reader reads the
header first and, to locate a problem, the file again). S3 objects are streamed, never downloaded
first: sequential formats read one GET's body as it arrives; Parquet, which needs its footer first,
reads byte ranges (``S3RangeReader``). Standard input can be read only once, so it is copied to a
temporary file as it is read, and its format and compression are recognised from its first bytes.
"""

from __future__ import annotations

import gzip
import io
import shutil
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol

from batch_runner.exceptions import AwsError, ConfigurationError, DatasetError

STDIN = "-"
S3_SCHEME = "s3://"
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd"}
_MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd"}
READ_BYTES = 1 << 20  # buffer for streamed bodies and decompression
RANGE_BUFFER = 8 << 20  # Parquet over S3: small reads (the footer) are served from one GET this long

S3ClientFactory = Callable[[], Any]


class ByteSource(Protocol):
    @property
    def label(self) -> str: ...

    def open(self) -> IO[bytes]:
        """The (decompressed) bytes from the start, buffered."""
        ...


def as_source(path: Path | ByteSource) -> ByteSource:
    """A plain local file for a path; any other source as it is."""
    return LocalFile(path) if isinstance(path, Path) else path


def plain_file(source: ByteSource) -> Path | None:
    """The local file that holds ``source``'s bytes as they are, for readers that open files
    themselves; None when the bytes come from S3 or need decompressing."""
    if isinstance(source, LocalFile | StdinSpool):
        path = source.path  # standard input is copied (and its compression recognised) first
        return path if source.compression is None else None
    return None


def split_name(name: str) -> tuple[str | None, str | None]:
    """``(format, compression)`` from a file name: ``reviews.csv.gz`` -> ``("csv", "gzip")``."""
    path = PurePosixPath(name.lower())
    compression = COMPRESSIONS.get(path.suffix)
    if compression is not None:
        path = path.with_suffix("")
    return FORMATS.get(path.suffix), compression


def dataset_stem(location: str) -> str:
    """A dataset's name without folders and endings: ``s3://b/in/reviews.csv.gz`` -> ``reviews``."""
    if location == STDIN:
        return "stdin"
    name = PurePosixPath(location.rstrip("/")).name
    for suffixes in (COMPRESSIONS, FORMATS):
        for suffix in suffixes:
            if name.lower().endswith(suffix):
                name = name[: -len(suffix)]
                break
    return name


def known_endings() -> str:
    plain = ", ".join(FORMATS)
    return f"{plain} (CSV and JSONL also as .gz or .zst)"


@dataclass
class LocalFile:
    path: Path
    compression: str | None = None

    @property
    def label(self) -> str:
        return str(self.path)

    def open(self) -> IO[bytes]:
        return decompressed(self.path.open("rb"), self.compression, self.label)


@dataclass
class S3Object:
    """One S3 object, read by streaming GETs (or byte ranges, for Parquet)."""

    client: Any
    bucket: str
    key: str
    size: int
    compression: str | None = None

    @property
    def label(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key}"

    def open(self) -> IO[bytes]:
        body = s3_call(lambda: self.client.get_object(Bucket=self.bucket, Key=self.key)["Body"], self.label)
        raw = io.BufferedReader(_Checked(body, self.label), READ_BYTES)
        return decompressed(raw, self.compression, self.label)

    def random_access(self) -> IO[bytes]:
        return io.BufferedReader(S3RangeReader(self), RANGE_BUFFER)


class StdinSpool:
    """Standard input, copied to a temporary file on first use so it can be read again; the file
    goes when this object does."""

    label = "standard input"

    def __init__(self, stream: IO[bytes] | None = None) -> None:
        self._stream = stream
        self._copy: Any = None
        self.compression: str | None = None

    @property
    def path(self) -> Path:
        if self._copy is None:
            stream = self._stream if self._stream is not None else sys.stdin.buffer
            copy = tempfile.NamedTemporaryFile(prefix="batch-runner-stdin-")  # noqa: SIM115 - kept open
            shutil.copyfileobj(stream, copy, READ_BYTES)
            copy.flush()
            self._copy = copy
            with open(copy.name, "rb") as handle:
                head = handle.read(4)
            self.compression = _MAGIC.get(head) or _MAGIC.get(head[:2])
        return Path(self._copy.name)

    def open(self) -> IO[bytes]:
        path = self.path
        return decompressed(path.open("rb"), self.compression, self.label)

    def sniff_format(self) -> str:
        """``parquet``, ``jsonl`` (the first character is ``{``) or ``csv``."""
        with self.open() as handle:
            head = handle.read(4096)
        if head.startswith(b"PAR1"):
            return "parquet"
        text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
        return "jsonl" if text.startswith(b"{") else "csv"


def decompressed(raw: IO[bytes], compression: str | None, label: str) -> IO[bytes]:
    if compression is None:
        return raw
    if compression == "gzip":
        stream: Any = gzip.GzipFile(fileobj=raw, mode="rb")
    else:
        import pyarrow as pa  # zstd has no codec in the standard library before Python 3.14

        stream = pa.CompressedInputStream(raw, compression)
    return io.BufferedReader(_Checked(stream, f"{label} ({compression})", owned=raw), READ_BYTES)


class _Checked(io.RawIOBase):
    """A readable stream whose read errors (a truncated or corrupt download or archive) become one
    ``DatasetError`` naming the source."""

    def __init__(self, stream: Any, label: str, owned: IO[bytes] | None = None) -> None:
        self._stream = stream
        self._label = label
        self._owned = owned

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._stream.read(len(buffer))
        except (OSError, EOFError, zlib.error, ValueError) as err:
            raise DatasetError(
                f"{self._label} cannot be read: {str(err).splitlines()[0] or type(err).__name__}; "
                "check that the file is complete and its name ends in its real compression"
            ) from err
        except Exception as err:
            raise _translated(err, f"reading {self._label}") from err
        size = len(data)
        buffer[:size] = data
        return size

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
            if self._owned is not None:
                self._owned.close()
        super().close()


class S3RangeReader(io.RawIOBase):
    """A seekable file over one S3 object: each read is a ranged GET (Parquet reads its footer,
    then one range per column chunk, never the whole object)."""

    def __init__(self, obj: S3Object) -> None:
        self._obj = obj
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._obj.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        obj = self._obj
        end = min(self._position + len(buffer), obj.size)
        if end <= self._position:
            return 0
        byte_range = f"bytes={self._position}-{end - 1}"
        data = s3_call(
            lambda: obj.client.get_object(Bucket=obj.bucket, Key=obj.key, Range=byte_range)["Body"].read(),
            obj.label,
        )
        size = len(data)
        buffer[:size] = data
        self._position += size
        return size


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``("bucket", "key/or/prefix/")`` from ``s3://bucket/key/or/prefix/``."""
    bucket, _, key = uri[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise DatasetError(f"{uri}: no bucket name; write s3://BUCKET/KEY or s3://BUCKET/PREFIX/")
    return bucket, key


def open_s3(uri: str, client: Any) -> list[S3Object]:
    """The objects a dataset URI names: the object itself, or for a URI ending in ``/`` every data
    part under that prefix in key order (names starting with ``_`` or ``.``, such as ``_SUCCESS``,
    are not data)."""
    bucket, key = parse_s3_uri(uri)
    if key and not key.endswith("/"):
        head = s3_call(lambda: client.head_object(Bucket=bucket, Key=key), uri, missing_hint=key)
        return [S3Object(client, bucket, key, int(head["ContentLength"]), split_name(key)[1])]
    parts = [
        S3Object(client, bucket, item["Key"], int(item["Size"]), split_name(item["Key"])[1])
        for item in _list(client, bucket, key, uri)
        if not PurePosixPath(item["Key"]).name.startswith(("_", "."))
        and not item["Key"].endswith("/")
        and int(item["Size"]) > 0
    ]
    if not parts:
        raise DatasetError(f"no objects under {uri}; check the prefix (it lists keys that start with it)")
    return parts


def _list(client: Any, bucket: str, prefix: str, uri: str) -> Iterator[dict[str, Any]]:
    # ListObjectsV2 returns keys in UTF-8 binary order: the order parts were written in.
    paginator = client.get_paginator("list_objects_v2")
    pages = s3_call(lambda: list(paginator.paginate(Bucket=bucket, Prefix=prefix)), uri)
    for page in pages:
        yield from page.get("Contents", [])


_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})
_DENIED_CODES = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled"})
_REGION_CODES = frozenset(
    {"PermanentRedirect", "301", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
)


def s3_call(call: Callable[[], Any], uri: str, *, missing_hint: str | None = None) -> Any:
    """``call()``, with S3's errors as one line: not found and no access are the caller's to fix
    (exit 2), anything else is an AWS failure (exit 1)."""
    try:
        return call()
    except Exception as err:
        raise _translated(err, f"reading {uri}", missing_hint=missing_hint) from err


def _translated(err: Exception, doing: str, *, missing_hint: str | None = None) -> Exception:
    from botocore.exceptions import BotoCoreError, ClientError

    from batch_runner.aws.errors import aws_error, error_code

    if isinstance(err, DatasetError | AwsError):
        return err
    if isinstance(err, ClientError):
        code = error_code(err)
        where = doing.removeprefix("reading ")
        if code in _MISSING_CODES:
            hint = " (end the URI with / to read the parts under a prefix)" if missing_hint else ""
            return DatasetError(f"dataset not found: {where} ({code}); check the bucket and key{hint}")
        if code in _DENIED_CODES:
            return ConfigurationError(
                f"no permission to read {where} ({code}): allow s3:GetObject and s3:ListBucket on it "
                "for your identity, or use another --profile"
            )
        region = err.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
        if code in _REGION_CODES or region:
            return ConfigurationError(
                f"{where} is in another Region{f' ({region})' if region else ''} than this client: "
                "copy it to a bucket in the run's Region, or submit in that Region (--region)"
            )
        return aws_error(err, doing)
    if isinstance(err, BotoCoreError):
        return aws_error(err, doing)
    return err
