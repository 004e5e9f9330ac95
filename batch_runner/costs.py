"""What a run cost: token counts from each job's ``manifest.json.out`` at the batch price.

The manifest is found by listing the job's output prefix (its key is never guessed). Prices come
from ``batch_runner/data/pricing.yaml`` and are indicative: the bill is the authority. A job
without a manifest yet (still running, or Failed before writing one) is listed as such and counts
nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from batch_runner.pricing import estimate_cost
from batch_runner.results import JobOutputRef, Manifest, S3OutputSource
from batch_runner.results.outputs import list_job_objects
from batch_runner.run_results import job_refs
from batch_runner.runs import Run


@dataclass(frozen=True)
class JobCost:
    job_id: str
    status: str | None
    input_tokens: int | None  # None: no manifest.json.out (yet)
    output_tokens: int | None
    note: str | None = None


@dataclass(frozen=True)
class RunCost:
    run: str
    model_id: str
    jobs: tuple[JobCost, ...]
    input_tokens: int
    output_tokens: int
    batch_usd: float | None  # None when the model has no listed price
    on_demand_usd: float | None
    saving_usd: float | None
    estimate: dict[str, Any]  # the submit-time estimate, as stored in the run manifest
    prices_as_of: str | None
    indicative: bool = True

    @property
    def jobs_without_manifest(self) -> int:
        return sum(1 for job in self.jobs if job.input_tokens is None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"jobs_without_manifest": self.jobs_without_manifest}


def run_cost(run: Run) -> RunCost:
    source = S3OutputSource(run.client("s3"))
    jobs = tuple(_job_cost(source, ref) for ref in job_refs(run))
    input_tokens = sum(job.input_tokens or 0 for job in jobs)
    output_tokens = sum(job.output_tokens or 0 for job in jobs)
    estimate = dict(run.manifest.plan.get("estimate") or {})
    # The estimator's arithmetic, fed with counted tokens instead of estimated ones.
    actual = estimate_cost(run.model_id, input_tokens, output_tokens)
    batch, on_demand = actual.batch_usd, actual.on_demand_usd
    saving = None if batch is None or on_demand is None else on_demand - batch
    return RunCost(
        run=run.name,
        model_id=run.model_id,
        jobs=jobs,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        batch_usd=batch,
        on_demand_usd=on_demand,
        saving_usd=saving,
        estimate=estimate,
        prices_as_of=actual.prices_as_of,
    )


def _job_cost(source: S3OutputSource, ref: JobOutputRef) -> JobCost:
    objects = list_job_objects(source, ref)
    if objects.manifest is None:
        return JobCost(ref.job_id, ref.status, None, None, "no manifest.json.out")
    bucket, _ = ref.output_prefix()
    try:
        manifest = Manifest.parse(source.iter_lines(bucket, objects.manifest.key))
    except ValueError as err:
        return JobCost(ref.job_id, ref.status, None, None, f"unreadable manifest.json.out ({err})")
    return JobCost(ref.job_id, ref.status, manifest.input_token_count or 0, manifest.output_token_count or 0)
