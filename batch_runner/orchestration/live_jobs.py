"""Every job in the account that counts against a quota, from ListModelInvocationJobs pages.

The account's live jobs are the truth the scheduler shares out: they include jobs that laptops and
other tools started, and nothing can leak the way a slot counter does when an event is lost. One
listing per live status, 1,000 jobs a page; the same listing tells the scheduler how its own runs'
jobs stand, so a pass needs no Get per live job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from batch_runner.jobs.submission import ACTIVE_STATUSES, Backoff, base_model, job_name_prefix, with_backoff

PAGE_SIZE = 1000


def list_live_jobs(bedrock: Any, backoff: Backoff) -> list[Mapping[str, Any]]:
    jobs: list[Mapping[str, Any]] = []
    for status in ACTIVE_STATUSES:

        def listing(status: str = status) -> list[Mapping[str, Any]]:
            pages = bedrock.get_paginator("list_model_invocation_jobs").paginate(
                statusEquals=status, maxResults=PAGE_SIZE
            )
            return [job for page in pages for job in page.get("invocationJobSummaries", [])]

        jobs.extend(with_backoff(listing, backoff, f"listing {status} jobs"))
    return jobs


def run_jobs(bedrock: Any, run: str, backoff: Backoff) -> dict[str, Mapping[str, Any]]:
    """A run's jobs in the account, whatever their status, by name (1,000 a page)."""

    def listing() -> dict[str, Mapping[str, Any]]:
        pages = bedrock.get_paginator("list_model_invocation_jobs").paginate(
            nameContains=job_name_prefix(run),
            maxResults=PAGE_SIZE,
            sortBy="CreationTime",
            sortOrder="Ascending",
        )
        return {
            str(job.get("jobName")): job for page in pages for job in page.get("invocationJobSummaries", [])
        }

    return with_backoff(listing, backoff, f"listing the jobs of run {run}")


def live_by_model(jobs: Sequence[Mapping[str, Any]]) -> Counter[str]:
    """Live jobs per base model: a profile's jobs count against its foundation model's quota."""
    return Counter(base_model(str(job.get("modelId", ""))) for job in jobs)
