"""One scheduler pass over every active orchestrated run; every trigger runs the same pass.

A pass is computed from the truth each time (the registry, the manifests, the account's live
jobs), so what triggered it does not matter: a duplicated or replayed event runs a pass that finds
nothing to do, a lost one is made up by the next (the sweep schedule guarantees there is one).

1. List the active runs (registry) and the account's live jobs (ListModelInvocationJobs pages).
2. Per run: read the manifest with its ETag; act on a cancel request (dequeue, stop live jobs);
   record the status of its jobs from the listing, and Get only jobs that left it (they ended).
3. Share each model's free slots among the runs with queued shards (``allocation``).
4. Create those jobs with the run's deterministic names and client tokens.
5. Write each changed manifest once (``If-Match``) and the registry item (state, waiting reason).
6. Keep each run's workflow (``workflow``) in step: start one for a run that has none, send its
   heartbeat, and hand its token back when the run has finished (it then collects and notifies).

A crash anywhere creates no duplicate: a job created before the manifest write is live, so the
next pass adopts it by name, and its client token makes a repeated create return it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from batch_runner.exceptions import AwsError, UsageError
from batch_runner.jobs.cancelling import cancel_run
from batch_runner.jobs.retrying import retry_run
from batch_runner.jobs.run_state import QUEUED, SUBMITTED, utc_now
from batch_runner.jobs.submission import Backoff, NotNow, base_model, submit_queued, with_backoff
from batch_runner.jobs.tracking import (
    TERMINAL_STATUSES,
    UNSUCCESSFUL_STATUSES,
    is_batch_job,
    record_listed,
    snapshot,
)
from batch_runner.orchestration.allocation import Demand, ModelLimit, allocate
from batch_runner.orchestration.cloud_run import CloudRun, scratch_dir
from batch_runner.orchestration.live_jobs import list_live_jobs, live_by_model, run_jobs
from batch_runner.orchestration.registry import FINISHED, Registry, RegistryEntry
from batch_runner.orchestration.settings import OrchestrationSettings
from batch_runner.orchestration.workflow import Workflows, hand_back

# A pass must finish well within a Lambda's time: "later" answers are retried briefly, then the
# next pass tries again.
PASS_BACKOFF = Backoff(base_seconds=0.5, max_seconds=5.0, deadline_seconds=20.0)
# Above this many jobs of one run ended since the last pass, one listing beats a Get each.
GETS_PER_RUN = 10
# A waiting workflow hears from the scheduler at most this often (passes can come many a minute);
# its heartbeat timeout allows several sweeps (``stacks/orchestration_workflow.py``).
HEARTBEAT_SECONDS = 60


@dataclass
class PassReport:
    """What one pass saw and did (logged by the handler, asserted by tests)."""

    runs: int = 0
    live_by_model: dict[str, int] = field(default_factory=dict)
    created: dict[str, list[int]] = field(default_factory=dict)
    finished: dict[str, str] = field(default_factory=dict)  # run -> outcome
    cancelled: list[str] = field(default_factory=list)
    retried: dict[str, str] = field(default_factory=dict)  # run -> how (batch, on-demand, nothing)
    waiting: dict[str, str] = field(default_factory=dict)  # run -> why shards still wait
    workflows_started: list[str] = field(default_factory=list)
    workflows_resumed: list[str] = field(default_factory=list)
    requests: dict[str, list[str]] = field(default_factory=dict)  # run -> ["cancel by <arn>", ...]
    manifests_written: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class Scheduler:
    """A pass over injected clients (``bedrock``, ``s3``, ``dynamodb``) and the stack's settings."""

    clients: dict[str, Any]
    settings: OrchestrationSettings
    backoff: Backoff = PASS_BACKOFF
    # ``time.monotonic()`` after which no job is created in this pass, so the manifests and the
    # registry are written before the Lambda's timeout (the handler sets it from its context).
    stop_creating_at: float | None = None
    workdir: Path = field(default_factory=scratch_dir)

    @property
    def registry(self) -> Registry:
        return Registry(self.clients["dynamodb"], self.settings.registry_table)

    @property
    def workflows(self) -> Workflows | None:
        arn = self.settings.state_machine_arn
        return Workflows(self.clients["stepfunctions"], arn) if arn else None

    def run_pass(self) -> PassReport:
        report = PassReport()
        entries = list(self.registry.active())
        report.runs = len(entries)
        if not entries:
            return report
        live = list_live_jobs(self.clients["bedrock"], self.backoff)
        live_by_name = {str(job.get("jobName")): job for job in live}
        counts = live_by_model(live)
        report.live_by_model = dict(counts)
        runs: dict[str, tuple[RegistryEntry, CloudRun]] = {}
        for entry in entries:
            try:
                run = CloudRun.load(self.clients, self.settings.input_bucket, entry.run, self.workdir)
                if run is None:
                    report.warnings.append(
                        f"run {entry.run}: no manifest in s3://{self.settings.input_bucket}"
                    )
                    continue
                self._refresh(run, live_by_name, report)
                _note_requests(entry, report)
                if entry.cancel_requested:
                    self._cancel(run, report)
                else:
                    self._retry(entry, run, report)
                self._follow(entry, report)
            except AwsError as err:  # one broken run must not stop the others
                report.warnings.append(f"run {entry.run}: {err}")
                continue
            runs[entry.run] = (entry, run)
        slots, limits = allocate(self._demands(runs), counts, self.settings)
        for name, count in slots.items():
            self._submit(runs[name][1], count, live_by_name, report)
        self._record(runs, limits, report)
        return report

    def _refresh(
        self, run: CloudRun, live_by_name: Mapping[str, Mapping[str, Any]], report: PassReport
    ) -> None:
        """Statuses from the live listing; jobs that left it ended since the last pass: a Get
        each when they are few, else one listing of the run's jobs (1,000 a page)."""
        listed = dict(live_by_name)
        departed = [
            shard
            for shard in run.shards
            if shard.state == SUBMITTED
            and is_batch_job(shard)
            and shard.job_status not in TERMINAL_STATUSES
            and (listed.get(shard.job_name) or {}).get("jobArn") != shard.job_arn
        ]
        bedrock = self.clients["bedrock"]
        try:
            if len(departed) > GETS_PER_RUN:
                listed |= run_jobs(bedrock, run.name, self.backoff)
            else:
                for shard in departed:
                    listed[shard.job_name] = with_backoff(
                        partial(bedrock.get_model_invocation_job, jobIdentifier=shard.job_arn),
                        self.backoff,
                        f"reading job {shard.job_name}",
                    )
        except (NotNow, AwsError) as err:
            report.warnings.append(f"run {run.name}: some statuses not refreshed ({err})")
        if record_listed(run, listed):
            run.save()

    def _cancel(self, run: CloudRun, report: PassReport) -> None:
        stoppable = [
            s
            for s in run.shards
            if s.state == SUBMITTED and s.job_status not in (*TERMINAL_STATUSES, "Stopping")
        ]
        if run.queued_shards or any(is_batch_job(s) for s in stoppable):
            cancel_run(run, backoff=self.backoff)
            report.cancelled.append(run.name)

    def _retry(self, entry: RegistryEntry, run: CloudRun, report: PassReport) -> None:
        """Once every job ended: a retry round when asked, or automatically while failures remain
        and ``auto_retry`` rounds are left (failed and missing records as child jobs)."""
        automatic = entry.retries_done < self.settings.auto_retry and _has_failures(run)
        if not (entry.retry_requested or automatic) or not snapshot(run).finished:
            return
        try:
            result = retry_run(run, on_demand=self.settings.on_demand_below_minimum, backoff=self.backoff)
            report.retried[run.name] = result.mode
        except UsageError as err:  # e.g. fewer records than a job's minimum, on demand not allowed
            report.warnings.append(f"run {run.name}: not retried ({err})")
        self.registry.update(
            entry.run, {"retries_done": entry.retries_done + 1}, retries_handled=entry.retry_requested
        )

    def _follow(self, entry: RegistryEntry, report: PassReport) -> None:
        """Start the run's workflow if it has none; else keep it from timing out."""
        workflows = self.workflows
        if workflows is None:
            return
        if not entry.execution:
            arn = workflows.start(entry)
            # A new round's results replace the last round's: until they are collected, none.
            started = {
                "execution": arn,
                "workflows_started": entry.workflows_started + 1,
                "results_uri": "",
                "results_summary": "",
            }
            self.registry.update(entry.run, started)
            report.workflows_started.append(entry.run)
        elif entry.task_token and _seconds_since(entry.heartbeat_at) >= HEARTBEAT_SECONDS:
            if workflows.heartbeat(entry.task_token):
                self.registry.update(entry.run, {"heartbeat_at": utc_now()})
            else:  # stopped in the console, or timed out: the run goes on without it
                report.warnings.append(f"run {entry.run}: its workflow stopped waiting ({entry.execution})")
                self.registry.update(entry.run, {"task_token": ""})

    def _finished(self, written: RegistryEntry | None, report: PassReport) -> None:
        """Hand the finished run back to its workflow (which collects and notifies)."""
        workflows = self.workflows
        if workflows is None or written is None:
            return
        try:
            if hand_back(self.registry, workflows, written):
                report.workflows_resumed.append(written.run)
        except AwsError as err:  # its heartbeat timeout then ends the workflow with a notice
            report.warnings.append(f"run {written.run}: workflow not resumed ({err})")

    def _demands(self, runs: Mapping[str, tuple[RegistryEntry, CloudRun]]) -> list[Demand]:
        demands = []
        for entry, run in runs.values():
            queued = sum(1 for s in run.shards if s.state == QUEUED)
            if not queued or entry.cancel_requested:
                continue
            live = sum(
                1 for s in run.shards if s.state == SUBMITTED and s.job_status not in TERMINAL_STATUSES
            )
            demands.append(
                Demand(
                    run=entry.run,
                    team=entry.team,
                    base_model=base_model(run.model_id),
                    queued=queued,
                    live=live,
                    quota=int(run.manifest.quotas["max_concurrent_jobs"]),
                    priority=entry.priority,
                    created_at=entry.created_at,
                )
            )
        return demands

    def _submit(
        self, run: CloudRun, slots: int, live_by_name: Mapping[str, Mapping[str, Any]], report: PassReport
    ) -> None:
        names = {shard.job_name for shard in run.shards}
        mine = {name: job for name, job in live_by_name.items() if name in names}
        submitted = submit_queued(
            run.manifest,
            run.client("bedrock"),
            save=run.save,
            backoff=self.backoff,
            slots=slots,
            existing=mine,
            out_of_time=self._out_of_time,
        )
        if submitted.created:
            report.created[run.name] = submitted.created
        if submitted.waiting_reason and submitted.queued:
            report.waiting[run.name] = submitted.waiting_reason

    def _out_of_time(self) -> bool:
        return self.stop_creating_at is not None and time.monotonic() >= self.stop_creating_at

    def _record(
        self, runs: Mapping[str, tuple[RegistryEntry, CloudRun]], limits: list[ModelLimit], report: PassReport
    ) -> None:
        created = Counter({model: 0 for model in report.live_by_model})
        for name, jobs in report.created.items():
            created[base_model(runs[name][1].model_id)] += len(jobs)
        by_model = {limit.base_model: limit for limit in limits}
        now = utc_now()
        for entry, run in runs.values():
            report.manifests_written += run.flush()
            status = snapshot(run)
            changes: dict[str, str] = {"last_pass_at": now}
            if status.finished:
                changes |= {"state": FINISHED, "outcome": status.state, "waiting_reason": ""}
                report.finished[entry.run] = status.state
                self._finished(self.registry.update(entry.run, changes), report)
                continue
            if run.queued_shards and not entry.cancel_requested:
                limit = by_model.get(base_model(run.model_id))
                reason = report.waiting.get(entry.run) or _slots_reason(limit, created)
                changes["waiting_reason"] = reason
                report.waiting[entry.run] = reason
            else:
                changes["waiting_reason"] = ""
            self.registry.update(entry.run, changes)


