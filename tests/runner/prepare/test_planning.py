"""build_plan end to end on files: shards, record index, stability, atomicity, bad input."""

from __future__ import annotations

import gzip
import hashlib
import tracemalloc
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch_runner.catalog.invocation import CONVERSE, INVOKE_MODEL
from batch_runner.catalog.output_schema import PRE_FORMATTED, PREFILL, OutputSchema, StructuredOutput
from batch_runner.catalog.pricing import estimate_input_tokens
from batch_runner.catalog.quotas import ModelQuotas, default_quotas
from batch_runner.exceptions import DatasetError, ModelNotSupportedError, PlanError, TemplateError, UsageError
from batch_runner.prepare.datasets import csv_file
from batch_runner.prepare.planning import RECORD_INDEX_NAME, build_plan, describe_plan
from tests.runner.planning_helpers import (
    CLAUDE,
    PROMPT,
    REAL_DATASET,
    SMALL_QUOTAS,
    conversation_rows,
    options,
    read_lines,
    write_csv,
    write_jsonl,
)


def test_real_dataset_plans_into_one_claude_job_with_stable_ids(tmp_path: Path) -> None:
    first = build_plan(REAL_DATASET, options(), quotas=default_quotas(CLAUDE), workdir=tmp_path / "a")
    second = build_plan(REAL_DATASET, options(), quotas=default_quotas(CLAUDE), workdir=tmp_path / "b")

    assert first.record_count == 400
    assert len(first.shards) == 1
    records = read_lines(first.shards[0].path)
    assert len(records) == 400
    assert records[0]["modelInput"]["anthropic_version"] == "bedrock-2023-05-31"
    assert records[0]["modelInput"]["messages"][0]["content"][0]["text"].startswith(
        "Context: I'm going through"
    )
    assert [r["recordId"] for r in records] == [r["recordId"] for r in read_lines(second.shards[0].path)]
    assert first.dataset_fingerprint == second.dataset_fingerprint
    assert first.shards[0].sha256 == second.shards[0].sha256
    index = read_lines(first.record_index_path)
    assert [entry["row"] for entry in index] == list(range(400))
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
    assert (
        "output up to 25,600 if every answer uses max_tokens, typically ~2,500 (assuming 100 an answer)"
        in text
    )
    assert "in all up to $" in text and "on demand: up to $" in text
    assert RECORD_INDEX_NAME not in [shard.path.name for shard in plan.shards]


TRICKY = [
    ["plain", "text"],
    ['quotes " and \\ backslash', "new\nline\ttab\r\n"],
    ["ünïcödé 😀 \u2028", ""],
    ["{{ not a template }}", "</s>[INST]"],
]


@pytest.mark.parametrize(
    "model_id",
    [
        CLAUDE,
        "us.amazon.nova-lite-v1:0",
        "amazon.titan-embed-text-v2:0",
        "meta.llama3-1-8b-instruct-v1:0",
        "mistral.mistral-small-2402-v1:0",
        "mistral.mistral-large-2407-v1:0",
    ],
)
@pytest.mark.parametrize("rows", [TRICKY, [*TRICKY, ["control \x01 char", "forces the per-row path"]]])
def test_column_wise_and_row_paths_write_identical_bytes(
    tmp_path: Path, model_id: str, rows: list[list[str]]
) -> None:
    system = None if "embed" in model_id else 'Be "brief"'
    opts = options(model_id=model_id, system_prompt=system, id_column="key")
    keyed = [[f"id-{n}", *row] for n, row in enumerate(rows * 3)]
    data = write_csv(tmp_path / "d.csv", ["key", "Context", "Response"], keyed)
    dicts = [dict(zip(["key", "Context", "Response"], row, strict=True)) for row in keyed]

    columnar = build_plan(data, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "csv")
    per_row = build_plan(dicts, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "dicts")

    assert [s.path.read_bytes() for s in columnar.shards] == [s.path.read_bytes() for s in per_row.shards]
    assert columnar.record_index_path.read_bytes() == per_row.record_index_path.read_bytes()
    assert columnar.dataset_fingerprint == per_row.dataset_fingerprint
    assert columnar.estimate == per_row.estimate
    second_request = orjson.dumps(read_lines(columnar.shards[0].path)[1]["modelInput"]).decode()
    assert 'quotes \\" and \\\\ backslash' in second_request  # escaped once, decoded back exactly


