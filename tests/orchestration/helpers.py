"""Runs uploaded but not submitted (what `submit --orchestrated` leaves), a registry table in the
emulator, a scheduler over the emulator's clients, and a second caller."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from batch_runner.api import QuotaOverrides, SubmitOptions, Target, prepare, submit
from batch_runner.aws.clients import AwsContext
from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.jobs.submission import base_model
from batch_runner.local import Emulator
from batch_runner.orchestration.registry import STATE_INDEX, Registry, RegistryEntry
from batch_runner.orchestration.scheduler import Scheduler
from batch_runner.orchestration.settings import OrchestrationSettings
from batch_runner.runs import Run
from tests.cli.test_submit import HAIKU

_TABLES = itertools.count()


def registry_table(emulator: Emulator) -> str:
    """A fresh registry table (the emulator's moto state lives for the session)."""
    name = f"registry-{next(_TABLES)}"
    emulator.client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name_, "AttributeType": "S"} for name_ in ("run", "state", "created_at")
        ],
        KeySchema=[{"AttributeName": "run", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": STATE_INDEX,
                "KeySchema": [
                    {"AttributeName": "state", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    return name


def scheduler(emulator: Emulator, table: str, **settings: Any) -> Scheduler:
    clients = {name: emulator.client(name) for name in ("bedrock", "s3", "dynamodb")}
    config = OrchestrationSettings(
        registry_table=table, input_bucket=emulator.stack_outputs["InputBucketName"], **settings
    )
    return Scheduler(clients, config)


def queued_run(
    emulator: Emulator,
    state_dir: Path,
    table: str,
    run: str,
    shards: int,
    *,
    team: str = "default",
    quota: int = 20,
    created_at: str = "",
    records_per_shard: int = 100,
) -> Run:
    """A run of ``shards`` shards, uploaded and registered, no job created."""
    emulator.configure(min_records_per_job=1)
    prepared = prepare(
        [{"id": f"{run}-{n}", "text": f"Message {n}"} for n in range(shards * records_per_shard)],
        SubmitOptions(model_id=HAIKU, prompt_template="Answer: {{ text }}", id_column="id"),
        run=run,
        quotas=QuotaOverrides(
            min_records_per_job=1, max_records_per_job=records_per_shard, max_concurrent_jobs=quota
        ),
        target=Target(
            aws=AwsContext(region="us-east-1", endpoint_url=emulator.endpoint_url), state_dir=state_dir
        ),
    )
    launched = prepared.stage(orchestrated=True)
    launched.upload_pending()
    entry = RegistryEntry(
        run=run,
        model_id=HAIKU,
        base_model=base_model(HAIKU),
        created_at=created_at or launched.manifest.created_at,
        team=team,
    )
    assert Registry(emulator.client("dynamodb"), table).register(entry)
    return launched


def submit_orchestrated(emulator: Emulator, state_dir: Path, run: str, shards: int, quota: int) -> Run:
    """What `submit --orchestrated` does, through the API: upload, register, wake the scheduler."""
    emulator.configure(min_records_per_job=1, max_active_jobs_per_model=quota)
    return submit(
        [{"id": f"{run}-{n}", "text": f"Message {n}"} for n in range(shards * 100)],
        model=HAIKU,
        prompt="Answer: {{ text }}",
        id_column="id",
        run=run,
        quotas=QuotaOverrides(min_records_per_job=1, max_records_per_job=100, max_concurrent_jobs=quota),
        endpoint_url=emulator.endpoint_url,
        region="us-east-1",
        state_dir=state_dir,
        orchestrated=True,
    )


def become_another_submitter(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """From here on, this process calls AWS as a new IAM user holding only the stack's submitter
    policy (a colleague); returns the user's ARN."""
    iam = emulator.client("iam")
    user = f"colleague-{next(_TABLES)}"
    arn = str(iam.create_user(UserName=user)["User"]["Arn"])
    iam.attach_user_policy(UserName=user, PolicyArn=emulator.stack_outputs[OutputKey.SUBMITTER_POLICY_ARN])
    key = iam.create_access_key(UserName=user)["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    return arn


def live_jobs(emulator: Emulator) -> list[Any]:
    emulator.advance(0)
    return [job for job in emulator.jobs() if not job.terminal]
