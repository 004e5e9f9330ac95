"""``results`` on an orchestrated run: fetch what the stack collected instead of joining again.

The collection is used when it is the run's current one: the registry says the run finished and
names a results location (the scheduler clears it when a retry starts a new round), and it fits
what was asked: the same format and no ``--include-input`` (the collector writes the result
columns only). A single file is streamed to the destination as it is; parts are joined into one
Parquet file a part at a time. Anything else is collected here, as for a local run.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.aws.errors import aws_error
from batch_runner.jobs.run_context import RunContext
from batch_runner.orchestration.collector import RECONCILIATION_NAME
from batch_runner.orchestration.registry import FINISHED
from batch_runner.orchestration.requests import is_orchestrated, registry_entry
from batch_runner.results.sinks import S3_SCHEME, Destination, destination, open_sink

COPY_CHUNK = 8 << 20


@dataclass(frozen=True)
class Collection:
    """The stack's collection of a run: a file, or a folder of Parquet parts (``uri`` ends in /)."""

    uri: str
    summary: str

    @property
    def is_parts(self) -> bool:
        return self.uri.endswith("/")

    @property
    def file_format(self) -> str:
        return "parquet" if self.is_parts else self.uri.rpartition(".")[2]

    @property
    def address(self) -> tuple[str, str]:
        bucket, _, key = self.uri[len(S3_SCHEME) :].partition("/")
        return bucket, key

    @property
    def reconciliation_key(self) -> str:
        key = self.address[1]
        folder = key if self.is_parts else key.rpartition("/")[0] + "/"
        return folder + RECONCILIATION_NAME


@dataclass(frozen=True)
class Fetched:
    """What ``results`` reports for a fetched collection: the collector's reconciliation."""

    collection: Collection
    reconciliation: dict[str, Any]

    def summary(self) -> str:
        return self.collection.summary


def current_collection(run: RunContext) -> Collection | None:
    """The stack's collection of ``run`` if it is the current one."""
    entry = registry_entry(run) if is_orchestrated(run) else None
    if entry is None or entry.state != FINISHED or not entry.results_uri:
        return None
    return Collection(entry.results_uri, entry.results_summary)


def fetch_collection(
    run: RunContext, collection: Collection, out: str | Destination, *, file_format: str | None = None
) -> Fetched | None:
    """Write ``collection`` to ``out``; None when it does not fit (another format was asked)."""
    dest = destination(out, file_format)
    if dest.file_format != collection.file_format:
        return None
    s3 = run.client("s3")
    bucket, key = collection.address
    try:
        with open_sink(dest, lambda: s3) as sink:
            if collection.is_parts:
                _join_parts(s3, bucket, key, sink, run)
            else:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"]
                for chunk in iter(lambda: body.read(COPY_CHUNK), b""):
                    sink.write(chunk)
        stored = s3.get_object(Bucket=bucket, Key=collection.reconciliation_key)["Body"].read()
    except (ClientError, BotoCoreError) as err:
        raise aws_error(err, f"fetching the collected results {collection.uri}") from err
    return Fetched(collection, json.loads(stored))


def _join_parts(s3: Any, bucket: str, prefix: str, sink: Any, run: RunContext) -> None:
    import pyarrow.parquet as pq

    from batch_runner.orchestration.collector import PART_PREFIX

    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}{PART_PREFIX}")
    keys = sorted(item["Key"] for page in pages for item in page.get("Contents", []))
    run.directory.mkdir(parents=True, exist_ok=True)
    writer = None
    with tempfile.NamedTemporaryFile(dir=run.directory, suffix=".parquet") as part:
        for key in keys:
            part.seek(0)
            part.truncate()
            shutil.copyfileobj(s3.get_object(Bucket=bucket, Key=key)["Body"], part, COPY_CHUNK)
            part.flush()
            source = pq.ParquetFile(part.name)
            if writer is None:
                writer = pq.ParquetWriter(sink, source.schema_arrow)
            for batch in source.iter_batches():
                writer.write_batch(batch)
        if writer is not None:
            writer.close()
