"""Turn the CloudFormation intrinsics in a synthesized template into the concrete values AWS would use.

Policy evaluation needs real ARNs; CloudFormation generates physical names at deploy time, so the
helper stands in a deterministic name derived from the logical ID (buckets: lower-cased).
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
    partition: str = "aws"

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
            "AWS::StackName": "stack",
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/s/id",
        }
        if name in pseudo:
            return pseudo[name]
        kind = self.resource(name)["Type"]
        arn_prefix = f"arn:{self.partition}"
        refs = {
            "AWS::S3::Bucket": name.lower(),
            "AWS::IAM::Role": name,
            "AWS::IAM::ManagedPolicy": f"{arn_prefix}:iam::{self.account}:policy/{name}",
            "AWS::KMS::Key": name,
            "AWS::SNS::Topic": f"{arn_prefix}:sns:{self.region}:{self.account}:{name}",
            "AWS::Events::Rule": name,
        }
        return refs[kind]

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resource(logical_id)["Type"]
        arn_prefix = f"arn:{self.partition}"
        location = f"{self.region}:{self.account}"
        arns = {
            ("AWS::S3::Bucket", "Arn"): f"{arn_prefix}:s3:::{logical_id.lower()}",
            ("AWS::IAM::Role", "Arn"): f"{arn_prefix}:iam::{self.account}:role/{logical_id}",
            ("AWS::KMS::Key", "Arn"): f"{arn_prefix}:kms:{location}:key/{logical_id}",
            ("AWS::SNS::Topic", "TopicArn"): self.ref(logical_id),
            (
                "AWS::Events::Rule",
                "Arn",
            ): f"{arn_prefix}:events:{location}:rule/{logical_id}",
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


def deployment(template: dict[str, Any], account: str | None, region: str | None) -> Deployment:
    return Deployment(template=template, account=account or DEFAULT_ACCOUNT, region=region or DEFAULT_REGION)
