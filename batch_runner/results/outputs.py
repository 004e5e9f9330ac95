"""Where a job's output lives and how its objects are read: listed, never guessed, and streamed.

Bedrock writes ``<output s3Uri>/<jobId>/<input file>.out`` per input file plus
``<output s3Uri>/<jobId>/manifest.json.out``. The layout below ``<jobId>/`` is not documented, so
every ``*.out`` object under that prefix except the manifest is read as records.

Sources are pluggable: ``S3OutputSource`` for S3 (and the emulator), ``LocalOutputSource`` for a
directory laid out as ``<root>/<bucket>/<key>`` (benchmarks, offline copies). Both also hand out
lines a chunk at a time (``iter_line_batches``), and ``read_ahead`` downloads objects on a thread
while the caller parses what has arrived.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.aws.errors import aws_error, error_code
from batch_runner.exceptions import AwsError, InternalError, UsageError

MANIFEST_NAME = "manifest.json.out"
CHUNK_BYTES = 1 << 20
# Chunks read ahead of the parser: bounds the memory of a download that outpaces parsing.
READ_AHEAD_CHUNKS = 8


@dataclass(frozen=True)
class JobOutputRef:
    """One job whose output should be collected, as GetModelInvocationJob describes it."""

    job_arn: str
    output_s3_uri: str  # outputDataConfig.s3OutputDataConfig.s3Uri
    status: str | None = None

    @property
    def job_id(self) -> str:
        return self.job_arn.rsplit("/", 1)[-1]

    def output_prefix(self) -> tuple[str, str]:
        """(bucket, key prefix) under which this job's output objects live."""
        bucket, prefix = parse_s3_uri(self.output_s3_uri)
        prefix = prefix.rstrip("/")
        return bucket, f"{prefix}/{self.job_id}/" if prefix else f"{self.job_id}/"


@dataclass(frozen=True)
class OutputObject:
    key: str
    size: int


@dataclass(frozen=True)
class JobObjects:
    record_objects: tuple[OutputObject, ...]
    manifest: OutputObject | None


class OutputSource(Protocol):
    def list_objects(self, bucket: str, prefix: str) -> Iterator[OutputObject]: ...

    def iter_lines(self, bucket: str, key: str) -> Iterator[bytes]:
        """Every line of the object, without its newline, in constant memory."""
        ...


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
        raise UsageError(f"{uri!r} is not an S3 URI; expected s3://bucket/prefix")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def list_job_objects(source: OutputSource, job: JobOutputRef) -> JobObjects:
    bucket, prefix = job.output_prefix()
    records: list[OutputObject] = []
    manifest = None
    for obj in source.list_objects(bucket, prefix):
        name = obj.key.rsplit("/", 1)[-1]
        if name == MANIFEST_NAME:
            manifest = obj
        elif name.endswith(".out"):
            records.append(obj)
    return JobObjects(tuple(sorted(records, key=lambda o: o.key)), manifest)


def forkable(source: OutputSource) -> bool:
    """Whether a forked worker process can read ``source`` (``worker_source``)."""
    return bool(getattr(source, "forkable", False))


def worker_source(source: OutputSource) -> OutputSource:
    """The source for a forked worker process to read from: its own connections, never the
    parent's (their sockets are shared after a fork)."""
    in_worker: Callable[[], OutputSource] = source.in_worker  # type: ignore[attr-defined]
    return in_worker()


def file_lines(handle: IO[bytes]) -> Iterator[bytes]:
    """Lines of an open binary file, without newlines (file iteration is the fastest way)."""
    for line in handle:
        yield line[:-1] if line.endswith(b"\n") else line


def line_batches(source: OutputSource, bucket: str, key: str) -> Iterator[list[bytes]]:
    """The object's lines a chunk at a time, from any source (one line a batch if it has no
    ``iter_line_batches``)."""
    batches = getattr(source, "iter_line_batches", None)
    if batches is not None:
        yield from batches(bucket, key)
    else:
        for line in source.iter_lines(bucket, key):
            yield [line]


def read_ahead(
    source: OutputSource, objects: Sequence[tuple[str, str]], depth: int = READ_AHEAD_CHUNKS
) -> Generator[Iterator[list[bytes]], None, None]:
    """The line batches of each ``(bucket, key)``, in order, downloaded on a thread.

    Network reads release the GIL, so downloads overlap with the caller's parsing; at most
    ``depth`` batches wait, so memory stays bounded. Read each object's batches before asking for
    the next object. A download error is raised where its object is read; closing this generator
    stops the thread at its next batch.
    """
    handoff: queue.Queue[list[bytes] | BaseException | None] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: list[bytes] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def download() -> None:
        try:
            for bucket, key in objects:
                for batch in line_batches(source, bucket, key):
                    if not put(batch):
                        return
                if not put(None):  # the end of this object
                    return
        except BaseException as err:  # handed to the consumer, which raises it
            put(err)

    def batches() -> Iterator[list[bytes]]:
        while True:
            item = handoff.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    thread = threading.Thread(target=download, name="results-read-ahead", daemon=True)
    thread.start()
    try:
        for _ in objects:
            yield batches()
    finally:
        stop.set()
        # Bounded: a read stalled on the network must not hold up Ctrl-C (the thread is a daemon
        # and quits at its next batch).
        thread.join(timeout=5)


