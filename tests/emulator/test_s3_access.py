"""S3 calls by IAM users are held to their policies, as S3 holds them (moto alone allows all)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.local import Emulator
from tests.emulator.helpers import unique
from tests.emulator.test_caller_permissions import submitter_client


def test_a_submitter_uses_the_stack_buckets_and_no_other(emulator: Emulator) -> None:
    other = unique("elsewhere")
    emulator.client("s3").create_bucket(Bucket=other)
    emulator.client("s3").put_object(Bucket=other, Key="data.csv", Body=b"a\n1\n")
    s3 = submitter_client(emulator, "s3")
    input_bucket = emulator.stack_outputs[OutputKey.INPUT_BUCKET]

    key = f"runs/{unique('r')}/input/shard-00000.jsonl"
    s3.put_object(Bucket=input_bucket, Key=key, Body=b"{}\n")
    assert s3.get_object(Bucket=input_bucket, Key=key)["Body"].read() == b"{}\n"
    upload = s3.create_multipart_upload(Bucket=input_bucket, Key=key + ".big")
    s3.abort_multipart_upload(Bucket=input_bucket, Key=key + ".big", UploadId=upload["UploadId"])

    with pytest.raises(ClientError) as read:
        s3.get_object(Bucket=other, Key="data.csv")
    error = read.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert error["Message"].endswith(
        f'is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::{other}/data.csv" '
        "because no identity-based policy allows the s3:GetObject action"
    )
    with pytest.raises(ClientError) as head:
        s3.head_object(Bucket=other, Key="data.csv")
    assert head.value.response["Error"]["Code"] == "403"
    for call in (
        lambda: s3.list_objects_v2(Bucket=other),
        lambda: s3.put_object(Bucket=other, Key="x", Body=b""),
        lambda: s3.create_multipart_upload(Bucket=other, Key="x"),
        lambda: s3.delete_object(Bucket=other, Key="data.csv"),
    ):
        with pytest.raises(ClientError, match="AccessDenied"):
            call()
    assert emulator.client("s3").get_object(Bucket=other, Key="data.csv")["Body"].read() == b"a\n1\n"
