"""Read the IAM policies of a deployed template: by attached role, as plain resolved documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.infra.template_values import Deployment

Statement = dict[str, Any]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def permissions_of_role(deployed: Deployment, role_logical_id: str) -> dict[str, Any]:
    """All statements of the stack's managed policies attached to the role, as one document."""
    documents = [
        deployed.properties(policy)["PolicyDocument"]
        for policy in deployed.logical_ids("AWS::IAM::ManagedPolicy")
        if {"Ref": role_logical_id} in deployed.resource(policy)["Properties"].get("Roles", [])
    ]
    assert documents, role_logical_id
    return {"Version": "2012-10-17", "Statement": [item for doc in documents for item in doc["Statement"]]}


def statement(document: dict[str, Any], sid: str) -> Statement:
    matches = [item for item in document["Statement"] if item.get("Sid") == sid]
    assert len(matches) == 1, (sid, [item.get("Sid") for item in document["Statement"]])
    return matches[0]


def identity_statements(deployed: Deployment) -> Iterator[Statement]:
    """Every statement of every identity policy (managed or inline) in the template."""
    for kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
        for logical_id in deployed.logical_ids(kind):
            yield from deployed.properties(logical_id)["PolicyDocument"]["Statement"]
    for role in deployed.logical_ids("AWS::IAM::Role"):
        for inline in deployed.properties(role).get("Policies", []):
            yield from inline["PolicyDocument"]["Statement"]


def actions_of(item: Statement) -> list[str]:
    return [str(action) for action in as_list(item["Action"])]


def resources_of(item: Statement) -> list[str]:
    return [str(resource) for resource in as_list(item["Resource"])]
