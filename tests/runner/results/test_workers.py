"""Output objects parsed in worker processes: results in order, failures raised in the caller,
no process left behind, and each worker reading with a source (an S3 client) of its own."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from batch_runner.aws.clients import AwsContext
from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.exceptions import InternalError, UsageError
from batch_runner.local import Emulator
from batch_runner.results import JobOutputRef, LocalOutputSource, S3OutputSource, collect_results
from batch_runner.results import row_join as row_join_module
from batch_runner.results.worker_pool import _cgroup_cpus, ordered_map
from tests.runner import results_samples as s

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked")


@contextmanager
def squaring(number: int) -> Iterator[Callable[[int], tuple[int, int, int]]]:
    yield lambda item: (item, item * item, os.getpid())


def test_results_come_back_in_item_order_from_other_processes() -> None:
    results = list(ordered_map(squaring, range(50), workers=3))

    assert [(item, square) for item, square, _ in results] == [(i, i * i) for i in range(50)]
    assert os.getpid() not in {pid for _, _, pid in results}
    assert len({pid for _, _, pid in results}) == 3
    assert multiprocessing.active_children() == []


def test_no_workers_runs_the_same_work_here() -> None:
    results = list(ordered_map(squaring, range(5), workers=0))

    assert results == [(i, i * i, os.getpid()) for i in range(5)]


@contextmanager
def failing_at_seven(number: int) -> Iterator[Callable[[int], int]]:
    def work(item: int) -> int:
        if item == 7:
            raise UsageError(f"item {item} is bad")
        return item

    yield work


def test_a_failure_in_a_worker_is_raised_here_after_the_results_before_it() -> None:
    seen: list[int] = []
    with pytest.raises(UsageError, match="item 7 is bad"):
        for result in ordered_map(failing_at_seven, range(20), workers=2):
            seen.append(result)

    assert seen == list(range(7))
    assert multiprocessing.active_children() == []


@contextmanager
def dying_at_three(number: int) -> Iterator[Callable[[int], int]]:
    def work(item: int) -> int:
        if item == 3:
            os._exit(9)  # killed: no exception to hand back
        return item

    yield work


def test_a_worker_that_dies_is_an_internal_error_not_a_hang() -> None:
    with pytest.raises(InternalError, match=r"results worker 1 stopped unexpectedly \(exit code 9\)"):
        list(ordered_map(dying_at_three, range(20), workers=2))
    assert multiprocessing.active_children() == []


def failing_items() -> Iterator[int]:
    yield from range(4)
    raise UsageError("the fifth download failed")


def test_a_failure_reading_the_items_is_raised_here_in_its_place() -> None:
    seen: list[int] = []
    with pytest.raises(UsageError, match="fifth download"):
        for result, _, _ in ordered_map(squaring, failing_items(), workers=2):
            seen.append(result)

    assert seen == [0, 1, 2, 3]
    assert multiprocessing.active_children() == []


@contextmanager
def slow(number: int) -> Iterator[Callable[[int], int]]:
    def work(item: int) -> int:
        time.sleep(0.01)
        return item

    yield work


def test_stopping_early_stops_every_worker() -> None:
    results = ordered_map(slow, range(1000), workers=2)
    assert [next(results) for _ in range(3)] == [0, 1, 2]

    results.close()  # what a break, an error or Ctrl-C in the caller's loop does

    assert multiprocessing.active_children() == []


def test_ctrl_c_stops_the_collection_in_the_caller_and_the_workers_with_it(tmp_path: Path) -> None:
    @contextmanager
    def interrupted(number: int) -> Iterator[Callable[[int], int]]:
        def work(item: int) -> int:
            if item == 2:  # Ctrl-C reaches the whole process group: this worker, then the caller
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.1)
                (tmp_path / "survived").touch()  # the worker ignored it: the caller stops it
                os.kill(os.getppid(), signal.SIGINT)
            return item

        yield work

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in ordered_map(interrupted, range(100), workers=2):
                time.sleep(0.5)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (tmp_path / "survived").exists()
    assert multiprocessing.active_children() == []


def test_without_fork_the_work_runs_here(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing.context

    started: list[int] = []

    def start(self: Any) -> None:
        if started:
            raise OSError(12, "Cannot allocate memory")  # the second fork of a large process
        started.append(1)
        real_start(self)

    real_start = multiprocessing.context.ForkProcess.start
    monkeypatch.setattr(multiprocessing.context.ForkProcess, "start", start)

    results = list(ordered_map(squaring, range(6), workers=2))

    assert results == [(i, i * i, os.getpid()) for i in range(6)]
    assert multiprocessing.active_children() == []  # the one started is stopped


@contextmanager
def no_source(number: int) -> Iterator[Callable[[int], int]]:
    raise UsageError(f"worker {number} has no source")
    yield lambda item: item


def test_a_worker_that_cannot_start_reports_why() -> None:
    with pytest.raises(UsageError, match=r"worker \d has no source"):
        list(ordered_map(no_source, range(20), workers=2))
    assert multiprocessing.active_children() == []


class NeedsTwoArguments(Exception):
    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")


@contextmanager
def odd_failure(number: int) -> Iterator[Callable[[int], int]]:
    def work(item: int) -> int:
        raise NeedsTwoArguments("item", str(item))

    yield work


def test_an_exception_that_cannot_cross_processes_arrives_as_its_text() -> None:
    with pytest.raises(InternalError, match=r"results worker 0 failed: NeedsTwoArguments\('item: 0'\)"):
        list(ordered_map(odd_failure, range(4), workers=2))


@pytest.mark.parametrize(
    ("cpu_max", "cpus"), [("200000 100000\n", 2), ("150000 100000\n", 2), ("max 100000\n", None), ("", None)]
)
def test_a_containers_cpu_quota_bounds_the_workers(tmp_path: Path, cpu_max: str, cpus: int | None) -> None:
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max)
    assert _cgroup_cpus(path) == cpus
    assert _cgroup_cpus(tmp_path / "absent") is None


def write_jobs(root: Path, jobs: int, records: int) -> tuple[list[JobOutputRef], Path]:
    """``jobs`` jobs of one output object each, ``records`` rows split between them."""
    refs = []
    per_job = records // jobs
    for number in range(jobs):
        job_id = f"job{number:09d}"
        folder = root / s.BUCKET / "runs/demo/output" / job_id
        folder.mkdir(parents=True)
        rows = range(number * per_job, (number + 1) * per_job)
        lines = [s.success_line(f"R{row:010d}", s.claude_output(f"answer {row}")) for row in rows]
        (folder / "shard.jsonl.out").write_bytes(b"\n".join(lines) + b"\n")
        refs.append(JobOutputRef(s.job_arn(job_id), s.OUTPUT_URI, "Completed"))
    index = root / "record-index.jsonl"
    index.write_bytes(
        b"".join(
            orjson.dumps({"recordId": f"R{row:010d}", "row": row, "id": None, "input": {}}) + b"\n"
            for row in range(records)
        )
    )
    return refs, index


class MarkingSource(LocalOutputSource):
    """Leaves a file named after the process of each worker that asks for its own source."""

    def __init__(self, root: Path, marks: Path) -> None:
        super().__init__(root)
        self.marks = marks

    def in_worker(self) -> LocalOutputSource:
        (self.marks / str(os.getpid())).touch()
        return super().in_worker()


def test_each_worker_reads_through_a_source_of_its_own(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    jobs, index = write_jobs(tmp_path, jobs=4, records=400)
    source = MarkingSource(tmp_path, marks)

    parallel = collect_results(source, jobs, index, tmp_path / "parallel.csv", workers=2)
    here = collect_results(source, jobs, index, tmp_path / "here.csv", workers=0)

    pids = {int(path.name) for path in marks.iterdir()}
    assert len(pids) == 2 and os.getpid() not in pids
    assert (tmp_path / "parallel.csv").read_bytes() == (tmp_path / "here.csv").read_bytes()
    assert parallel.to_dict() == here.to_dict()
    assert (parallel.succeeded, parallel.missing) == (400, 0)


class UnforkableSource(LocalOutputSource):
    forkable = False


def test_large_outputs_use_workers_by_default_and_small_ones_do_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[int] = []
    real = row_join_module.ordered_map

    def spy(setup: Any, items: Any, workers: int, depth: int = 2) -> Any:
        used.append(workers)
        return real(setup, items, workers, depth)

    monkeypatch.setattr(row_join_module, "ordered_map", spy)
    monkeypatch.setattr("batch_runner.results.join.default_workers", lambda: 2)
    jobs, index = write_jobs(tmp_path, jobs=3, records=30)

    collect_results(LocalOutputSource(tmp_path), jobs, index, tmp_path / "small.csv")
    assert used == []  # under PARALLEL_BYTES: parsed here

    monkeypatch.setattr("batch_runner.results.join.PARALLEL_BYTES", 1)
    collect_results(LocalOutputSource(tmp_path), jobs, index, tmp_path / "large.csv")
    assert used == [2]

    # A source without a way to make one for a worker (an S3 source without new_client) is read here.
    collect_results(UnforkableSource(tmp_path), jobs, index, tmp_path / "plain.csv", workers=2)
    assert used == [2]


def test_workers_read_the_emulators_s3_each_with_a_new_client(
    emulator: Emulator, emulator_aws: AwsContext, tmp_path: Path
) -> None:
    jobs, index = write_jobs(tmp_path / "local", jobs=3, records=300)
    bucket = emulator.stack_outputs[OutputKey.OUTPUT_BUCKET]
    for path in (tmp_path / "local" / s.BUCKET).rglob("*.out"):
        key = path.relative_to(tmp_path / "local" / s.BUCKET).as_posix()
        emulator.client("s3").put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    jobs = [JobOutputRef(job.job_arn, f"s3://{bucket}/runs/demo/output/", job.status) for job in jobs]
    marks = tmp_path / "marks"
    marks.mkdir()

    def new_client() -> Any:
        (marks / str(os.getpid())).touch()
        return emulator_aws.client("s3")  # the runner's own client config and user

    s3 = emulator_aws.client("s3")
    parallel = collect_results(
        S3OutputSource(s3, new_client=new_client), jobs, index, tmp_path / "parallel.csv", workers=2
    )
    here = collect_results(S3OutputSource(s3), jobs, index, tmp_path / "here.csv")

    pids = {int(path.name) for path in marks.iterdir()}
    assert len(pids) == 2 and os.getpid() not in pids  # one client made in each worker, none here
    assert (tmp_path / "parallel.csv").read_bytes() == (tmp_path / "here.csv").read_bytes()
    assert parallel.to_dict() == here.to_dict()
    assert parallel.succeeded == 300
