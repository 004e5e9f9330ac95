"""Two submits under one run name: the first to claim the run wins, the other uploads nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batch_runner.api import Target, prepare
from batch_runner.aws.clients import AwsContext
from batch_runner.exceptions import UsageError
from batch_runner.local import Emulator
from batch_runner.prepare.plan import SubmitOptions
from tests.runner.test_runs import HAIKU, run_objects, write_csv


def prepared(emulator: Emulator, dataset: Path, state_dir: Path, run: str) -> Any:
    opts = SubmitOptions(model_id=HAIKU, prompt_template="{{ text }}", id_column="id")
    target = Target(aws=AwsContext(endpoint_url=emulator.endpoint_url), state_dir=state_dir)
    return prepare(dataset, opts, run=run, target=target)


@pytest.mark.parametrize("same_machine", [True, False], ids=["same state dir", "two machines"])
def test_the_second_of_two_racing_submits_is_refused_before_uploading_anything(
    emulator: Emulator, tmp_path: Path, same_machine: bool
) -> None:
    run = f"race-{'one' if same_machine else 'two'}"
    first_dir, second_dir = tmp_path / "a", tmp_path / ("a" if same_machine else "b")
    # Both plan before either has written anything: each sees a new run.
    first = prepared(emulator, write_csv(tmp_path / "first.csv", 100), first_dir, run)
    second = prepared(emulator, write_csv(tmp_path / "second.csv", 130), second_dir, run)
    assert first.existing is None and second.existing is None

    winner = first.launch()
    uploaded = run_objects(emulator, run)
    with pytest.raises(UsageError, match=f"run {run} was started by another submit") as excinfo:
        second.launch()
    assert excinfo.value.exit_code == 2
    assert run_objects(emulator, run) == uploaded  # the loser uploaded nothing
    assert not second.planning_dir.exists()
    assert [job.name for job in emulator.jobs()] == [winner.shards[0].job_name]

    emulator.run_until_idle()
    rows = list(winner.results())
    assert [row["id"] for row in rows] == [f"row-{n}" for n in range(100)]
    assert {row["status"] for row in rows} == {"succeeded"}


def test_shard_keys_are_content_addressed(emulator: Emulator, tmp_path: Path) -> None:
    run = prepared(emulator, write_csv(tmp_path / "c.csv", 100), tmp_path / "s", "keyed").launch()
    shard = run.shards[0]
    assert shard.s3_key == f"runs/keyed/input/shard-00000-{shard.sha256[:16]}.jsonl"
    assert shard.s3_key in run_objects(emulator, "keyed")
