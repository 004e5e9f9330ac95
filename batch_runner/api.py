"""The Python API: everything ``submit`` does, for notebooks and scripts.

>>> from batch_runner import submit
>>> run = submit("reviews.csv", model="anthropic.claude-3-haiku-20240307-v1:0",
...              prompt="Summarize: {{ text }}", run="reviews-jan")
>>> run.summary()["jobs"]
{'Submitted': 3}

``source`` is a path or ``s3://`` URI (CSV, JSONL, Parquet; CSV and JSONL also ``.gz``/``.zst``; a
URI ending in ``/`` reads the Parquet or JSONL parts under it), ``"-"`` for standard input, a
pandas or polars DataFrame, Arrow data, a Hugging Face Dataset or an iterable of dicts.
``prepare`` plans and checks without uploading, so a caller can show the plan and ask first;
``plan_only`` is the dry run: no AWS call at all.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, overload

from batch_runner.aws.clients import AwsContext
from batch_runner.aws.settings import Overrides, Settings, resolve_settings, with_region
from batch_runner.aws.settings import state_dir as resolve_state_dir
from batch_runner.catalog.invocation import INVOKE_MODEL
from batch_runner.catalog.output_schema import output_schema as checked_schema
from batch_runner.catalog.pricing import check_max_cost
from batch_runner.catalog.quotas import ModelQuotas
from batch_runner.catalog.service_quotas import SOURCE_DEFAULTS, read_quotas
from batch_runner.exceptions import ConfigurationError, UsageError
from batch_runner.jobs.planning_dirs import PlanningDir, new_planning_dir, remove_abandoned
from batch_runner.jobs.run_context import file_sha256
from batch_runner.jobs.run_state import (
    BATCH,
    ON_DEMAND,
    RunManifest,
    ShardState,
    claim_remote,
    default_run_name,
    read_local,
    read_remote,
    record_index_key,
    run_dir,
    shard_key,
    utc_now,
    validate_run_name,
)
from batch_runner.jobs.submission import (
    DEFAULT_TIMEOUT_HOURS,
    checked_timeout_hours,
    client_token,
    job_name,
)
from batch_runner.orchestration.requests import ORCHESTRATED, choose_mode, is_orchestrated, register
from batch_runner.orchestration.settings import DEFAULT_TEAM
from batch_runner.prepare.datasets.sources import S3_SCHEME, STDIN, dataset_stem
from batch_runner.prepare.plan import Plan, SubmitOptions
from batch_runner.prepare.planning import build_plan, default_quotas
from batch_runner.runs import Run
from batch_runner.version import __version__


@dataclass(frozen=True)
class QuotaOverrides:
    """Quota values the caller sets by hand; they win over Service Quotas and the defaults."""

    min_records_per_job: int | None = None
    max_records_per_file: int | None = None
    max_records_per_job: int | None = None
    max_file_bytes: int | None = None
    max_job_bytes: int | None = None
    max_concurrent_jobs: int | None = None

    def given(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def apply(self, quotas: ModelQuotas) -> ModelQuotas:
        given = self.given()
        for name, value in given.items():
            if value < 1:
                raise UsageError(f"{name.replace('_', '-')} must be at least 1, got {value}")
        quotas = replace(quotas, **given)
        most = min(quotas.max_records_per_job, quotas.max_records_per_file)
        if most < quotas.min_records_per_job:
            raise UsageError(
                f"at most {most:,} records per job is below the minimum of {quotas.min_records_per_job:,} "
                "records per job: every job would fail; raise --max-records-per-job"
            )
        return quotas


@dataclass(frozen=True)
class Target:
    """Where to run: AWS identity and endpoint, stack, explicit settings, local state directory."""

    aws: AwsContext = field(default_factory=AwsContext)
    overrides: Overrides = field(default_factory=Overrides)
    state_dir: Path | None = None


def plan_only(
    source: Any,
    opts: SubmitOptions,
    workdir: Path,
    quotas: QuotaOverrides | None = None,
    *,
    file_format: str | None = None,
    aws: AwsContext | None = None,
    max_cost: float | None = None,
    on_demand_below_minimum: bool = False,
) -> Plan:
    """The dry run: plan with the default quotas (plus overrides), writing shards to ``workdir``.
    Calls no AWS API, except to read an ``s3://`` dataset; ``UsageError`` when the upper cost
    estimate exceeds ``max_cost`` dollars."""
    aws = aws or AwsContext()
    plan = build_plan(
        source,
        opts,
        quotas=(quotas or QuotaOverrides()).apply(default_quotas(opts.model_id)),
        workdir=workdir,
        file_format=file_format,
        s3=lambda: aws.client("s3"),
        on_demand_below_minimum=on_demand_below_minimum,
    )
    check_max_cost(plan.estimate, max_cost)
    return plan


@dataclass
class PreparedSubmission:
    """A checked plan, ready to upload and submit (``launch``) or to drop (``discard``)."""

    run: str
    plan: Plan
    settings: Settings
    quota_source: str
    quota_detail: str
    source_label: str
    opts: SubmitOptions
    target: Target
    planning: PlanningDir
    existing: RunManifest | None  # the run's manifest when this continues an earlier submit
    timeout_hours: int = DEFAULT_TIMEOUT_HOURS

    @property
    def state_dir(self) -> Path:
        return resolve_state_dir(self.target.state_dir)

    @property
    def planning_dir(self) -> Path:
        return self.planning.path

    def discard(self) -> None:
        self.planning.release()

    def launch(self, *, orchestrated: bool | None = None, team: str = DEFAULT_TEAM, priority: int = 0) -> Run:
        """Write the manifest, upload, submit as many jobs as the quota allows; return the Run.

        Orchestrated (the default when the stack orchestrates runs): upload, register the run with
        the stack and return; the stack submits its jobs and is the only writer of its manifest."""
        run = self.stage(orchestrated=orchestrated)
        if is_orchestrated(run):
            run.upload_pending()
            register(run, team=team, priority=priority)
        else:
            run.resume()  # batch jobs first: they queue for hours, on-demand records take minutes
        return run

    def stage(self, *, orchestrated: bool | None = None) -> Run:
        """Claim the run and write its manifest (locally and to S3); nothing uploaded or submitted.

        A new run is claimed first, by creating its manifest in S3 only if none exists: when another
        submit took the run name since ``prepare``, this raises UsageError and nothing is uploaded.
        """
        input_dir = run_dir(self.state_dir, self.run) / "input"
        manifest = self.existing or self._new_manifest(input_dir)
        if self.existing is not None:
            _check_same_shards(manifest, self.plan)
        else:
            try:
                manifest.settings[ORCHESTRATED] = choose_mode(orchestrated, self.settings.registry_table)
                claim_remote(manifest, self.target.aws.client("s3"), self.settings.input_bucket)
            except BaseException:
                self.discard()
                _remove_if_empty(run_dir(self.state_dir, self.run))
                raise
        local_files = [Path(s.local_path) for s in manifest.shards] + [
            Path(manifest.record_index["local_path"])
        ]
        if self.existing is None or not all(path.is_file() for path in local_files):
            # A new run, or one started on another machine: this plan's files become the run's.
            shutil.rmtree(input_dir, ignore_errors=True)
            self.planning_dir.rename(input_dir)
            for shard, planned in zip(manifest.shards, self.plan.shards, strict=True):
                shard.local_path = str(self._moved(planned.path, input_dir))
            manifest.record_index["local_path"] = str(self._moved(self.plan.record_index_path, input_dir))
        self.discard()
        run = Run.attach(manifest, self.state_dir, self.target.aws)
        run.save()
        return run

    def _moved(self, path: Path, input_dir: Path) -> Path:
        return (input_dir / path.relative_to(self.planning_dir)).resolve()

    def _new_manifest(self, input_dir: Path) -> RunManifest:
        plan = self.plan
        shards = [
            ShardState(
                index=s.index,
                local_path=str(self._moved(s.path, input_dir)),
                s3_key=shard_key(self.run, s.index, s.sha256),
                sha256=s.sha256,
                record_count=s.record_count,
                byte_size=s.byte_size,
                client_token=client_token(self.run, s.index, s.sha256),
                job_name=job_name(self.run, s.index, self.settings.job_name_prefix),
                kind=ON_DEMAND if s.on_demand else BATCH,
            )
            for s in plan.shards
        ]
        estimate = plan.estimate
        return RunManifest(
            run=self.run,
            created_at=utc_now(),
            updated_at=utc_now(),
            tool_version=__version__,
            dataset={"source": self.source_label, "fingerprint": plan.dataset_fingerprint},
            options={f.name: getattr(self.opts, f.name) for f in fields(self.opts)},
            settings=self.settings.to_dict(),
            quotas=quotas_dict(plan.quotas, self.quota_source, self.quota_detail),
            plan={
                "model_id": plan.model_id,
                "invocation_type": plan.invocation_type,
                "record_count": plan.record_count,
                "byte_size": plan.byte_size,
                "shard_count": len(plan.shards),
                "estimate": {f.name: getattr(estimate, f.name) for f in fields(estimate)},
                "structured_output": plan.structured_output.to_dict() if plan.structured_output else None,
                # Every job of the run, retries included, is created with this timeout.
                "timeout_hours": self.timeout_hours,
            },
            record_index={
                "local_path": str(self._moved(plan.record_index_path, input_dir)),
                "s3_key": record_index_key(self.run),
                "sha256": file_sha256(plan.record_index_path),
                "uploaded": False,
            },
            shards=shards,
        )


def prepare(
    source: Any,
    opts: SubmitOptions,
    *,
    run: str | None = None,
    quotas: QuotaOverrides | None = None,
    target: Target | None = None,
    timeout_hours: int | None = None,
    file_format: str | None = None,
    max_cost: float | None = None,
    on_demand_below_minimum: bool = False,
) -> PreparedSubmission:
    """Resolve settings and quotas, plan, and check the run name against earlier runs, and the
    upper cost estimate against ``max_cost`` dollars.

    Calls AWS (CloudFormation, Service Quotas, S3 reads) but uploads and submits nothing.
    ``timeout_hours`` (24-168, default 168) is every job's timeout; given when continuing a run, it
    applies to the jobs created from then on. ``file_format`` (csv, jsonl, parquet) is for a dataset
    whose name does not say it.
    """
    if opts.output_schema is not None:
        checked_schema(opts.output_schema)  # a bad schema is named before any AWS call
    if timeout_hours is not None:
        checked_timeout_hours(timeout_hours)
    target = target or Target()
    target = replace(target, aws=with_region(target.aws))
    name = validate_run_name(run) if run else default_run_name(_stem(source))
    directory = resolve_state_dir(target.state_dir)
    remove_abandoned(directory)  # plans of submits that crashed; never another live process's
    settings = resolve_settings(target.aws, target.overrides)
    existing = read_local(directory, name) or read_remote(
        target.aws.client("s3"), settings.input_bucket, name
    )
    if existing is not None:
        # Sharding must repeat exactly, so the run's recorded quotas apply; only the concurrency
        # limit, which does not shape shards, may be changed when continuing.
        planned_quotas = Run.attach(existing, directory, target.aws).quotas
        if quotas is not None and quotas.max_concurrent_jobs is not None:
            existing.quotas["max_concurrent_jobs"] = quotas.max_concurrent_jobs
        if timeout_hours is not None:
            existing.plan["timeout_hours"] = timeout_hours
        quota_source, quota_detail = existing.quotas.get("source", ""), existing.quotas.get("detail", "")
    else:
        lookup = read_quotas(
            lambda: target.aws.client("service-quotas"), opts.model_id, default_quotas(opts.model_id)
        )
        overrides = quotas or QuotaOverrides()
        planned_quotas = overrides.apply(lookup.quotas)
        quota_source, quota_detail = lookup.source, lookup.detail
        if overrides.given():
            quota_detail += f"; set by the caller: {overrides.given()}"
    planning = new_planning_dir(run_dir(directory, name))
    try:
        aws = target.aws
        plan = build_plan(
            source,
            opts,
            quotas=planned_quotas,
            workdir=planning.path,
            file_format=file_format,
            s3=lambda: aws.client("s3"),
            on_demand_below_minimum=on_demand_below_minimum,
        )
        if plan.output_schema is not None:  # asked for by an OpenAI batch file's response_format
            opts = replace(opts, output_schema=plan.output_schema)
        check_max_cost(plan.estimate, max_cost)
        # After planning, so an unknown model or a bad dataset is reported as such first.
        _check_model_allowed(opts.model_id, settings)
        if existing is not None and existing.fingerprint != plan.dataset_fingerprint:
            raise UsageError(
                f"run {name} already exists for a different dataset or options "
                f"(fingerprint {existing.fingerprint[:12]} vs {plan.dataset_fingerprint[:12]}): "
                "choose another --run, or omit it for a new name"
            )
    except BaseException:
        planning.release()
        if existing is None:
            _remove_if_empty(run_dir(directory, name))
        raise
    return PreparedSubmission(
        run=name,
        plan=plan,
        settings=settings,
        quota_source=quota_source or SOURCE_DEFAULTS,
        quota_detail=quota_detail,
        source_label=_label(source),
        opts=opts,
        target=target,
        planning=planning,
        existing=existing,
        timeout_hours=timeout_hours or DEFAULT_TIMEOUT_HOURS,
    )


# The overloads tell type checkers (and notebooks' hints) that a dry run returns the Plan, else the
# Run; they take the implementation's keywords as **options, which mypy cannot match name by name.
@overload
def submit(source: Any, *, dry_run: Literal[True], **options: Any) -> Plan: ...


@overload
def submit(source: Any, *, dry_run: Literal[False] = False, **options: Any) -> Run: ...


def submit(  # type: ignore[misc]
    source: Any,
    *,
    model: str,
    prompt: str | None = None,
    system: str | None = None,
    id_column: str | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    invocation_type: str = INVOKE_MODEL,
    model_options: Mapping[str, object] | None = None,
    output_schema: Mapping[str, Any] | str | Path | None = None,
    skip_oversized: bool = False,
    run: str | None = None,
    format: str | None = None,
    quotas: QuotaOverrides | None = None,
    timeout_hours: int | None = None,
    max_cost: float | None = None,
    on_demand_below_minimum: bool = False,
    dry_run: bool = False,
    stack: str | None = None,
    env: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    input_bucket: str | None = None,
    output_bucket: str | None = None,
    role_arn: str | None = None,
    kms_key: str | None = None,
    job_name_prefix: str | None = None,
    subnet_ids: str | None = None,
    security_group_ids: str | None = None,
    state_dir: str | Path | None = None,
    orchestrated: bool | None = None,
    team: str = DEFAULT_TEAM,
    priority: int = 0,
) -> Run | Plan:
    """Plan, upload and submit ``source`` as batch jobs; returns the ``Run``.

    ``prompt`` is the Jinja2 template text (every column is a variable); leave it out for JSONL
    whose lines already hold ``modelInput``. Submitting again with the same ``run`` continues that
    run and never creates a second job for a shard. ``output_schema`` (a JSON Schema as a dict, or
    the path of a file holding one) asks every answer for JSON of that shape; ``results`` then
    writes one column per top-level property. ``timeout_hours`` (24-168, default 168) is each job's
    timeout, queue time included. ``subnet_ids``/``security_group_ids`` (comma-separated) run the
    jobs in a VPC; by default the stack's ``vpc`` applies.
    ``skip_oversized`` leaves rows too large for the model's context window out of the jobs
    (results list them as failed) instead of raising. ``format`` (csv, jsonl, parquet) names the
    format of a file or URI whose name does not end in it. ``max_cost`` (dollars)
    refuses the submission, before anything is uploaded, when the estimate's upper bound (every
    answer at max_tokens) exceeds it. ``on_demand_below_minimum`` sends a
    dataset (or final remainder) smaller than the model's minimum records per job through the
    runtime API at full price, instead of refusing it.

    ``dry_run=True`` returns the ``Plan`` instead (shards, records, estimated tokens and cost, with
    the documented default quotas) and calls no AWS API but to read an ``s3://`` dataset; its shard
    files are removed.

    ``orchestrated`` (default: whether the stack orchestrates runs) hands the uploaded run to the
    stack and returns at once; ``team`` and ``priority`` place it in the stack's sharing of the
    model's quota.
    """
    opts = SubmitOptions(
        model_id=model,
        prompt_template=prompt,
        system_prompt=system,
        id_column=id_column,
        max_tokens=max_tokens,
        temperature=temperature,
        invocation_type=invocation_type,
        model_options=dict(model_options or {}),
        output_schema=None if output_schema is None else checked_schema(output_schema).document,
        skip_oversized=skip_oversized,
    )
    aws = AwsContext(region=region, profile=profile, endpoint_url=endpoint_url)
    if dry_run:
        with tempfile.TemporaryDirectory(prefix="batch-runner-dry-run-") as workdir:
            return plan_only(
                source,
                opts,
                Path(workdir),
                quotas,
                file_format=format,
                aws=aws,
                max_cost=max_cost,
                on_demand_below_minimum=on_demand_below_minimum,
            )
    target = Target(
        aws=aws,
        overrides=Overrides(
            stack,
            env,
            input_bucket,
            output_bucket,
            role_arn,
            kms_key,
            job_name_prefix,
            subnet_ids,
            security_group_ids,
        ),
        state_dir=Path(state_dir) if state_dir else None,
    )
    prepared = prepare(
        source,
        opts,
        run=run,
        quotas=quotas,
        target=target,
        timeout_hours=timeout_hours,
        file_format=format,
        max_cost=max_cost,
        on_demand_below_minimum=on_demand_below_minimum,
    )
    return prepared.launch(orchestrated=orchestrated, team=team, priority=priority)


def _check_model_allowed(model_id: str, settings: Settings) -> None:
    allowed = settings.allowed_models
    if allowed and model_id not in allowed and model_id.rsplit("/", 1)[-1] not in allowed:
        raise ConfigurationError(
            f"model {model_id} is not in the allow-list of stack {settings.stack} ({', '.join(allowed)}): "
            "add it to `models` in stacks/environments.yaml and redeploy"
        )


def _check_same_shards(manifest: RunManifest, plan: Plan) -> None:
    if [s.sha256 for s in manifest.shards] != [s.sha256 for s in plan.shards]:
        raise UsageError(
            f"run {manifest.run}: the dataset now plans into different shards than when the run "
            "started (quota flags changed?): continue it with `resume`, or choose another --run"
        )


def _stem(source: Any) -> str:
    if isinstance(source, str | Path):
        return dataset_stem(str(source))
    return "dataframe" if hasattr(source, "columns") else "records"


def _label(source: Any) -> str:
    if isinstance(source, str) and (source == STDIN or source.startswith(S3_SCHEME)):
        return "<stdin>" if source == STDIN else source
    if isinstance(source, str | Path):
        return str(Path(source).resolve())
    return f"<{type(source).__name__}>"


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def quotas_dict(quotas: ModelQuotas, source: str, detail: str) -> dict[str, Any]:
    values: Mapping[str, Any] = {f: getattr(quotas, f) for f in quotas.__dataclass_fields__}
    return {**values, "source": source, "detail": detail}
