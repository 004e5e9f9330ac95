"""build_plan end to end on files: shards, record index, stability, atomicity, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch_runner.exceptions import DatasetError, PlanError, TemplateError
from batch_runner.plan import ModelQuotas
from batch_runner.planning import RECORD_INDEX_NAME, build_plan, describe_plan
from batch_runner.quotas import default_quotas
from tests.runner.planning_helpers import (
    CLAUDE,
    REAL_DATASET,
    SMALL_QUOTAS,
    conversation_rows,
    options,
    read_lines,
    write_csv,
)


def test_real_dataset_plans_into_one_claude_job_with_stable_ids(tmp_path: Path) -> None:
    first = build_plan(REAL_DATASET, options(), quotas=default_quotas(CLAUDE), workdir=tmp_path / "a")
    second = build_plan(REAL_DATASET, options(), quotas=default_quotas(CLAUDE), workdir=tmp_path / "b")

    assert first.record_count == 1000
    assert len(first.shards) == 1
    records = read_lines(first.shards[0].path)
    assert len(records) == 1000
    assert records[0]["modelInput"]["anthropic_version"] == "bedrock-2023-05-31"
    assert records[0]["modelInput"]["messages"][0]["content"][0]["text"].startswith(
        "Context: I'm going through"
    )
    assert [r["recordId"] for r in records] == [r["recordId"] for r in read_lines(second.shards[0].path)]
    assert first.dataset_fingerprint == second.dataset_fingerprint
    assert first.shards[0].sha256 == second.shards[0].sha256
    index = read_lines(first.record_index_path)
    assert [entry["row"] for entry in index] == list(range(1000))
    assert {entry["recordId"] for entry in index} == {r["recordId"] for r in records}
    assert first.estimate.batch_usd is not None
    assert first.estimate.batch_usd == pytest.approx(first.estimate.on_demand_usd / 2)


def test_index_maps_record_ids_to_rows_and_user_ids(tmp_path: Path) -> None:
    data = write_csv(
        tmp_path / "d.csv", ["key", "Context", "Response"], [[f"k-{n}", "c", "r"] for n in range(3)]
    )
    plan = build_plan(data, options(id_column="key"), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")

    index = read_lines(plan.record_index_path)
    assert index[2] == {
        "recordId": "R0000000002",
        "row": 2,
        "id": "k-2",
        "input": {"key": "k-2", "Context": "c", "Response": "r"},
    }


def test_a_late_error_leaves_no_files_behind(tmp_path: Path) -> None:
    rows = [[*row, "e"] for row in conversation_rows(30)]
    data = write_csv(tmp_path / "d.csv", ["Context", "Response", "extra"], rows)
    with data.open("a", encoding="utf-8") as handle:
        handle.write("only-one-field\n")
    workdir = tmp_path / "w"

    with pytest.raises(DatasetError, match="line 62"):
        build_plan(data, options(), quotas=SMALL_QUOTAS, workdir=workdir)

    assert list(workdir.iterdir()) == []


def test_below_minimum_is_refused_with_the_minimum_named(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(99))
    with pytest.raises(PlanError, match=r"99 records, below the minimum of 100 .*on-demand"):
        build_plan(data, options(), quotas=ModelQuotas(), workdir=tmp_path / "w")


def test_missing_template_variable_names_row_column_and_available_columns(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(5))
    with pytest.raises(
        TemplateError, match=r"row 1: template variable 'Question' .*available columns: Context, Response"
    ):
        build_plan(data, options(prompt_template="{{ Question }}"), quotas=SMALL_QUOTAS, workdir=tmp_path)


def test_describe_plan_reports_jobs_tokens_and_both_prices(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(25))
    plan = build_plan(data, options(), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")

    text = "\n".join(describe_plan(plan))
    assert "25 in 3 job(s)" in text
    assert "shard-00002.jsonl" in text
    assert "batch vs" in text and "on demand" in text
    assert RECORD_INDEX_NAME not in [shard.path.name for shard in plan.shards]
