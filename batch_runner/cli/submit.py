"""Plan, upload and submit a dataset as Amazon Bedrock batch inference jobs.

Every row of DATASET (CSV, JSONL or Parquet) is rendered through the prompt template (Jinja2; each
column is a variable, e.g. "Summarize: {{ text }}") into the model's request format, validated, split
into shards that respect the model's batch quotas, uploaded, and submitted as one job per shard.
A JSONL file whose lines already hold "modelInput" needs no prompt, and neither does an OpenAI Batch
API input file (lines with custom_id and a /v1/chat/completions body): its messages, max_tokens or
max_completion_tokens, temperature and response_format (json_schema) become requests of --model's
family, custom_id the record's ID; options the family cannot honour are refused with the line
number.

DATASET is a local path, an s3://BUCKET/KEY URI (streamed, never downloaded first), an
s3://BUCKET/PREFIX/ of Parquet or JSONL parts (read in key order; names starting with _ or . are
skipped), or - for standard input (CSV, JSONL or Parquet, recognised from the first bytes unless
--format says). CSV and JSONL may be gzip- or zstd-compressed (.csv.gz, .jsonl.zst, ...).

--output-schema SCHEMA.json (a JSON Schema for an object) asks every answer for JSON of that shape,
the way the model supports best: native structured output (Claude 4.5 and later), a reply
prefilled with "{" (older Claude, Llama, Mistral text), or instructions in the prompt. `results`
then parses and validates each answer into one column per top-level property.

Each record's estimated input tokens plus --max-tokens must fit the model's context window (for the
models batch_runner/data/context_windows.yaml lists): planning stops at the first row that does
not, naming it, unless --skip-oversized leaves such rows out (results list them as failed with
error_code "oversized", and retry does not resend them).

--dry-run prints the plan (shards, records, bytes, estimated tokens and cost) without calling AWS
(except to read an s3:// dataset).
The cost is a range: input tokens estimated from the prompts' characters, output up to every
answer's max_tokens (the upper bound) and typically 100 tokens an answer (the stated assumption):

  tokens:   ~9,642 input (from the prompts' characters); output up to 122,880 if every answer uses
            max_tokens, typically ~12,000 (assuming 100 an answer)
  cost:     input ~$0.0011; in all up to $0.0146 if every answer uses max_tokens, typically ~$0.0024

--max-cost USD refuses (exit 2, nothing uploaded) when the upper bound exceeds USD.

A batch job needs at least the model's minimum records (100 by default). A smaller dataset is
refused unless --on-demand-below-minimum: then its records (or a final remainder that cannot be
balanced into the last job) go through on-demand InvokeModel/Converse, the same request bodies, a
few at a time with backoff on throttling, at full price; results, cost and the reconciliation
treat them like a job's.
Jobs beyond the model's concurrency quota stay queued in the run and are submitted by later
`status`/`wait` calls. Running submit again with the same --run (or `resume RUN`) continues a run
that stopped and never creates a second job for a shard; a --run another submit has just claimed
for different data is refused (exit 2), with nothing uploaded.

Every job is created with a timeout (--timeout-hours, 24-168, default 168: the time queued counts,
and an Expired job has processed nothing, so the maximum gets the most records through); retries
use the run's value. When the stack has a `vpc`, jobs run in it (vpcConfig); --subnet-ids and
--security-group-ids override it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batch_runner.catalog.invocation import CONVERSE, INVOKE_MODEL
from batch_runner.cli.common import add_aws_options, aws_context
from batch_runner.cli.run_output import plan_dict, print_run
from batch_runner.exceptions import UsageError

if TYPE_CHECKING:
    from batch_runner.api import Target
    from batch_runner.prepare.plan import Plan, SubmitOptions


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "submit",
        help="plan, upload and submit a dataset as batch jobs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "dataset", metavar="DATASET", help="CSV, JSONL or Parquet file, s3:// URI or prefix, or - for stdin"
    )
    parser.add_argument(
        "--format",
        choices=("csv", "jsonl", "parquet"),
        help="the dataset's format when its name does not end in it (default: from the name; stdin: sniffed)",
    )
    parser.add_argument(
        "--model", required=True, metavar="MODEL_ID", help="model ID, inference profile or ARN"
    )
    prompt = parser.add_mutually_exclusive_group()
    prompt.add_argument("--prompt", metavar="TEMPLATE_FILE", help="file holding the Jinja2 prompt template")
    prompt.add_argument("--prompt-text", metavar="TEXT", help="the prompt template itself")
    parser.add_argument("--system", metavar="TEXT|FILE", help="system prompt, or a file holding it")
    parser.add_argument("--id-column", metavar="COL", help="column with unique record IDs to join results on")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="maximum output tokens per record")
    parser.add_argument("--temperature", type=float, metavar="X", help="sampling temperature")
    parser.add_argument("--invocation-type", choices=(INVOKE_MODEL, CONVERSE), default=INVOKE_MODEL)
    parser.add_argument(
        "--output-schema",
        metavar="SCHEMA.json",
        help="JSON Schema the answers must match; results get one column per top-level property",
    )
    parser.add_argument(
        "--model-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model-specific option, e.g. dimensions=512 for Titan embeddings (repeatable)",
    )
    parser.add_argument(
        "--skip-oversized",
        action="store_true",
        help="leave out rows too large for the model's context window (results list them as failed, "
        "error_code oversized) instead of stopping",
    )
    parser.add_argument(
        "--on-demand-below-minimum",
        action="store_true",
        help="send a dataset (or final remainder) smaller than the model's minimum records per batch job "
        "through on-demand InvokeModel/Converse at full price, instead of refusing it",
    )
    parser.add_argument("--run", metavar="NAME", help="run name (default: <dataset>-<UTC time>)")
    parser.add_argument(
        "--timeout-hours",
        type=int,
        metavar="N",
        help="hours each job may take, queue time included (24-168; default 168)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit; no AWS call")
    parser.add_argument(
        "--max-cost",
        type=float,
        metavar="USD",
        help="refuse to submit (exit 2, nothing uploaded) when the estimate's upper bound, every answer "
        "at max_tokens, exceeds USD dollars",
    )
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--orchestrated",
        action="store_true",
        default=None,
        help="upload, hand the run to the stack and return (default when the stack orchestrates runs)",
    )
    mode.add_argument(
        "--local",
        dest="orchestrated",
        action="store_false",
        help="drive the run from this machine: status/wait submit queued shards "
        "(env BATCH_RUNNER_ORCHESTRATED=false)",
    )
    parser.add_argument(
        "--team", default="default", help="orchestrated runs: whose share of the quota it uses"
    )
    parser.add_argument(
        "--priority", type=int, default=0, help="orchestrated runs: higher goes first in its team"
    )

    quotas = parser.add_argument_group("quotas (default: Service Quotas, else the documented defaults)")
    quotas.add_argument("--min-records", type=int, metavar="N", help="minimum records per job")
    quotas.add_argument("--max-records-per-job", type=int, metavar="N")
    quotas.add_argument("--max-records-per-file", type=int, metavar="N")
    quotas.add_argument("--max-concurrent-jobs", type=int, metavar="N", help="submitted + in-progress jobs")

    add_aws_options(parser)
    add_location_options(parser)
    parser.set_defaults(handler=run)


def add_location_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where data goes (default: environment variables, then stack outputs)")
    group.add_argument("--input-bucket", help="bucket for input shards (env BATCH_RUNNER_INPUT_BUCKET)")
    group.add_argument("--output-bucket", help="bucket Bedrock writes to (env BATCH_RUNNER_OUTPUT_BUCKET)")
    group.add_argument("--role-arn", help="Bedrock service role (env BATCH_RUNNER_ROLE_ARN)")
    group.add_argument("--kms-key", help="KMS key for job output (env BATCH_RUNNER_KMS_KEY)")
    group.add_argument(
        "--job-name-prefix",
        metavar="PREFIX",
        help="start of every job name, e.g. 'dev.'; the stack's alerts match only its own "
        "(env BATCH_RUNNER_JOB_NAME_PREFIX; default: the stack's JobNamePrefix output)",
    )
    group.add_argument(
        "--subnet-ids",
        metavar="IDS",
        help="comma-separated subnets jobs run in (env BATCH_RUNNER_SUBNET_IDS; stack output VpcSubnetIds)",
    )
    group.add_argument(
        "--security-group-ids",
        metavar="IDS",
        help="comma-separated security groups of the jobs (env BATCH_RUNNER_SECURITY_GROUP_IDS; "
        "stack output VpcSecurityGroupIds)",
    )
    group.add_argument(
        "--state-dir", help="local run state (env BATCH_RUNNER_STATE_DIR; default .batch-runner)"
    )


def target(args: argparse.Namespace) -> Target:
    from batch_runner.api import Target
    from batch_runner.aws.settings import Overrides

    return Target(
        aws=aws_context(args),
        overrides=Overrides(
            stack=args.stack,
            env=args.env,
            input_bucket=getattr(args, "input_bucket", None),
            output_bucket=getattr(args, "output_bucket", None),
            role_arn=getattr(args, "role_arn", None),
            kms_key=getattr(args, "kms_key", None),
            job_name_prefix=getattr(args, "job_name_prefix", None),
            subnet_ids=getattr(args, "subnet_ids", None),
            security_group_ids=getattr(args, "security_group_ids", None),
        ),
        state_dir=Path(args.state_dir) if args.state_dir else None,
    )


def run(args: argparse.Namespace) -> int:
    from batch_runner.api import QuotaOverrides, plan_only, prepare
    from batch_runner.jobs.run_state import validate_run_name
    from batch_runner.jobs.submission import checked_timeout_hours
    from batch_runner.prepare.planning import describe_plan

    if args.run:
        validate_run_name(args.run)
    if args.timeout_hours is not None:
        checked_timeout_hours(args.timeout_hours)
    opts = _options(args)
    quotas = QuotaOverrides(
        min_records_per_job=args.min_records,
        max_records_per_file=args.max_records_per_file,
        max_records_per_job=args.max_records_per_job,
        max_concurrent_jobs=args.max_concurrent_jobs,
    )
    if args.dry_run:
        with tempfile.TemporaryDirectory(prefix="batch-runner-dry-run-") as workdir:
            plan = plan_only(
                args.dataset,
                opts,
                Path(workdir),
                quotas,
                file_format=args.format,
                aws=aws_context(args),
                max_cost=args.max_cost,
                on_demand_below_minimum=args.on_demand_below_minimum,
            )
            if args.json:
                print(json.dumps({"dry_run": True, "plan": plan_dict(plan)}, indent=2))
            else:
                print("\n".join(describe_plan(plan, opts.output_schema or plan.output_schema)))
        return 0

    prepared = prepare(
        args.dataset,
        opts,
        run=args.run,
        quotas=quotas,
        target=target(args),
        timeout_hours=args.timeout_hours,
        file_format=args.format,
        max_cost=args.max_cost,
        on_demand_below_minimum=args.on_demand_below_minimum,
    )
    if not args.json:
        print("\n".join(describe_plan(prepared.plan, prepared.opts.output_schema)))
        print(f"Run {prepared.run} on stack {prepared.settings.stack} ({prepared.settings.region})")
    if not args.yes and sys.stdin.isatty() and not _confirmed(prepared.plan):
        prepared.discard()
        print("cancelled: nothing was uploaded or submitted", file=sys.stderr)
        return 1
    batch_run = prepared.launch(orchestrated=args.orchestrated, team=args.team, priority=args.priority)
    print_run(batch_run, as_json=args.json)
    if not args.json and batch_run.manifest.settings.get("orchestrated"):
        print(
            f"The stack submits {len(batch_run.shards)} job(s) as the quota allows; this machine may go "
            f"away. Follow it with `status {batch_run.name}` or `wait {batch_run.name}`."
        )
    return 0


def _confirmed(plan: Plan) -> bool:
    jobs = sum(1 for shard in plan.shards if not shard.on_demand)
    on_demand = f" and send {plan.on_demand_records} record(s) on demand" if plan.on_demand_records else ""
    print(f"Upload and submit {jobs} job(s){on_demand}? [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in {"y", "yes"}


def _options(args: argparse.Namespace) -> SubmitOptions:
    from batch_runner.catalog.output_schema import load_output_schema
    from batch_runner.prepare.plan import SubmitOptions

    if args.prompt:
        template: str | None = _read_text(Path(args.prompt), "prompt template")
    else:
        template = args.prompt_text
    return SubmitOptions(
        model_id=args.model,
        prompt_template=template,
        system_prompt=_system_prompt(args.system),
        id_column=args.id_column,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        invocation_type=args.invocation_type,
        model_options=dict(_model_option(item) for item in args.model_option),
        output_schema=None if args.output_schema is None else load_output_schema(args.output_schema).document,
        skip_oversized=args.skip_oversized,
    )


# Endings that make a --system value a file name rather than prompt text.
_TEXT_FILE_SUFFIXES = frozenset({".txt", ".md", ".j2", ".jinja", ".prompt"})


def _system_prompt(value: str | None) -> str | None:
    """``--system`` is a file when one exists at that path, otherwise the prompt text itself.

    A value that can only be a file name (no spaces, a text-file ending) but names no file is a
    mistyped path: sending it to the model as the system prompt would cost a whole batch.
    """
    if not value:
        return value
    path = Path(value)
    if path.is_file():
        return _read_text(path, "system prompt")
    if path.is_dir():
        raise UsageError(f"--system {value} is a directory; give a file, or the system prompt text")
    if not any(char.isspace() for char in value) and path.suffix.lower() in _TEXT_FILE_SUFFIXES:
        raise UsageError(f"system prompt file {value} not found; fix the path, or give the prompt text")
    return value


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise UsageError(f"{what} file {path} not found") from err
    except UnicodeDecodeError as err:
        raise UsageError(f"{what} file {path} is not valid UTF-8 (byte {err.start})") from err
    except OSError as err:
        raise UsageError(f"cannot read {what} file {path}: {err.strerror}") from err


def _model_option(item: str) -> tuple[str, object]:
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise UsageError(f"--model-option {item!r} must look like KEY=VALUE, e.g. dimensions=512")
    try:
        value: object = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value
