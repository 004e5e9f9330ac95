"""The one-command first run: the whole user journey on the local emulator, in a few seconds.

``run_demo`` starts the emulator in this process (wall clock, short job phases) with the dev stack
deployed, submits the bundled concern/intervention audit of client–therapist conversations through
the public ``submit`` API, waits for the jobs, writes the joined results file and returns a
``DemoSummary``. Nothing outlives the call unless the caller keeps the emulator (``keep_running``).

By default this process drives the run (``orchestrated=False``). With ``orchestrated`` the run is
handed over to the stack: the emulator delivers the stack's events to its scheduler Lambda, which
submits the jobs and keeps the run's manifest current, and this process only reads that manifest
until it says the run finished, then collects the results as before.

The demo talks to the emulator only: fake credentials, and none of the caller's AWS profile,
endpoint or ``BATCH_RUNNER_*`` settings, so it can never reach a real account.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from batch_runner.api import submit
from batch_runner.aws.settings import DEFAULT_STATE_DIR
from batch_runner.catalog.output_schema import OutputSchema
from batch_runner.exceptions import UsageError
from batch_runner.jobs.pacing import Pacing
from batch_runner.jobs.run_results import run_output_schema
from batch_runner.jobs.run_state import default_run_name
from batch_runner.jobs.tracking import RunStatus
from batch_runner.jobs.waiting import wait_for_run
from batch_runner.local.config import EmulatorConfig
from batch_runner.orchestration.requests import is_orchestrated
from batch_runner.results import property_columns
from batch_runner.results.writers import check_output_path

if TYPE_CHECKING:
    from batch_runner.local.server import Emulator  # loads moto: only when the demo runs
    from batch_runner.runs import Run

REGION = "us-east-1"
DEMO_ENVIRONMENT = "dev"
MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
DATASET = "conversations.csv"
PROMPT = "prompt.j2"
SCHEMA = "schema.json"  # the answers become columns: concerns, interventions, resolved, risk_flag, note
ID_COLUMN = "conversation_id"
MAX_TOKENS = 400
DEFAULT_OUTPUT = Path("demo-results.csv")
# Job phases of a fraction of a second and fast processing: the whole run takes seconds, yet every
# status a real job passes through (Submitted, Validating, Scheduled, InProgress) is visible.
DEMO_CONFIG = EmulatorConfig(
    submitted_seconds=0.5,
    validating_seconds=0.5,
    scheduled_seconds=0.5,
    records_per_second=80.0,
)
POLL_SECONDS = 0.25
TIMEOUT_SECONDS = 120.0
_FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Settings of the caller's shell that would point the demo elsewhere than the emulator.
_CALLER_SETTINGS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")


@dataclass(frozen=True)
class DemoSummary:
    run: str
    state: str  # the run's outcome, e.g. Completed
    output_path: Path
    records: int
    succeeded: int
    failed: int
    missing: int
    input_tokens: int
    output_tokens: int
    batch_usd: float | None
    on_demand_usd: float | None
    prices_as_of: str | None
    jobs: int
    seconds: float
    orchestrated: bool = False  # the manifest's setting: the stack drove the run, not this process
    collected: str = ""  # orchestrated: where the stack's workflow collected the results in S3
    columns: tuple[str, ...] = ()  # the answer columns from the output schema
    schema_failed: int = 0  # answers that did not match the schema
    # Counts of each value of the yes/no-like columns (enums and booleans), e.g. {"resolved": {"yes": 90}}
    tallies: dict[str, dict[str, int]] = field(default_factory=dict)


def bundled_file(name: str) -> Path:
    """A file of the bundled example (package data, so an installed copy has it too)."""
    return Path(str(resources.files("batch_runner.data").joinpath("examples", name)))


@contextlib.contextmanager
def emulator_only_environment() -> Iterator[None]:
    """Fake credentials and none of the caller's AWS or runner settings, restored afterwards."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name in _CALLER_SETTINGS or name.startswith("BATCH_RUNNER_"):
            del os.environ[name]
    os.environ.update(_FAKE_CREDENTIALS)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_demo(
    out: Path | str = DEFAULT_OUTPUT,
    *,
    keep_running: bool = False,
    on_start: Callable[[str, str], None] | None = None,
    on_progress: Callable[[RunStatus], None] | None = None,
    on_ready: Callable[[DemoSummary, str], None] | None = None,
    orchestrated: bool = False,
) -> DemoSummary:
    """Run the demo end to end and write ``out``; returns what happened.

    ``on_start`` gets the emulator endpoint and stack name once the stack is deployed,
    ``on_progress`` every poll.
    With ``keep_running`` the run state goes to ``.batch-runner`` in the working directory and,
    after ``on_ready(summary, endpoint)``, the emulator serves until interrupted (Ctrl-C), so the
    run can be explored with the other commands; otherwise state lives in a temporary directory.
    With ``orchestrated`` the run is handed to the stack's scheduler and only watched from here.
    """
    from batch_runner.local.server import Emulator  # loads moto: only when the demo runs

    destination = check_output_path(out)  # before anything starts
    if destination.is_stdout or destination.s3_address is not None:
        raise UsageError(
            f"the demo writes its results to a local file, not {out}; give a .csv, .jsonl or .parquet path"
        )
    out = Path(out)
    started = time.monotonic()
    state_dir = Path(DEFAULT_STATE_DIR) if keep_running else Path(tempfile.mkdtemp(prefix="batch-demo-"))
    emulator = Emulator(DEMO_CONFIG, region=REGION, environment=DEMO_ENVIRONMENT, deploy_stack=False)
    try:
        with emulator_only_environment():
            emulator.start()
            _deploy_fresh_stack(emulator)
            if on_start is not None:
                on_start(emulator.endpoint_url, emulator.stack_name)
            summary = _submit_wait_collect(
                emulator.endpoint_url, emulator.stack_name, state_dir, out, on_progress, orchestrated
            )
            summary = _with_seconds(summary, time.monotonic() - started)
            if keep_running:
                # Ctrl-C as soon as on_ready has said "Press Ctrl-C" (before serving) stops cleanly too.
                with contextlib.suppress(KeyboardInterrupt):
                    if on_ready is not None:
                        on_ready(summary, emulator.endpoint_url)
                    emulator.serve_forever()
            return summary
    finally:
        emulator.stop()
        if not keep_running:
            shutil.rmtree(state_dir, ignore_errors=True)


