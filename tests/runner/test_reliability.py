"""Runs that go wrong in every way the service allows, driven through the CLI on the emulator:
`wait` survives them and `results` accounts for every record."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import botocore.endpoint
import pytest
from botocore.retries.bucket import TokenBucket

from batch_runner.cli import main
from batch_runner.local import Emulator
from batch_runner.results.join import JoinedResults
from tests.runner.tracking_helpers import emulator_pacing, submit_cli, write_csv

RUN = "rel"
# The forced outcome of the n-th job created (0-based); "stop" is stopped by hand while running.
OUTCOMES: dict[int, str | None] = {0: "Failed", 1: "PartiallyCompleted", 2: "Expired", 3: None, 4: None}
STOPPED = f"dev.{RUN}-s00003"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _drive_outcomes(emulator: Emulator, polls: list[int]) -> None:
    """Before each poll's sleep: pick the outcome of the next job; stop job 3 once it runs;
    throttle and fail a share of the Bedrock calls during polls 2 to 7."""
    polls.append(len(polls) + 1)
    faulty = 2 <= len(polls) <= 7
    jobs = emulator.jobs()
    emulator.configure(
        job_outcome=OUTCOMES.get(len(jobs)),
        throttle_rate=0.2 if faulty else 0.0,
        server_error_rate=0.15 if faulty else 0.0,
        seed=len(polls),
    )
    for job in jobs:
        if job.name == STOPPED and job.status == "InProgress" and job.processed:
            emulator.client("bedrock").stop_model_invocation_job(jobIdentifier=job.arn)


def _corrupt_one_output_line(emulator: Emulator, job_id: str) -> None:
    s3 = emulator.client("s3")
    bucket = emulator.stack_outputs["OutputBucketName"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{RUN}/output/{job_id}/")["Contents"]
    key = next(obj["Key"] for obj in listed if obj["Key"].endswith(".jsonl.out"))
    lines = s3.get_object(Bucket=bucket, Key=key)["Body"].read().split(b"\n")
    lines[0] = lines[0][:25]  # a line cut short, as a torn write would leave it
    s3.put_object(Bucket=bucket, Key=key, Body=b"\n".join(lines))


def test_wait_and_results_survive_every_failure_mode(
    emulator: Emulator, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.configure(job_outcome="Failed", record_error_rate=0.1, seed=3)
    dataset = write_csv(workdir / "tickets.csv", 500)
    endpoint = submit_cli(emulator, dataset, RUN, concurrent=1, extra=("--id-column", "id"))
    capsys.readouterr()
    # botocore's own retries (and its adaptive rate limiter) answer the injected faults without
    # real-time sleeping: the emulator is local and its clock is manual.
    retried: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=retried.append))
    monkeypatch.setattr(TokenBucket, "acquire", lambda self, amount=1, block=True: True)
    polls: list[int] = []
    emulator_pacing(monkeypatch, emulator, before_sleep=lambda: _drive_outcomes(emulator, polls))

    assert main(["wait", RUN, "--poll", "0.5", *endpoint]) == 3
    captured = capsys.readouterr()
    statuses = {job.name: job.status for job in emulator.jobs()}
    assert statuses == {
        f"dev.{RUN}-s00000": "Failed",
        f"dev.{RUN}-s00001": "PartiallyCompleted",
        f"dev.{RUN}-s00002": "Expired",
        f"dev.{RUN}-s00003": "Stopped",
        f"dev.{RUN}-s00004": "Completed",
    }
    assert len(retried) >= 5  # throttled or failed calls that were retried
    error = captured.err.strip().splitlines()[-1]
    assert error.startswith(f"error: run {RUN}: every job ended, but ")
    assert f"are missing (shard 0 (dev.{RUN}-s00000): Failed: " in error
    assert "shard 2 (dev.rel-s00002): Expired: " in error and "shard 3 (dev.rel-s00003): Stopped" in error

    completed = next(job for job in emulator.jobs() if job.status == "Completed")
    _corrupt_one_output_line(emulator, completed.job_id)
    emulator.configure(throttle_rate=0.0, server_error_rate=0.0, s3_get_error_rate=0.2)
    assert main(["results", RUN, "--out", "out.csv", "--json", *endpoint]) == 0
    rec = json.loads(capsys.readouterr().out)

    assert rec["total"] == 500 == rec["succeeded"] + rec["failed"] + rec["missing"]
    assert rec["malformed"] == 1 and rec["complete"] is False
    with open(workdir / "out.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["id"] for row in rows] == [f"id-{n}" for n in range(500)]
    by_shard = {
        shard: Counter(row["status"] for row in rows[shard * 100 : shard * 100 + 100]) for shard in range(5)
    }
    assert by_shard[0] == {"missing": 100}  # Failed: no output at all
    assert by_shard[2] == {"missing": 100}  # Expired before it started
    assert 0 < by_shard[1]["missing"] < 100 and by_shard[1]["succeeded"] > 0  # partial output kept
    assert 0 < by_shard[3]["missing"] < 100 and by_shard[3]["succeeded"] > 0  # stopped midway, kept
    assert by_shard[4]["failed"] > 1 and by_shard[4]["missing"] == 0  # 10% errors
    (torn,) = [row for row in rows if row["error_code"] == "MalformedOutputLine"]
    assert torn["status"] == "failed" and int(torn["row"]) >= 400  # the recordId survived the tear
    assert sum(c["failed"] for c in by_shard.values()) == rec["failed"]
    assert any("line 1" in warning for warning in rec["warnings"])


def test_a_results_run_killed_midway_keeps_the_old_file_and_reruns(
    emulator: Emulator, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = submit_cli(emulator, write_csv(workdir / "tickets.csv", 200), "killed-results")
    emulator.run_until_idle()
    argv = ["results", "killed-results", "--out", "out.jsonl", *endpoint]
    emulator.configure(record_error_rate=0.5)  # not used by finished jobs: the file stays the same
    assert main(argv) == 0
    complete = (workdir / "out.jsonl").read_bytes()
    real_blocks = JoinedResults.json_blocks  # how JSONL rows are written

    def die_midway(self: JoinedResults) -> Iterator[list[bytes]]:
        for block in real_blocks(self):
            yield block[:50]
            raise KeyboardInterrupt  # Ctrl-C, or the machine going away, halfway through

    monkeypatch.setattr(JoinedResults, "json_blocks", die_midway)
    assert main(argv) == 130
    assert (workdir / "out.jsonl").read_bytes() == complete
    assert sorted(p.name for p in workdir.iterdir()) == [".batch-runner", "out.jsonl", "tickets.csv"]

    monkeypatch.setattr(JoinedResults, "json_blocks", real_blocks)
    capsys.readouterr()
    assert main(argv) == 0
    assert "total 200 = succeeded 200" in capsys.readouterr().out
    assert (workdir / "out.jsonl").read_bytes() == complete
