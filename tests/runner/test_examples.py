"""The examples: reproducible from their generator, each submitted by one README line that plans
within the dev stack's allow-list, and each running end to end on the emulator."""

from __future__ import annotations

import csv
import importlib.util
import json
import uuid
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest
import yaml

from batch_runner.cli import main
from batch_runner.local import Emulator
from batch_runner.runs import Run
from tests.readme_commands import ROOT, runner_commands

EXAMPLES = ROOT / "examples"
EXAMPLE_DIRS = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir() and not p.name.startswith("_"))


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("examples_generate", EXAMPLES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _readme_line(example: str) -> list[str]:
    prefix = f"examples/{example}/"
    lines = [argv for argv in runner_commands() if argv[0] == "submit" and argv[1].startswith(prefix)]
    assert lines, f"the README shows no submit line for {prefix}"
    return lines[0]


def _rows(argv: list[str]) -> list[dict[str, str]]:
    return list(csv.DictReader((ROOT / argv[1]).open(encoding="utf-8")))


def test_generator_reproduces_the_checked_in_files(tmp_path: Path) -> None:
    written = _generator().write_all(tmp_path)

    assert {p.relative_to(tmp_path).parts[1] for p in written if p.parts[-3] == "examples"} == set(
        EXAMPLE_DIRS
    )
    for path in written:
        relative = path.relative_to(tmp_path)
        assert path.read_bytes() == (ROOT / relative).read_bytes(), f"{relative}: run examples/generate.py"


@pytest.mark.parametrize("example", EXAMPLE_DIRS)
def test_readme_line_plans_the_whole_dataset_with_an_allowed_model(
    example: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = _readme_line(example)
    monkeypatch.chdir(ROOT)
    dev_models = yaml.safe_load((ROOT / "stacks" / "environments.yaml").read_text())["environments"]["dev"][
        "models"
    ]

    assert main([*argv, "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]

    rows = _rows(argv)
    assert len(rows) >= 100  # the per-job minimum
    assert plan["record_count"] == len(rows)
    assert plan["model_id"] in dev_models
    # Every example's model has a listed price, so the user sees dollars, not "no listed price".
    assert plan["estimate"]["batch_usd"] is not None and plan["estimate"]["batch_usd"] > 0


@pytest.mark.parametrize("example", EXAMPLE_DIRS)
def test_readme_line_runs_end_to_end_on_the_emulator(
    example: str, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = _readme_line(example)
    monkeypatch.chdir(ROOT)
    run_name = f"{example.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    state = tmp_path / "state"
    target = ["--endpoint-url", emulator.endpoint_url, "--state-dir", str(state), "--run", run_name, "--yes"]

    assert main([*argv, *target]) == 0
    emulator.run_until_idle()
    run = Run.load(run_name, state_dir=state, endpoint_url=emulator.endpoint_url)
    assert run.status().state == "Completed"
    results = list(run.results(include_input=True))

    rows = _rows(argv)
    id_column = argv[argv.index("--id-column") + 1]
    assert [r["id"] for r in results] == [row[id_column] for row in rows]
    assert {r["status"] for r in results} == {"succeeded"}
    if example == "embeddings":
        dimensions = int(argv[argv.index("--model-option") + 1].split("=")[1])
        assert all(len(r["answer"]) == dimensions for r in results)
    else:
        assert all(isinstance(r["answer"], str) and r["answer"] for r in results)
    if "--output-schema" in argv:
        schema = json.loads((ROOT / argv[argv.index("--output-schema") + 1]).read_text())
        validator = jsonschema.Draft202012Validator(schema)
        for result in results:
            answer = {name: result[name] for name in schema["properties"]}
            assert not list(validator.iter_errors(answer)), answer


def test_the_audit_and_classification_examples_ask_for_structured_answers() -> None:
    assert "--output-schema" in _readme_line("concern_audit")
    assert "--output-schema" in _readme_line("classification")
