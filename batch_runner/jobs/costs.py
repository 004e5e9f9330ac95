"""What a run cost: token counts from each job's ``manifest.json.out``, at the batch price for
batch jobs and the full price for records a retry processed on demand.

The manifest is found by listing the job's output prefix (its key is never guessed). Prices come
from ``batch_runner/data/pricing.yaml`` and are indicative: the bill is the authority. A job
without a manifest yet (still running, or Failed before writing one) is listed as such and counts
nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from batch_runner.catalog.pricing import estimate_cost
from batch_runner.jobs.run_context import RunContext
from batch_runner.jobs.run_results import job_refs
from batch_runner.jobs.run_state import BATCH, ON_DEMAND
from batch_runner.results import JobOutputRef, Manifest, S3OutputSource
from batch_runner.results.outputs import list_job_objects


@dataclass(frozen=True)
class JobCost:
    job_id: str
    status: str | None
    kind: str  # batch | retry (batch jobs, batch price) | on-demand (runtime API, full price)
    input_tokens: int | None  # None: no manifest.json.out (yet)
    output_tokens: int | None
    note: str | None = None

    @property
    def full_price(self) -> bool:
        return self.kind == ON_DEMAND


@dataclass(frozen=True)
class RunCost:
    run: str
    model_id: str
    jobs: tuple[JobCost, ...]
    input_tokens: int
    output_tokens: int
    # What the tokens cost as run: batch jobs at the batch price, on-demand retries at full price.
    batch_usd: float | None
    on_demand_usd: float | None  # every token at the on-demand price
    saving_usd: float | None  # on_demand_usd - batch_usd; None when the model has no listed price
    estimate: dict[str, Any]  # the submit-time estimate, as stored in the run manifest
    prices_as_of: str | None
    indicative: bool = True

    @property
    def jobs_without_manifest(self) -> int:
        return sum(1 for job in self.jobs if job.input_tokens is None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"jobs_without_manifest": self.jobs_without_manifest}


def run_cost(run: RunContext) -> RunCost:
    source = S3OutputSource(run.client("s3"))
    kinds = {shard.job_arn: shard.kind for shard in run.shards}
    jobs = tuple(_job_cost(source, ref, kinds.get(ref.job_arn, BATCH)) for ref in job_refs(run))
    # The estimator's arithmetic, fed with counted tokens instead of estimated ones.
    everything = estimate_cost(
        run.model_id, sum(job.input_tokens or 0 for job in jobs), sum(job.output_tokens or 0 for job in jobs)
    )
    actual = saving = None
    if everything.on_demand_usd is not None:
        actual = sum(_paid(run.model_id, job) for job in jobs)
        saving = everything.on_demand_usd - actual
    return RunCost(
        run=run.name,
        model_id=run.model_id,
        jobs=jobs,
        input_tokens=everything.input_tokens,
        output_tokens=everything.output_tokens,
        batch_usd=actual,
        on_demand_usd=everything.on_demand_usd,
        saving_usd=saving,
        estimate=dict(run.manifest.plan.get("estimate") or {}),
        prices_as_of=everything.prices_as_of,
    )


def _paid(model_id: str, job: JobCost) -> float:
    cost = estimate_cost(model_id, job.input_tokens or 0, job.output_tokens or 0)
    return float((cost.on_demand_usd if job.full_price else cost.batch_usd) or 0.0)


def _job_cost(source: S3OutputSource, ref: JobOutputRef, kind: str) -> JobCost:
    objects = list_job_objects(source, ref)
    if objects.manifest is None:
        return JobCost(ref.job_id, ref.status, kind, None, None, "no manifest.json.out")
    bucket, _ = ref.output_prefix()
    try:
        manifest = Manifest.parse(source.iter_lines(bucket, objects.manifest.key))
    except ValueError as err:
        return JobCost(ref.job_id, ref.status, kind, None, None, f"unreadable manifest.json.out ({err})")
    return JobCost(
        ref.job_id, ref.status, kind, manifest.input_token_count or 0, manifest.output_token_count or 0
    )
