"""The input and output buckets: they exist, sit in the job's Region and belong to the account.

Bedrock reads and writes buckets in the job's Region; a look-alike bucket in another account would
receive the data, which ``ExpectedBucketOwner`` rules out.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.doctor.result import (
    ACCESS_DENIED,
    CheckResult,
    CheckTarget,
    error_code,
    error_message,
    failed,
    passed,
    unverified,
)


def check_bucket(target: CheckTarget, kind: str) -> CheckResult:
    """``kind`` is ``"input"`` or ``"output"``."""
    name = f"{kind} bucket"
    bucket = target.input_bucket if kind == "input" else target.output_bucket
    source = target.sources.get(f"{kind}_bucket", "")
    origin = f" (from {source})" if source else ""
    s3 = target.client("s3")
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=target.account)
    except ClientError as err:
        code = error_code(err)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return failed(
                name,
                f"{bucket}{origin} does not exist",
                f"deploy the stack (`cdk deploy`) or point {_variable(kind)} at an existing bucket",
            )
        if code in ("403", *ACCESS_DENIED):
            return failed(
                name,
                f"{bucket}{origin} is not owned by account {target.account}, or the caller may not read it",
                f"use a bucket of account {target.account} (the stack's {kind} bucket), and allow the caller "
                f"s3:ListBucket on arn:aws:s3:::{bucket}",
            )
        return unverified(name, f"s3:HeadBucket on {bucket} failed: {error_message(err)}")
    except BotoCoreError as err:
        return unverified(name, f"s3:HeadBucket on {bucket} failed: {err}")
    try:
        location = s3.get_bucket_location(Bucket=bucket, ExpectedBucketOwner=target.account)
    except (ClientError, BotoCoreError) as err:
        return unverified(
            name,
            f"{bucket} exists, but its Region could not be read: {error_message(err)}",
            f"allow the caller s3:GetBucketLocation on arn:aws:s3:::{bucket}",
        )
    region = _region(location.get("LocationConstraint"))
    if region != target.region:
        return failed(
            name,
            f"{bucket}{origin} is in {region}, jobs run in {target.region}",
            f"use a bucket in {target.region} (the stack deployed there creates one), or run the jobs "
            f"in {region} with --region {region}",
        )
    return passed(name, f"{bucket} in {region}, owned by {target.account}")


def _region(constraint: str | None) -> str:
    """GetBucketLocation's answer as a Region: empty means us-east-1, ``EU`` is eu-west-1."""
    if not constraint:
        return "us-east-1"
    return "eu-west-1" if constraint == "EU" else constraint


def _variable(kind: str) -> str:
    return f"BATCH_RUNNER_{kind.upper()}_BUCKET"
