"""Stack outputs the runner reads (keys in batch_runner.aws.stack_outputs), config tags on every resource."""

from __future__ import annotations

import re

import botocore.session

from batch_runner.aws.stack_outputs import JOB_NAME_PREFIX_MAX_LENGTH, OutputKey, stack_name
from batch_runner.jobs.run_state import MAX_RUN_NAME
from batch_runner.jobs.submission import job_name as runner_job_name
from tests.infra.conftest import Synthesized

# CloudFormation offers no Tags property on these types.
UNTAGGABLE = {
    "AWS::IAM::ManagedPolicy",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::SNS::Subscription",
    "Custom::S3AutoDeleteObjects",
    "AWS::SQS::QueuePolicy",
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::IAM::Policy",
}


def test_stack_is_named_after_the_environment(synthesized: Synthesized, env_name: str) -> None:
    assert synthesized.template_path(env_name).name == f"{stack_name(env_name)}.template.json"
    assert synthesized.app.node.find_child(stack_name(env_name)) is not None


def test_outputs_name_the_resources_the_runner_needs(synthesized: Synthesized, env_name: str) -> None:
    deployed = synthesized.deployed(env_name)
    config = synthesized.configs[env_name]
    outputs = {key: deployed.resolve(output["Value"]) for key, output in deployed.template["Outputs"].items()}
    expected = {
        OutputKey.INPUT_BUCKET: deployed.ref(deployed.only("AWS::S3::Bucket", "BucketsInput")),
        OutputKey.OUTPUT_BUCKET: deployed.ref(deployed.only("AWS::S3::Bucket", "BucketsOutput")),
        OutputKey.SERVICE_ROLE_ARN: deployed.get_att(
            deployed.only("AWS::IAM::Role", "BedrockServiceRole"), "Arn"
        ),
        OutputKey.SUBMITTER_POLICY_ARN: deployed.ref(deployed.only("AWS::IAM::ManagedPolicy", "Submitters")),
        OutputKey.NOTIFICATION_TOPIC_ARN: deployed.ref(deployed.only("AWS::SNS::Topic", "Notifications")),
        OutputKey.REGION: deployed.region,
        OutputKey.ALLOWED_MODELS: ",".join(config.model_ids),
        OutputKey.JOB_NAME_PREFIX: config.job_name_prefix,
    }
    if config.orchestration is not None and config.orchestration.enabled:
        expected[OutputKey.RUN_REGISTRY_TABLE] = deployed.ref(
            deployed.only("AWS::DynamoDB::Table", "RunRegistry")
        )
        expected[OutputKey.SCHEDULER_FUNCTION] = deployed.ref(
            deployed.only("AWS::Lambda::Function", "OrchestrationScheduler")
        )
    if config.kms:
        expected[OutputKey.KMS_KEY_ARN] = deployed.get_att(deployed.only("AWS::KMS::Key", "DataKey"), "Arn")
    if config.submitter_role_principals:
        expected[OutputKey.SUBMITTER_ROLE_ARN] = deployed.get_att(
            deployed.only("AWS::IAM::Role", "SubmittersRole"), "Arn"
        )
    if config.vpc is not None:
        expected[OutputKey.SUBNET_IDS] = ",".join(config.vpc.subnet_ids)
        expected[OutputKey.SECURITY_GROUP_IDS] = ",".join(config.vpc.security_group_ids)
    assert outputs == expected


def test_region_output_follows_the_deployment_for_region_agnostic_stacks(synthesized: Synthesized) -> None:
    assert synthesized.templates["dev"]["Outputs"][OutputKey.REGION] == {"Value": {"Ref": "AWS::Region"}}
    assert synthesized.templates["prod"]["Outputs"][OutputKey.REGION] == {"Value": "eu-west-1"}


def test_config_tags_are_on_every_taggable_resource(synthesized: Synthesized, env_name: str) -> None:
    tags = synthesized.configs[env_name].tags
    assert tags, "every test environment declares tags"
    for logical_id, resource in synthesized.templates[env_name]["Resources"].items():
        if resource["Type"] in UNTAGGABLE:
            continue
        found = {tag["Key"]: tag["Value"] for tag in resource["Properties"].get("Tags", [])}
        assert found.items() >= tags.items(), (logical_id, found)


def test_job_name_prefix_output_is_the_environment_name_and_a_dot(synthesized: Synthesized) -> None:
    assert synthesized.templates["dev"]["Outputs"][OutputKey.JOB_NAME_PREFIX] == {"Value": "dev."}
    assert synthesized.templates["prod"]["Outputs"][OutputKey.JOB_NAME_PREFIX] == {"Value": "prod."}


def test_the_longest_runner_job_name_under_the_longest_prefix_is_a_valid_bedrock_job_name() -> None:
    # The contract the runner keeps: job names are "<JobNamePrefix output><run>-s<NNNNN>".
    job_name = (
        botocore.session.get_session()
        .get_service_model("bedrock")
        .operation_model("CreateModelInvocationJob")
        .input_shape.members["jobName"]
    )
    longest = "p" * (JOB_NAME_PREFIX_MAX_LENGTH - 1) + "." + runner_job_name("r" * MAX_RUN_NAME, 99999)
    assert len(longest) == job_name.metadata["max"] == 63
    assert re.fullmatch(job_name.metadata["pattern"], longest)
