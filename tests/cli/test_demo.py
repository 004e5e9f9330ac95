"""`demo`: bad options fail before anything starts; --keep-running serves until interrupted.

The default run (clean directory, results file, summary, nothing left running) is covered by
tests/test_readme.py, which runs it exactly as the README says.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import orjson
import pytest

from batch_runner.cli import main
from batch_runner.demo import emulator_only_environment
from tests.readme_commands import ROOT


def test_the_demo_sees_only_fake_credentials_and_restores_the_callers_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caller = {
        "AWS_PROFILE": "production",
        "AWS_SESSION_TOKEN": "real-looking-token",
        "AWS_ENDPOINT_URL": "https://bedrock.example.com",
        "BATCH_RUNNER_INPUT_BUCKET": "someone-elses-bucket",
        "BATCH_RUNNER_KMS_KEY": "arn:aws:kms:us-east-1:111122223333:key/x",
    }
    for name, value in caller.items():
        monkeypatch.setenv(name, value)
    before = dict(os.environ)

    with pytest.raises(RuntimeError), emulator_only_environment():
        assert not set(caller) & set(os.environ)
        assert (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]) == (
            "testing",
            "testing",
        )
        raise RuntimeError("the demo failed")

    assert dict(os.environ) == before


@pytest.mark.parametrize(
    ("out", "problem"),
    [
        ("results.txt", "cannot write results to results.txt: unsupported extension '.txt'"),
        (
            "missing/results.csv",
            "cannot write results to missing/results.csv: directory missing does not exist",
        ),
        ("-", "the demo writes its results to a local file, not -"),
        ("s3://bucket/r.csv", "the demo writes its results to a local file, not s3://bucket/r.csv"),
    ],
)
def test_unwritable_output_is_refused_before_the_emulator_starts(
    out: str,
    problem: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)

    code = main(["demo", "--out", out])

    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {problem}")
    assert list(tmp_path.iterdir()) == []


DEMO_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@contextmanager
def kept_running_demo(tmp_path: Path, *options: str) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """``demo --keep-running`` in a child process (its emulator must not replace this suite's
    stack): yields the process, what it printed up to "Press Ctrl-C", and its stderr log."""
    log = tmp_path.parent / f"{tmp_path.name}-stderr.log"
    argv = [sys.executable, "-m", "batch_runner", "demo", *options, "--keep-running", "--out", "out.jsonl"]
    with log.open("w") as errors:  # the child keeps its own copy of the handle
        process = subprocess.Popen(
            argv, cwd=tmp_path, env=DEMO_ENV, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        yield process, "".join(lines), log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_keep_running_serves_the_finished_run_until_interrupted(tmp_path: Path) -> None:
    with kept_running_demo(tmp_path) as (process, output, log):
        endpoint = re.search(r"AWS_ENDPOINT_URL=(http://127\.0\.0\.1:(\d+))", output)
        run = re.search(r"^Run (demo-[\w-]+): Completed", output, re.MULTILINE)
        assert endpoint and run, output + log.read_text()

        # The emulator still answers, with the run's job, and the run state is in the CWD.
        bedrock = boto3.client("bedrock", endpoint_url=endpoint.group(1), region_name="us-east-1")
        jobs = bedrock.list_model_invocation_jobs()["invocationJobSummaries"]
        assert [job["status"] for job in jobs] == ["Completed"]
        assert (tmp_path / ".batch-runner" / "runs" / run.group(1) / "manifest.json").is_file()
        rows = [orjson.loads(line) for line in (tmp_path / "out.jsonl").read_bytes().splitlines()]
        assert len(rows) == 160 and {row["status"] for row in rows} == {"succeeded"}
        # The commands it suggests work against it, from the same directory.
        suggested = re.search(rf"python -m batch_runner (status {run.group(1)})", output)
        assert suggested, output
        status = subprocess.run(
            [sys.executable, "-m", "batch_runner", *suggested.group(1).split(), "--json"],
            cwd=tmp_path,
            env={**DEMO_ENV, "AWS_ENDPOINT_URL": endpoint.group(1)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert status.returncode == 0, status.stderr
        assert orjson.loads(status.stdout)["state"] == "Completed"

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, log.read_text()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(endpoint.group(2))), timeout=2):
        pass


_TWICE_IN_ONE_PROCESS = """
import threading
from pathlib import Path
from batch_runner.demo import run_demo
for name in ("first.csv", "second.csv"):
    summary = run_demo(Path(name))
    print(summary.run, summary.state, summary.succeeded, summary.records)
print("threads:", ",".join(t.name for t in threading.enumerate()))
"""


def test_run_demo_twice_in_one_process_joins_every_thread(tmp_path: Path) -> None:
    # In a child process: moto state is per process, and this suite's own emulator must not be touched.
    result = subprocess.run(
        [sys.executable, "-c", _TWICE_IN_ONE_PROCESS],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1:] for line in lines[:2]] == [["Completed", "160", "160"]] * 2
    assert lines[2] == "threads: MainThread"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.csv", "second.csv"]


def test_orchestrated_hands_the_run_to_the_stack_and_collects_every_row(tmp_path: Path) -> None:
    # --keep-running leaves the run state in the working directory, so its manifest can be read.
    with kept_running_demo(tmp_path, "--orchestrated") as (process, output, log):
        assert "this machine hands the run over to the stack" in output, output + log.read_text()
        run = re.search(r"^Run (demo-[\w-]+): Completed in .*, driven by the stack\)$", output, re.MULTILINE)
        assert run, output + log.read_text()

        # The run was the stack's to drive, and the stack drove it to the end: every row succeeded.
        manifest = orjson.loads(
            (tmp_path / ".batch-runner" / "runs" / run.group(1) / "manifest.json").read_bytes()
        )
        assert manifest["settings"]["orchestrated"] is True
        # Its workflow collected the results into the stack's bucket, next to the manifest.
        assert re.search(
            rf"the stack collected them too: s3://\S+/runs/{run.group(1)}/results/results.parquet", output
        )
        rows = [orjson.loads(line) for line in (tmp_path / "out.jsonl").read_bytes().splitlines()]
        assert len(rows) == 160 and {row["status"] for row in rows} == {"succeeded"}

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, log.read_text()