def test_jinja_templates_render_per_row(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(3))
    template = "{{ Context | upper }}{% if Response %} / {{ Response[:6] }}{% endif %}"
    plan = build_plan(data, options(prompt_template=template), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")
    text = read_lines(plan.shards[0].path)[2]["modelInput"]["messages"][0]["content"][0]["text"]
    assert text == 'QUESTION 2 WITH "QUOTES"\nAND A NEWLINE / answer'


@pytest.mark.parametrize("as_dicts", [False, True])
def test_duplicate_ids_are_reported_with_their_rows(tmp_path: Path, as_dicts: bool) -> None:
    rows = [["a", "c", "r"], ["b", "c", "r"], ["a", "c", "r"], ["c", "c", "r"], ["b", "c", "r"]]
    header = ["key", "Context", "Response"]
    source = (
        [dict(zip(header, row, strict=True)) for row in rows]
        if as_dicts
        else write_csv(tmp_path / "d.csv", header, rows)
    )
    workdir = tmp_path / "w"
    with pytest.raises(DatasetError, match=r"duplicate values: 'a' \(rows 1, 3\); 'b' \(rows 2, 5\)"):
        build_plan(source, options(id_column="key"), quotas=SMALL_QUOTAS, workdir=workdir)
    assert list(workdir.iterdir()) == []


def test_an_id_repeated_on_every_row_gives_a_short_error(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["key", "Context", "Response"], [["same", "c", "r"]] * 5000)
    with pytest.raises(DatasetError) as raised:
        build_plan(data, options(id_column="key"), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")
    assert "'same' (rows 1, 2, 3, 4, 5, ... 5,000 in all)" in str(raised.value)
    assert len(str(raised.value)) < 300


@pytest.mark.parametrize(
    ("value", "message"),
    [("", r"row 2: ID column 'key' is empty"), ("a\x01b", r"row 2: ID in column 'key' contains control")],
)
def test_invalid_ids_name_the_row(tmp_path: Path, value: str, message: str) -> None:
    data = write_csv(tmp_path / "d.csv", ["key", "Context", "Response"], [["x", "c", "r"], [value, "c", "r"]])
    with pytest.raises(DatasetError, match=message):
        build_plan(data, options(id_column="key"), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")


def test_missing_id_column_lists_the_columns(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(3))
    with pytest.raises(DatasetError, match=r"row 1: ID column 'key' is missing; available columns: Context"):
        build_plan(data, options(id_column="key"), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")


@pytest.mark.parametrize("max_tokens", [0, -1])
def test_max_tokens_below_one_is_refused(tmp_path: Path, max_tokens: int) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(3))
    with pytest.raises(UsageError, match=f"max tokens must be a positive integer, not {max_tokens}"):
        build_plan(data, options(max_tokens=max_tokens), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")


@pytest.mark.parametrize(
    ("template", "values"),
    [
        ("{{ Context }}", ["q0", "q1", " \t "]),  # column-wise path, blank on the third row
        ("{{ Context | trim }}", ["q0", "q1", ""]),  # Jinja2 per row
        ("  ", ["q0", "q1", "q2"]),  # no text at all: row 1 is already blank
    ],
)
def test_a_blank_prompt_names_the_row(tmp_path: Path, template: str, values: list[str]) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], [[value, "r"] for value in values])
    row = 1 if not template.strip() else 3
    with pytest.raises(TemplateError, match=rf"^row {row}\b.*: the prompt is empty"):
        build_plan(data, options(prompt_template=template), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")


def test_a_blank_column_with_template_text_is_fine(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], [["", "r"]] * 3)
    opts = options(prompt_template="Q: {{ Context }}")
    assert build_plan(data, opts, quotas=SMALL_QUOTAS, workdir=tmp_path).record_count == 3


def test_header_only_csv_is_an_empty_dataset(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], [])
    with pytest.raises(DatasetError, match="has no data rows"):
        build_plan(data, options(), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")


def test_unknown_model_is_refused_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ModelNotSupportedError, match="supported model families are anthropic"):
        build_plan(
            tmp_path / "absent.csv",
            options(model_id="cohere.command-r-v1:0"),
            quotas=SMALL_QUOTAS,
            workdir=tmp_path,
        )


def test_pre_formatted_jsonl_passes_through_with_user_ids_in_the_index(tmp_path: Path) -> None:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": []}
    data = write_jsonl(
        tmp_path / "d.jsonl", [{"recordId": f"my/id {n}", "modelInput": body} for n in range(3)]
    )
    plan = build_plan(data, options(prompt_template=None), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")

    records = read_lines(plan.shards[0].path)
    assert records[1] == {"recordId": "R0000000001", "modelInput": body}
    assert read_lines(plan.record_index_path)[1]["id"] == "my/id 1"


def test_pre_formatted_input_for_unknown_models_is_accepted(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", [{"modelInput": {"anything": n}} for n in range(3)])
    opts = options(model_id="cohere.command-r-v1:0", prompt_template=None)
    assert build_plan(data, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "w").record_count == 3


@pytest.mark.parametrize(
    ("lines", "error", "message"),
    [
        (
            [{"modelInput": {"messages": []}}] * 3,
            DatasetError,
            r"line 1\): modelInput lacks anthropic_version, max_tokens",
        ),
        ([{"prompt": "x"}] * 3, DatasetError, r"row 1 \(line 1\): no 'modelInput' object"),
        ([{"recordId": "a", "modelInput": {}}] * 3, DatasetError, r"duplicate values: 'a' \(rows 1, 2, 3\)"),
    ],
)
def test_bad_pre_formatted_lines(
    tmp_path: Path, lines: list[dict[str, object]], error: type, message: str
) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", lines)
    model = CLAUDE if "anthropic" in message else "cohere.command-r-v1:0"
    with pytest.raises(error, match=message):
        build_plan(
            data, options(model_id=model, prompt_template=None), quotas=SMALL_QUOTAS, workdir=tmp_path / "w"
        )


def test_native_bodies_in_a_converse_job_are_refused(tmp_path: Path) -> None:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": []}
    data = write_jsonl(tmp_path / "d.jsonl", [{"modelInput": body}] * 3)
    opts = options(prompt_template=None, invocation_type=CONVERSE)
    with pytest.raises(
        DatasetError, match=r"line 1\): modelInput has anthropic_version, max_tokens, which Converse"
    ):
        build_plan(data, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "w")


def test_converse_bodies_for_an_embedding_model_are_refused(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", [{"modelInput": {"messages": []}}] * 3)
    opts = options(model_id="amazon.titan-embed-text-v2:0", prompt_template=None, invocation_type=CONVERSE)
    with pytest.raises(
        UsageError, match="embedding model, which the Converse invocation type does not support"
    ):
        build_plan(data, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "w")


def test_id_column_does_not_apply_to_pre_formatted_input(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", [{"modelInput": {}, "key": n} for n in range(3)])
    opts = options(prompt_template=None, id_column="key")
    with pytest.raises(UsageError, match="pre-formatted lines carry their IDs in recordId"):
        build_plan(data, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "w")


def test_embeddings_can_take_one_column_as_input_text(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["the text", "other"], [["hello", "x"], ["world", "y"]])
    opts = options(
        model_id="amazon.titan-embed-text-v2:0",
        prompt_template=None,
        model_options={"input_column": "the text", "dimensions": 256},
    )
    plan = build_plan(data, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "w")
    assert read_lines(plan.shards[0].path)[1]["modelInput"] == {"inputText": "world", "dimensions": 256}
    assert plan.estimate.output_tokens == 0


def peak_memory(data: Path, workdir: Path) -> tuple[int, int]:
    """(Python heap peak, Arrow allocation peak) while planning ``data``."""
    previous_pool = pa.default_memory_pool()
    pool = pa.proxy_memory_pool(previous_pool)  # fresh counters for Arrow's own allocations
    pa.set_memory_pool(pool)
    tracemalloc.start()
    try:
        build_plan(data, options(), quotas=ModelQuotas(), workdir=workdir)
        return tracemalloc.get_traced_memory()[1], pool.max_memory()
    finally:
        tracemalloc.stop()
        pa.set_memory_pool(previous_pool)


def test_streaming_memory_is_bounded_by_a_chunk_not_the_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_file, "MAPPED_BLOCK_BYTES", 64 << 10)  # small chunks, so small datasets show it
    peaks = []
    for count in (3_000, 12_000):
        rows = [[f"question {n} " + "x" * 900, "answer " * 20] for n in range(count)]
        data = write_csv(tmp_path / f"d{count}.csv", ["Context", "Response"], rows)
        if not peaks:
            peak_memory(data, tmp_path / "warm-up")  # lazy imports and caches happen here
        peaks.append((data.stat().st_size, *peak_memory(data, tmp_path / f"w{count}")))

    (_, small_python, small_arrow), (big_bytes, big_python, big_arrow) = peaks
    assert big_bytes > 12_000_000
    assert big_python < 1.2 * small_python + 200_000
    assert big_arrow < 1.2 * small_arrow + 200_000
    assert big_python + big_arrow < big_bytes / 3


def test_parquet_and_dataframes_with_typed_and_null_values_match_the_dict_path(tmp_path: Path) -> None:
    table = pa.table({"n": [1, 2, None], "text": ["a", None, 'c"'], "score": [0.5, 1.0, 2.25]})
    pq.write_table(table, tmp_path / "d.parquet")
    opts = options(prompt_template="{{ n }}: {{ text }} ({{ score }})")
    plans = [
        build_plan(tmp_path / "d.parquet", opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "parquet"),
        build_plan(table.to_pandas(), opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "frame"),
        build_plan(table.to_pylist(), opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "dicts"),
    ]
    contents = {plan.shards[0].path.read_bytes() for plan in plans[::2]}
    assert len(contents) == 1
    texts = [
        r["modelInput"]["messages"][0]["content"][0]["text"] for r in read_lines(plans[0].shards[0].path)
    ]
    assert texts == ["1: a (0.5)", "2:  (1.0)", ': c" (2.25)']  # null renders as nothing
    assert read_lines(plans[1].shards[0].path)[2]["modelInput"]["messages"][0]["content"][0]["text"].endswith(
        'c" (2.25)'
    )


def test_converse_requests_for_any_model(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(3))
    opts = options(model_id="us.deepseek.r1-v1:0", invocation_type=CONVERSE, max_tokens=64)
    plan = build_plan(data, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "w")
    first = read_lines(plan.shards[0].path)[0]["modelInput"]
    assert first["inferenceConfig"] == {"maxTokens": 64}
    assert first["messages"][0]["content"][0]["text"].startswith("Context: question 0")
    assert plan.invocation_type == CONVERSE
    assert "no listed price" in "\n".join(describe_plan(plan))


def test_fingerprint_follows_the_data_and_the_request_options(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(3))
    changed = write_csv(tmp_path / "e.csv", ["Context", "Response"], [*conversation_rows(2), ["x", "y"]])

    def fingerprint(source: Path, **overrides: object) -> str:
        workdir = tmp_path / f"w{len(list(tmp_path.iterdir()))}"
        return build_plan(
            source, options(**overrides), quotas=SMALL_QUOTAS, workdir=workdir
        ).dataset_fingerprint

    base = fingerprint(data)
    assert fingerprint(data) == base
    assert fingerprint(changed) != base
    assert fingerprint(data, max_tokens=99) != base
    assert fingerprint(data, system_prompt="S") != base


@pytest.mark.parametrize("compressed", [False, True], ids=["mapped file", "gzip stream"])
def test_rows_longer_than_a_read_block_are_planned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compressed: bool
) -> None:
    monkeypatch.setattr(csv_file, "BLOCK_BYTES", 4 << 10)
    monkeypatch.setattr(csv_file, "MAPPED_BLOCK_BYTES", 4 << 10)
    rows = [[f"short {n}", "a"] for n in range(20)]
    rows[12] = ["long " * 10_000, 'with "quotes"\nand lines']
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], rows)
    if compressed:
        data = data.with_suffix(".csv.gz")
        data.write_bytes(gzip.compress((tmp_path / "d.csv").read_bytes()))
    dicts = [{"Context": context, "Response": response} for context, response in rows]

    plan = build_plan(data, options(), quotas=SMALL_QUOTAS, workdir=tmp_path / "csv")
    reference = build_plan(dicts, options(), quotas=SMALL_QUOTAS, workdir=tmp_path / "dicts")

    assert [s.path.read_bytes() for s in plan.shards] == [s.path.read_bytes() for s in reference.shards]
    assert sorted(path.name for path in (tmp_path / "csv").iterdir()) == [
        "record-index.ndjson",
        "shard-00000.jsonl",
        "shard-00001.jsonl",
    ]


AUDIT_SCHEMA = {
    "type": "object",
    "properties": {
        "concerns": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "resolved": {"enum": ["yes", "no"], "description": 'quotes " and \\ and ünïcödé'},
    },
    "required": ["concerns", "resolved"],
}


@pytest.mark.parametrize(
    ("model_id", "invocation_type"),
    [
        (CLAUDE, INVOKE_MODEL),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", INVOKE_MODEL),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", CONVERSE),
        (CLAUDE, CONVERSE),
        ("us.amazon.nova-lite-v1:0", INVOKE_MODEL),
        ("meta.llama3-1-8b-instruct-v1:0", INVOKE_MODEL),
        ("us.meta.llama4-scout-17b-instruct-v1:0", INVOKE_MODEL),
        ("mistral.mistral-small-2402-v1:0", INVOKE_MODEL),
        ("mistral.mistral-large-2407-v1:0", INVOKE_MODEL),
    ],
)
def test_column_wise_and_row_paths_match_with_an_output_schema(
    tmp_path: Path, model_id: str, invocation_type: str
) -> None:
    opts = options(
        model_id=model_id, invocation_type=invocation_type, system_prompt="S", output_schema=AUDIT_SCHEMA
    )
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], TRICKY * 3)
    dicts = [dict(zip(["Context", "Response"], row, strict=True)) for row in TRICKY * 3]

    columnar = build_plan(data, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "csv")
    per_row = build_plan(dicts, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "dicts")

    assert [s.path.read_bytes() for s in columnar.shards] == [s.path.read_bytes() for s in per_row.shards]
    assert columnar.estimate == per_row.estimate
    assert columnar.structured_output == per_row.structured_output is not None
    request = orjson.dumps(read_lines(columnar.shards[0].path)[1]["modelInput"]).decode()
    assert 'quotes \\" and \\\\ backslash' in request


