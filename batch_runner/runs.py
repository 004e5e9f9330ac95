"""The ``Run`` object: one submitted dataset, its manifest, and what can be done with it.

All state lives in the manifest (``batch_runner.jobs.run_state``); ``Run`` is a
``jobs.run_context.RunContext`` whose methods call the operations in ``batch_runner.jobs``
(status, wait, results, retry, cancel, cost), which take the context and never import this facade.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch_runner.aws.clients import AwsContext
from batch_runner.aws.settings import Overrides, resolve_settings, with_region
from batch_runner.aws.settings import state_dir as resolve_state_dir
from batch_runner.display import html_table
from batch_runner.exceptions import RunNotFoundError
from batch_runner.jobs.cancelling import CancelReport, cancel_run
from batch_runner.jobs.costs import RunCost, run_cost
from batch_runner.jobs.on_demand_shards import run_on_demand
from batch_runner.jobs.pacing import Pacing
from batch_runner.jobs.retrying import REQUESTED, RetryReport, retry_run
from batch_runner.jobs.run_context import RunContext
from batch_runner.jobs.run_results import RunResults
from batch_runner.jobs.run_state import (
    SUBMITTED,
    local_manifest_path,
    manifest_key,
    read_local,
    read_remote,
    validate_run_name,
    write_local,
)
from batch_runner.jobs.submission import Backoff, SubmitReport
from batch_runner.jobs.tracking import RunStatus, refresh
from batch_runner.jobs.waiting import check_succeeded, wait_for_run
from batch_runner.orchestration.requests import is_orchestrated, request_cancel, request_retry
from batch_runner.orchestration.stack_view import with_view
from batch_runner.progress import TqdmProgress

if TYPE_CHECKING:
    from batch_runner.orchestration.collected import Collection, Fetched


class Run(RunContext):
    """A run, loaded from its manifest. ``Run.load(name)`` picks one up on any machine."""

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

    def _repr_html_(self) -> str:
        """Jupyter's view: the run as last recorded (no AWS call; ``status()`` refreshes it)."""
        summary = self.summary()
        rows = [
            ("model", self.model_id),
            ("records", f"{summary['records']:,} in {summary['shards']} shard(s)"),
            ("jobs", ", ".join(f"{n} {label}" for label, n in sorted(summary["jobs"].items()))),
        ]
        if summary["queued"]:
            rows.append(("queued", f"{len(summary['queued'])} shard(s) wait for a job slot"))
        rows += [("output", str(summary["output_uri"])), ("manifest", str(summary["manifest"]))]
        return html_table(f"Run {self.name}", rows)

    # -- the operations, over the context ------------------------------------------------------

    def resume(self, *, backoff: Backoff | None = None) -> SubmitReport:
        """Continue wherever the run stopped: upload what is missing, submit what is queued, then
        send the records of on-demand shards (below the per-job minimum) through the runtime API."""
        report = super().resume(backoff=backoff)
        run_on_demand(self, backoff=backoff)
        return report

    def status(self) -> RunStatus:
        """Refresh every job's status from Bedrock, submit queued shards if slots are free.

        An orchestrated run is only read: the manifest the stack wrote, plus its registry item as
        ``orchestration`` (state, ``waiting_reason``, ``last_pass_at``, ``results_uri``, ...)."""
        return with_view(self, lambda: refresh(self))

    def wait(
        self,
        timeout: float | None = None,
        poll: float | None = None,
        on_progress: Callable[[RunStatus], None] | None = None,
        *,
        progress: bool = True,
    ) -> RunStatus:
        """Poll until every job is terminal (submitting queued shards meanwhile), showing a
        progress bar (a widget in Jupyter; ``progress=False`` for none).

        The poll interval adapts (2 s for a new run, up to 5 min for a long one) unless ``poll``
        fixes its base. Returns the final status when every record succeeded (in its first job or a
        retry); raises ``JobsUnsuccessfulError`` (the counts, each job that did not complete and the
        service's reason) when records remain failed or missing, ``WaitTimeoutError`` after
        ``timeout`` s. ``on_progress`` gets each poll's status, instead of the bar.
        """
        bar = TqdmProgress(self.name) if progress and on_progress is None else None
        try:
            status = wait_for_run(
                self,
                Pacing(poll=poll, timeout=timeout),
                on_progress=bar.update if bar else on_progress,
                read=self.status,
            )
        finally:
            if bar is not None:
                bar.close()
        return check_succeeded(self, status)

    def results(self, include_input: bool = False, *, workers: int | None = None) -> RunResults:
        """The results, one record per input row: iterate for dicts, or ``.to_pandas()``,
        or ``.save("out.parquet")`` (returns the reconciliation). A run with an output schema has
        a key per top-level property, and answers that fail the schema are failed (``schema``).
        ``workers``: processes that parse the outputs (0: this one; default: one per CPU, on
        Linux, when they pass 32 MB)."""
        return RunResults(self, include_input=include_input, workers=workers)

    def collected_results(self) -> Collection | None:
        """The results the stack collected when this orchestrated run finished (its ``uri`` in
        S3, Parquet by default), or None: not orchestrated, not finished, or not collected yet."""
        from batch_runner.orchestration.collected import current_collection

        return current_collection(self)

    def fetch_results(self, path: Path | str, *, format: str | None = None) -> Fetched | None:
        """Write the stack's collection to ``path`` (a file, ``-`` or s3://); None when there is
        none of that format: then ``results().save(path)`` joins the outputs here."""
        from batch_runner.orchestration.collected import fetch_collection

        collection = self.collected_results()
        if collection is None:
            return None
        return fetch_collection(self, collection, str(path), file_format=format)

    def to_pandas(self, include_input: bool = False) -> Any:
        """Shortcut for ``results(include_input).to_pandas()``."""
        return self.results(include_input).to_pandas()

    def cancel(self, *, force: bool = False) -> CancelReport:
        """Stop every live job and dequeue shards without a job; returns what was done.

        An orchestrated run is cancelled by the stack in its next pass: this asks (``requested``
        in the report), and only the run's owner may, unless ``force`` (``NotRunOwnerError``)."""
        if is_orchestrated(self):
            request_cancel(self, force=force)
            return CancelReport(requested=True)
        return cancel_run(self)

    def cost(self) -> RunCost:
        """Actual tokens and indicative dollars from the jobs' ``manifest.json.out`` files."""
        return run_cost(self)

    def retry(
        self,
        *,
        on_demand: bool = False,
        failed_schema: bool = False,
        backoff: Backoff | None = None,
        force: bool = False,
    ) -> RetryReport:
        """Send the failed and missing records of finished jobs again, as child jobs of this run
        (answers that failed the output schema count as failed; ``failed_schema`` sends only
        them); below the model's minimum records per job, ``on_demand`` runs them through
        bedrock-runtime.

        An orchestrated run is retried by the stack once every job ended, with its own on-demand
        setting: this asks (mode ``requested``); only the run's owner may, unless ``force``."""
        if is_orchestrated(self):
            request_retry(self, force=force)
            return RetryReport(REQUESTED)
        return retry_run(self, on_demand=on_demand, failed_schema=failed_schema, backoff=backoff)
