"""Every run there is: the manifests under ``runs/*/manifest.json`` in the input bucket, plus runs
only this machine knows (state directory). No job is queried: statuses are as last recorded by
``submit``/``status``/``wait``, and the cost is the estimate made at submit. An orchestrated run's
manifest is read from the bucket even when this machine has a copy: the stack writes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.aws.errors import aws_error
from batch_runner.exceptions import UsageError
from batch_runner.jobs.run_context import RunContext
from batch_runner.jobs.run_state import MANIFEST_NAME, RunManifest, read_local, read_remote
from batch_runner.jobs.tracking import snapshot


@dataclass(frozen=True)
class RunListing:
    run: str
    created_at: str
    updated_at: str
    model_id: str
    state: str  # as RunStatus.state, from the recorded job statuses
    records: int
    succeeded: int  # by each record's newest attempt, retries included (as recorded, like state)
    failed: int
    shards: int
    counts: dict[str, int]
    estimated_batch_usd: float | None
    location: str  # "s3", "local" or "s3+local"
    problem: str | None = None  # a manifest that could not be read
    orchestrated: bool = False  # driven by the stack's scheduler
    # Its registry item as `status --json` shows it (filled by ``orchestration.stack_view``).
    orchestration: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_runs(s3: Any, bucket: str, state_dir: Path) -> list[RunListing]:
    """Runs in ``bucket`` and ``state_dir``, newest first."""
    remote = _remote_names(s3, bucket)
    local = {p.parent.name for p in (state_dir / "runs").glob(f"*/{MANIFEST_NAME}")}
    listings = []
    for name in sorted(remote | local):
        where = "s3+local" if name in remote and name in local else ("s3" if name in remote else "local")
        try:
            manifest = read_local(state_dir, name) if name in local else read_remote(s3, bucket, name)
            if manifest is not None and name in local and name in remote and _orchestrated(manifest):
                manifest = read_remote(s3, bucket, name) or manifest
        except UsageError as err:
            listings.append(RunListing(name, "", "", "", "unreadable", 0, 0, 0, 0, {}, None, where, str(err)))
            continue
        if manifest is not None:
            listings.append(_listing(manifest, state_dir, where))
    return sorted(listings, key=lambda r: r.created_at, reverse=True)


def _orchestrated(manifest: RunManifest) -> bool:
    return bool(manifest.settings.get("orchestrated"))


def _remote_names(s3: Any, bucket: str) -> set[str]:
    names: set[str] = set()
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="runs/", Delimiter="/")
        for page in pages:
            for prefix in page.get("CommonPrefixes", []):
                names.add(str(prefix["Prefix"]).removeprefix("runs/").rstrip("/"))
    except (ClientError, BotoCoreError) as err:
        raise aws_error(err, f"listing runs in s3://{bucket}/runs/") from err
    return names


def _listing(manifest: RunManifest, state_dir: Path, where: str) -> RunListing:
    status = snapshot(RunContext(manifest, state_dir))
    estimate = manifest.plan.get("estimate") or {}
    return RunListing(
        run=manifest.run,
        created_at=manifest.created_at,
        updated_at=manifest.updated_at,
        model_id=status.model_id,
        state=status.state,
        records=int(manifest.plan.get("record_count") or 0),
        succeeded=status.succeeded,
        failed=status.failed,
        shards=len(manifest.shards),
        counts=status.counts(),
        estimated_batch_usd=estimate.get("batch_usd"),
        location=where,
        orchestrated=_orchestrated(manifest),
    )