def test_the_estimate_counts_the_schema_instructions(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(10))
    plain = build_plan(data, options(), quotas=SMALL_QUOTAS, workdir=tmp_path / "plain")
    structured = build_plan(
        data, options(output_schema=AUDIT_SCHEMA), quotas=SMALL_QUOTAS, workdir=tmp_path / "s"
    )

    instruction_chars = len(OutputSchema(AUDIT_SCHEMA).instructions()) + len("\n\n{")
    extra = structured.estimate.input_tokens - plain.estimate.input_tokens
    assert abs(extra - estimate_input_tokens(10 * instruction_chars)) <= 1  # rounding
    assert structured.structured_output == StructuredOutput(PREFILL, "{", {"field": "messages"})
    assert plain.structured_output is None


def test_pre_formatted_input_with_a_schema_is_sent_untouched(tmp_path: Path) -> None:
    lines = [
        {
            "recordId": f"r{n}",
            "modelInput": {"anthropic_version": "v", "max_tokens": 5, "messages": [{"n": n}]},
        }
        for n in range(3)
    ]
    data = write_jsonl(tmp_path / "in.jsonl", lines)
    opts = options(prompt_template=None, output_schema=AUDIT_SCHEMA)
    plan = build_plan(data, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "w")

    assert [line["modelInput"] for line in read_lines(plan.shards[0].path)] == [
        line["modelInput"] for line in lines
    ]
    assert plan.structured_output == StructuredOutput(PRE_FORMATTED)
    assert "checked in the answers only" in "\n".join(describe_plan(plan, AUDIT_SCHEMA))


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "array"}, "must describe a JSON object"),
        (
            {"type": "object", "properties": {"a": {"type": "nope"}}},
            "not a valid JSON Schema at properties/a/type",
        ),
        ([1, 2], "must be a JSON object, not list"),
    ],
)
def test_a_bad_schema_is_refused_before_anything_is_written(
    tmp_path: Path, schema: object, message: str
) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(3))
    with pytest.raises(UsageError, match=message):
        build_plan(data, options(output_schema=schema), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_embeddings_with_a_schema_are_refused(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(3))
    opts = options(model_id="amazon.titan-embed-text-v2:0", output_schema=AUDIT_SCHEMA)
    with pytest.raises(UsageError, match="embedding model"):
        build_plan(data, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "w")


def test_describe_plan_names_the_columns_and_the_mechanism(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(3))
    native = options(model_id="us.anthropic.claude-sonnet-4-5-20250929-v1:0", output_schema=AUDIT_SCHEMA)
    plan = build_plan(data, native, quotas=SMALL_QUOTAS, workdir=tmp_path / "w")
    lines = describe_plan(plan, AUDIT_SCHEMA)
    assert lines[1] == (
        "output:   JSON schema, 2 columns (concerns, resolved) "
        "via native structured output (output_config.format)"
    )
    assert not any(line.startswith("output:") for line in describe_plan(plan))  # no schema given: no line

    many = {"type": "object", "properties": {f"property_number_{n}": {"type": "string"} for n in range(9)}}
    wide = build_plan(data, options(output_schema=many), quotas=SMALL_QUOTAS, workdir=tmp_path / "x")
    line = describe_plan(wide, many)[1]
    assert line.startswith("output:   JSON schema, 9 columns (property_number_0, ")
    assert ', ...) via prompt instructions and a reply prefilled with "{" (messages)' in line


def test_describe_plan_names_the_result_columns_as_written(tmp_path: Path) -> None:
    # The columns results will write: "status" is taken by a result column; names a list would
    # make ambiguous (a comma, a line break) are quoted.
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(3))
    awkward = {"type": "object", "properties": {"status": {}, "a,b": {}, "two\nlines": {}}}
    plan = build_plan(data, options(output_schema=awkward), quotas=SMALL_QUOTAS, workdir=tmp_path / "w")
    line = describe_plan(plan, awkward)[1]
    assert line.startswith('output:   JSON schema, 3 columns (answer_status, "a,b", "two\\nlines") via ')


