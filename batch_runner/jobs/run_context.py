"""A run's manifest plus where it lives (state directory, AWS context): what every operation takes.

The operations in this package (tracking, waiting, cancelling, retrying, costs, results) take a
``RunContext``; the ``Run`` that users call (``batch_runner.runs``) is a ``RunContext`` with those
operations as methods, so nothing down here imports the facade.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from batch_runner.aws.clients import AwsContext
from batch_runner.catalog.quotas import ModelQuotas
from batch_runner.exceptions import UsageError
from batch_runner.jobs.run_state import (
    PLANNED,
    QUEUED,
    RunManifest,
    ShardState,
    run_dir,
    utc_now,
    write_local,
    write_remote,
)
from batch_runner.jobs.submission import Backoff, SubmitReport, output_uri, submit_queued
from batch_runner.jobs.uploads import Upload, already_uploaded, upload_files


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class RunContext:
    """One run's manifest, its local state directory and the AWS context its calls use."""

    manifest: RunManifest
    state_dir: Path
    aws: AwsContext = field(default_factory=AwsContext)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # Whether this context may write an orchestrated run's manifest: only the stack's scheduler
    # (batch_runner.orchestration.cloud_run) may; anywhere else such a run is read-only.
    writes_orchestrated_runs: ClassVar[bool] = False

    @classmethod
    def attach(cls, manifest: RunManifest, directory: Path, aws: AwsContext) -> Self:
        """An instance over ``manifest``, calling AWS in the run's own Region unless told otherwise."""
        region = aws.region or manifest.settings.get("region")
        return cls(manifest, directory, AwsContext(region, aws.profile, aws.endpoint_url))

    # -- what the manifest says -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.manifest.run

    @property
    def model_id(self) -> str:
        return str(self.manifest.plan["model_id"])

    @property
    def shards(self) -> list[ShardState]:
        return self.manifest.shards

    @property
    def job_arns(self) -> list[str]:
        return [s.job_arn for s in self.shards if s.job_arn]

    @property
    def queued_shards(self) -> list[ShardState]:
        return [s for s in self.shards if s.state in (PLANNED, QUEUED)]

    @property
    def quotas(self) -> ModelQuotas:
        names = ModelQuotas.__dataclass_fields__
        return ModelQuotas(**{k: v for k, v in self.manifest.quotas.items() if k in names})

    @property
    def output_uri(self) -> str:
        return output_uri(str(self.manifest.settings["output_bucket"]), self.name)

    @property
    def directory(self) -> Path:
        return run_dir(self.state_dir, self.name)

    # -- the calls every operation shares ----------------------------------------------------------

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.aws.client(service)
        return self._clients[service]

    def new_client(self, service: str) -> Callable[[], Any] | None:
        """A way to make another client like ``client(service)`` (a worker process's own), or
        None when the run's clients were handed in and cannot be made again."""
        return lambda: self.aws.client(service)

    def save(self) -> None:
        """Write the manifest locally and to the input bucket (both atomic)."""
        self.manifest.updated_at = utc_now()
        write_local(self.manifest, self.state_dir)
        write_remote(self.manifest, self.client("s3"), str(self.manifest.settings["input_bucket"]))

    def upload_pending(self) -> list[int]:
        """Upload shards (and the record index) not uploaded yet; returns the shard indexes sent.

        Files already in S3 with the same hash count as uploaded, even when this machine does
        not have them (the run was started elsewhere and crashed before recording the upload).
        """
        s3, bucket = self.client("s3"), str(self.manifest.settings["input_bucket"])
        pending = [s for s in self.shards if s.state == PLANNED]
        index = self.manifest.record_index
        uploads = [Upload(Path(s.local_path), s.s3_key, s.sha256) for s in pending]
        if not index.get("uploaded"):
            uploads.append(Upload(Path(index["local_path"]), index["s3_key"], index["sha256"]))
        missing = [u for u in uploads if not u.path.is_file() and not already_uploaded(s3, bucket, u)]
        if missing:
            raise UsageError(
                f"run {self.name}: {len(missing)} file(s) to upload are not on this machine "
                f"(e.g. {missing[0].path}): re-run `submit` with the same dataset and --run {self.name}"
            )
        upload_files(s3, bucket, [u for u in uploads if u.path.is_file()])
        for shard in pending:
            shard.state = QUEUED
        index["uploaded"] = True
        if uploads:
            self.save()
        return [s.index for s in pending]

    def submit_queued(self, *, backoff: Backoff | None = None) -> SubmitReport:
        """Create jobs for queued shards as far as the concurrency quota allows (never twice)."""
        return submit_queued(self.manifest, self.client("bedrock"), save=self.save, backoff=backoff)

    def resume(self, *, backoff: Backoff | None = None) -> SubmitReport:
        """Continue wherever the run stopped: upload what is missing, then submit what is queued."""
        self.upload_pending()
        return self.submit_queued(backoff=backoff)
