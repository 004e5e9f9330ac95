"""--output-schema in request bodies: each family asks for JSON its own way (native, prefill, prompt)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from batch_runner import submit
from batch_runner.api import Target, prepare
from batch_runner.aws.clients import AwsContext
from batch_runner.catalog.invocation import CONVERSE, INVOKE_MODEL
from batch_runner.catalog.models import RequestSettings, adapter_for
from batch_runner.catalog.output_schema import (
    INSTRUCTIONS,
    NATIVE,
    PREFILL,
    SCHEMA_CLOSE,
    SCHEMA_OPEN,
    OutputSchema,
    StructuredOutput,
)
from batch_runner.exceptions import UsageError
from batch_runner.local import Emulator
from batch_runner.prepare.datasets import Chunk
from batch_runner.prepare.plan import SubmitOptions
from batch_runner.prepare.prompts import compile_template
from batch_runner.prepare.records import RowEncoder
from batch_runner.prepare.records_columnar import ColumnEncoder

SCHEMA = OutputSchema(
    {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "label": {"enum": ["spam", "ham"]},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "minimum": {"type": "string", "maxLength": 5},  # a property named like a dropped keyword
        },
        "required": ["label", "score"],
    }
)
NATIVE_SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"enum": ["spam", "ham"]},
        "score": {"type": "number"},
        "minimum": {"type": "string"},
    },
    "required": ["label", "score"],
    "additionalProperties": False,
}
INSTRUCTED = f"Hello\n\n{SCHEMA.instructions()}"

CLAUDE_NATIVE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
CLAUDE_OLD = "anthropic.claude-3-haiku-20240307-v1:0"


def adapter(model_id: str, invocation_type: str = INVOKE_MODEL, **settings: Any) -> Any:
    return adapter_for(model_id, invocation_type, RequestSettings(output_schema=SCHEMA, **settings))


def body(model_id: str, invocation_type: str = INVOKE_MODEL, **settings: Any) -> dict[str, Any]:
    built: dict[str, Any] = adapter(model_id, invocation_type, **settings).build("Hello")
    return built


@pytest.mark.parametrize(
    ("model_id", "native"),
    [
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", True),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", True),
        ("us.anthropic.claude-opus-4-5-20251101-v1:0", True),
        ("anthropic.claude-opus-4-6-v1", True),
        ("anthropic.claude-sonnet-5-20270101-v1:0", True),
        ("anthropic.claude-opus-4-1-20250805-v1:0", False),
        ("anthropic.claude-sonnet-4-20250514-v1:0", False),
        ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", False),
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", False),
        (CLAUDE_OLD, False),
    ],
)
def test_claude_generation_decides_native_or_prefill(model_id: str, native: bool) -> None:
    expected = NATIVE if native else PREFILL
    assert adapter(model_id).structured_output.mechanism == expected


def test_claude_4_5_asks_natively_with_the_reduced_schema_and_no_instructions() -> None:
    assert body(CLAUDE_NATIVE, system_prompt="S", temperature=0.0) == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1024,
        "system": "S",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        "output_config": {"format": {"type": "json_schema", "schema": NATIVE_SCHEMA}},
        "temperature": 0.0,
    }
    assert adapter(CLAUDE_NATIVE).structured_output == StructuredOutput(
        NATIVE, None, {"field": "output_config.format"}
    )


def test_older_claude_gets_instructions_and_a_prefilled_assistant_turn() -> None:
    assert body(CLAUDE_OLD) == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1024,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": INSTRUCTED}]},
            {"role": "assistant", "content": [{"type": "text", "text": "{"}]},
        ],
    }
    assert adapter(CLAUDE_OLD).structured_output == StructuredOutput(PREFILL, "{", {"field": "messages"})


def test_without_a_schema_nothing_changes() -> None:
    plain = adapter_for(CLAUDE_NATIVE, INVOKE_MODEL, RequestSettings())
    assert plain.structured_output is None
    assert plain.build("Hello")["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hello"}]}
    ]
    assert "output_config" not in plain.build("Hello")
    assert plain.added_prompt_chars() == 0


def test_converse_claude_4_5_sends_the_schema_as_a_json_string() -> None:
    result = body(CLAUDE_NATIVE, CONVERSE, max_tokens=64)
    assert result["messages"] == [{"role": "user", "content": [{"text": "Hello"}]}]
    text_format = result["outputConfig"]["textFormat"]
    assert text_format["type"] == "json_schema"
    definition = text_format["structure"]["jsonSchema"]
    assert definition["name"] == "output"
    assert isinstance(definition["schema"], str)
    assert json.loads(definition["schema"]) == NATIVE_SCHEMA
    assert adapter(CLAUDE_NATIVE, CONVERSE).unexpected_fields(result) == []
    assert adapter(CLAUDE_NATIVE, CONVERSE).structured_output.detail == {"field": "outputConfig.textFormat"}


@pytest.mark.parametrize("model_id", [CLAUDE_OLD, "us.amazon.nova-lite-v1:0", "us.deepseek.r1-v1:0"])
def test_converse_other_models_get_instructions_only(model_id: str) -> None:
    result = body(model_id, CONVERSE)
    assert result == {
        "messages": [{"role": "user", "content": [{"text": INSTRUCTED}]}],
        "inferenceConfig": {"maxTokens": 1024},
    }
    assert adapter(model_id, CONVERSE).structured_output.mechanism == INSTRUCTIONS


def test_nova_gets_instructions_in_the_user_turn() -> None:
    result = body("us.amazon.nova-lite-v1:0", system_prompt="S")
    assert result["messages"] == [{"role": "user", "content": [{"text": INSTRUCTED}]}]
    assert result["system"] == [{"text": "S"}]
    assert adapter("us.amazon.nova-lite-v1:0").structured_output == StructuredOutput(
        INSTRUCTIONS, None, {"field": "messages"}
    )


def test_llama_prefills_the_assistant_header_with_a_brace() -> None:
    result = body("meta.llama3-1-8b-instruct-v1:0", system_prompt="S")
    assert result["prompt"] == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
        f"<|start_header_id|>user<|end_header_id|>\n\n{INSTRUCTED}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n{"
    )
    llama4 = body("us.meta.llama4-scout-17b-instruct-v1:0")["prompt"]
    assert llama4.endswith(f"{INSTRUCTED}<|eot|><|header_start|>assistant<|header_end|>\n\n{{")
    assert adapter("meta.llama3-1-8b-instruct-v1:0").structured_output == StructuredOutput(
        PREFILL, "{", {"field": "prompt"}
    )


def test_mistral_text_prefills_after_the_instruction() -> None:
    assert body("mistral.mistral-7b-instruct-v0:2", system_prompt="S") == {
        "prompt": f"<s>[INST] S\n\n{INSTRUCTED} [/INST]{{",
        "max_tokens": 1024,
    }


def test_mistral_chat_gets_instructions() -> None:
    assert body("mistral.mistral-large-2407-v1:0")["messages"] == [{"role": "user", "content": INSTRUCTED}]
    assert adapter("mistral.mistral-large-2407-v1:0").structured_output.mechanism == INSTRUCTIONS


def test_instructions_quote_the_whole_schema_between_the_markers() -> None:
    text = body("mistral.mistral-large-2407-v1:0")["messages"][0]["content"]
    quoted = text.split(SCHEMA_OPEN + "\n", 1)[1].split("\n" + SCHEMA_CLOSE, 1)[0]
    assert json.loads(quoted) == SCHEMA.document  # the full schema, limits included
    assert text.startswith("Hello\n\n")


def test_embedding_models_refuse_a_schema_in_one_line() -> None:
    with pytest.raises(UsageError, match=r"embedding model.*vectors, not text.*--output-schema") as caught:
        adapter("amazon.titan-embed-text-v2:0")
    assert "\n" not in str(caught.value)


def test_added_prompt_chars_count_the_instructions_or_the_native_schema() -> None:
    assert adapter(CLAUDE_OLD).added_prompt_chars() == len(INSTRUCTED) - len("Hello") + 1  # with the prefill
    assert adapter("us.amazon.nova-lite-v1:0").added_prompt_chars() == len(INSTRUCTED) - len("Hello")
    assert adapter(CLAUDE_NATIVE).added_prompt_chars() == len(
        json.dumps(NATIVE_SCHEMA, separators=(",", ":"))
    )


def test_unknown_claude_generation_behind_an_application_profile_uses_the_prefill() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
    assert adapter(arn, options={"family": "anthropic"}).structured_output.mechanism == PREFILL


@pytest.mark.parametrize(
    ("model_id", "invocation_type", "choice", "mechanism"),
    [
        # An application profile known to serve Claude 4.5: native on request.
        (
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
            INVOKE_MODEL,
            "native",
            NATIVE,
        ),
        (CLAUDE_NATIVE, INVOKE_MODEL, "prompt", PREFILL),
        (CLAUDE_OLD, CONVERSE, "native", NATIVE),
        (CLAUDE_NATIVE, CONVERSE, "prompt", INSTRUCTIONS),
    ],
)
def test_the_structured_output_option_overrides_the_choice_by_model_id(
    model_id: str, invocation_type: str, choice: str, mechanism: str
) -> None:
    options = {"family": "anthropic", "structured_output": choice}
    built = adapter(model_id, invocation_type, options=options)
    assert built.structured_output.mechanism == mechanism
    body = built.build("Hello")
    assert ("output_config" in body or "outputConfig" in body) == (mechanism == NATIVE)


@pytest.mark.parametrize(
    ("model_id", "options", "settings", "message"),
    [
        (CLAUDE_OLD, {"structured_output": "json"}, {}, "must be native or prompt, not 'json'"),
        (CLAUDE_OLD, {"structured_output": "native"}, {"output_schema": None}, "needs --output-schema"),
        ("us.amazon.nova-lite-v1:0", {"structured_output": "native"}, {}, "do not apply to Amazon Nova"),
    ],
)
def test_the_structured_output_option_refuses_what_it_cannot_do(
    model_id: str, options: dict[str, str], settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        adapter_for(
            model_id, INVOKE_MODEL, RequestSettings(options=options, **{"output_schema": SCHEMA, **settings})
        )


FAMILIES = [
    (CLAUDE_OLD, INVOKE_MODEL),
    (CLAUDE_NATIVE, INVOKE_MODEL),
    (CLAUDE_NATIVE, CONVERSE),
    (CLAUDE_OLD, CONVERSE),
    ("us.amazon.nova-lite-v1:0", INVOKE_MODEL),
    ("meta.llama3-1-8b-instruct-v1:0", INVOKE_MODEL),
    ("us.meta.llama4-scout-17b-instruct-v1:0", INVOKE_MODEL),
    ("mistral.mistral-7b-instruct-v0:2", INVOKE_MODEL),
    ("mistral.mistral-large-2407-v1:0", INVOKE_MODEL),
]


@pytest.mark.parametrize(("model_id", "invocation_type"), FAMILIES)
def test_the_column_wise_encoder_writes_schema_requests_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch, model_id: str, invocation_type: str
) -> None:
    built = adapter(model_id, invocation_type)
    template = compile_template("Q: {{ q }}\n")
    rows = RowEncoder(built, template, None, None, None)
    columns = ColumnEncoder(built, template, rows)  # raises if the schema broke the single text slot
    batch = pa.record_batch({"q": ['quotes " and \\', "ünïcödé 😀\n", "</s>[INST] {"]})

    reference = rows.encode
    monkeypatch.setattr(rows, "encode", lambda chunk: pytest.fail("the batch went the per-row way"))
    columnar = columns.encode(Chunk(first_row=0, batch=batch))
    per_row = reference(Chunk(first_row=0, rows=batch.to_pylist()))

    assert bytes(columnar.requests.data) == bytes(per_row.requests.data)
    assert columnar.prompt_chars == per_row.prompt_chars
    assert per_row.prompt_chars > 3 * built.added_prompt_chars() > 0


@pytest.fixture
def explicit(emulator: Emulator, tmp_path: Path) -> dict[str, Any]:
    outputs = emulator.stack_outputs  # given explicitly, the stack's model allow-list is not consulted
    return {
        "input_bucket": outputs["InputBucketName"],
        "output_bucket": outputs["OutputBucketName"],
        "role_arn": outputs["ServiceRoleArn"],
        "endpoint_url": emulator.endpoint_url,
        "state_dir": tmp_path / "state",
    }


def tickets(path: Path, rows: int = 100) -> Path:
    path.write_text("text\n" + "".join(f"ticket {n}\n" for n in range(rows)), encoding="utf-8")
    return path


@pytest.mark.parametrize("as_path", [True, False])
def test_the_python_api_takes_a_schema_dict_or_file(
    emulator: Emulator, explicit: dict[str, Any], tmp_path: Path, as_path: bool
) -> None:
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(SCHEMA.document), encoding="utf-8")
    run = submit(
        tickets(tmp_path / "t.csv"),
        model=CLAUDE_OLD,  # the emulated stack's role may invoke the models of its allow-list only
        prompt="Classify: {{ text }}",
        output_schema=schema_file if as_path else SCHEMA.document,
        run=f"api-schema-{as_path}".lower(),
        **explicit,
    )
    manifest = run.manifest
    assert manifest.options["output_schema"] == SCHEMA.document
    assert manifest.plan["structured_output"] == {
        "mechanism": PREFILL,
        "prefill": "{",
        "detail": {"field": "messages"},
    }
    first = json.loads(Path(run.shards[0].local_path).read_text().splitlines()[0])["modelInput"]
    assert first["messages"][0]["content"][0]["text"] == f"Classify: ticket 0\n\n{SCHEMA.instructions()}"
    assert first["messages"][1] == {"role": "assistant", "content": [{"type": "text", "text": "{"}]}

    emulator.run_until_idle()
    job = emulator.client("bedrock").get_model_invocation_job(jobIdentifier=run.job_arns[0])
    assert job["status"] == "Completed" and job["successRecordCount"] == 100, job.get("message")


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("missing.json", "output schema missing.json does not exist"),
        ({"type": "string"}, "must describe a JSON object"),
    ],
)
def test_the_python_api_refuses_a_bad_schema_before_any_upload(
    emulator: Emulator, explicit: dict[str, Any], tmp_path: Path, schema: Any, message: str
) -> None:
    s3 = emulator.client("s3")
    before = s3.list_objects_v2(Bucket=explicit["input_bucket"]).get("Contents", [])
    with pytest.raises(UsageError, match=message):
        submit(
            tickets(tmp_path / "t.csv"),
            model=CLAUDE_OLD,
            prompt="{{ text }}",
            output_schema=schema,
            **explicit,
        )
    assert s3.list_objects_v2(Bucket=explicit["input_bucket"]).get("Contents", []) == before
    assert emulator.jobs() == []


def test_prepare_checks_the_schema_in_the_options_first(tmp_path: Path) -> None:
    opts = SubmitOptions(model_id=CLAUDE_OLD, prompt_template="{{ text }}", output_schema={"type": "object"})
    with pytest.raises(UsageError, match="must describe a JSON object"):
        prepare(
            tickets(tmp_path / "t.csv"),
            opts,
            target=Target(aws=AwsContext(endpoint_url="http://127.0.0.1:9")),
        )


def test_a_run_from_before_output_schemas_continues_unchanged(
    emulator: Emulator, explicit: dict[str, Any], tmp_path: Path
) -> None:
    dataset = tickets(tmp_path / "t.csv")
    first = submit(dataset, model=CLAUDE_OLD, prompt="{{ text }}", run="legacy", **explicit)
    path = Path(explicit["state_dir"]) / "runs" / "legacy" / "manifest.json"
    manifest = json.loads(path.read_text())
    assert manifest["options"]["output_schema"] is None and manifest["plan"]["structured_output"] is None
    # What an earlier version wrote: neither key.
    del manifest["options"]["output_schema"], manifest["plan"]["structured_output"]
    path.write_text(json.dumps(manifest))

    again = submit(dataset, model=CLAUDE_OLD, prompt="{{ text }}", run="legacy", **explicit)

    assert again.job_arns == first.job_arns
    assert again.manifest.fingerprint == first.manifest.fingerprint
    assert "output_schema" not in again.manifest.options
