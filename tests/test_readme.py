"""The README's promises: its main command works from a clean directory, every runner command it
shows exists with the options it uses, and its two `make` targets exist."""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import io
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import batch_runner
from batch_runner.cli import build_parser
from batch_runner.jobs.run_results import RunResults
from batch_runner.runs import Run
from tests.readme_commands import README, ROOT, readme_commands, runner_commands

BUNDLED = ROOT / "batch_runner" / "data" / "examples" / "conversations.csv"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _subcommand_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The deepest parser ``argv`` reaches (``local serve`` -> the serve parser)."""
    parser = build_parser()
    for token in argv:
        choices = next(
            (a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None
        )
        if not choices or token not in choices:
            break
        parser = choices[token]
    return parser


def test_readme_main_command_runs_the_demo_from_a_clean_directory(tmp_path: Path) -> None:
    assert "make demo" in README.read_text(encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "batch_runner", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    seconds = time.monotonic() - started

    assert result.returncode == 0, result.stderr
    assert seconds < 60
    dataset = list(csv.DictReader(BUNDLED.open(encoding="utf-8")))
    results = list(csv.DictReader((tmp_path / "demo-results.csv").open(encoding="utf-8")))
    assert len(dataset) >= 150
    assert [r["conversation_id"] for r in results] == [r["conversation_id"] for r in dataset]
    assert [r["id"] for r in results] == [r["conversation_id"] for r in dataset]
    assert {r["status"] for r in results} == {"succeeded"}
    assert all(r["answer"] and int(r["input_tokens"]) > 0 for r in results)
    # The answers are columns: the bundled schema's fields, checked, with yes/no counts printed.
    assert {r["resolved"] for r in results} <= {"yes", "no"} and all(r["concerns"] for r in results)
    resolved = re.search(r"resolved: no (\d+), yes (\d+)", result.stdout)
    assert resolved is not None and sum(map(int, resolved.groups())) == len(dataset)
    assert f"{len(dataset)} ({len(dataset)} succeeded, 0 failed, 0 missing)" in result.stdout
    assert re.search(r"\$\d+\.\d{4} in batch vs \$\d+\.\d{4} on demand", result.stdout)
    assert "Completed" in result.stderr  # the progress display
    # Run state lived in a temporary directory; only the results file is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-results.csv"]
    # The emulator is gone with the process: its port no longer answers.
    endpoint = re.search(r"http://127\.0\.0\.1:(\d+)", result.stdout)
    assert endpoint is not None
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(endpoint.group(1))), timeout=2):
        pass


@pytest.mark.parametrize("argv", runner_commands(), ids=lambda argv: " ".join(argv)[:60])
def test_every_runner_command_in_the_readme_exists_with_its_options(argv: list[str]) -> None:
    parser = _subcommand_parser(argv)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"`python -m batch_runner {' '.join(argv)}`: {stderr.getvalue()}")
    # argparse accepts unambiguous abbreviations; the README must spell every option in full.
    help_text = parser.format_help()
    for token in argv:
        if token.startswith("--"):
            assert re.search(rf"(?<![\w-]){re.escape(token.split('=')[0])}(?![\w-])", help_text), (
                token,
                " ".join(argv),
            )


def test_readme_shows_the_journey_commands() -> None:
    shown = {argv[0] for argv in runner_commands()}
    journey = {"demo", "doctor", "submit", "status", "wait", "results", "retry", "cost", "local"}
    assert journey <= shown, journey - shown


def test_make_targets_in_the_readme_exist_and_test_is_what_ci_runs() -> None:
    targets = {tokens[1] for tokens in readme_commands() if tokens[0] == "make"}
    assert {"demo", "test"} <= targets
    for target in targets:
        dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=False)
        assert dry.returncode == 0, dry.stderr
    demo = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "-m batch_runner demo" in demo.stdout
    test = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "./scripts/check.sh" in test.stdout
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_performance_tables_are_the_benchmarks_current_ones() -> None:
    readme = README.read_text(encoding="utf-8")
    section = readme[readme.index("## Performance") : readme.index("## Development")]
    benchmarks = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")

    def table_rows(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith("|")]

    assert table_rows(section) == table_rows(benchmarks), (
        "copy the tables of benchmarks/README.md into the README's Performance section"
    )


def test_python_example_uses_what_the_package_exports() -> None:
    blocks = _PYTHON_BLOCK.findall(README.read_text(encoding="utf-8"))
    assert blocks
    for node in (node for block in blocks for node in ast.walk(ast.parse(block))):
        if isinstance(node, ast.ImportFrom) and node.module == "batch_runner":
            assert all(hasattr(batch_runner, alias.name) for alias in node.names)
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id == "run":
            assert hasattr(Run, node.attr), f"Run has no {node.attr}"
        called = owner.func if isinstance(owner, ast.Call) else None
        if isinstance(called, ast.Attribute) and called.attr == "results":
            assert hasattr(RunResults, node.attr), f"RunResults has no {node.attr}"
