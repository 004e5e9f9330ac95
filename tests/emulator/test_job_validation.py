"""The Validating phase: the job is accepted, then fails with the service's kind of message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.local import Emulator
from tests.emulator.helpers import claude_records, create_job, job_request, jsonl, unique, upload

ACCOUNT = "123456789012"


def final_job(emulator: Emulator, arn: str) -> dict[str, Any]:
    emulator.run_until_idle()
    job: dict[str, Any] = emulator.client("bedrock").get_model_invocation_job(jobIdentifier=arn)
    return job


def trust_policy(
    service: str = "bedrock.amazonaws.com", account: str = ACCOUNT, region: str = "us-east-1"
) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:aws:bedrock:{region}:{account}:model-invocation-job/*"
                    },
                },
            }
        ],
    }


def s3_policy(emulator: Emulator, *, read: bool = True, write: bool = True) -> dict[str, Any]:
    inputs = emulator.stack_outputs[OutputKey.INPUT_BUCKET]
    outputs = emulator.stack_outputs[OutputKey.OUTPUT_BUCKET]
    statements = []
    if read:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{inputs}", f"arn:aws:s3:::{inputs}/*"],
            }
        )
    if write:
        statements.append(
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{outputs}/*"}
        )
    return {
        "Version": "2012-10-17",
        "Statement": statements or [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
    }


def make_role(emulator: Emulator, trust: dict[str, Any], policy: dict[str, Any]) -> str:
    iam = emulator.client("iam")
    name = unique("role")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="access", PolicyDocument=json.dumps(policy))
    return arn


def test_the_deployed_stack_role_passes_validation(emulator: Emulator) -> None:
    assert final_job(emulator, create_job(emulator))["status"] == "Completed"


def test_a_hand_made_role_with_the_documented_policies_passes(emulator: Emulator) -> None:
    role = make_role(emulator, trust_policy(), s3_policy(emulator))
    assert final_job(emulator, create_job(emulator, roleArn=role))["status"] == "Completed"


ROLE_PROBLEMS = [
    ("trusts ec2", {"trust": {"service": "ec2.amazonaws.com"}}, "could not assume the role"),
    ("trust scoped to another account", {"trust": {"account": "210987654321"}}, "could not assume the role"),
    ("trust scoped to another region", {"trust": {"region": "eu-west-1"}}, "could not assume the role"),
    ("no s3 write", {"policy": {"write": False}}, "could not validate s3:PutObject permissions"),
    ("no s3 read", {"policy": {"read": False}}, "could not validate s3:ListBucket permissions"),
]


@pytest.mark.parametrize(
    ("case", "spec", "expected"), ROLE_PROBLEMS, ids=[case for case, _, _ in ROLE_PROBLEMS]
)
def test_role_misconfigurations_fail_the_job(
    emulator: Emulator, case: str, spec: dict[str, Any], expected: str
) -> None:
    role = make_role(
        emulator, trust_policy(**spec.get("trust", {})), s3_policy(emulator, **spec.get("policy", {}))
    )
    arn = create_job(emulator, roleArn=role)
    job = final_job(emulator, arn)
    assert job["status"] == "Failed"
    assert expected in job["message"]
    assert role in job["message"]
    failed = [e for e in emulator.events() if e["resources"] == [arn] and e["detail"]["status"] == "Failed"]
    assert failed and failed[0]["detail"]["failureMessage"] == job["message"]


def test_a_conditioned_deny_in_the_role_policy_wins(emulator: Emulator) -> None:
    policy = s3_policy(emulator)
    policy["Statement"].append(
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:ResourceAccount": "999999999999"}},
        }
    )
    job = final_job(emulator, create_job(emulator, roleArn=make_role(emulator, trust_policy(), policy)))
    assert job["status"] == "Failed"


def test_a_role_that_does_not_exist_fails_the_job(emulator: Emulator) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/{unique('missing')}"
    job = final_job(emulator, create_job(emulator, roleArn=role))
    assert job["status"] == "Failed"
    assert f"role {role} does not exist" in job["message"]


def test_missing_input_fails_the_job(emulator: Emulator) -> None:
    bucket = emulator.stack_outputs[OutputKey.INPUT_BUCKET]
    uri = f"s3://{bucket}/{unique('nothing')}/records.jsonl"
    request = job_request(emulator, uri)
    arn = emulator.client("bedrock").create_model_invocation_job(**request)["jobArn"]
    job = final_job(emulator, arn)
    assert job["status"] == "Failed"
    assert "No .jsonl input files were found" in job["message"]


def test_missing_bucket_fails_the_job(emulator: Emulator) -> None:
    request = job_request(emulator, "s3://no-such-bucket-here/in/")
    arn = emulator.client("bedrock").create_model_invocation_job(**request)["jobArn"]
    job = final_job(emulator, arn)
    assert (job["status"], job["message"]) == (
        "Failed",
        "The S3 bucket no-such-bucket-here does not exist. Check the S3 URI of the job.",
    )


def test_a_line_that_is_not_json_fails_the_job(emulator: Emulator) -> None:
    body = jsonl(claude_records(120)) + b"{not json\n"
    request = job_request(emulator, upload(emulator, body))
    arn = emulator.client("bedrock").create_model_invocation_job(**request)["jobArn"]
    job = final_job(emulator, arn)
    assert job["status"] == "Failed"
    assert "is not valid JSONL: line 121" in job["message"]


def test_a_prefix_with_several_files_runs_them_all(emulator: Emulator) -> None:
    folder = unique("multi")
    upload(emulator, jsonl(claude_records(60, prefix="A")), key=f"{folder}/part-a.jsonl")
    upload(emulator, jsonl(claude_records(60, prefix="B")), key=f"{folder}/part-b.jsonl")
    upload(emulator, b"not an input file", key=f"{folder}/README.txt")
    bucket = emulator.stack_outputs[OutputKey.INPUT_BUCKET]
    request = job_request(emulator, f"s3://{bucket}/{folder}/")
    arn = emulator.client("bedrock").create_model_invocation_job(**request)["jobArn"]
    job = final_job(emulator, arn)
    assert (job["status"], job["totalRecordCount"]) == ("Completed", 120)
    from tests.emulator.helpers import job_outputs

    assert set(job_outputs(emulator, arn)) == {"part-a.jsonl.out", "part-b.jsonl.out", "manifest.json.out"}


QUOTAS = [
    (
        "below the minimum",
        {"min_records_per_job": 100},
        99,
        "contains less records (99) than the required minimum of: 100",
    ),
    (
        "above the per-job maximum",
        {"max_records_per_job": 120},
        121,
        "contains more records (121) than the maximum allowed of: 120",
    ),
    (
        "above the per-file maximum",
        {"max_records_per_file": 110},
        111,
        "contains 111 records, more than the quota of 110 records per input file",
    ),
    ("file too large", {"max_file_bytes": 10_000}, 100, "more than the file size quota of 10000 bytes"),
    ("job too large", {"max_job_bytes": 10_000}, 100, "more than the job size quota of 10000 bytes"),
]


@pytest.mark.parametrize(
    ("case", "limits", "records", "expected"), QUOTAS, ids=[case for case, _, _, _ in QUOTAS]
)
def test_record_and_size_quotas_fail_the_job(
    emulator: Emulator, case: str, limits: dict[str, int], records: int, expected: str
) -> None:
    emulator.configure(**limits)
    job = final_job(emulator, create_job(emulator, claude_records(records)))
    assert job["status"] == "Failed"
    assert expected in job["message"]
    assert "totalRecordCount" not in job


def test_a_caller_without_pass_role_is_denied(emulator: Emulator) -> None:
    iam = emulator.client("iam")
    user = unique("submitter")
    iam.create_user(UserName=user)
    allow_bedrock = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=user, PolicyName="bedrock", PolicyDocument=json.dumps(allow_bedrock))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    import boto3

    bedrock = boto3.client(
        "bedrock",
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        aws_session_token=None,
    )
    request = job_request(emulator, upload(emulator, jsonl(claude_records(100))))
    with pytest.raises(ClientError) as excinfo:
        bedrock.create_model_invocation_job(**request)
    error = excinfo.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert f"is not authorized to perform: iam:PassRole on resource: {request['roleArn']}" in error["Message"]

    pass_role = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": request["roleArn"],
                "Condition": {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            }
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="pass", PolicyDocument=json.dumps(pass_role))
    assert bedrock.create_model_invocation_job(**request)["jobArn"]
    assert bedrock.list_model_invocation_jobs()["invocationJobSummaries"]


def kms_key_arn(emulator: Emulator) -> str:
    arn: str = emulator.client("kms").create_key(Description=unique("key"))["KeyMetadata"]["Arn"]
    return arn  # moto's default key policy lets the account's IAM policies decide


def test_output_encryption_key_the_role_cannot_use_fails_naming_put_object(emulator: Emulator) -> None:
    key = kms_key_arn(emulator)
    request = job_request(emulator, upload(emulator, jsonl(claude_records(100))))
    request["outputDataConfig"]["s3OutputDataConfig"]["s3EncryptionKeyId"] = key
    arn = emulator.client("bedrock").create_model_invocation_job(**request)["jobArn"]
    job = final_job(emulator, arn)
    assert job["status"] == "Failed"
    assert job["message"].startswith("Amazon Bedrock could not validate s3:PutObject permissions")

    policy = s3_policy(emulator)
    policy["Statement"].append(
        {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": key}
    )
    request = {**request, "jobName": unique("kms"), "roleArn": make_role(emulator, trust_policy(), policy)}
    arn = emulator.client("bedrock").create_model_invocation_job(**request)["jobArn"]
    assert final_job(emulator, arn)["status"] == "Completed"


def test_kms_encrypted_input_needs_decrypt(emulator: Emulator) -> None:
    key = kms_key_arn(emulator)
    bucket = emulator.stack_outputs[OutputKey.INPUT_BUCKET]
    object_key = f"{unique('enc')}/records.jsonl"
    emulator.client("s3").put_object(
        Bucket=bucket,
        Key=object_key,
        Body=jsonl(claude_records(100)),
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key,
    )
    request = job_request(emulator, f"s3://{bucket}/{object_key}")
    arn = emulator.client("bedrock").create_model_invocation_job(**request)["jobArn"]
    job = final_job(emulator, arn)
    assert job["status"] == "Failed"
    assert job["message"].startswith("Amazon Bedrock could not validate s3:GetObject permissions")


PROFILE = "us.anthropic.claude-3-5-haiku-20241022-v1:0"


def test_the_stack_role_may_use_its_allowed_inference_profile(emulator: Emulator) -> None:
    assert final_job(emulator, create_job(emulator, modelId=PROFILE))["status"] == "Completed"


def test_an_inference_profile_needs_invoke_model_in_every_destination_region(emulator: Emulator) -> None:
    assert (
        final_job(
            emulator, create_job(emulator, roleArn=make_role(emulator, trust_policy(), s3_policy(emulator)))
        )["status"]
        == "Completed"
    )  # single-Region model: S3 access is all it needs

    model = PROFILE.removeprefix("us.")
    only_source_region = s3_policy(emulator)
    only_source_region["Statement"].append(
        {
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": [
                f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/{PROFILE}",
                f"arn:aws:bedrock:us-east-1::foundation-model/{model}",
            ],
        }
    )
    role = make_role(emulator, trust_policy(), only_source_region)
    job = final_job(emulator, create_job(emulator, modelId=PROFILE, roleArn=role))
    assert job["status"] == "Failed"
    assert (
        f"not allowed to perform bedrock:InvokeModel on arn:aws:bedrock:us-east-2::foundation-model/{model}"
        in job["message"]
    )

    every_region = s3_policy(emulator)
    every_region["Statement"].append(
        {
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": [
                f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/{PROFILE}",
                f"arn:aws:bedrock:*::foundation-model/{model}",
            ],
        }
    )
    role = make_role(emulator, trust_policy(), every_region)
    assert final_job(emulator, create_job(emulator, modelId=PROFILE, roleArn=role))["status"] == "Completed"


def test_nova_pro_jobs_may_be_twenty_times_larger(emulator: Emulator) -> None:
    emulator.configure(max_job_bytes=10_000)
    body = {
        "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
        "inferenceConfig": {"maxTokens": 10},
    }
    records = [{"recordId": f"N{index:05d}", "modelInput": body} for index in range(150)]  # about 17 kB
    assert (
        final_job(emulator, create_job(emulator, records, modelId="amazon.nova-pro-v1:0"))["status"]
        == "Completed"
    )
    assert (
        final_job(emulator, create_job(emulator, records, modelId="amazon.nova-lite-v1:0"))["status"]
        == "Failed"
    )
