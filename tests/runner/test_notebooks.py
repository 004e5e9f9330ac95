"""The Python API as a notebook uses it: a dry run returns the plan, `wait()` shows a progress bar
on its own, and a run, a plan and a reconciliation display as compact HTML (text elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch_runner import submit
from batch_runner.aws.clients import AwsContext
from batch_runner.exceptions import UsageError
from batch_runner.local import Emulator
from batch_runner.prepare.plan import Plan
from tests.runner.tracking_helpers import HAIKU, submit_api

ROWS = [{"id": f"id-{n}", "text": f"Message {n}"} for n in range(150)]


def test_a_dry_run_returns_the_plan_without_any_aws_call(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_aws(self: AwsContext, *args: object) -> None:
        raise AssertionError("a dry run called AWS")

    monkeypatch.setattr(AwsContext, "client", no_aws)
    plan = submit(ROWS, model=HAIKU, prompt="Answer: {{ text }}", max_tokens=200, dry_run=True)

    assert isinstance(plan, Plan)
    assert (plan.record_count, len(plan.shards)) == (150, 1)
    assert plan.estimate.max_output_tokens == 150 * 200
    assert plan.estimate.max_batch_usd is not None and plan.estimate.batch_usd is not None
    assert plan.estimate.batch_usd < plan.estimate.max_batch_usd
    text = str(plan)
    assert "records:  150 in 1 job(s)" in text and "in all up to $" in text
    html = plan._repr_html_()
    assert html.startswith("<table><caption") and "<th" in html and "in all up to $" in html
    assert repr(plan).startswith(f"Plan(model='{HAIKU}', records=150, jobs=1, max_batch_usd=")


def test_a_dry_run_checks_the_cost_cap() -> None:
    with pytest.raises(UsageError, match=r"exceeds --max-cost \$0\.00010: nothing was uploaded"):
        submit(ROWS, model=HAIKU, prompt="{{ text }}", max_cost=0.0001, dry_run=True)


def test_wait_shows_a_progress_bar_by_default(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = submit_api(emulator, tmp_path, "nb-wait", 150)
    emulator.run_until_idle()
    capsys.readouterr()

    status = run.wait()

    assert status.succeeded == 150
    bar = capsys.readouterr().err
    assert "run nb-wait: 100%" in bar and "150/150 records" in bar and "jobs: 2 Completed" in bar
    run.wait(progress=False)
    assert capsys.readouterr().err == ""


def test_run_and_reconciliation_display_as_html_and_text(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_api(emulator, tmp_path, "nb-html", 120)
    html = run._repr_html_()
    assert "<caption" in html and "Run nb-html" in html and "120 in 2 shard(s)" in html
    assert repr(run).startswith("Run('nb-html'")

    emulator.run_until_idle()
    reconciliation = run.results().save(tmp_path / "out.csv")
    assert (
        "<th" in reconciliation._repr_html_() and "every record accounted for" in reconciliation._repr_html_()
    )
    assert str(reconciliation).startswith("total 120 = succeeded 120 + failed 0")
    assert repr(reconciliation) == (
        "Reconciliation(total=120, succeeded=120, failed=0, missing=0, schema_failed=0)"
    )


def test_html_escapes_what_it_shows() -> None:
    from batch_runner.display import html_table, labelled_rows

    assert "&lt;b&gt;" in html_table("t", [("x", "<b>")])
    assert labelled_rows(["model:  m", "records:  3", "  shard-0: 3 records"]) == [
        ("model", "m"),
        ("records", "3\nshard-0: 3 records"),
    ]
