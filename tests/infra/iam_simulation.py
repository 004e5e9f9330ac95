"""Local IAM policy evaluation (principalmapper, AGPL, test-only) over a synthesized, resolved template."""

from __future__ import annotations

import collections
import collections.abc
from dataclasses import dataclass
from typing import Any

# principalmapper 1.1.5 still imports collections.Mapping and MutableMapping, removed in Python 3.10.
collections.Mapping = collections.abc.Mapping  # type: ignore[attr-defined]
collections.MutableMapping = collections.abc.MutableMapping  # type: ignore[attr-defined]

from principalmapper.common import Node, Policy  # noqa: E402
from principalmapper.querying.local_policy_simulation import (  # noqa: E402
    ResourcePolicyEvalResult,
    resource_policy_authorization,
)
from principalmapper.querying.query_interface import local_check_authorization_full  # noqa: E402

from tests.infra.policy_documents import permissions_of_role  # noqa: E402
from tests.infra.template_values import Deployment  # noqa: E402


@dataclass(frozen=True)
class Principal:
    """An IAM role of the stack with its managed policy, as principalmapper sees it."""

    node: Node

    @classmethod
    def of_role(cls, deployed: Deployment, role_logical_id: str) -> Principal:
        """A role of the template, with the stack's managed policy attached to it."""
        return cls.with_policy(
            deployed.get_att(role_logical_id, "Arn"),
            permissions_of_role(deployed, role_logical_id),
            trust_policy=deployed.properties(role_logical_id)["AssumeRolePolicyDocument"],
        )

    @classmethod
    def with_policy(
        cls, role_arn: str, document: dict[str, Any], *, trust_policy: dict[str, Any] | None = None
    ) -> Principal:
        """Any role (e.g. a user's existing role) with one policy document attached."""
        name = role_arn.rsplit("/", 1)[1]
        policy = Policy(f"arn:aws:iam::{role_arn.split(':')[4]}:policy/{name}", name, document)
        node = Node(
            role_arn,
            f"AROA{name.upper()[:16]}",
            [policy],
            None,
            trust_policy or {"Version": "2012-10-17", "Statement": []},
            None,
            0,
            False,
            False,
            None,
            False,
            None,
        )
        return cls(node=node)

    @property
    def arn(self) -> str:
        return str(self.node.arn)


def is_allowed(
    principal: Principal,
    action: str,
    resource: str,
    context: dict[str, Any],
    *,
    resource_policy: dict[str, Any] | None = None,
    resource_owner: str | None = None,
) -> bool:
    """Full local evaluation: explicit denies, resource policy (bucket/key policy), identity policies."""
    return bool(
        local_check_authorization_full(
            principal.node, action, resource, context, resource_policy, resource_owner, None, None
        )
    )


def service_allowed(
    resource_policy: dict[str, Any],
    service: str,
    action: str,
    resource: str,
    context: dict[str, Any],
    *,
    owner: str,
) -> bool:
    """Whether the resource policy (trust, topic or key policy) lets a service principal make this
    request: an Allow naming the service matches and no Deny does."""
    result = resource_policy_authorization(service, owner, resource_policy, action, resource, context)
    return bool(result is ResourcePolicyEvalResult.SERVICE_MATCH)


def service_may_assume(
    trust_policy: dict[str, Any], service: str, role_arn: str, context: dict[str, Any]
) -> bool:
    """Whether a service principal may call sts:AssumeRole on the role under this request context."""
    return service_allowed(
        trust_policy, service, "sts:AssumeRole", role_arn, context, owner=role_arn.split(":")[4]
    )
