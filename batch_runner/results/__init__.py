"""Collect a run's results: stream every job's output from S3, join it to the input rows by
recordId, write CSV/JSONL/Parquet atomically, and account for every record.

    reconciliation = collect_results(S3OutputSource(s3), jobs, "record-index.jsonl", Path("out.csv"))

``jobs`` go oldest first; for a record in several jobs (retries) the newest outcome wins. With
``output_schema`` (and the run's ``prefill``, when its requests started the reply), each answer is
parsed and validated: a column per top-level property, or a ``schema`` failure.

Knows nothing of runs (``batch_runner.jobs.run_results`` hands it a run's jobs). May import:
``batch_runner.catalog``, ``batch_runner.aws``, ``batch_runner.exceptions``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batch_runner.results.answers import AnswerCheck, check_answer
    from batch_runner.results.collect import answer_check, collect_results, iter_results
    from batch_runner.results.extraction import FAILED, MISSING, SUCCEEDED
    from batch_runner.results.join import RESULT_COLUMNS, JoinedResults, join_results, property_columns
    from batch_runner.results.manifest import Manifest
    from batch_runner.results.outputs import JobOutputRef, LocalOutputSource, OutputSource, S3OutputSource
    from batch_runner.results.reconcile import JobTally, LineProblem, Reconciliation
    from batch_runner.results.writers import SUPPORTED_SUFFIXES

# Loaded on first use, so importing one module of this package (``writers``, say) stays light.
_WHERE = {
    "FAILED": "batch_runner.results.extraction",
    "MISSING": "batch_runner.results.extraction",
    "RESULT_COLUMNS": "batch_runner.results.join",
    "SUCCEEDED": "batch_runner.results.extraction",
    "SUPPORTED_SUFFIXES": "batch_runner.results.writers",
    "AnswerCheck": "batch_runner.results.answers",
    "JobOutputRef": "batch_runner.results.outputs",
    "JobTally": "batch_runner.results.reconcile",
    "JoinedResults": "batch_runner.results.join",
    "LineProblem": "batch_runner.results.reconcile",
    "LocalOutputSource": "batch_runner.results.outputs",
    "Manifest": "batch_runner.results.manifest",
    "OutputSource": "batch_runner.results.outputs",
    "Reconciliation": "batch_runner.results.reconcile",
    "S3OutputSource": "batch_runner.results.outputs",
    "answer_check": "batch_runner.results.collect",
    "check_answer": "batch_runner.results.answers",
    "collect_results": "batch_runner.results.collect",
    "iter_results": "batch_runner.results.collect",
    "join_results": "batch_runner.results.join",
    "property_columns": "batch_runner.results.join",
}

__all__ = [
    "FAILED",
    "MISSING",
    "RESULT_COLUMNS",
    "SUCCEEDED",
    "SUPPORTED_SUFFIXES",
    "AnswerCheck",
    "JobOutputRef",
    "JobTally",
    "JoinedResults",
    "LineProblem",
    "LocalOutputSource",
    "Manifest",
    "OutputSource",
    "Reconciliation",
    "S3OutputSource",
    "answer_check",
    "check_answer",
    "collect_results",
    "iter_results",
    "join_results",
    "property_columns",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