def split_chunks(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """Lines (without newlines) a chunk at a time; a last line without newline still counts."""
    pending = b""
    for chunk in chunks:
        lines = chunk.split(b"\n")
        if pending:
            lines[0] = pending + lines[0]  # not pending + chunk: that would copy the whole chunk
        pending = lines.pop()
        if lines:
            yield lines
    if pending:
        yield [pending]


class LocalOutputSource:
    """Objects as files: ``s3://bucket/key`` is ``<root>/bucket/key``."""

    forkable = True  # files: nothing is shared with a forked worker

    def __init__(self, root: Path) -> None:
        self._root = root

    def in_worker(self) -> LocalOutputSource:
        return self

    def list_objects(self, bucket: str, prefix: str) -> Iterator[OutputObject]:
        base = self._root / bucket
        start = base / prefix if prefix.endswith("/") else (base / prefix).parent
        if not start.is_dir():
            return
        for path in sorted(start.rglob("*")):
            key = path.relative_to(base).as_posix()
            if path.is_file() and key.startswith(prefix):
                yield OutputObject(key, path.stat().st_size)

    def iter_lines(self, bucket: str, key: str) -> Iterator[bytes]:
        with open(self._root / bucket / key, "rb") as handle:
            yield from file_lines(handle)

    def iter_line_batches(self, bucket: str, key: str) -> Iterator[list[bytes]]:
        with open(self._root / bucket / key, "rb") as handle:
            yield from split_chunks(iter(lambda: handle.read(CHUNK_BYTES), b""))


class S3OutputSource:
    """Objects in S3. A download that breaks mid-stream resumes with ``Range`` from the last
    complete line (pinned to the object's ETag), so no line is lost or read twice.

    ``new_client`` makes another client like ``s3_client``: with it, worker processes can read
    objects, each through a client of its own (``in_worker``)."""

    def __init__(
        self,
        s3_client: Any,
        *,
        new_client: Callable[[], Any] | None = None,
        max_attempts: int = 5,
        page_size: int = 1000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._s3 = s3_client
        self._new_client = new_client
        self._max_attempts = max_attempts
        self._page_size = page_size
        self._sleep = sleep

    @property
    def forkable(self) -> bool:
        return self._new_client is not None

    def in_worker(self) -> S3OutputSource:
        if self._new_client is None:
            raise InternalError("this S3 source cannot be read from worker processes (no new_client)")
        return S3OutputSource(
            self._new_client(), max_attempts=self._max_attempts, page_size=self._page_size, sleep=self._sleep
        )

    def list_objects(self, bucket: str, prefix: str) -> Iterator[OutputObject]:
        paginator = self._s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(
                Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": self._page_size}
            ):
                for item in page.get("Contents", []):
                    yield OutputObject(item["Key"], int(item.get("Size", 0)))
        except ClientError as err:
            raise aws_error(err, f"listing s3://{bucket}/{prefix}") from err

    def iter_lines(self, bucket: str, key: str) -> Iterator[bytes]:
        for batch in self.iter_line_batches(bucket, key):
            yield from batch

    def iter_line_batches(self, bucket: str, key: str) -> Iterator[list[bytes]]:
        offset = 0  # bytes of complete lines already handed out
        etag: str | None = None
        failures = 0
        while True:
            pending = b""
            try:
                body, etag = self._open(bucket, key, offset, etag)
                if body is None:
                    return
                for chunk in body.iter_chunks(CHUNK_BYTES):
                    lines = chunk.split(b"\n")
                    lines[0] = pending + lines[0]
                    pending = lines.pop()
                    if lines:
                        # Counted before the batch is handed out: a break while the caller holds
                        # it resumes after these lines, never inside them.
                        offset += sum(map(len, lines)) + len(lines)
                        failures = 0
                        yield lines
            except (BotoCoreError, OSError) as err:
                failures += 1
                if failures >= self._max_attempts:
                    raise AwsError(
                        f"reading s3://{bucket}/{key} failed {failures} times at byte {offset}: {err}"
                    ) from err
                self._sleep(min(0.2 * 2**failures, 5.0))
                continue
            if pending:
                yield [pending]
            return

    def _open(self, bucket: str, key: str, offset: int, etag: str | None) -> tuple[Any, str | None]:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if offset:
            kwargs["Range"] = f"bytes={offset}-"
        if etag:
            kwargs["IfMatch"] = etag
        try:
            response = self._s3.get_object(**kwargs)
        except ClientError as err:
            if offset and error_code(err) == "InvalidRange":
                return None, etag  # the break came exactly at the end of the object
            raise aws_error(err, f"reading s3://{bucket}/{key}") from err
        return response["Body"], response.get("ETag", etag)
