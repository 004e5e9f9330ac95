"""S3 conditional writes as S3 decides them: `If-None-Match: *` creates a key once, even under a race."""

from __future__ import annotations

import threading
import uuid

import pytest
from botocore.exceptions import ClientError

from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.local import Emulator


def test_a_second_create_only_write_is_refused_and_changes_nothing(emulator: Emulator) -> None:
    s3, bucket, key = (
        emulator.client("s3"),
        emulator.stack_outputs[OutputKey.INPUT_BUCKET],
        f"claim/{uuid.uuid4()}",
    )
    s3.put_object(Bucket=bucket, Key=key, Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key=key, Body=b"second", IfNoneMatch="*")
    assert excinfo.value.response["Error"]["Code"] == "PreconditionFailed"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"first"


def test_of_many_racing_create_only_writes_exactly_one_wins(emulator: Emulator) -> None:
    bucket, key = emulator.stack_outputs[OutputKey.INPUT_BUCKET], f"claim/{uuid.uuid4()}"
    clients = [emulator.client("s3") for _ in range(8)]
    start = threading.Barrier(len(clients))
    winners: list[int] = []

    def write(number: int) -> None:
        start.wait()
        try:
            clients[number].put_object(Bucket=bucket, Key=key, Body=str(number).encode(), IfNoneMatch="*")
        except ClientError:
            return
        winners.append(number)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    body = clients[0].get_object(Bucket=bucket, Key=key)["Body"].read()
    assert body == str(winners[0]).encode()
