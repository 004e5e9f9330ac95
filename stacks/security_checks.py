"""cdk-nag rule packs, run as policy-validation plugins on every synth: any unacknowledged finding fails it.

Acknowledgements sit next to the construct they concern (``acknowledge`` below), each with a reason.
Rules that report several findings per resource (AwsSolutions-IAM5: one per wildcard) must be
acknowledged finding by finding, so a new wildcard cannot slip in under an old acknowledgement.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, App, CfnResource, Stack, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks
from constructs import IConstruct

WILDCARD_RULE = "AwsSolutions-IAM5"


def enable_security_checks(app: App) -> None:
    # HIPAA on top of AWS Solutions: typical batch data (e.g. counselling conversations) is sensitive.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), HIPAASecurityChecks(app))


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Accept one cdk-nag finding on ``construct`` and everything below it."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_wildcard_resources(construct: IConstruct, resources: dict[str, str]) -> None:
    """Accept AwsSolutions-IAM5 for each wildcard resource (ARN, may hold tokens) -> reason."""
    stack = Stack.of(construct)
    for resource, reason in resources.items():
        finding = _flatten(stack.resolve(resource))
        acknowledge(construct, f"{WILDCARD_RULE}[Resource::{finding}]", reason)


def _flatten(node: Any) -> str:
    """Render a resolved CloudFormation value the way cdk-nag names it in a finding ID."""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if "Fn::Join" in node:
        delimiter, items = node["Fn::Join"]
        return str(delimiter).join(_flatten(item) for item in items)
    if "Fn::GetAtt" in node:
        resource, attribute = node["Fn::GetAtt"]
        return f"<{_flatten(resource)}.{_flatten(attribute)}>"
    if "Ref" in node:
        return f"<{_flatten(node['Ref'])}>"
    raise ValueError(f"cannot name a cdk-nag finding for {node!r}")


def skip_checkov(construct: IConstruct, check_id: str, reason: str) -> None:
    """Record a checkov skip, with its reason, in the resource's template metadata."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to annotate")
    existing = resource.get_metadata("checkov") or {}
    skips = [*existing.get("skip", []), {"id": check_id, "comment": reason}]
    resource.add_metadata("checkov", {"skip": skips})
