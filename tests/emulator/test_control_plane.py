"""The four operations over HTTP with boto3: shapes, identifiers, idempotency, conflicts, quotas."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batch_runner.local import Emulator
from tests.emulator.helpers import claude_records, create_job, job_request, jsonl, unique, upload

JOB_ARN = re.compile(r"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/[a-z0-9]{12}")


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    error = excinfo.value.response["Error"]
    status = excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return error["Code"], error["Message"], status


def test_create_returns_an_aws_shaped_arn_and_get_echoes_the_request(emulator: Emulator) -> None:
    bedrock = emulator.client("bedrock")
    request = job_request(
        emulator,
        upload(emulator, jsonl(claude_records(100))),
        clientRequestToken="token-1-" + unique("t"),
        timeoutDurationInHours=72,
        tags=[{"key": "run", "value": "r1"}],
        modelInvocationType="InvokeModel",
    )
    arn = bedrock.create_model_invocation_job(**request)["jobArn"]
    assert JOB_ARN.fullmatch(arn)

    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert job["jobArn"] == arn
    for key in ("jobName", "roleArn", "clientRequestToken"):
        assert job[key] == request[key]
    assert job["timeoutDurationInHours"] == 72
    assert job["modelInvocationType"] == "InvokeModel"
    assert job["status"] == "Submitted"
    assert isinstance(job["submitTime"], datetime)
    assert job["jobExpirationTime"] - job["submitTime"] == timedelta(hours=72)


def test_get_and_list_echo_like_aws_model_arn_and_bucket_owner(emulator: Emulator) -> None:
    """Observed on AWS (reference 9b): a bare model ID comes back as the foundation-model ARN, and both
    data configs carry s3BucketOwner though the request left it out; no timeout means 24 hours."""
    bedrock = emulator.client("bedrock")
    request = job_request(emulator, upload(emulator, jsonl(claude_records(100))))
    arn = bedrock.create_model_invocation_job(**request)["jobArn"]
    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    listed = bedrock.list_model_invocation_jobs(nameContains=request["jobName"])["invocationJobSummaries"]
    for shown in (job, listed[0]):
        assert shown["modelId"] == f"arn:aws:bedrock:us-east-1::foundation-model/{request['modelId']}"
        assert shown["inputDataConfig"]["s3InputDataConfig"] == {
            **request["inputDataConfig"]["s3InputDataConfig"],
            "s3BucketOwner": "123456789012",
        }
        assert shown["outputDataConfig"]["s3OutputDataConfig"] == {
            **request["outputDataConfig"]["s3OutputDataConfig"],
            "s3BucketOwner": "123456789012",
        }
        assert shown["timeoutDurationInHours"] == 24
        assert shown["jobExpirationTime"] - shown["submitTime"] == timedelta(hours=24)
        assert "message" not in shown


def test_a_profile_id_is_echoed_as_given(emulator: Emulator) -> None:
    profile = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    arn = create_job(emulator, modelId=profile)
    assert emulator.client("bedrock").get_model_invocation_job(jobIdentifier=arn)["modelId"] == profile


def test_get_and_stop_accept_the_job_id_or_the_arn(emulator: Emulator) -> None:
    bedrock = emulator.client("bedrock")
    arn = create_job(emulator)
    job_id = arn.rsplit("/", 1)[-1]
    assert bedrock.get_model_invocation_job(jobIdentifier=job_id)["jobArn"] == arn
    assert bedrock.get_model_invocation_job(jobIdentifier=arn)["jobArn"] == arn
    bedrock.stop_model_invocation_job(jobIdentifier=job_id)
    assert bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] == "Stopping"


@pytest.mark.parametrize(
    "identifier", ["abcdefabcdef", "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefabcdef"]
)
def test_unknown_job_is_resource_not_found(emulator: Emulator, identifier: str) -> None:
    bedrock = emulator.client("bedrock")
    for call in (bedrock.get_model_invocation_job, bedrock.stop_model_invocation_job):
        with pytest.raises(ClientError) as excinfo:
            call(jobIdentifier=identifier)
        code, message, status = error_of(excinfo)
        assert (code, status) == ("ResourceNotFoundException", 404)
        assert identifier in message


def test_malformed_identifier_is_a_validation_error(emulator: Emulator) -> None:
    with pytest.raises(ClientError) as excinfo:
        emulator.client("bedrock").get_model_invocation_job(jobIdentifier="NOT-A-JOB")
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert "at 'jobIdentifier' failed to satisfy constraint" in message


def test_same_client_request_token_returns_the_first_job_and_creates_no_other(emulator: Emulator) -> None:
    bedrock = emulator.client("bedrock")
    token = unique("idem")
    request = job_request(emulator, upload(emulator, jsonl(claude_records(100))), clientRequestToken=token)
    first = bedrock.create_model_invocation_job(**request)["jobArn"]
    again = bedrock.create_model_invocation_job(**{**request, "jobName": unique("other")})["jobArn"]
    assert again == first
    assert len(bedrock.list_model_invocation_jobs()["invocationJobSummaries"]) == 1


def test_duplicate_name_of_a_live_job_conflicts_but_a_finished_name_is_reusable(emulator: Emulator) -> None:
    bedrock = emulator.client("bedrock")
    name = unique("dup")
    create_job(emulator, jobName=name)
    with pytest.raises(ClientError) as excinfo:
        create_job(emulator, jobName=name)
    code, message, _ = error_of(excinfo)
    assert code == "ConflictException"
    assert name in message
    emulator.run_until_idle()
    assert JOB_ARN.fullmatch(create_job(emulator, jobName=name))
    assert len(bedrock.list_model_invocation_jobs(nameContains=name)["invocationJobSummaries"]) == 2


def test_more_live_jobs_per_model_than_the_quota_is_refused(emulator: Emulator) -> None:
    emulator.configure(max_active_jobs_per_model=2)
    create_job(emulator)
    create_job(emulator, modelId="us.anthropic.claude-3-haiku-20240307-v1:0")  # same model via a profile
    create_job(emulator, modelId="amazon.nova-lite-v1:0", records=[])  # another model has its own quota
    with pytest.raises(ClientError) as excinfo:
        create_job(emulator)
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ServiceQuotaExceededException", 400)
    assert "anthropic.claude-3-haiku-20240307-v1:0" in message
    emulator.run_until_idle()  # finished jobs free the quota
    assert JOB_ARN.fullmatch(create_job(emulator))


def test_stop_of_a_finished_job_conflicts(emulator: Emulator) -> None:
    arn = create_job(emulator)
    emulator.run_until_idle()
    with pytest.raises(ClientError) as excinfo:
        emulator.client("bedrock").stop_model_invocation_job(jobIdentifier=arn)
    code, message, _ = error_of(excinfo)
    assert code == "ConflictException"
    assert "Completed" in message


def test_unknown_model_is_refused_at_create(emulator: Emulator) -> None:
    with pytest.raises(ClientError) as excinfo:
        create_job(emulator, modelId="acme.unknown-model-v1:0")
    code, message, _ = error_of(excinfo)
    assert code == "ValidationException"
    assert "acme.unknown-model-v1:0" in message


BAD_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "underscore in name",
        {"jobName": "my_job"},
        "Value 'my_job' at 'jobName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern",
    ),
    ("space in name", {"jobName": "my job"}, "at 'jobName' failed to satisfy constraint"),
    (
        "name too long",
        {"jobName": "a" * 64},
        "at 'jobName' failed to satisfy constraint: Member must have length less than or equal to 63",
    ),
    (
        "timeout above 168",
        {"timeoutDurationInHours": 500},
        "Value '500' at 'timeoutDurationInHours' failed to satisfy constraint: "
        "Member must have value less than or equal to 168",
    ),
    ("role not an ARN", {"roleArn": "my-role"}, "at 'roleArn' failed to satisfy constraint"),
    (
        "token with underscore",
        {"clientRequestToken": "a_b"},
        "at 'clientRequestToken' failed to satisfy constraint",
    ),
    (
        "invocation type",
        {"modelInvocationType": "Chat"},
        "Member must satisfy enum value set: [InvokeModel, Converse]",
    ),
    (
        "tag value",
        {"tags": [{"key": "k", "value": "a&b"}]},
        "at 'tags.1.member.value' failed to satisfy constraint",
    ),
]
BAD_URIS = [
    ("hive-style key", "s3://bucket-name/date=2024-01-01/"),
    ("upper-case bucket", "s3://Bucket-Name/in/"),
    ("space in key", "s3://bucket-name/my file.jsonl"),
    ("plus in key", "s3://bucket-name/a+b.jsonl"),
]


@pytest.mark.parametrize(
    ("case", "overrides", "expected"), BAD_REQUESTS, ids=[case for case, _, _ in BAD_REQUESTS]
)
def test_create_validates_against_the_service_model(
    emulator: Emulator, case: str, overrides: dict[str, Any], expected: str
) -> None:
    request = job_request(emulator, "s3://bucket-name/in/", **overrides)
    with pytest.raises(ClientError) as excinfo:
        emulator.client("bedrock").create_model_invocation_job(**request)
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: ")
    assert expected in message
    assert emulator.jobs() == []


@pytest.mark.parametrize(("case", "uri"), BAD_URIS, ids=[case for case, _ in BAD_URIS])
def test_s3_uris_the_service_rejects(emulator: Emulator, case: str, uri: str) -> None:
    request = job_request(emulator, uri)
    with pytest.raises(ClientError) as excinfo:
        emulator.client("bedrock").create_model_invocation_job(**request)
    code, message, _ = error_of(excinfo)
    assert code == "ValidationException"
    assert f"Value '{uri}' at 'inputDataConfig.s3InputDataConfig.s3Uri'" in message


def test_every_violation_is_listed(emulator: Emulator) -> None:
    request = job_request(emulator, "s3://Bad/x", jobName="a_b", timeoutDurationInHours=200)
    with pytest.raises(ClientError) as excinfo:
        emulator.client("bedrock").create_model_invocation_job(**request)
    _, message, _ = error_of(excinfo)
    assert message.startswith("3 validation errors detected: ")
    assert all(
        part in message for part in ("'jobName'", "'timeoutDurationInHours'", "s3InputDataConfig.s3Uri")
    )


def test_list_filters_sorts_and_paginates(emulator: Emulator) -> None:
    bedrock = emulator.client("bedrock")
    arns = []
    for index in range(5):
        arns.append(create_job(emulator, jobName=f"listing-{index}-{unique('n')}"))
        emulator.advance(0.01)
    stopped = arns[1]
    bedrock.stop_model_invocation_job(jobIdentifier=stopped)
    emulator.advance(1.0)

    descending = [job["jobArn"] for job in bedrock.list_model_invocation_jobs()["invocationJobSummaries"]]
    assert descending == arns[::-1]
    ascending = bedrock.list_model_invocation_jobs(sortBy="CreationTime", sortOrder="Ascending")
    assert [job["jobArn"] for job in ascending["invocationJobSummaries"]] == arns

    pages = list(
        bedrock.get_paginator("list_model_invocation_jobs").paginate(
            sortOrder="Ascending", PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(page["invocationJobSummaries"]) for page in pages] == [2, 2, 1]
    assert [job["jobArn"] for page in pages for job in page["invocationJobSummaries"]] == arns

    only_stopped = bedrock.list_model_invocation_jobs(statusEquals="Stopped")["invocationJobSummaries"]
    assert [job["jobArn"] for job in only_stopped] == [stopped]
    named = bedrock.list_model_invocation_jobs(nameContains="listing-3-")["invocationJobSummaries"]
    assert [job["jobArn"] for job in named] == [arns[3]]

    third = bedrock.get_model_invocation_job(jobIdentifier=arns[2])["submitTime"]
    after = bedrock.list_model_invocation_jobs(submitTimeAfter=third, sortOrder="Ascending")[
        "invocationJobSummaries"
    ]
    assert [job["jobArn"] for job in after] == arns[3:]
    before = bedrock.list_model_invocation_jobs(submitTimeBefore=third, sortOrder="Ascending")[
        "invocationJobSummaries"
    ]
    assert [job["jobArn"] for job in before] == arns[:2]


def test_list_validates_its_query(emulator: Emulator) -> None:
    bedrock = emulator.client("bedrock")
    with pytest.raises(ClientError) as excinfo:
        bedrock.list_model_invocation_jobs(maxResults=5000)
    assert "Member must have value less than or equal to 1000" in error_of(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        bedrock.list_model_invocation_jobs(nextToken="garbage")
    assert error_of(excinfo)[0] == "ValidationException"


def test_jobs_are_visible_only_in_their_region(emulator: Emulator) -> None:
    arn = create_job(emulator)
    import boto3

    west = boto3.client(
        "bedrock",
        region_name="us-west-2",
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id="emulator-root",  # the submitter policy covers us-east-1 jobs only
        aws_secret_access_key="testing",
    )
    assert west.list_model_invocation_jobs()["invocationJobSummaries"] == []
    with pytest.raises(ClientError) as excinfo:
        west.get_model_invocation_job(jobIdentifier=arn.rsplit("/", 1)[-1])
    assert error_of(excinfo)[0] == "ResourceNotFoundException"


def test_submit_time_comes_from_the_emulator_clock(emulator: Emulator) -> None:
    arn = create_job(emulator)
    submitted = emulator.client("bedrock").get_model_invocation_job(jobIdentifier=arn)["submitTime"]
    assert abs(submitted.timestamp() - emulator.clock.now()) < 0.01
    assert submitted.tzinfo is not None and submitted.astimezone(UTC).utcoffset() == timedelta(0)


def test_job_tags_are_listed_added_and_removed(emulator: Emulator) -> None:
    bedrock = emulator.client("bedrock")
    arn = create_job(emulator, tags=[{"key": "run", "value": "r1"}])
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "run", "value": "r1"}]
    bedrock.tag_resource(
        resourceARN=arn, tags=[{"key": "shard", "value": "3"}, {"key": "run", "value": "r2"}]
    )
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [
        {"key": "run", "value": "r2"},
        {"key": "shard", "value": "3"},
    ]
    bedrock.untag_resource(resourceARN=arn, tagKeys=["run"])
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "shard", "value": "3"}]
    unknown = arn[:-12] + "zzzzzzzzzzzz"
    with pytest.raises(ClientError) as excinfo:
        bedrock.list_tags_for_resource(resourceARN=unknown)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"


def test_a_model_batch_does_not_take_is_refused_at_create_as_on_aws(emulator: Emulator) -> None:
    """Bedrock lists Llama 3 8B for on-demand use only; create answers without saying what is wrong
    (observed on AWS, batch_runner/data/batch_support.yaml)."""
    with pytest.raises(ClientError) as excinfo:
        create_job(emulator, modelId="meta.llama3-8b-instruct-v1:0")
    assert error_of(excinfo) == ("ValidationException", "The provided request is not valid", 400)
