"""`cost`: actual tokens and dollars, the on-demand price and the estimate, labelled indicative."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from batch_runner.cli import main
from batch_runner.local import Emulator
from tests.cli.run_schemas import COST
from tests.runner.tracking_helpers import submit_cli, write_csv


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cost_text_and_json(emulator: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    endpoint = submit_cli(emulator, write_csv(workdir / "t.csv", 150), "cli-cost")
    emulator.run_until_idle()
    capsys.readouterr()

    assert main(["cost", "cli-cost", "--json", *endpoint]) == 0
    cost = json.loads(capsys.readouterr().out)
    jsonschema.validate(cost, COST)
    assert cost["input_tokens"] > 0 and cost["jobs_without_manifest"] == 0
    assert cost["saving_usd"] == pytest.approx(cost["on_demand_usd"] - cost["batch_usd"])

    assert main(["cost", "cli-cost", *endpoint]) == 0
    out = capsys.readouterr().out.splitlines()
    model = "anthropic.claude-3-haiku-20240307-v1:0"
    assert out[0] == f"Run cli-cost ({model}), indicative prices as of {cost['prices_as_of']}:"
    assert out[1] == (
        f"  actual:    {cost['input_tokens']:,} input + {cost['output_tokens']:,} output tokens"
        f" = ${cost['batch_usd']:.4f} at the batch price"
    )
    assert out[2].startswith("  on-demand: $") and "; saving $" in out[2]
    # Actual against both estimates made at submit: the upper bound and the typical figure.
    estimate = cost["estimate"]
    assert out[3] == (
        f"  estimated at submit: up to ${estimate['max_batch_usd']:.4f} "
        f"({estimate['max_output_tokens']:,} output tokens, every answer at max_tokens),"
    )
    share = cost["batch_usd"] / estimate["max_batch_usd"]
    assert out[4] == (
        f"    typically ~${estimate['batch_usd']:.4f} ({estimate['output_tokens']:,} output tokens); "
        f"actual is {share:.0%} of the upper bound"
    )
