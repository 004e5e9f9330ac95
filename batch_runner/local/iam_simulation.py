"""IAM ``SimulatePrincipalPolicy``, which moto does not implement, on the emulator's own evaluator.

Query protocol (form-encoded request, XML response). The principal's identity policies and
permissions boundary come from moto's IAM state, as the control plane authorizes real calls; the
caller must itself be allowed ``iam:SimulatePrincipalPolicy`` on the principal (moto's default root
caller is allowed everything). One result per action and resource, each ``allowed``,
``explicitDeny`` or ``implicitDeny``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from batch_runner.local.iam_policy import AccessRequest, ContextValue, Decision, evaluate
from batch_runner.local.moto_state import IamState, Identity

ACTION = "SimulatePrincipalPolicy"
_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
_DECISIONS = {
    Decision.ALLOW: "allowed",
    Decision.EXPLICIT_DENY: "explicitDeny",
    Decision.IMPLICIT_DENY: "implicitDeny",
}


@dataclass(frozen=True)
class XmlAnswer:
    status: int
    body: bytes


def handles(body: bytes) -> bool:
    return parse_qs(body.decode("utf-8", "replace")).get("Action") == [ACTION]


def answer(body: bytes, account_id: str, access_key: str) -> XmlAnswer:
    params = {key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
    iam = IamState(account_id)
    source = params.get("PolicySourceArn", "")
    caller = iam.caller(access_key)
    if caller is not None and not allowed(caller, "iam:SimulatePrincipalPolicy", source, {}):
        return _error(
            403,
            "AccessDenied",
            f"User: {caller.arn} is not authorized to perform: iam:SimulatePrincipalPolicy "
            f"on resource: {source} because no identity-based policy allows the "
            "iam:SimulatePrincipalPolicy action",
        )
    principal = _principal(iam, source)
    if principal is None:
        return _error(404, "NoSuchEntity", f"The principal {source} cannot be found.")
    actions = _members(params, "ActionNames")
    resources = _members(params, "ResourceArns") or ["*"]
    context = _context(params)
    results = "".join(
        _result(action, resource, _decision(principal, action, resource, context))
        for action in actions
        for resource in resources
    )
    xml = (
        f'<SimulatePrincipalPolicyResponse xmlns="{_NAMESPACE}"><SimulatePrincipalPolicyResult>'
        f"<IsTruncated>false</IsTruncated><EvaluationResults>{results}</EvaluationResults>"
        f"</SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
        "</ResponseMetadata></SimulatePrincipalPolicyResponse>"
    )
    return XmlAnswer(200, xml.encode())


def _principal(iam: IamState, arn: str) -> Identity | None:
    if ":role/" in arn:
        found = iam.role(arn)
        return None if found is None else found[0]
    return iam.user(arn) if ":user/" in arn else None


def _decision(
    principal: Identity, action: str, resource: str, context: Mapping[str, ContextValue]
) -> Decision:
    request = AccessRequest(
        action=action, resource=resource, context={"aws:PrincipalArn": principal.arn, **context}
    )
    decision = evaluate(principal.policies, request)
    if decision is Decision.ALLOW and principal.permissions_boundary is not None:
        decision = evaluate([principal.permissions_boundary], request)
    return decision


def allowed(principal: Identity, action: str, resource: str, context: Mapping[str, ContextValue]) -> bool:
    """Whether the principal's identity policies (within its permissions boundary) allow the request."""
    return _decision(principal, action, resource, context) is Decision.ALLOW


def _members(params: Mapping[str, str], name: str) -> list[str]:
    prefix = f"{name}.member."
    numbered = [
        (int(key[len(prefix) :]), value)
        for key, value in params.items()
        if key.startswith(prefix) and key[len(prefix) :].isdigit()
    ]
    return [value for _, value in sorted(numbered)]


def _context(params: Mapping[str, str]) -> dict[str, ContextValue]:
    """``ContextEntries.member.N``: name, type and values, typed as IAM types them."""
    context: dict[str, ContextValue] = {}
    index = 1
    while f"ContextEntries.member.{index}.ContextKeyName" in params:
        entry = f"ContextEntries.member.{index}"
        kind = params.get(f"{entry}.ContextKeyType", "string")
        values = _members(params, f"{entry}.ContextKeyValues")
        index += 1
        if not values:
            continue
        typed: list[Any] = [
            value.lower() == "true" if kind.startswith("boolean") else value for value in values
        ]
        context[params[f"{entry}.ContextKeyName"]] = typed if kind.endswith("List") else typed[0]
    return context


def _result(action: str, resource: str, decision: Decision) -> str:
    return (
        f"<member><EvalActionName>{escape(action)}</EvalActionName>"
        f"<EvalResourceName>{escape(resource)}</EvalResourceName>"
        f"<EvalDecision>{_DECISIONS[decision]}</EvalDecision>"
        "<MatchedStatements/><MissingContextValues/></member>"
    )


def _error(status: int, code: str, message: str) -> XmlAnswer:
    xml = (
        f'<ErrorResponse xmlns="{_NAMESPACE}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return XmlAnswer(status, xml.encode())
