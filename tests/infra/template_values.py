"""Turn the CloudFormation intrinsics in a synthesized template into the concrete values AWS would use.

Policy evaluation needs real ARNs; CloudFormation generates physical names at deploy time, so the
helper stands in names of the same shape and length: ``<stack>-<logical ID>-<12 characters>``
(buckets lower-cased), which also makes policy sizes realistic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Account and Region given to environment-agnostic stacks (dev) when resolving their template.
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Deployment:
    """A template as if deployed into one account and Region."""

    template: dict[str, Any]
    account: str
    region: str
    stack_name: str = "BedrockBatch-test"
    partition: str = "aws"

    def physical_name(self, logical_id: str, *, limit: int = 64) -> str:
        return f"{self.stack_name}-{logical_id}-A1B2C3D4E5F6"[-limit:]

    def resolve(self, value: Any) -> Any:
        """Resolve Ref, Fn::GetAtt and Fn::Join (recursively) in a template value."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return self.ref(value["Ref"])
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.get_att(logical_id, attribute)
        if "Fn::Join" in value:
            delimiter, parts = value["Fn::Join"]
            return delimiter.join(str(self.resolve(part)) for part in parts)
        return {key: self.resolve(item) for key, item in value.items()}

    def resource(self, logical_id: str) -> dict[str, Any]:
        resource: dict[str, Any] = self.template["Resources"][logical_id]
        return resource

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/"
                "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
            ),
        }
        if name in pseudo:
            return pseudo[name]
        kind = self.resource(name)["Type"]
        arn_prefix = f"arn:{self.partition}"
        physical = self.physical_name(name)
        refs = {
            "AWS::S3::Bucket": self.physical_name(name, limit=63).lower(),
            "AWS::IAM::Role": physical,
            "AWS::IAM::ManagedPolicy": f"{arn_prefix}:iam::{self.account}:policy/{physical}",
            "AWS::KMS::Key": "0a1b2c3d-4e5f-6a7b-8c9d-" + name[-12:].lower().rjust(12, "0"),
            "AWS::SNS::Topic": f"{arn_prefix}:sns:{self.region}:{self.account}:{physical}",
            "AWS::Events::Rule": physical,
            "AWS::Lambda::Function": physical,
            "AWS::DynamoDB::Table": physical,
            "AWS::SQS::Queue": f"https://sqs.{self.region}.amazonaws.com/{self.account}/{physical}",
            "AWS::Logs::LogGroup": physical,
        }
        return refs[kind]

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resource(logical_id)["Type"]
        arn_prefix = f"arn:{self.partition}"
        location = f"{self.region}:{self.account}"
        arns = {
            ("AWS::S3::Bucket", "Arn"): f"{arn_prefix}:s3:::{self.ref(logical_id)}",
            ("AWS::IAM::Role", "Arn"): f"{arn_prefix}:iam::{self.account}:role/{self.ref(logical_id)}",
            ("AWS::KMS::Key", "Arn"): f"{arn_prefix}:kms:{location}:key/{self.ref(logical_id)}",
            ("AWS::SNS::Topic", "TopicArn"): self.ref(logical_id),
            ("AWS::Events::Rule", "Arn"): f"{arn_prefix}:events:{location}:rule/{self.ref(logical_id)}",
            (
                "AWS::Lambda::Function",
                "Arn",
            ): f"{arn_prefix}:lambda:{location}:function:{self.ref(logical_id)}",
            ("AWS::DynamoDB::Table", "Arn"): f"{arn_prefix}:dynamodb:{location}:table/{self.ref(logical_id)}",
            ("AWS::SQS::Queue", "Arn"): f"{arn_prefix}:sqs:{location}:{self.physical_name(logical_id)}",
            (
                "AWS::Logs::LogGroup",
                "Arn",
            ): f"{arn_prefix}:logs:{location}:log-group:{self.ref(logical_id)}:*",
        }
        return arns[(kind, attribute)]

    def logical_ids(self, kind: str) -> list[str]:
        return [name for name, resource in self.template["Resources"].items() if resource["Type"] == kind]

    def only(self, kind: str, containing: str) -> str:
        """The one logical ID of this type whose name contains ``containing``."""
        matches = [name for name in self.logical_ids(kind) if containing in name]
        assert len(matches) == 1, (kind, containing, matches)
        return matches[0]

    def properties(self, logical_id: str) -> Any:
        return self.resolve(self.resource(logical_id).get("Properties", {}))


def deployment(
    template: dict[str, Any], stack_name: str, account: str | None, region: str | None
) -> Deployment:
    return Deployment(
        template=template,
        account=account or DEFAULT_ACCOUNT,
        region=region or DEFAULT_REGION,
        stack_name=stack_name,
    )
