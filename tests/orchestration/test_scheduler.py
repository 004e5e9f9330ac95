"""The scheduler pass on the emulator's manual clock: it drains queues within the account-wide
quota, shares it among teams, counts foreign jobs, and is idempotent under duplicates and crashes."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from batch_runner.jobs.run_results import output_source
from batch_runner.jobs.run_state import QUEUED, manifest_key, read_remote
from batch_runner.local import Emulator
from batch_runner.orchestration.cloud_run import CloudRun
from batch_runner.orchestration.handlers import creation_deadline
from batch_runner.orchestration.registry import FINISHED, Registry
from batch_runner.orchestration.settings import Team
from batch_runner.results.outputs import forkable
from tests.cli.test_submit import HAIKU
from tests.orchestration.helpers import live_jobs, queued_run, registry_table, scheduler


@pytest.fixture
def table(emulator: Emulator) -> str:
    return registry_table(emulator)


def test_quota_of_one_drains_a_run_of_three_shards(emulator: Emulator, tmp_path: Path, table: str) -> None:
    emulator.configure(max_active_jobs_per_model=1)
    queued_run(emulator, tmp_path, table, "drain-one", 3, quota=1)
    passes = scheduler(emulator, table)
    created = []
    for _ in range(4):
        report = passes.run_pass()
        created.append(report.created.get("drain-one", []))
        assert len(live_jobs(emulator)) <= 1
        emulator.run_until_idle()
    assert created == [[0], [1], [2], []]
    assert report.finished == {"drain-one": "Completed"}
    entry = Registry(emulator.client("dynamodb"), table).get("drain-one")
    assert entry is not None and (entry.state, entry.outcome) == (FINISHED, "Completed")
    stored = read_remote(emulator.client("s3"), emulator.stack_outputs["InputBucketName"], "drain-one")
    assert stored is not None and [s.job_status for s in stored.shards] == ["Completed"] * 3
    assert scheduler(emulator, table).run_pass().runs == 0  # a finished run is no longer visited


def test_waiting_runs_say_why(emulator: Emulator, tmp_path: Path, table: str) -> None:
    queued_run(emulator, tmp_path, table, "drain-why", 2, quota=1)
    scheduler(emulator, table).run_pass()
    entry = Registry(emulator.client("dynamodb"), table).get("drain-why")
    assert entry is not None
    assert (
        entry.waiting_reason
        == "1 of 1 job slots for anthropic.claude-3-haiku-20240307-v1:0 in use account-wide"
    )


@pytest.mark.parametrize(
    ("shares", "quota", "per_pass"), [((1, 1), 2, {"a": 1, "b": 1}), ((2, 1), 3, {"a": 2, "b": 1})]
)
def test_two_teams_share_the_quota_in_proportion(
    emulator: Emulator,
    tmp_path: Path,
    table: str,
    shares: tuple[int, int],
    quota: int,
    per_pass: dict[str, int],
) -> None:
    emulator.configure(max_active_jobs_per_model=quota)
    queued_run(emulator, tmp_path, table, f"team-a-{quota}", 4, team="a", quota=quota)
    queued_run(emulator, tmp_path, table, f"team-b-{quota}", 4, team="b", quota=quota)
    teams = (Team("a", share=shares[0]), Team("b", share=shares[1]))
    passes = scheduler(emulator, table, teams=teams)
    for _ in range(2):
        report = passes.run_pass()
        assert len(live_jobs(emulator)) == quota
        assert {name[5]: len(shards) for name, shards in report.created.items()} == per_pass
        assert passes.run_pass().created == {}  # a second event while every slot is taken
        emulator.run_until_idle()


def test_a_foreign_job_counts_against_the_quota_and_is_left_alone(
    emulator: Emulator, tmp_path: Path, table: str
) -> None:
    emulator.configure(max_active_jobs_per_model=2)
    run = queued_run(emulator, tmp_path, table, "beside-foreign", 3, quota=2)
    outputs = emulator.stack_outputs
    foreign = emulator.client("bedrock").create_model_invocation_job(
        jobName="another-tool-1",
        roleArn=outputs["ServiceRoleArn"],
        modelId=HAIKU,
        inputDataConfig={
            "s3InputDataConfig": {"s3Uri": f"s3://{outputs['InputBucketName']}/{run.shards[0].s3_key}"}
        },
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{outputs['OutputBucketName']}/foreign/"}},
    )["jobArn"]
    report = scheduler(emulator, table).run_pass()
    assert report.created == {"beside-foreign": [0]}
    assert report.live_by_model == {"anthropic.claude-3-haiku-20240307-v1:0": 1}
    assert foreign not in [s.job_arn for s in run.shards]
    assert emulator.client("bedrock").get_model_invocation_job(jobIdentifier=foreign)["status"] == "Submitted"


def test_duplicate_events_create_nothing(emulator: Emulator, tmp_path: Path, table: str) -> None:
    queued_run(emulator, tmp_path, table, "dup-events", 2)
    passes = scheduler(emulator, table)
    assert passes.run_pass().created == {"dup-events": [0, 1]}
    again = passes.run_pass()
    assert (again.created, again.manifests_written) == ({}, 0)
    assert len(emulator.jobs()) == 2


def test_a_crash_before_the_manifest_write_creates_no_duplicate(
    emulator: Emulator, tmp_path: Path, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued_run(emulator, tmp_path, table, "crash-mid", 3)

    def crash(self: CloudRun) -> bool:
        raise RuntimeError("Lambda timed out")

    with monkeypatch.context() as patched:
        patched.setattr(CloudRun, "flush", crash)
        with pytest.raises(RuntimeError):
            scheduler(emulator, table).run_pass()
    assert len(emulator.jobs()) == 3
    stored = read_remote(emulator.client("s3"), emulator.stack_outputs["InputBucketName"], "crash-mid")
    assert stored is not None and {s.state for s in stored.shards} == {QUEUED}  # the write never happened
    report = scheduler(emulator, table).run_pass()
    assert report.created == {} and len(emulator.jobs()) == 3
    stored = read_remote(emulator.client("s3"), emulator.stack_outputs["InputBucketName"], "crash-mid")
    assert stored is not None and sorted(s.job_arn or "" for s in stored.shards) == sorted(
        j.arn for j in emulator.jobs()
    )


def test_cancel_request_stops_live_jobs_and_dequeues_the_rest(
    emulator: Emulator, tmp_path: Path, table: str
) -> None:
    queued_run(emulator, tmp_path, table, "cancel-req", 3, quota=1)
    passes = scheduler(emulator, table)
    passes.run_pass()
    assert Registry(emulator.client("dynamodb"), table).request("cancel-req", cancel=True)
    report = passes.run_pass()
    assert report.cancelled == ["cancel-req"] and report.created == {}
    emulator.run_until_idle()
    final = passes.run_pass()
    assert final.finished == {"cancel-req": "Stopped"}
    assert Counter(job.status for job in emulator.jobs()) == Counter({"Stopped": 1})
    assert not Registry(emulator.client("dynamodb"), table).request("no-such-run", cancel=True)


def test_a_stale_manifest_is_never_overwritten(emulator: Emulator, tmp_path: Path, table: str) -> None:
    queued_run(emulator, tmp_path, table, "stale-write", 1)
    clients = {"s3": emulator.client("s3")}
    bucket = emulator.stack_outputs["InputBucketName"]
    first = CloudRun.load(clients, bucket, "stale-write", tmp_path)
    second = CloudRun.load(clients, bucket, "stale-write", tmp_path)
    assert first is not None and second is not None
    first.manifest.shards[0].message = "written by the first pass"
    first.save()
    assert first.flush()
    second.save()
    with pytest.raises(Exception, match="changed since it was read"):
        second.flush()


def test_a_pass_out_of_time_creates_nothing_more_and_the_next_goes_on(
    emulator: Emulator, tmp_path: Path, table: str
) -> None:
    queued_run(emulator, tmp_path, table, "out-of-time", 2)
    late = scheduler(emulator, table)
    late.stop_creating_at = time.monotonic()  # as a Lambda with a minute left would find it
    report = late.run_pass()
    assert report.created == {} and emulator.jobs() == []
    entry = Registry(emulator.client("dynamodb"), table).get("out-of-time")
    assert (
        entry is not None
        and entry.waiting_reason == "the scheduler's pass ran out of time; its next pass goes on"
    )
    assert scheduler(emulator, table).run_pass().created == {"out-of-time": [0, 1]}


def test_the_handler_leaves_a_minute_of_the_invocation_for_the_writes() -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 300_000

    stop = creation_deadline(Context())
    assert stop is not None and 239 < stop - time.monotonic() <= 240
    assert creation_deadline(None) is None  # called in-process (tests, the emulator): no limit


def test_the_stack_writes_the_manifest_gzipped_and_every_reader_takes_it(
    emulator: Emulator, tmp_path: Path, table: str
) -> None:
    queued_run(emulator, tmp_path, table, "gzipped", 10)
    scheduler(emulator, table).run_pass()
    bucket = emulator.stack_outputs["InputBucketName"]
    stored = emulator.client("s3").get_object(Bucket=bucket, Key=manifest_key("gzipped"))
    body = stored["Body"].read()
    assert stored["ContentEncoding"] == "gzip"
    manifest = read_remote(emulator.client("s3"), bucket, "gzipped")
    assert manifest is not None and [s.state for s in manifest.shards] == ["submitted"] * 10
    assert len(body) * 3 < len(manifest.to_bytes())


def test_a_functions_runs_read_outputs_in_one_process(emulator: Emulator, tmp_path: Path, table: str) -> None:
    # Its clients are handed in (and its endpoint with them): no worker could make its own, and a
    # function of one vCPU or less would gain nothing from workers.
    queued_run(emulator, tmp_path, table, "one-process", 1)
    clients = {"s3": emulator.client("s3")}
    run = CloudRun.load(clients, emulator.stack_outputs["InputBucketName"], "one-process", tmp_path)
    assert run is not None

    assert run.new_client("s3") is None
    assert not forkable(output_source(run))
