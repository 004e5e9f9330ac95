"""Crash debris: a submit killed while planning leaves its shards; the next submit removes them, and
never the plan of another submit that is still running."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from batch_runner.api import Target, prepare
from batch_runner.aws.clients import AwsContext
from batch_runner.jobs.planning_dirs import new_planning_dir, remove_abandoned
from batch_runner.local import Emulator
from batch_runner.prepare.plan import SubmitOptions
from tests.runner.test_runs import HAIKU, write_csv

CRASH_WHILE_PLANNING = """
import os, sys
from pathlib import Path
from batch_runner.jobs.planning_dirs import new_planning_dir
planning = new_planning_dir(Path(sys.argv[1]))
(planning.path / "shard-00000.jsonl").write_text("{}")
print(planning.path)
os._exit(9)  # killed: nothing is cleaned up
"""


def crashed_plan(run_dir: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-c", CRASH_WHILE_PLANNING, str(run_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 9, result.stderr
    return Path(result.stdout.strip())


def test_the_next_submit_removes_a_crashed_plan_and_keeps_a_live_one(
    emulator: Emulator, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    crashed = crashed_plan(state / "runs" / "killed")
    live = new_planning_dir(state / "runs" / "still-planning")
    (live.path / "shard-00000.jsonl").write_text("{}")
    assert crashed.is_dir()

    opts = SubmitOptions(model_id=HAIKU, prompt_template="{{ text }}")
    target = Target(aws=AwsContext(endpoint_url=emulator.endpoint_url), state_dir=state)
    prepare(write_csv(tmp_path / "d.csv", 100), opts, run="next-submit", target=target).discard()

    assert not crashed.exists() and not crashed.with_name(crashed.name + ".lock").exists()
    assert (live.path / "shard-00000.jsonl").is_file()
    live.release()
    assert list((state / "runs" / "still-planning").iterdir()) == []


def test_a_plan_without_a_lock_is_removed_only_once_it_is_an_hour_old(tmp_path: Path) -> None:
    runs = tmp_path / "runs" / "old-version"
    stale, fresh = runs / ".planning-stale", runs / ".planning-fresh"
    stale.mkdir(parents=True)
    fresh.mkdir()
    hour_ago = time.time() - 3601
    os.utime(stale, (hour_ago, hour_ago))
    assert remove_abandoned(tmp_path) == [stale]
    assert fresh.is_dir() and not stale.exists()
