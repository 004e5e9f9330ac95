"""Submitter policy: jobs on allowed models, PassRole of this role to Bedrock only, scoped data access."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import Synthesized
from tests.infra.policy_documents import actions_of, identity_statements, resources_of, statement
from tests.infra.template_values import Deployment

# Actions that AWS authorizes only on "*" (no resource types in the Service Authorization Reference).
RESOURCELESS_ACTIONS = {
    "bedrock:GetFoundationModelAvailability",  # per model ID, but takes no resource in IAM
    "bedrock:ListModelInvocationJobs",
    "bedrock:ListFoundationModels",
    "bedrock:ListInferenceProfiles",
    "servicequotas:GetServiceQuota",
    "servicequotas:ListAWSDefaultServiceQuotas",
    "servicequotas:ListServiceQuotas",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    # A state machine's logging: "CloudWatch Logs delivery does not support resource-level
    # permissions, you must specify * for Resource" (Step Functions developer guide, logging IAM).
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
    # X-Ray tracing of the state machine: these X-Ray actions take no resource.
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
}


def _submitter_policy(deployed: Deployment) -> dict[str, Any]:
    document: dict[str, Any] = deployed.properties(deployed.only("AWS::IAM::ManagedPolicy", "Submitters"))
    return document["PolicyDocument"]


def _jobs(deployed: Deployment) -> str:
    return f"arn:aws:bedrock:{deployed.region}:{deployed.account}:model-invocation-job/*"


def test_submitters_pass_only_this_service_role_and_only_to_bedrock(
    synthesized: Synthesized, env_name: str
) -> None:
    deployed = synthesized.deployed(env_name)
    role_arn = deployed.get_att(deployed.only("AWS::IAM::Role", "BedrockServiceRole"), "Arn")
    assert statement(_submitter_policy(deployed), "PassServiceRoleToBedrock") == {
        "Sid": "PassServiceRoleToBedrock",
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": role_arn,
        "Condition": {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
    }
    pass_role = [item for item in identity_statements(deployed) if "iam:PassRole" in actions_of(item)]
    # The submitters, and the orchestration scheduler where it is deployed: both exactly so.
    assert {json.dumps(item, sort_keys=True) for item in pass_role} == {
        json.dumps(statement(_submitter_policy(deployed), "PassServiceRoleToBedrock"), sort_keys=True)
    }


def test_jobs_can_only_be_created_on_allowed_models(synthesized: Synthesized, env_name: str) -> None:
    deployed = synthesized.deployed(env_name)
    models = statement(_submitter_policy(deployed), "AllowedModels")
    assert set(actions_of(models)) == {
        "bedrock:CreateModelInvocationJob",
        "bedrock:GetFoundationModel",
        "bedrock:GetInferenceProfile",
        "bedrock:InvokeModel",
    }
    model_arns = set(resources_of(models))
    create_anywhere = [
        item
        for item in _submitter_policy(deployed)["Statement"]
        if "bedrock:CreateModelInvocationJob" in actions_of(item) and item["Sid"] != "AllowedModels"
    ]
    assert [resources_of(item) for item in create_anywhere] == [[_jobs(deployed)]]
    allowed = synthesized.configs[env_name].models
    for arn in model_arns:
        model = arn.rsplit("/", 1)[1]
        assert any(arn == ref.model_id or model in (ref.model_id, ref.foundation_model_id) for ref in allowed)
    for ref in allowed:
        if ref.is_application_profile:
            assert ref.model_id in model_arns  # an ARN already
            continue
        kind = "inference-profile" if ref.is_profile else "foundation-model"
        account = deployed.account if ref.is_profile else ""
        assert f"arn:aws:bedrock:{deployed.region}:{account}:{kind}/{ref.model_id}" in model_arns


def test_jobs_can_be_watched_stopped_and_tagged(synthesized: Synthesized, env_name: str) -> None:
    deployed = synthesized.deployed(env_name)
    watch = statement(_submitter_policy(deployed), "CreateWatchStopAndTagJobs")
    assert set(actions_of(watch)) == {
        "bedrock:CreateModelInvocationJob",
        "bedrock:GetModelInvocationJob",
        "bedrock:StopModelInvocationJob",
        "bedrock:TagResource",
        "bedrock:ListTagsForResource",
    }
    assert resources_of(watch) == [_jobs(deployed)]


def test_only_resourceless_actions_get_a_star_resource(synthesized: Synthesized, env_name: str) -> None:
    for item in identity_statements(synthesized.deployed(env_name)):
        if "*" in resources_of(item):
            assert set(actions_of(item)) <= RESOURCELESS_ACTIONS, item


def test_no_s3_kms_or_passrole_statement_has_a_star_resource(synthesized: Synthesized, env_name: str) -> None:
    checked = 0
    for item in identity_statements(synthesized.deployed(env_name)):
        if any(
            action.split(":")[0] in ("s3", "kms") or action == "iam:PassRole" for action in actions_of(item)
        ):
            checked += 1
            assert "*" not in resources_of(item), item
            assert all(":::*" not in resource for resource in resources_of(item)), item
    assert checked >= 7


def test_submitters_write_input_and_read_output(synthesized: Synthesized, env_name: str) -> None:
    deployed = synthesized.deployed(env_name)
    policy = _submitter_policy(deployed)
    input_arn = deployed.get_att(deployed.only("AWS::S3::Bucket", "BucketsInput"), "Arn")
    output_arn = deployed.get_att(deployed.only("AWS::S3::Bucket", "BucketsOutput"), "Arn")
    write_input = statement(policy, "WriteInput")
    assert set(actions_of(write_input)) == {"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"}
    assert resources_of(write_input) == [f"{input_arn}/*"]
    read_output = statement(policy, "ReadOutput")
    assert actions_of(read_output) == ["s3:GetObject"]
    assert resources_of(read_output) == [f"{output_arn}/*"]
    assert set(resources_of(statement(policy, "ListBatchBuckets"))) == {input_arn, output_arn}
    # Only on-demand retries write to the output bucket, and only under their own prefixes.
    write_on_demand = statement(policy, "WriteOnDemandOutput")
    assert actions_of(write_on_demand) == ["s3:PutObject"]
    assert resources_of(write_on_demand) == [f"{output_arn}/runs/*/output/on-demand-*"]
    s3_actions = {
        action for item in policy["Statement"] for action in actions_of(item) if action.startswith("s3:")
    }
    assert not any("Delete" in action for action in s3_actions)


def test_submitters_can_read_this_stack_outputs_only(synthesized: Synthesized, env_name: str) -> None:
    deployed = synthesized.deployed(env_name)
    describe = statement(_submitter_policy(deployed), "ReadStackOutputs")
    assert actions_of(describe) == ["cloudformation:DescribeStacks"]
    assert resources_of(describe) == [deployed.ref("AWS::StackId")]


def test_submitters_use_the_data_key_through_s3_and_dynamodb_only_when_kms_is_on(
    synthesized: Synthesized, env_name: str
) -> None:
    deployed = synthesized.deployed(env_name)
    policy = _submitter_policy(deployed)
    kms = [item for item in policy["Statement"] if any(a.startswith("kms:") for a in actions_of(item))]
    if not synthesized.configs[env_name].kms:
        assert kms == []
        return
    key = deployed.get_att(deployed.only("AWS::KMS::Key", "DataKey"), "Arn")
    through_s3 = {
        "Sid": "BatchDataKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": key,
        "Condition": {"StringEquals": {"kms:ViaService": f"s3.{deployed.region}.amazonaws.com"}},
    }
    # The run registry, where orchestration is on, is encrypted with the same key: its items only.
    through_dynamodb = {
        "Sid": "RegistryKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
        "Resource": key,
        "Condition": {"StringEquals": {"kms:ViaService": f"dynamodb.{deployed.region}.amazonaws.com"}},
    }
    orchestration = synthesized.configs[env_name].orchestration
    orchestrated = orchestration is not None and orchestration.enabled
    assert kms == [through_s3, *([through_dynamodb] if orchestrated else [])]


def test_policy_is_attached_to_configured_roles_and_the_dedicated_role(synthesized: Synthesized) -> None:
    deployed = synthesized.deployed("prod")
    roles = deployed.resource(deployed.only("AWS::IAM::ManagedPolicy", "Submitters"))["Properties"]["Roles"]
    submitter_role = deployed.only("AWS::IAM::Role", "SubmittersRole")
    # A role ARN with a path attaches by its name.
    assert roles == ["AmazonSageMaker-ExecutionRole-DataScience", {"Ref": submitter_role}]
    assert deployed.properties(submitter_role)["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:role/data-platform-ci"},
        }
    ]


def test_no_dedicated_role_unless_the_environment_asks(synthesized: Synthesized) -> None:
    deployed = synthesized.deployed("dev")
    assert [role for role in deployed.logical_ids("AWS::IAM::Role") if "Submitters" in role] == []
    assert (
        "Roles" not in deployed.resource(deployed.only("AWS::IAM::ManagedPolicy", "Submitters"))["Properties"]
    )


def test_data_key_policy_lets_the_service_role_and_submitters_use_it_through_s3(
    synthesized: Synthesized,
) -> None:
    deployed = synthesized.deployed("prod")
    key_policy = deployed.properties(deployed.only("AWS::KMS::Key", "DataKey"))["KeyPolicy"]
    via_s3 = {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    by_sid = {item.get("Sid"): item for item in key_policy["Statement"]}
    service_role = deployed.get_att(deployed.only("AWS::IAM::Role", "BedrockServiceRole"), "Arn")
    submitter_role = deployed.get_att(deployed.only("AWS::IAM::Role", "SubmittersRole"), "Arn")
    assert by_sid["BedrockServiceRoleViaS3"]["Principal"] == {"AWS": service_role}
    assert by_sid["BedrockServiceRoleViaS3"]["Condition"] == via_s3
    assert by_sid["SubmittersViaS3"]["Principal"] == {
        "AWS": [
            "arn:aws:iam::111122223333:role/service-role/AmazonSageMaker-ExecutionRole-DataScience",
            submitter_role,
        ]
    }
    assert by_sid["SubmittersViaS3"]["Condition"] == via_s3
    assert by_sid["SubmittersViaS3"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
