"""Options shared by every command that talks to AWS."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from batch_runner.aws.stack_outputs import DEFAULT_ENVIRONMENT

if TYPE_CHECKING:
    from batch_runner.aws.clients import AwsContext


def add_aws_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("AWS")
    where = group.add_mutually_exclusive_group()
    where.add_argument("--stack", help="CloudFormation stack that holds the buckets and service role")
    where.add_argument(
        "--env",
        default=None,
        help=f"environment name; the stack is BedrockBatch-<env> (default: {DEFAULT_ENVIRONMENT})",
    )
    group.add_argument("--region", help="AWS Region (default: from the profile or AWS_REGION)")
    group.add_argument("--profile", help="named AWS profile")
    group.add_argument(
        "--endpoint-url",
        help="send AWS calls to this endpoint, e.g. the local emulator (default: AWS_ENDPOINT_URL)",
    )


def aws_context(args: argparse.Namespace) -> AwsContext:
    from batch_runner.aws.clients import AwsContext

    return AwsContext(region=args.region, profile=args.profile, endpoint_url=args.endpoint_url)
