"""How commands that create or continue runs print them: a short text summary, or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batch_runner.prepare.plan import Plan
    from batch_runner.runs import Run


def plan_dict(plan: Plan) -> dict[str, Any]:
    data = asdict(plan)
    data["record_index_path"] = str(plan.record_index_path)
    for shard in data["shards"]:
        shard["path"] = str(shard["path"])
    return data


def print_run(run: Run, *, as_json: bool) -> None:
    from batch_runner.catalog.output_schema import StructuredOutput
    from batch_runner.jobs.run_state import QUEUED, SUBMITTED
    from batch_runner.orchestration.requests import is_orchestrated
    from batch_runner.prepare.planning import describe_structured_output

    summary = run.summary()
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
        return
    submitted = [s for s in run.shards if s.state == SUBMITTED]
    queued = [s for s in run.shards if s.state == QUEUED]
    print(f"Run {run.name}: {len(run.shards)} shard(s), {summary['records']} record(s), model {run.model_id}")
    print(f"  jobs submitted: {len(submitted)}")
    structured = StructuredOutput.from_dict(run.manifest.plan.get("structured_output"))
    schema = run.manifest.options.get("output_schema")  # absent from runs of earlier versions
    if structured is not None and schema is not None:
        print(f"  answers:  {describe_structured_output(schema, structured)}")
    if queued and is_orchestrated(run):
        print(f"  queued: {len(queued)}; the stack's scheduler submits them as the model's quota allows")
    elif queued:
        reason = next((s.message for s in queued if s.message), "the model's concurrency quota is reached")
        print(f"  queued: {len(queued)} ({reason}); `status`/`wait` submit them as slots free up")
    print(f"  manifest: {Path(summary['manifest'])}")
    print(f"  output:   {summary['output_uri']}")