def _note_requests(entry: RegistryEntry, report: PassReport) -> None:
    """Who asked for what, for the pass log; a request by someone other than the owner (forced) is
    also a warning. Acted on either way: the sender is the writer's own claim, and whoever may write
    the registry item may write the owner's name there too, so refusing it here would stop only the
    honest `--force` of an administrator (see the README's trust model)."""
    asked = [("cancel", entry.cancel_requested_by)] if entry.cancel_requested else []
    asked += [("retry", entry.retry_requested_by)] if entry.retry_requested else []
    for what, by in asked:
        report.requests.setdefault(entry.run, []).append(f"{what} by {by or 'unknown'}")
        if entry.owner and by != entry.owner:
            report.warnings.append(
                f"run {entry.run}: {what} forced by {by or 'unknown'}, owner {entry.owner}"
            )


def _has_failures(run: CloudRun) -> bool:
    """Whether a finished job left records failed or missing (from what the manifest holds)."""
    for shard in run.shards:
        counts = shard.final_counts or {}
        if shard.job_status in UNSUCCESSFUL_STATUSES or counts.get("errorRecordCount", 0) > 0:
            return True
    return False


def _seconds_since(stamp: str) -> float:
    if not stamp:
        return float("inf")
    return (datetime.now(UTC) - datetime.fromisoformat(stamp)).total_seconds()


def _slots_reason(limit: ModelLimit | None, created: Counter[str]) -> str:
    if limit is None:
        return "waiting for the next pass"
    in_use = limit.live + created[limit.base_model]
    return f"{in_use} of {limit.limit} job slots for {limit.base_model} in use account-wide"
