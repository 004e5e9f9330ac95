"""The contract between the CDK stacks and the runner.

The stacks export these CloudFormation outputs and the runner reads them back; both import the
names from here so they can never drift apart. This module must not import aws_cdk.
"""

from __future__ import annotations

STACK_NAME_PREFIX = "BedrockBatch"
DEFAULT_ENVIRONMENT = "dev"


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
