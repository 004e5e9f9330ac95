"""Plan a submission without touching AWS: read the dataset once, validate every record, write the
shard files and the record index, estimate tokens and cost.

What ends up in ``workdir``:

- ``shard-00000.jsonl``, ``shard-00001.jsonl``, ...: one file per batch job, one request per line,
  ``{"recordId": "R0000000042", "modelInput": {...}}`` (runner IDs, see ``record_ids``);
- ``record-index.ndjson``: one line per input row, in row order,
  ``{"recordId": "R0000000042", "row": 42, "id": <the user's ID or null>, "input": {<the row>}}``.
  Its extension is deliberately not ``.jsonl``, so a job pointed at the folder never reads it.

Files are written into a staging directory inside ``workdir`` and moved into place only when the
whole dataset has been read and checked, so an error on the last row leaves nothing that could be
uploaded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import orjson

from batch_runner.catalog.batch_support import check_batch_support
from batch_runner.catalog.models import DEFAULT_MAX_TOKENS, ModelAdapter, RequestSettings, adapter_for
from batch_runner.catalog.models.registry import FAMILY_OPTION
from batch_runner.catalog.output_schema import (
    PRE_FORMATTED,
    OutputSchema,
    StructuredOutput,
    output_schema,
)
from batch_runner.catalog.pricing import estimate_input_tokens, estimate_plan_cost
from batch_runner.catalog.quotas import ModelQuotas, default_quotas
from batch_runner.exceptions import DatasetError, ModelNotSupportedError, PlanError, UsageError
from batch_runner.prepare.background_writer import BackgroundWriter
from batch_runner.prepare.datasets import BlocksTooSmall, Dataset, DatasetSource, has_json_rows, open_dataset
from batch_runner.prepare.datasets.sources import S3ClientFactory
from batch_runner.prepare.describe import describe_estimate, describe_plan, describe_structured_output
from batch_runner.prepare.openai_batch import OpenAIBatchRequests
from batch_runner.prepare.oversized import OversizeCheck
from batch_runner.prepare.plan import RECORD_INDEX_NAME, Plan, ShardPlan, SubmitOptions
from batch_runner.prepare.prompts import PromptTemplate, column_template, compile_template
from batch_runner.prepare.records import RowEncoder
from batch_runner.prepare.records_columnar import ColumnEncoder
from batch_runner.prepare.shards import SHARD_NAME, ShardWriter
from batch_runner.prepare.user_ids import UserIdRegistry

INPUT_COLUMN_OPTION = "input_column"  # embeddings: send one column as inputText, no template needed

__all__ = [
    "RECORD_INDEX_NAME",
    "build_plan",
    "default_quotas",
    "describe_estimate",
    "describe_plan",
    "describe_structured_output",
]


def build_plan(
    source: DatasetSource,
    options: SubmitOptions,
    *,
    quotas: ModelQuotas,
    workdir: Path,
    file_format: str | None = None,
    s3: S3ClientFactory | None = None,
    on_demand_below_minimum: bool = False,
) -> Plan:
    """Read ``source`` once, write ready-to-upload shard files and the record index into ``workdir``.

    ``file_format`` names a file's format when its name does not (standard input may leave it out);
    ``s3`` makes the S3 client that reads ``s3://`` datasets. With ``on_demand_below_minimum``, a
    dataset (or final remainder) below the model's minimum records per job becomes an on-demand
    shard instead of being refused."""
    batch_warning = check_batch_support(options.model_id)
    schema = None if options.output_schema is None else output_schema(options.output_schema)
    template = _template(options)
    adapter = _adapter(options, schema, pre_formatted=template is None)
    if template is None and options.id_column is not None:
        raise UsageError(
            "--id-column needs a prompt template; pre-formatted lines carry their IDs in recordId"
        )
    dataset = open_dataset(source, file_format=file_format, s3=s3)
    if template is None and not has_json_rows(dataset):
        raise UsageError(
            "no prompt template given; pass --prompt or --prompt-text (or a pre-formatted JSONL file)"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    while True:
        openai = _openai_requests(options, schema) if template is None else None
        try:
            written = _write_files(
                dataset, options, adapter, template, quotas, workdir, openai, on_demand_below_minimum
            )
            break
        except BlocksTooSmall as retry:  # a CSV row longer than the read block: start over
            dataset = retry.dataset
    shards, records, index_sha256, prompt_chars, skipped, own_budget = written
    max_tokens = DEFAULT_MAX_TOKENS if options.max_tokens is None else options.max_tokens
    estimate = estimate_plan_cost(
        options.model_id,
        records=records,
        input_tokens=estimate_input_tokens(prompt_chars),
        output_budget=records * max_tokens if own_budget is None else own_budget,
        produces_text=adapter.produces_text if adapter is not None else True,
        on_demand_records=sum(shard.record_count for shard in shards if shard.on_demand),
    )
    return Plan(
        model_id=options.model_id,
        invocation_type=options.invocation_type,
        dataset_fingerprint=_fingerprint(options, index_sha256),
        record_count=records,
        byte_size=sum(shard.byte_size for shard in shards),
        shards=tuple(shards),
        record_index_path=workdir / RECORD_INDEX_NAME,
        quotas=quotas,
        estimate=estimate,
        structured_output=(
            openai.structured_output
            if openai is not None and openai.schema is not None
            else _structured_output(schema, adapter, pre_formatted=template is None)
        ),
        warnings=tuple(filter(None, (batch_warning, _skipped_warning(skipped)))),
        skipped_rows=len(skipped),
        output_schema=openai.lifted_schema if openai is not None else None,
    )


def _openai_requests(options: SubmitOptions, schema: OutputSchema | None) -> OpenAIBatchRequests:
    """Builds requests from OpenAI batch lines, should the pre-formatted input hold those."""
    max_tokens = DEFAULT_MAX_TOKENS if options.max_tokens is None else options.max_tokens
    model_options = {k: v for k, v in options.model_options.items() if k != INPUT_COLUMN_OPTION}
    defaults = RequestSettings(options.system_prompt, max_tokens, options.temperature, model_options)
    return OpenAIBatchRequests(options.model_id, options.invocation_type, defaults, schema)


def _write_files(
    dataset: Dataset,
    options: SubmitOptions,
    adapter: ModelAdapter | None,
    template: PromptTemplate | None,
    quotas: ModelQuotas,
    workdir: Path,
    openai: OpenAIBatchRequests | None,
    on_demand_below_minimum: bool,
) -> tuple[list[ShardPlan], int, str, int, list[str], int | None]:
    """Shards, record count, SHA-256 of the record index, rendered prompt characters, the rows
    left out as too large for the context window, and the pre-formatted records' own output-token
    caps summed (None: every record has --max-tokens)."""
    staging = Path(tempfile.mkdtemp(prefix=".planning-", dir=workdir))
    sink = BackgroundWriter()
    writer = ShardWriter(staging, quotas, sink, small_on_demand=on_demand_below_minimum)
    index = (staging / RECORD_INDEX_NAME).open("wb")
    try:
        ids = UserIdRegistry(options.id_column or "recordId")
        oversize = OversizeCheck.for_adapter(adapter, skip=options.skip_oversized)
        rows = RowEncoder(adapter, template, options.system_prompt, options.id_column, ids, oversize, openai)
        encoder = _encoder(adapter, template, rows)
        index_digest = hashlib.sha256()
        prompt_chars = 0
        skipped: list[str] = []
        own_budget: int | None = None
        for chunk in dataset.chunks():
            encoded = encoder.encode(chunk)
            writer.add(encoded.requests, chunk.where)
            sink.write(index, index_digest, encoded.index)
            prompt_chars += encoded.prompt_chars
            skipped += encoded.skipped
            if encoded.output_budget is not None:
                own_budget = (own_budget or 0) + encoded.output_budget
        sink.close(index, index_digest)
        _check_count(
            writer.records,
            quotas,
            options.model_id,
            dataset.label,
            on_demand_below_minimum,
            skipped=len(skipped),
        )
        ids.check_unique()
        shards = _move_into_place(staging, workdir, writer.finish())
        return shards, writer.records, index_digest.hexdigest(), prompt_chars, skipped, own_budget
    finally:
        sink.stop()
        writer.abandon()
        index.close()
        shutil.rmtree(staging, ignore_errors=True)


def _template(options: SubmitOptions) -> PromptTemplate | None:
    if options.prompt_template is not None:
        if INPUT_COLUMN_OPTION in options.model_options:
            raise UsageError(f"give either a prompt template or the {INPUT_COLUMN_OPTION} option, not both")
        return compile_template(options.prompt_template)
    column = options.model_options.get(INPUT_COLUMN_OPTION)
    if column is None:
        return None
    return column_template(str(column))


def _adapter(
    options: SubmitOptions, schema: OutputSchema | None, *, pre_formatted: bool
) -> ModelAdapter | None:
    model_options = {k: v for k, v in options.model_options.items() if k != INPUT_COLUMN_OPTION}
    # `is None`, not `or`: an explicit 0 must reach the adapter's check, not become the default.
    max_tokens = DEFAULT_MAX_TOKENS if options.max_tokens is None else options.max_tokens
    settings = RequestSettings(options.system_prompt, max_tokens, options.temperature, model_options, schema)
    if pre_formatted:
        # Requests are already built: unknown models are fine, known ones get their fields checked.
        try:
            return adapter_for(options.model_id, options.invocation_type, settings)
        except ModelNotSupportedError:
            return None
    return adapter_for(options.model_id, options.invocation_type, settings)


def _structured_output(
    schema: OutputSchema | None, adapter: ModelAdapter | None, *, pre_formatted: bool
) -> StructuredOutput | None:
    if schema is None:
        return None
    if pre_formatted or adapter is None:
        # The user wrote the requests; the schema only checks the answers.
        return StructuredOutput(PRE_FORMATTED)
    return adapter.structured_output


def _encoder(
    adapter: ModelAdapter | None, template: PromptTemplate | None, rows: RowEncoder
) -> RowEncoder | ColumnEncoder:
    if adapter is None or template is None or template.parts is None:
        return rows
    try:
        return ColumnEncoder(adapter, template, rows)
    except ValueError:  # the adapter repeats the prompt text: no single slot for it
        return rows


def _check_count(
    records: int, quotas: ModelQuotas, model_id: str, label: str, on_demand: bool, skipped: int
) -> None:
    if records == 0 and not skipped:
        raise DatasetError(f"{label} has no data rows; add at least {quotas.min_records_per_job} rows")
    if records < quotas.min_records_per_job and not (on_demand and records):
        left_out = f" (and {skipped:,} too large for the context window)" if skipped else ""
        raise PlanError(
            f"{label} has {records:,} records{left_out}, below the minimum of {quotas.min_records_per_job:,} "
            f"per batch job for {model_id}; add --on-demand-below-minimum to send them through the "
            "runtime API at full price (batch jobs are never padded)"
        )


def _move_into_place(staging: Path, workdir: Path, shards: list[ShardPlan]) -> list[ShardPlan]:
    # Files of an earlier plan in the same workdir would otherwise look like part of this one.
    for stale in workdir.glob("shard-*.jsonl"):
        stale.unlink()
    moved = []
    for shard in shards:
        target = workdir / shard.path.name
        os.replace(shard.path, target)
        moved.append(
            ShardPlan(shard.index, target, shard.record_count, shard.byte_size, shard.sha256, shard.on_demand)
        )
    os.replace(staging / RECORD_INDEX_NAME, workdir / RECORD_INDEX_NAME)
    return moved


def _fingerprint(options: SubmitOptions, index_sha256: str) -> str:
    # The record index holds every row's values in order, so its hash stands for the dataset's content.
    shaping = asdict(options)
    if options.output_schema is None:
        del shaping["output_schema"]  # runs planned before the option existed keep their fingerprint
    else:
        # Unsorted: the order of the properties is the order of the result columns.
        shaping["output_schema"] = orjson.dumps(options.output_schema).decode()
    if not options.skip_oversized:
        del shaping["skip_oversized"]  # runs planned before the option existed keep their fingerprint
    shaping["model_options"] = {k: v for k, v in options.model_options.items() if k != FAMILY_OPTION}
    canonical = orjson.dumps(shaping, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(canonical + index_sha256.encode()).hexdigest()


def _skipped_warning(skipped: list[str]) -> str | None:
    if not skipped:
        return None
    shown = ", ".join(skipped[:_SKIPPED_SHOWN]) + (", ..." if len(skipped) > _SKIPPED_SHOWN else "")
    return (
        f"{len(skipped):,} row(s) left out as too large for the model's context window ({shown}); "
        "results list them as failed with error_code oversized"
    )


_SKIPPED_SHOWN = 5


assert SHARD_NAME.startswith("shard-")  # _move_into_place cleans up by this pattern
