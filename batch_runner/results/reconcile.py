"""The accounting of a results collection: every input record is succeeded, failed or missing.

``total == succeeded + failed + missing`` is checked whenever a ``Reconciliation`` is built; a
mismatch is a bug in the runner, never a user error, and raises ``InternalError``. An answer that
does not match the run's output schema is failed (``schema_failed`` says how many of them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from batch_runner.display import html_table
from batch_runner.exceptions import InternalError
from batch_runner.results.manifest import Manifest

# How many malformed lines / unexpected record IDs are kept as examples; all are counted.
EXAMPLE_LIMIT = 100


@dataclass(frozen=True)
class LineProblem:
    key: str  # S3 key of the output object
    line: int  # 1-based line number in that object
    reason: str


@dataclass
class JobTally:
    """What one job's output objects hold, line by line (before the newest-outcome-wins join)."""

    job_id: str
    job_arn: str
    status: str | None
    objects: int = 0
    succeeded: int = 0
    failed: int = 0
    malformed: int = 0
    unexpected: int = 0  # distinct record IDs of this job that the record index does not know
    input_tokens: int = 0
    output_tokens: int = 0
    manifest: Manifest | None = None
    manifest_error: str | None = None

    def warnings(self) -> list[str]:
        found: list[str] = []
        if self.manifest_error:
            found.append(f"job {self.job_id}: unreadable manifest.json.out ({self.manifest_error})")
        manifest = self.manifest
        if manifest is None:
            return found
        for label, claimed, seen in (
            ("succeeded", manifest.success_record_count, self.succeeded),
            ("failed", manifest.error_record_count, self.failed + self.malformed),
        ):
            if claimed is not None and claimed != seen:
                found.append(
                    f"job {self.job_id}: manifest says {claimed} records {label}, output files hold {seen}"
                )
        return found


@dataclass(frozen=True)
class Reconciliation:
    total: int  # records in the record index = output rows
    succeeded: int
    failed: int
    missing: int
    unexpected: int  # record IDs in the output that the index does not know (not in the rows)
    malformed: int  # output lines that could not be parsed
    superseded: int  # older outcomes replaced by a newer one for the same record (retries)
    input_tokens: int  # summed over every parsed output line, superseded ones included (billed)
    output_tokens: int
    manifest_input_tokens: int | None  # summed over the jobs' manifests; None when none reports it
    manifest_output_tokens: int | None
    jobs: tuple[JobTally, ...]
    malformed_lines: tuple[LineProblem, ...] = ()  # the first EXAMPLE_LIMIT
    unexpected_record_ids: tuple[str, ...] = ()  # the first EXAMPLE_LIMIT
    non_terminal_jobs: tuple[str, ...] = field(default=())
    schema_failed: int = 0  # of the failed: answers that did not parse or match the output schema

    def __post_init__(self) -> None:
        if (
            self.total != self.succeeded + self.failed + self.missing
            or min(self.succeeded, self.failed, self.missing) < 0
        ):
            raise InternalError(
                f"results do not reconcile: total {self.total} != succeeded {self.succeeded}"
                f" + failed {self.failed} + missing {self.missing}"
            )
        if not 0 <= self.schema_failed <= self.failed:
            raise InternalError(
                f"results do not reconcile: {self.schema_failed} schema failures of {self.failed} failed"
            )

    @property
    def complete(self) -> bool:
        return self.total == self.succeeded

    def warnings(self) -> list[str]:
        found = [warning for job in self.jobs for warning in job.warnings()]
        found += [
            f"job {job_id} is not finished: its output is not final" for job_id in self.non_terminal_jobs
        ]
        if self.unexpected:
            found.append(
                f"{self.unexpected} output records are not in the record index"
                f" (e.g. {', '.join(self.unexpected_record_ids[:3])}); they are not in the results"
            )
        found += [f"{p.key} line {p.line}: {p.reason}" for p in self.malformed_lines[:10]]
        if self.malformed > 10:
            found.append(f"... and {self.malformed - 10} more malformed output lines")
        return found

    def summary(self) -> str:
        schema = f" ({self.schema_failed} not matching the output schema)" if self.schema_failed else ""
        return (
            f"total {self.total} = succeeded {self.succeeded} + failed {self.failed}{schema}"
            f" + missing {self.missing}; unexpected {self.unexpected}, malformed lines {self.malformed}"
        )

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"Reconciliation(total={self.total}, succeeded={self.succeeded}, failed={self.failed}, "
            f"missing={self.missing}, schema_failed={self.schema_failed})"
        )

    def _repr_html_(self) -> str:
        rows = [
            ("records", f"{self.total:,}"),
            ("succeeded", f"{self.succeeded:,}"),
            (
                "failed",
                f"{self.failed:,}"
                + (f" ({self.schema_failed:,} not matching the output schema)" if self.schema_failed else ""),
            ),
            ("missing", f"{self.missing:,}"),
            ("tokens", f"{self.input_tokens:,} input, {self.output_tokens:,} output"),
        ]
        if self.superseded:
            rows.append(("retried", f"{self.superseded:,} earlier outcome(s) replaced by a newer one"))
        warnings = self.warnings()
        if warnings:
            rows.append(("warnings", "\n".join(warnings)))
        title = "Results: every record accounted for" + ("" if self.complete else " (not all succeeded)")
        return html_table(title, rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for ``--json``): every field, plus ``complete`` and ``warnings``."""
        return asdict(self) | {"complete": self.complete, "warnings": self.warnings()}
