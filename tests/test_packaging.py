"""`pip install .` gives a working runner: every module, the data files it reads at run time, and the
`batch-runner` command, usable from outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.readme_commands import ROOT

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy, so the checkout gets no build/ or egg-info directories.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "batch_runner", source / "batch_runner", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_holds_every_module_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "batch_runner").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert shipped <= names, sorted(shipped - names)
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "batch-runner = batch_runner.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.fixture(scope="module")
def site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed on its own (its dependencies come from this environment)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    return target


def test_the_installed_runner_plans_its_bundled_example_outside_the_checkout(
    site: Path, tmp_path: Path
) -> None:
    bundled = site / "batch_runner" / "data" / "examples"
    env = {**os.environ, "PYTHONPATH": str(site)}
    argv = [sys.executable, "-m", "batch_runner", "submit", str(bundled / "conversations.csv")]
    argv += ["--prompt", str(bundled / "prompt.j2"), "--output-schema", str(bundled / "schema.json")]
    argv += ["--model", CLAUDE, "--dry-run", "--json"]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)

    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)["plan"]
    assert plan["record_count"] == 160
    assert plan["quotas"]["min_records_per_job"] == 100  # read from the installed data/quotas.yaml
    assert plan["structured_output"]["mechanism"] == "prefill"


def test_the_console_command_answers_by_its_own_name(site: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [str(site / "bin" / "batch-runner"), "--version"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("batch-runner ")


@pytest.mark.slow
def test_the_installed_demo_runs_from_any_directory(site: Path, tmp_path: Path) -> None:
    # No app.py, no CDK synthesis: the emulator deploys the dev template shipped in the package.
    env = {**os.environ, "PYTHONPATH": str(site)}
    argv = [sys.executable, "-m", "batch_runner", "demo", "--out", "results.csv"]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr[-2000:]
    assert "160 (160 succeeded, 0 failed, 0 missing)" in done.stdout
    assert (tmp_path / "results.csv").is_file()
    assert not (tmp_path / ".batch-runner").exists()  # nothing left behind but the results
