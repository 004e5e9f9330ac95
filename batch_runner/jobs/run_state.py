"""The run manifest: everything needed to pick a run up on any machine, as one JSON document.

It is rewritten after every step, atomically (a temporary file, then ``os.replace``), locally under
``<state dir>/runs/<run>/manifest.json`` and in the input bucket at ``runs/<run>/manifest.json``
(the runner may write there; the output bucket is Bedrock's). A reader never sees half a file.

Shard states move ``planned`` (file written locally) -> ``queued`` (uploaded, waiting for a job
slot) -> ``submitted`` (job created; ``job_arn`` set). ``job_status`` is the last Bedrock status
seen; later commands refresh it.

``kind`` tells a shard's origin: ``batch`` (planned by submit), ``retry`` (a child batch job of the
failed and missing records of earlier ones; ``attempt`` counts retries, ``parents`` names the shards
the records came from) or ``on-demand`` (records processed with bedrock-runtime at full price; its
``job_arn`` is ``on-demand:<run>/<job id>`` and its output sits where a batch job's would, under
``<output uri>/<job id>/``). Manifests without these fields load as ``batch`` shards.
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.aws.errors import aws_error, error_code
from batch_runner.exceptions import AwsError, RunNotFoundError, UsageError
from batch_runner.jobs.uploads import check_bedrock_key
from batch_runner.prepare.plan import RECORD_INDEX_NAME

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"

PLANNED = "planned"
QUEUED = "queued"
SUBMITTED = "submitted"

BATCH = "batch"
RETRY = "retry"
ON_DEMAND = "on-demand"

# Run names become S3 key segments and job-name prefixes: letters, digits and inner hyphens only,
# short enough that "<run>-s00001" stays within the 63-character job-name limit.
MAX_RUN_NAME = 40
_RUN_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?")


def validate_run_name(name: str) -> str:
    if len(name) > MAX_RUN_NAME or not _RUN_NAME.fullmatch(name):
        raise UsageError(
            f"invalid run name {name!r}: use 1-{MAX_RUN_NAME} letters, digits and inner hyphens, "
            "e.g. --run reviews-2026-01"
        )
    return name


def default_run_name(stem: str, now: datetime | None = None) -> str:
    """``<dataset stem>-<UTC timestamp>``, squeezed into the run-name alphabet."""
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", stem).strip("-")[:24].strip("-") or "run"
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{slug}-{stamp}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_prefix(run: str) -> str:
    """S3 prefix of everything a run stores: ``runs/<run>/``."""
    return f"runs/{run}/"


def shard_key(run: str, index: int, sha256: str) -> str:
    """Content-addressed: a shard of other data can never take this key, so a job never reads
    requests that another submit wrote under the same run name."""
    return check_bedrock_key(f"{run_prefix(run)}input/shard-{index:05d}-{sha256[:16]}.jsonl")


def record_index_key(run: str) -> str:
    return f"{run_prefix(run)}{RECORD_INDEX_NAME}"


def manifest_key(run: str) -> str:
    return f"{run_prefix(run)}{MANIFEST_NAME}"


@dataclass
class ShardState:
    index: int
    local_path: str
    s3_key: str
    sha256: str
    record_count: int
    byte_size: int
    client_token: str
    job_name: str
    state: str = PLANNED
    job_arn: str | None = None
    job_status: str | None = None
    message: str | None = None  # last error or service message worth showing
    submitted_at: str | None = None
    kind: str = BATCH
    attempt: int = 0
    parents: list[int] = field(default_factory=list)
    # A finished job's record counters (GetModelInvocationJob's processed/success/errorRecordCount),
    # kept because a terminal job never changes: later status passes need not ask again.
    final_counts: dict[str, int] | None = None

    @property
    def job_id(self) -> str | None:
        return self.job_arn.rsplit("/", 1)[-1] if self.job_arn else None

    @property
    def is_bedrock_job(self) -> bool:
        """Whether a Bedrock batch job backs this shard (on-demand shards have none to poll or stop)."""
        return self.kind != ON_DEMAND


@dataclass
class RunManifest:
    run: str
    created_at: str
    tool_version: str
    dataset: dict[str, Any]  # source (path or kind) and fingerprint
    options: dict[str, Any]  # SubmitOptions as plain JSON
    settings: dict[str, Any]  # Settings.to_dict(): region, stack, buckets, role, key
    quotas: dict[str, Any]  # ModelQuotas values plus "source"
    plan: dict[str, Any]  # model, invocation type, records, bytes, estimate
    record_index: dict[str, Any]  # local_path, s3_key, sha256, uploaded
    shards: list[ShardState] = field(default_factory=list)
    updated_at: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def fingerprint(self) -> str:
        return str(self.dataset.get("fingerprint", ""))

    def to_bytes(self) -> bytes:
        """Indented JSON, keys in field and insertion order, not sorted: the output schema's property
        order is the order of the result columns. orjson serializes the dataclasses as they are,
        about ten times faster than ``json.dumps(asdict(...))`` at 5,000 shards (benchmarks/README.md)."""
        return orjson.dumps(
            self, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE
        )

    def to_json(self) -> str:
        return self.to_bytes().decode("utf-8")

    @classmethod
    def from_json(cls, text: str | bytes, *, origin: str) -> RunManifest:
        try:
            data = orjson.loads(text)
            shards = [ShardState(**_known(ShardState, s)) for s in data.pop("shards", [])]
            manifest = cls(**_known(cls, data), shards=shards)
        except (ValueError, TypeError) as err:
            raise UsageError(f"run manifest {origin} is damaged ({err}): remove it or restore it") from err
        if manifest.format_version > FORMAT_VERSION:
            raise UsageError(
                f"run manifest {origin} was written by a newer batch_runner (format "
                f"{manifest.format_version}): upgrade batch_runner"
            )
        return manifest


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Drop fields this version does not know, so newer manifests with extra fields still load."""
    names = _field_names(cls)
    return {k: v for k, v in data.items() if k in names}


@cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


def run_dir(state_dir: Path, run: str) -> Path:
    return state_dir / "runs" / run


def local_manifest_path(state_dir: Path, run: str) -> Path:
    return run_dir(state_dir, run) / MANIFEST_NAME


def write_local(manifest: RunManifest, state_dir: Path) -> Path:
    """Write the manifest atomically: readers see the old file or the new one, never a mix."""
    path = local_manifest_path(state_dir, manifest.run)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(manifest.to_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_local(state_dir: Path, run: str) -> RunManifest | None:
    path = local_manifest_path(state_dir, run)
    if not path.is_file():
        return None
    return RunManifest.from_json(path.read_bytes(), origin=str(path))


def require_local(state_dir: Path, run: str) -> RunManifest:
    manifest = read_local(state_dir, run)
    if manifest is None:
        raise RunNotFoundError(f"no run {run!r} under {run_dir(state_dir, run)}")
    return manifest


GZIP_MAGIC = b"\x1f\x8b"  # JSON never starts with these bytes


class StaleManifestError(AwsError):
    """A conditional write found the manifest changed since it was read (another writer won)."""


def write_remote(
    manifest: RunManifest, s3: Any, bucket: str, *, if_match: str | None = None, compress: bool = False
) -> str:
    """Copy the manifest to S3 (a single PUT, so S3 readers also never see half a file).

    With ``if_match`` (the ETag read with the manifest) the write succeeds only if nobody wrote in
    between, else ``StaleManifestError``; returns the new ETag for the next conditional write.
    ``compress`` stores it gzipped (``Content-Encoding: gzip``; readers take either form): the
    orchestration scheduler rewrites a run's whole manifest in passes where jobs ended, and at
    5,000 shards that is 3.9 MB of JSON, 0.67 MB gzipped (benchmarks/README.md).
    """
    key = manifest_key(manifest.run)
    extra = {"IfMatch": if_match} if if_match else {}
    body = manifest.to_bytes()
    if compress:
        # Level 1: most of the gain (the keys repeat per shard) for a fraction of level 6's time.
        extra["ContentEncoding"] = "gzip"
        body = gzip.compress(body, compresslevel=1, mtime=0)
    try:
        response = s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            **extra,
        )
    except ClientError as err:
        if error_code(err) == "PreconditionFailed":
            raise StaleManifestError(
                f"s3://{bucket}/{key} changed since it was read", code="PreconditionFailed"
            ) from err
        raise aws_error(err, f"saving the manifest to s3://{bucket}/{key}") from err
    except BotoCoreError as err:
        raise aws_error(err, f"saving the manifest to s3://{bucket}/{key}") from err
    return str(response.get("ETag", ""))


# S3 answers a conditional write that lost with 412 PreconditionFailed, or with 409
# ConditionalRequestConflict while a concurrent write of the key is still in flight (S3 user guide,
# "Add preconditions to S3 operations with conditional requests").
_CLAIM_LOST = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})


def claim_remote(manifest: RunManifest, s3: Any, bucket: str) -> None:
    """Create the run's manifest in S3 only if no run of that name exists yet (``If-None-Match: *``):
    of two submits racing for one run name exactly one wins; the other gets a UsageError before it
    has uploaded anything."""
    key = manifest_key(manifest.run)
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=manifest.to_bytes(),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except ClientError as err:
        if error_code(err) in _CLAIM_LOST:
            raise UsageError(
                f"run {manifest.run} was started by another submit a moment ago (s3://{bucket}/{key} "
                "exists): nothing was uploaded; choose another --run, or `resume` that run"
            ) from err
        raise aws_error(err, f"creating s3://{bucket}/{key}") from err
    except BotoCoreError as err:
        raise aws_error(err, f"creating s3://{bucket}/{key}") from err


def read_remote(s3: Any, bucket: str, run: str) -> RunManifest | None:
    found = read_remote_tagged(s3, bucket, run)
    return found[0] if found else None


def read_remote_tagged(s3: Any, bucket: str, run: str) -> tuple[RunManifest, str] | None:
    """The manifest in S3 and its ETag (for a later ``write_remote(..., if_match=etag)``)."""
    key = manifest_key(run)
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        body = response["Body"].read()
    except ClientError as err:
        if error_code(err) in {"NoSuchKey", "404", "NotFound"}:
            return None
        raise aws_error(err, f"reading s3://{bucket}/{key}") from err
    except BotoCoreError as err:
        raise aws_error(err, f"reading s3://{bucket}/{key}") from err
    if body[:2] == GZIP_MAGIC:  # written by the orchestration scheduler (``compress``)
        body = gzip.decompress(body)
    manifest = RunManifest.from_json(body, origin=f"s3://{bucket}/{key}")
    return manifest, str(response.get("ETag", ""))
