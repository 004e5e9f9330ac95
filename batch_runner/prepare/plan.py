"""What `submit` decides before it touches AWS: the contract between planning and submission.

Planning (``batch_runner.prepare.planning``) reads the dataset once, streaming, writes each shard as a
ready-to-upload JSONL file into a work directory, and returns a ``Plan``. Submission
(``batch_runner.jobs.submission``) uploads those files and creates one job per shard. Neither side
reaches into the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batch_runner.catalog.invocation import INVOKE_MODEL
from batch_runner.catalog.output_schema import StructuredOutput
from batch_runner.catalog.pricing import CostEstimate
from batch_runner.catalog.quotas import ModelQuotas
from batch_runner.display import html_table, labelled_rows

# The record index's file name, locally and in S3 (not .jsonl: a job reading the folder must not
# take it as input).
RECORD_INDEX_NAME = "record-index.ndjson"


@dataclass(frozen=True)
class SubmitOptions:
    """Everything that shapes the requests, as typed config (the CLI and the Python API build it)."""

    model_id: str
    prompt_template: str | None = None  # Jinja2 source; None only for pre-formatted input
    system_prompt: str | None = None
    id_column: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    invocation_type: str = INVOKE_MODEL
    model_options: dict[str, object] = field(default_factory=dict)  # e.g. embeddings dimensions
    # A JSON Schema document (see batch_runner.catalog.output_schema): answers are parsed into its columns.
    output_schema: dict[str, Any] | None = None
    # Leave records too large for the context window out of the jobs (results list them as failed)
    # instead of stopping at the first.
    skip_oversized: bool = False


@dataclass(frozen=True)
class ShardPlan:
    """One future job: a JSONL file of records, written locally, not yet uploaded."""

    index: int
    path: Path
    record_count: int
    byte_size: int
    sha256: str  # of the file's bytes; part of the job's idempotency token
    # Below the per-job minimum: sent through the runtime API (--on-demand-below-minimum).
    on_demand: bool = False


@dataclass(frozen=True)
class Plan:
    model_id: str
    invocation_type: str
    dataset_fingerprint: str  # sha256 of the dataset bytes + options that shape the requests
    record_count: int
    byte_size: int
    shards: tuple[ShardPlan, ...]
    # JSONL, one line per input record: {"recordId", "row" (0-based), "id" (user id or null),
    # "input" (the row's columns)}. Uploaded beside the shards so results can be joined back
    # to input rows from any machine.
    record_index_path: Path
    quotas: ModelQuotas
    estimate: CostEstimate
    structured_output: StructuredOutput | None = None  # how requests ask for JSON; None: no schema
    warnings: tuple[str, ...] = ()  # worth reading before submitting, e.g. a model with no batch record
    skipped_rows: int = 0  # rows left out as too large for the context window (--skip-oversized)
    # The schema an OpenAI batch file's lines asked for (response_format), which becomes the run's.
    output_schema: dict[str, Any] | None = None

    @property
    def on_demand_records(self) -> int:
        return sum(shard.record_count for shard in self.shards if shard.on_demand)

    def describe(self) -> list[str]:
        """The lines ``submit --dry-run`` prints: jobs, records, tokens and the cost range."""
        from batch_runner.prepare.describe import describe_plan

        return describe_plan(self)

    def __str__(self) -> str:
        return "\n".join(self.describe())

    def __repr__(self) -> str:
        return (
            f"Plan(model={self.model_id!r}, records={self.record_count}, jobs={len(self.shards)}, "
            f"max_batch_usd={self.estimate.max_batch_usd}, typical_batch_usd={self.estimate.batch_usd})"
        )

    def _repr_html_(self) -> str:
        return html_table("Batch plan", labelled_rows(self.describe()))
