"""The ``Run`` object: one submitted dataset, its manifest, and what can be done with it.

All state lives in the manifest (``batch_runner.jobs.run_state``); methods are thin over the core
functions so later commands (status, wait, results, retry, cancel, cost) add methods here without
keeping anything else in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch_runner.aws.clients import AwsContext
from batch_runner.aws.settings import Overrides, resolve_settings, with_region
from batch_runner.aws.settings import state_dir as resolve_state_dir
from batch_runner.exceptions import RunNotFoundError, UsageError
from batch_runner.jobs.run_state import (
    PLANNED,
    QUEUED,
    SUBMITTED,
    RunManifest,
    ShardState,
    local_manifest_path,
    manifest_key,
    read_local,
    read_remote,
    run_dir,
    run_prefix,
    utc_now,
    validate_run_name,
    write_local,
    write_remote,
)
from batch_runner.jobs.submission import Backoff, SubmitReport, output_uri, submit_queued
from batch_runner.jobs.uploads import Upload, already_uploaded, check_bedrock_key, upload_files
from batch_runner.prepare.plan import ModelQuotas
from batch_runner.prepare.planning import RECORD_INDEX_NAME

if TYPE_CHECKING:
    from batch_runner.jobs.cancelling import CancelReport
    from batch_runner.jobs.costs import RunCost
    from batch_runner.jobs.retrying import RetryReport
    from batch_runner.jobs.run_results import RunResults
    from batch_runner.jobs.tracking import RunStatus


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Run:
    """A run, loaded from its manifest. ``Run.load(name)`` picks one up on any machine."""

    manifest: RunManifest
    state_dir: Path
    aws: AwsContext = field(default_factory=AwsContext)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(
        cls,
        name: str,
        *,
        state_dir: str | Path | None = None,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        stack: str | None = None,
        env: str | None = None,
        input_bucket: str | None = None,
    ) -> Run:
        """Read the manifest from the local state directory, else from the stack's input bucket."""
        validate_run_name(name)
        directory = resolve_state_dir(state_dir)
        aws = AwsContext(region=region, profile=profile, endpoint_url=endpoint_url)
        manifest = read_local(directory, name)
        if manifest is None:
            aws = with_region(aws)
            settings = resolve_settings(aws, Overrides(stack=stack, env=env, input_bucket=input_bucket))
            manifest = read_remote(aws.client("s3"), settings.input_bucket, name)
            if manifest is None:
                raise RunNotFoundError(
                    f"no run {name!r} in {local_manifest_path(directory, name)} or "
                    f"s3://{settings.input_bucket}/{manifest_key(name)}"
                )
            write_local(manifest, directory)
        return cls.attach(manifest, directory, aws)

    @classmethod
    def attach(cls, manifest: RunManifest, directory: Path, aws: AwsContext) -> Run:
        """A Run over ``manifest``, calling AWS in the run's own Region unless told otherwise."""
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

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for shard in self.shards:
            key = shard.job_status if shard.state == SUBMITTED and shard.job_status else shard.state
            counts[key] = counts.get(key, 0) + 1
        return {
            "run": self.name,
            "model_id": self.model_id,
            "records": self.manifest.plan.get("record_count"),
            "shards": len(self.shards),
            "jobs": counts,
            "job_arns": self.job_arns,
            "queued": [s.index for s in self.queued_shards],
            "manifest": str(local_manifest_path(self.state_dir, self.name)),
            "output_uri": self.output_uri,
            # How the requests ask for JSON (--output-schema), or None.
            "structured_output": self.manifest.plan.get("structured_output"),
        }

    def __repr__(self) -> str:
        jobs = self.summary()["jobs"]
        return f"Run({self.name!r}, model={self.model_id!r}, shards={len(self.shards)}, jobs={jobs})"

    # -- doing things ------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.aws.client(service)
        return self._clients[service]

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

    # -- tracking, results and costs (thin over the core modules, imported late: they import Run) --

    def status(self) -> RunStatus:
        """Refresh every job's status from Bedrock, submit queued shards if slots are free."""
        from batch_runner.jobs.tracking import refresh

        return refresh(self)

    def wait(
        self,
        timeout: float | None = None,
        poll: float = 30.0,
        on_progress: Callable[[RunStatus], None] | None = None,
    ) -> RunStatus:
        """Poll until every job is terminal (submitting queued shards meanwhile).

        Returns the final status when every job Completed; raises ``JobsUnsuccessfulError`` (each
        job and the service's reason) when one did not, ``WaitTimeoutError`` after ``timeout`` s.
        ``on_progress`` gets each poll's status, e.g. ``ProgressDisplay().update``.
        """
        from batch_runner.jobs.waiting import Pacing, check_succeeded, wait_for_run

        status = wait_for_run(self, Pacing(poll=poll, timeout=timeout), on_progress=on_progress)
        return check_succeeded(status)

    def results(self, include_input: bool = False) -> RunResults:
        """The results, one record per input row: iterate for dicts, or ``.to_pandas()``,
        or ``.save("out.parquet")`` (returns the reconciliation). A run with an output schema has
        a key per top-level property, and answers that fail the schema are failed (``schema``)."""
        from batch_runner.jobs.run_results import RunResults

        return RunResults(self, include_input=include_input)

    def to_pandas(self, include_input: bool = False) -> Any:
        """Shortcut for ``results(include_input).to_pandas()``."""
        return self.results(include_input).to_pandas()

    def cancel(self) -> CancelReport:
        """Stop every live job and dequeue shards without a job; returns what was done."""
        from batch_runner.jobs.cancelling import cancel_run

        return cancel_run(self)

    def cost(self) -> RunCost:
        """Actual tokens and indicative dollars from the jobs' ``manifest.json.out`` files."""
        from batch_runner.jobs.costs import run_cost

        return run_cost(self)

    def retry(
        self, *, on_demand: bool = False, failed_schema: bool = False, backoff: Backoff | None = None
    ) -> RetryReport:
        """Send the failed and missing records of finished jobs again, as child jobs of this run
        (answers that failed the output schema count as failed; ``failed_schema`` sends only
        them); below the model's minimum records per job, ``on_demand`` runs them through
        bedrock-runtime."""
        from batch_runner.jobs.retrying import retry_run

        return retry_run(self, on_demand=on_demand, failed_schema=failed_schema, backoff=backoff)


def shard_key(run: str, index: int) -> str:
    return check_bedrock_key(f"{run_prefix(run)}input/shard-{index:05d}.jsonl")


def record_index_key(run: str) -> str:
    return f"{run_prefix(run)}{RECORD_INDEX_NAME}"


def quotas_dict(quotas: ModelQuotas, source: str, detail: str) -> dict[str, Any]:
    values: Mapping[str, Any] = {f: getattr(quotas, f) for f in quotas.__dataclass_fields__}
    return {**values, "source": source, "detail": detail}