def _deploy_fresh_stack(emulator: Emulator) -> None:
    """Deploy the dev stack, replacing one an earlier demo left in this process's moto state
    (moto keeps its state per process, so a second ``run_demo`` would find the stack existing)."""
    from batch_runner.local.stack import deploy, project_root, stack_template

    cloudformation = emulator.client("cloudformation")
    with contextlib.suppress(ClientError):
        cloudformation.delete_stack(StackName=emulator.stack_name)
    deploy(cloudformation, emulator.stack_name, stack_template(project_root(), DEMO_ENVIRONMENT))


def _submit_wait_collect(
    endpoint_url: str,
    stack: str,
    state_dir: Path,
    out: Path,
    on_progress: Callable[[RunStatus], None] | None,
    orchestrated: bool = False,
) -> DemoSummary:
    run = submit(
        bundled_file(DATASET),
        model=MODEL_ID,
        prompt=bundled_file(PROMPT).read_text(encoding="utf-8"),
        output_schema=bundled_file(SCHEMA),
        id_column=ID_COLUMN,
        max_tokens=MAX_TOKENS,
        run=default_run_name("demo"),
        stack=stack,
        region=REGION,
        endpoint_url=endpoint_url,
        state_dir=state_dir,
        # By default the demo drives its run from this process; orchestrated, the dev stack's
        # scheduler does and the wait below only reads the manifest the stack writes.
        orchestrated=orchestrated,
    )
    pacing = Pacing(poll=POLL_SECONDS, max_poll=POLL_SECONDS * 4, timeout=TIMEOUT_SECONDS)
    status = wait_for_run(run, pacing, on_progress=on_progress, read=run.status)
    collected = _stack_collection(run) if is_orchestrated(run) else ""
    reconciliation = run.results(include_input=True).save(out)
    schema = run_output_schema(run)
    assert schema is not None  # submitted with the bundled schema above
    cost = run.cost()
    return DemoSummary(
        run=run.name,
        state=status.state,
        orchestrated=is_orchestrated(run),
        collected=collected,
        output_path=out.resolve(),
        records=reconciliation.total,
        succeeded=reconciliation.succeeded,
        failed=reconciliation.failed,
        missing=reconciliation.missing,
        input_tokens=cost.input_tokens,
        output_tokens=cost.output_tokens,
        batch_usd=cost.batch_usd,
        on_demand_usd=cost.on_demand_usd,
        prices_as_of=cost.prices_as_of,
        jobs=len(status.jobs),
        seconds=0.0,
        columns=property_columns(schema.properties),
        schema_failed=reconciliation.schema_failed,
        tallies=_tallies(run.results(), _categorical(schema)),
    )


def _stack_collection(run: Run) -> str:
    """Where the run's workflow put the results, once it has (moments after the run ends)."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        collection = run.collected_results()
        if collection is not None:
            return collection.uri
        time.sleep(POLL_SECONDS)
    return ""


def _categorical(schema: OutputSchema) -> list[str]:
    """The result columns worth counting: booleans and enums of a few values."""
    properties = schema.document["properties"]
    return [
        column
        for name, column in zip(schema.properties, property_columns(schema.properties), strict=True)
        if schema.column_kind(name) == "bool" or len(properties[name].get("enum", ())) in range(1, 6)
    ]


def _tallies(results: Iterable[dict[str, Any]], columns: list[str]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {name: Counter() for name in columns}
    for result in results:
        for name in columns:
            if result[name] is not None:
                counts[name][json.dumps(result[name]).strip('"')] += 1
    return {name: dict(sorted(count.items())) for name, count in counts.items()}


def _with_seconds(summary: DemoSummary, seconds: float) -> DemoSummary:
    return replace(summary, seconds=seconds)
