"""The contract between the CDK stacks and the runner.

The stacks export these CloudFormation outputs and the runner reads them back; both import the
names from here so they can never drift apart. This module must not import aws_cdk.
"""

from __future__ import annotations

import re

STACK_NAME_PREFIX = "BedrockBatch"
DEFAULT_ENVIRONMENT = "dev"

# The stack's alert rules match only jobs whose name starts with its JOB_NAME_PREFIX output, so the
# runner names every job "<prefix><run>-s<NNNNN>". Bedrock job names hold at most 63 characters and
# runs at most 40 (batch_runner.jobs.run_state.MAX_RUN_NAME), "-s<NNNNN>" takes 7: 16 are left.
JOB_NAME_PREFIX_MAX_LENGTH = 16
_JOB_NAME_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\.")


def is_job_name_prefix(prefix: str) -> bool:
    """Letters, digits or hyphens ending in a dot, at most JOB_NAME_PREFIX_MAX_LENGTH characters."""
    return len(prefix) <= JOB_NAME_PREFIX_MAX_LENGTH and bool(_JOB_NAME_PREFIX.fullmatch(prefix))


def stack_name(environment: str) -> str:
    """CloudFormation stack name of one environment, e.g. ``BedrockBatch-dev``."""
    return f"{STACK_NAME_PREFIX}-{environment}"


class OutputKey:
    """CloudFormation output keys (alphanumeric, as CloudFormation requires)."""

    INPUT_BUCKET = "InputBucketName"
    OUTPUT_BUCKET = "OutputBucketName"
    SERVICE_ROLE_ARN = "ServiceRoleArn"
    SUBMITTER_POLICY_ARN = "SubmitterPolicyArn"
    SUBMITTER_ROLE_ARN = "SubmitterRoleArn"  # only when the environment asks for a submitter role
    NOTIFICATION_TOPIC_ARN = "NotificationTopicArn"
    KMS_KEY_ARN = "KmsKeyArn"  # only when the environment turns KMS on
    REGION = "Region"
    ALLOWED_MODELS = "AllowedModels"  # comma-separated model IDs of the allow-list
    RUN_REGISTRY_TABLE = "RunRegistryTableName"  # only with orchestration: runs are driven by the stack
    SCHEDULER_FUNCTION = "SchedulerFunctionName"  # only with orchestration
    JOB_NAME_PREFIX = "JobNamePrefix"  # e.g. "dev.": every job name starts with it (alerts match it)
    # Only when the environment has `vpc`: comma-separated IDs the runner sends as the job's vpcConfig.
    SUBNET_IDS = "VpcSubnetIds"
    SECURITY_GROUP_IDS = "VpcSecurityGroupIds"
