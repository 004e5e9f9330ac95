"""`doctor`: check credentials, stack, buckets, roles, permissions and models before submitting."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from batch_runner.cli.common import add_aws_options, aws_context

if TYPE_CHECKING:
    from batch_runner.doctor import CheckResult


EXIT_FAILED = 1
EXIT_UNVERIFIED = 3  # nothing failed, but some checks could not be verified
_MARKS = {True: "✓", False: "✗", None: "?"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check the account, stack, roles and models are ready for batch jobs",
        description=(
            "Check that credentials and Region resolve, the stack is deployed, the buckets are in the "
            "job Region and owned by the account, the service role trusts Bedrock and can read input "
            "and write output (and, for VPC jobs, manage their network interfaces), the caller may pass "
            "the role and manage jobs, and each model exists, "
            "takes batch jobs and is enabled. Prints one line per check (✓ passed, ✗ failed with the "
            "fix, ? could not verify and why). Exit status: 0 when every check passed, 1 when one "
            f"failed, {EXIT_UNVERIFIED} when none failed but some could not be verified. --json prints "
            '{"passed", "failed", "unverified" (counts), "checks": [{"name", "ok" (true|false|null), '
            '"detail", "fix" (str|null)}]} with the same exit status.'
        ),
    )
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="MODEL_ID",
        help="model or inference-profile ID to check; repeat for several (default: the stack's models)",
    )
    add_aws_options(parser)
    group = parser.add_argument_group("resources (default: environment variables, then stack outputs)")
    group.add_argument("--input-bucket", help="input bucket (env BATCH_RUNNER_INPUT_BUCKET)")
    group.add_argument("--output-bucket", help="output bucket (env BATCH_RUNNER_OUTPUT_BUCKET)")
    group.add_argument("--role-arn", help="Bedrock service role (env BATCH_RUNNER_ROLE_ARN)")
    group.add_argument("--kms-key", help="KMS key for job output (env BATCH_RUNNER_KMS_KEY)")
    group.add_argument(
        "--subnet-ids", metavar="IDS", help="VPC subnets of the jobs (env BATCH_RUNNER_SUBNET_IDS)"
    )
    group.add_argument(
        "--security-group-ids",
        metavar="IDS",
        help="VPC security groups (env BATCH_RUNNER_SECURITY_GROUP_IDS)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from batch_runner.aws.settings import Overrides
    from batch_runner.doctor import run_checks

    overrides = Overrides(
        stack=args.stack,
        env=args.env,
        input_bucket=args.input_bucket,
        output_bucket=args.output_bucket,
        role_arn=args.role_arn,
        kms_key=args.kms_key,
        subnet_ids=args.subnet_ids,
        security_group_ids=args.security_group_ids,
    )
    results = run_checks(aws_context(args), overrides, models=args.models or ())
    if args.json:
        print(json.dumps(results_dict(results), indent=2))
    else:
        print_results(results, sys.stdout)
    return exit_code(results)


def results_dict(results: Sequence[CheckResult]) -> dict[str, Any]:
    failed = sum(r.ok is False for r in results)
    unverified = sum(r.ok is None for r in results)
    return {
        "passed": len(results) - failed - unverified,
        "failed": failed,
        "unverified": unverified,
        "checks": [{"name": r.name, "ok": r.ok, "detail": r.detail, "fix": r.fix or None} for r in results],
    }


def print_results(results: Sequence[CheckResult], out: TextIO) -> None:
    for result in results:
        print(f"{_MARKS[result.ok]} {result.name}: {result.detail}", file=out)
        if result.fix:
            label = "fix" if result.ok is False else "to verify"
            lines = result.fix.splitlines()
            print(f"    {label}: {lines[0]}", file=out)
            for line in lines[1:]:
                print(f"      {line}", file=out)
    failed = sum(r.ok is False for r in results)
    unverified = sum(r.ok is None for r in results)
    print(
        f"{len(results) - failed - unverified} passed, {failed} failed, {unverified} could not be verified",
        file=out,
    )


def exit_code(results: Sequence[CheckResult]) -> int:
    if any(r.ok is False for r in results):
        return EXIT_FAILED
    return EXIT_UNVERIFIED if any(r.ok is None for r in results) else 0
