"""Records too large for the model's context window: refused at planning with the row and the
limit, or left out with --skip-oversized and kept in the record index as failed rows."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from batch_runner.catalog.context_windows import CONTEXT_WINDOWS_FILE, context_window
from batch_runner.catalog.models import model_family
from batch_runner.catalog.tables import load_data_file
from batch_runner.exceptions import PlanError
from batch_runner.prepare.planning import build_plan
from tests.runner.planning_helpers import SMALL_QUOTAS, options, read_lines, write_csv, write_jsonl

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
# (200,000 - 1,024 output tokens) x 4 characters a token
HAIKU_LIMIT = (200_000 - 1024) * 4
PLAIN = "Context: {{ Context }}\nResponse: {{ Response }}\n"  # column-wise
JINJA = "Context: {{ Context | trim }}\nResponse: {{ Response }}\n"  # row by row


def dataset(tmp_path: Path, huge_rows: tuple[int, ...], size: int = 1_000_000) -> Path:
    rows = [["x" * size if n in huge_rows else f"question {n}", "answer"] for n in range(6)]
    return write_csv(tmp_path / "d.csv", ["Context", "Response"], rows)


@pytest.mark.parametrize("template", [PLAIN, JINJA], ids=["column-wise", "row by row"])
def test_a_record_over_the_context_window_is_refused_with_its_row_and_the_limit(
    tmp_path: Path, template: str
) -> None:
    with pytest.raises(PlanError) as refused:
        build_plan(
            dataset(tmp_path, (3,)),
            options(model_id=HAIKU, prompt_template=template),
            quotas=SMALL_QUOTAS,
            workdir=tmp_path / "w",
        )
    message = str(refused.value)
    assert message.startswith("row 4: about 250,0")
    assert "plus 1,024 output tokens exceed the 200,000-token context window of " + HAIKU in message
    assert message.endswith(
        "shorten the row, or pass --skip-oversized to leave such rows out "
        "(results list them as failed, error_code oversized)"
    )
    assert not list((tmp_path / "w").glob("shard-*"))


def test_the_limit_counts_the_output_budget(tmp_path: Path) -> None:
    fits = options(model_id=HAIKU, prompt_template="{{ Context }}", max_tokens=1024)
    just_under = dataset(tmp_path, (0,), size=HAIKU_LIMIT)
    build_plan(just_under, fits, quotas=SMALL_QUOTAS, workdir=tmp_path / "a")
    more_output = options(model_id=HAIKU, prompt_template="{{ Context }}", max_tokens=2048)
    with pytest.raises(PlanError, match=r"row 1: .* plus 2,048 output tokens exceed"):
        build_plan(just_under, more_output, quotas=SMALL_QUOTAS, workdir=tmp_path / "b")


@pytest.mark.parametrize("template", [PLAIN, JINJA], ids=["column-wise", "row by row"])
def test_skip_oversized_leaves_the_rows_out_and_marks_them_in_the_index(
    tmp_path: Path, template: str
) -> None:
    plan = build_plan(
        dataset(tmp_path, (1, 4)),
        options(model_id=HAIKU, prompt_template=template, skip_oversized=True),
        quotas=SMALL_QUOTAS,
        workdir=tmp_path / "w",
    )
    assert (plan.record_count, plan.skipped_rows) == (4, 2)
    assert "2 row(s) left out as too large for the model's context window (row 2, row 5)" in plan.warnings[0]
    sent = [line["recordId"] for shard in plan.shards for line in read_lines(shard.path)]
    index = read_lines(plan.record_index_path)
    assert [entry["row"] for entry in index] == list(range(6))  # every row stays in the index
    skipped = [entry for entry in index if "skipped" in entry]
    assert [entry["row"] for entry in skipped] == [1, 4]
    assert {entry["recordId"] for entry in index} - set(sent) == {entry["recordId"] for entry in skipped}
    assert skipped[0]["skipped"]["error_code"] == "oversized"
    assert skipped[0]["skipped"]["error_message"].startswith("not sent: about 250,0")
    assert skipped[0]["input"]["Response"] == "answer"


def test_pre_formatted_records_are_checked_with_their_own_output_budget(tmp_path: Path) -> None:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": []}
    huge = {**body, "messages": [{"role": "user", "content": "x" * 900_000}]}
    lines = [{"recordId": f"r{n}", "modelInput": huge if n == 2 else body} for n in range(4)]
    with pytest.raises(PlanError, match=r"row 3 \(line 3\): .* plus 100 output tokens exceed"):
        build_plan(
            write_jsonl(tmp_path / "d.jsonl", lines),
            options(model_id=HAIKU, prompt_template=None),
            quotas=SMALL_QUOTAS,
            workdir=tmp_path / "w",
        )


def test_embeddings_have_no_output_budget(tmp_path: Path) -> None:
    rows = [["x" * (8192 * 4 + 1)], ["short"], ["short"]]
    data = write_csv(tmp_path / "e.csv", ["text"], rows)
    opts = options(model_id="amazon.titan-embed-text-v2:0", prompt_template="{{ text }}", skip_oversized=True)
    plan = build_plan(data, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "w")
    assert (plan.record_count, plan.skipped_rows) == (2, 1)
    skipped = [entry for entry in read_lines(plan.record_index_path) if "skipped" in entry]
    assert "plus 0 output tokens exceed the 8,192-token context window" in orjson.dumps(skipped).decode()


def test_models_without_a_documented_window_are_not_checked(tmp_path: Path) -> None:
    opts = options(model_id="meta.llama3-1-8b-instruct-v1:0", prompt_template="{{ Context }}")
    assert context_window(opts.model_id) is None
    build_plan(dataset(tmp_path, (0,)), opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "w")


def test_every_listed_window_is_for_a_model_the_runner_builds_requests_for() -> None:
    for key, window in load_data_file(CONTEXT_WINDOWS_FILE)["models"].items():
        assert model_family(f"{key}-v1:0") is not None, key
        assert isinstance(window, int) and window >= 8192, key
    assert context_window("us.anthropic.claude-3-5-haiku-20241022-v1:0") == 200_000
