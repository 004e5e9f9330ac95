"""Buckets: private, TLS-only, versioned, encrypted, expiring, logged, with generated names."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from tests.infra.conftest import Synthesized

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


def test_every_bucket_blocks_public_access_and_is_versioned(synthesized: Synthesized, env_name: str) -> None:
    buckets = synthesized.template(env_name).find_resources("AWS::S3::Bucket")
    assert _names(buckets) == {"BucketsAccessLogs", "BucketsInput", "BucketsOutput"}
    for bucket in buckets.values():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == BLOCK_ALL
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
        assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        # Generated names: several environments and deployments can share an account.
        assert "BucketName" not in properties


def test_batch_data_including_old_versions_is_gone_after_the_configured_days(
    synthesized: Synthesized, env_name: str
) -> None:
    # Expiring a versioned object only makes it an old version; deleting that takes one more day.
    # S3 rounds each step up to midnight UTC, so (days - 1) + 1 deletes the data at the first
    # midnight UTC at least `days` after it was written (days + days before: twice the retention).
    days = synthesized.configs[env_name].retention_days
    buckets = synthesized.template(env_name).find_resources("AWS::S3::Bucket")
    for bucket in buckets.values():
        assert bucket["Properties"]["LifecycleConfiguration"] == {
            "Rules": [
                {
                    "Id": "expire-batch-data",
                    "Status": "Enabled",
                    "ExpirationInDays": days - 1,
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days - 1},
                    "ExpiredObjectDeleteMarker": False,
                }
            ]
        }


def test_every_bucket_denies_requests_without_tls(synthesized: Synthesized, env_name: str) -> None:
    deployed = synthesized.deployed(env_name)
    policies = deployed.logical_ids("AWS::S3::BucketPolicy")
    assert len(policies) == len(deployed.logical_ids("AWS::S3::Bucket"))
    for policy in policies:
        properties = deployed.properties(policy)
        bucket_arn = f"arn:aws:s3:::{properties['Bucket']}"
        assert {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
        } in properties["PolicyDocument"]["Statement"]


def _names(resources: dict[str, object]) -> set[str]:
    """Logical IDs without CDK's 8-character hash suffix."""
    return {name[:-8] for name in resources}


def _buckets_with(template: Template, properties: dict[str, object]) -> set[str]:
    return _names(template.find_resources("AWS::S3::Bucket", {"Properties": properties}))


def test_data_buckets_use_the_environment_kms_key_or_s3_managed_keys(
    synthesized: Synthesized, env_name: str
) -> None:
    template = synthesized.template(env_name)
    s3_managed = {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    if synthesized.configs[env_name].kms:
        template.resource_count_is("AWS::KMS::Key", 2)
        template.has_resource_properties(
            "AWS::KMS::Key",
            {"EnableKeyRotation": True, "Description": Match.string_like_regexp("batch data")},
        )
        kms_encrypted = {
            "ServerSideEncryptionConfiguration": [
                {
                    "BucketKeyEnabled": True,
                    "ServerSideEncryptionByDefault": {
                        "KMSMasterKeyID": {"Fn::GetAtt": [Match.string_like_regexp("^DataKey"), "Arn"]},
                        "SSEAlgorithm": "aws:kms",
                    },
                }
            ]
        }
        assert _buckets_with(template, {"BucketEncryption": kms_encrypted}) == {
            "BucketsInput",
            "BucketsOutput",
        }
        # S3 server access logging cannot deliver into an SSE-KMS bucket.
        assert _buckets_with(template, {"BucketEncryption": s3_managed}) == {"BucketsAccessLogs"}
    else:
        template.resource_count_is("AWS::KMS::Key", 1)  # only the alert topic's key
        assert _buckets_with(template, {"BucketEncryption": s3_managed}) == {
            "BucketsAccessLogs",
            "BucketsInput",
            "BucketsOutput",
        }


def test_data_buckets_log_access_to_the_log_bucket(synthesized: Synthesized, env_name: str) -> None:
    template = synthesized.template(env_name)
    logged = _buckets_with(
        template,
        {
            "LoggingConfiguration": {
                "DestinationBucketName": {"Ref": Match.string_like_regexp("^BucketsAccessLogs")},
                "LogFilePrefix": Match.string_like_regexp("^(input|output)/$"),
            }
        },
    )
    assert logged == {"BucketsInput", "BucketsOutput"}


def test_data_is_retained_on_stack_deletion_unless_the_environment_allows_destroy(
    synthesized: Synthesized, env_name: str
) -> None:
    expected = "Retain" if synthesized.configs[env_name].retain_data_on_delete else "Delete"
    template = synthesized.template(env_name)
    for kind in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        for resource in template.find_resources(kind).values():
            assert resource["DeletionPolicy"] == expected
            assert resource["UpdateReplacePolicy"] == expected


def test_buckets_are_emptied_before_deletion_only_when_the_environment_allows_destroy(
    synthesized: Synthesized, env_name: str
) -> None:
    # CloudFormation cannot delete a non-empty bucket, and a versioned one is never empty: without
    # emptying, `cdk destroy` fails on it (DELETE_FAILED, BucketNotEmpty).
    template = synthesized.template(env_name)
    emptied = {
        resource["Properties"]["BucketName"]["Ref"]
        for resource in template.find_resources("Custom::S3AutoDeleteObjects").values()
    }
    functions = {
        name: function
        for name, function in template.find_resources("AWS::Lambda::Function").items()
        if not name.startswith("Orchestration")  # the orchestration scheduler (test_orchestration_stack)
    }
    if synthesized.configs[env_name].retain_data_on_delete:
        assert emptied == set()
        assert functions == {}
        return
    assert emptied == set(template.find_resources("AWS::S3::Bucket"))
    [handler] = functions.values()
    # The provider deletes objects through the buckets' policies only: no identity policy of its own.
    role = handler["Properties"]["Role"]["Fn::GetAtt"][0]
    assert template.find_resources("AWS::IAM::Role")[role]["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
    ]
    for bucket, policy in _policies_by_bucket(template).items():
        provider = {"AWS": {"Fn::GetAtt": [role, "Arn"]}}
        [grant] = [item for item in policy["Statement"] if item["Principal"] == provider]
        assert set(grant["Action"]) == {"s3:DeleteObject*", "s3:GetBucket*", "s3:List*", "s3:PutBucketPolicy"}
        assert grant["Resource"][0] == {"Fn::GetAtt": [bucket, "Arn"]}


def _policies_by_bucket(template: Template) -> dict[str, dict[str, object]]:
    return {
        policy["Properties"]["Bucket"]["Ref"]: policy["Properties"]["PolicyDocument"]
        for policy in template.find_resources("AWS::S3::BucketPolicy").values()
    }