def test_fingerprint_follows_the_schema_and_ignores_its_absence(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["Context", "Response"], conversation_rows(3))

    def fingerprint(name: str, **overrides: object) -> str:
        return build_plan(
            data, options(**overrides), quotas=SMALL_QUOTAS, workdir=tmp_path / name
        ).dataset_fingerprint

    base = fingerprint("a")
    with_schema = fingerprint("b", output_schema=AUDIT_SCHEMA)
    changed = {**AUDIT_SCHEMA, "required": ["concerns"]}
    assert with_schema != base
    assert fingerprint("c", output_schema=changed) != with_schema
    assert fingerprint("d", output_schema=AUDIT_SCHEMA) == with_schema
    reordered = {**AUDIT_SCHEMA, "properties": dict(reversed(AUDIT_SCHEMA["properties"].items()))}
    assert fingerprint("e", output_schema=reordered) != with_schema  # other column order
    # Runs planned before --output-schema existed had no such option: their fingerprint is unchanged.
    shaping = {
        "model_id": CLAUDE,
        "prompt_template": PROMPT,
        "system_prompt": None,
        "id_column": None,
        "max_tokens": None,
        "temperature": None,
        "invocation_type": INVOKE_MODEL,
        "model_options": {},
    }
    index_sha = hashlib.sha256((tmp_path / "a" / RECORD_INDEX_NAME).read_bytes()).hexdigest()
    legacy = hashlib.sha256(
        orjson.dumps(shaping, option=orjson.OPT_SORT_KEYS) + index_sha.encode()
    ).hexdigest()
    assert base == legacy


def test_pre_formatted_records_are_estimated_with_their_own_max_tokens(tmp_path: Path) -> None:
    def body(cap: int | None) -> dict[str, object]:
        messages: dict[str, object] = {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}
        return messages if cap is None else {**messages, "inferenceConfig": {"maxTokens": cap}}

    caps = [10, 20, 4000, None]  # a Converse record without a cap counts the default, 1024
    data = write_jsonl(tmp_path / "d.jsonl", [{"modelInput": body(cap)} for cap in caps])
    opts = options(prompt_template=None, invocation_type=CONVERSE)
    plan = build_plan(data, opts, quotas=SMALL_QUOTAS, workdir=tmp_path / "w")
    assert plan.estimate.max_output_tokens == 10 + 20 + 4000 + 1024
    assert plan.estimate.output_tokens == 4 * 100  # the typical figure, capped by the upper bound
