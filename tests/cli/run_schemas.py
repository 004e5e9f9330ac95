"""JSON schemas of the run commands' ``--json`` output, as their help documents them."""

from __future__ import annotations

from typing import Any

INT_OR_NULL = {"type": ["integer", "null"]}
NUMBER_OR_NULL = {"type": ["number", "null"]}
STRING_OR_NULL = {"type": ["string", "null"]}
COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
RUN_STATES = [
    "Queued",
    "InProgress",
    "Stopping",
    "Completed",
    "PartiallyCompleted",
    "Failed",
    "Expired",
    "Stopped",
]


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": sorted(properties), "properties": properties}


# An orchestrated run's registry item (`status --json`, `runs --json`); null for a local run.
ORCHESTRATION = {
    "oneOf": [
        {"type": "null"},
        {"type": "object", "required": ["registered"], "properties": {"registered": {"const": False}}},
        _object(
            {
                "registered": {"const": True},
                "state": {"enum": ["active", "finished"]},
                "outcome": {"type": "string"},
                "waiting_reason": {"type": "string"},
                "last_pass_at": {"type": "string"},
                "results_uri": {"type": "string"},
                "owner": {"type": "string"},
                "team": {"type": "string"},
                "priority": {"type": "integer"},
                "cancel_requested": {"type": "boolean"},
                "retry_requested": {"type": "integer"},
            }
        ),
    ]
}
JOB = _object(
    {
        "shard": {"type": "integer"},
        "job_name": {"type": "string"},
        "state": {"enum": ["planned", "queued", "submitted", "cancelled"]},
        "status": STRING_OR_NULL,
        "label": {"type": "string"},
        "records": {"type": "integer"},
        "processed": INT_OR_NULL,
        "succeeded": INT_OR_NULL,
        "failed": INT_OR_NULL,
        "job_arn": STRING_OR_NULL,
        "submitted_at": STRING_OR_NULL,
        "age_seconds": NUMBER_OR_NULL,
        "message": STRING_OR_NULL,
        "kind": {"enum": ["batch", "retry", "on-demand"]},
        "attempt": {"type": "integer"},
    }
)
STATUS = _object(
    {
        "run": {"type": "string"},
        "model_id": {"type": "string"},
        "state": {"enum": RUN_STATES},
        "finished": {"type": "boolean"},
        "records": {"type": "integer"},
        "processed": {"type": "integer"},
        "succeeded": {"type": "integer"},
        "failed": {"type": "integer"},
        "counts": COUNTS,
        "checked_at": {"type": "string"},
        "waiting_reason": STRING_OR_NULL,
        "warnings": {"type": "array", "items": {"type": "string"}},
        "orchestration": ORCHESTRATION,
        "jobs": {"type": "array", "items": JOB},
    }
)
CANCEL = _object(
    {
        "stopped": {"type": "array", "items": {"type": "integer"}},
        "dequeued": {"type": "array", "items": {"type": "integer"}},
        "not_stopped": {"type": "object", "additionalProperties": {"type": "string"}},
        "status": STATUS,
    }
)
RUNS = {
    "type": "array",
    "items": _object(
        {
            "run": {"type": "string"},
            "created_at": {"type": "string"},
            "updated_at": {"type": "string"},
            "model_id": {"type": "string"},
            "state": {"type": "string"},
            "records": {"type": "integer"},
            "succeeded": {"type": "integer"},
            "failed": {"type": "integer"},
            "shards": {"type": "integer"},
            "counts": COUNTS,
            "estimated_batch_usd": NUMBER_OR_NULL,
            "location": {"enum": ["s3", "local", "s3+local"]},
            "problem": STRING_OR_NULL,
            "orchestrated": {"type": "boolean"},
            "orchestration": ORCHESTRATION,
        }
    ),
}
COST = _object(
    {
        "run": {"type": "string"},
        "model_id": {"type": "string"},
        "input_tokens": {"type": "integer"},
        "output_tokens": {"type": "integer"},
        "batch_usd": NUMBER_OR_NULL,
        "on_demand_usd": NUMBER_OR_NULL,
        "saving_usd": NUMBER_OR_NULL,
        "estimate": _object(
            {
                "input_tokens": {"type": "integer"},
                "output_tokens": {"type": "integer"},
                "batch_usd": NUMBER_OR_NULL,
                "on_demand_usd": NUMBER_OR_NULL,
                "prices_as_of": {"type": "string"},
                "max_output_tokens": {"type": "integer"},
                "max_batch_usd": NUMBER_OR_NULL,
                "max_on_demand_usd": NUMBER_OR_NULL,
                "input_batch_usd": NUMBER_OR_NULL,
                "typical_tokens_per_answer": {"type": "integer"},
                "on_demand_records": {"type": "integer"},
            }
        ),
        "prices_as_of": STRING_OR_NULL,
        "indicative": {"const": True},
        "jobs_without_manifest": {"type": "integer"},
        "jobs": {
            "type": "array",
            "items": _object(
                {
                    "job_id": {"type": "string"},
                    "status": STRING_OR_NULL,
                    "kind": {"enum": ["batch", "retry", "on-demand"]},
                    "input_tokens": INT_OR_NULL,
                    "output_tokens": INT_OR_NULL,
                    "note": STRING_OR_NULL,
                }
            ),
        },
    }
)
RECONCILIATION = _object(
    {
        name: {"type": "integer"}
        for name in (
            "total",
            "succeeded",
            "failed",
            "schema_failed",
            "missing",
            "unexpected",
            "malformed",
            "superseded",
        )
    }
    | {
        "input_tokens": {"type": "integer"},
        "output_tokens": {"type": "integer"},
        "manifest_input_tokens": INT_OR_NULL,
        "manifest_output_tokens": INT_OR_NULL,
        "jobs": {"type": "array", "items": {"type": "object", "required": ["job_id", "status", "succeeded"]}},
        "complete": {"type": "boolean"},
        "warnings": {"type": "array", "items": {"type": "string"}},
    }
)
