"""Customer-managed KMS keys: one for batch data (when the environment asks), one for alerts."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

S3_DATA_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
# What reading and writing items of a table encrypted with a customer-managed key asks of the
# caller (DynamoDB makes the calls on its behalf, hence the ViaService condition).
DYNAMODB_KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")


def s3_via_service(scope: Construct) -> dict[str, dict[str, str]]:
    """Condition limiting KMS use to requests S3 makes on the caller's behalf, in this Region."""
    return {"StringEquals": {"kms:ViaService": f"s3.{Stack.of(scope).region}.amazonaws.com"}}


def data_key_statement(scope: Construct, key: kms.IKey) -> iam.PolicyStatement:
    """Identity-policy side: read and write objects encrypted with the data key, through S3 only."""
    return iam.PolicyStatement(
        sid="BatchDataKey",
        actions=list(S3_DATA_KEY_ACTIONS),
        resources=[key.key_arn],
        conditions=s3_via_service(scope),
    )


def registry_key_statement(scope: Construct, key: kms.IKey) -> iam.PolicyStatement:
    """Identity-policy side: items of the run registry (encrypted with the data key), through
    DynamoDB only."""
    return iam.PolicyStatement(
        sid="RegistryKey",
        actions=list(DYNAMODB_KEY_ACTIONS),
        resources=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{Stack.of(scope).region}.amazonaws.com"}},
    )


class DataKey(Construct):
    """The key that encrypts the input and output buckets, usable only through S3."""

    def __init__(
        self, scope: Construct, construct_id: str, *, description: str, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=description,
            enable_key_rotation=True,
            pending_window=Duration.days(30),
            removal_policy=removal_policy,
        )

    def allow_use_through_s3(self, principals: Sequence[iam.IPrincipal], sid: str) -> None:
        """Key-policy grant: these principals may use the key, but only via S3 in this Region."""
        if not principals:
            return
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=list(principals),
                actions=list(S3_DATA_KEY_ACTIONS),
                # In a key policy "*" means this key.
                resources=["*"],
                conditions=s3_via_service(self),
            )
        )
