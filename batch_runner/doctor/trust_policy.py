"""Does a role's trust policy let Bedrock assume it for a given job? Read from the document itself.

IAM's policy simulator does not evaluate trust policies, so doctor reads them: Allow/Deny
statements, ``Action``/``NotAction`` with wildcards, ``Principal`` (``Service`` or ``*``) and the
condition operators trust policies use for the confused-deputy keys (String*, Arn*, with
``IfExists``). Anything else raises ``UnsupportedPolicy``: doctor then says it could not verify.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

BEDROCK_SERVICE = "bedrock.amazonaws.com"


class UnsupportedPolicy(ValueError):
    """The document uses something this reader does not evaluate."""


def load(document: str | Mapping[str, Any]) -> dict[str, Any]:
    """IAM returns trust policies URL-encoded in the raw API and as a dict through boto3."""
    if isinstance(document, Mapping):
        return dict(document)
    parsed = json.loads(unquote(document) if document.lstrip().startswith("%") else document)
    if not isinstance(parsed, dict):
        raise UnsupportedPolicy("the trust policy is not a JSON object")
    return parsed


def admits_bedrock(document: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """Whether ``bedrock.amazonaws.com`` may ``sts:AssumeRole`` with these request context keys."""
    allowed = False
    for statement in _list(document.get("Statement")):
        if not (_action_applies(statement) and _principal_applies(statement)):
            continue
        if not _conditions_hold(statement.get("Condition") or {}, context):
            continue
        effect = str(statement.get("Effect", ""))
        if effect == "Deny":
            return False
        allowed = allowed or effect == "Allow"
    return allowed


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _action_applies(statement: Mapping[str, Any]) -> bool:
    if "Action" in statement:
        return any(_wildcard(str(a), "sts:AssumeRole", True) for a in _list(statement["Action"]))
    if "NotAction" in statement:
        return not any(_wildcard(str(a), "sts:AssumeRole", True) for a in _list(statement["NotAction"]))
    return False


def _principal_applies(statement: Mapping[str, Any]) -> bool:
    if "NotPrincipal" in statement:
        raise UnsupportedPolicy("NotPrincipal in a trust policy")
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    services = [str(s) for s in _list(principal.get("Service"))]
    return BEDROCK_SERVICE in services or "*" in _list(principal.get("AWS"))


_OPERATORS = {
    "StringEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": _wildcard,
    "ArnEquals": lambda p, v: _arn_like(p, v),
    "ArnLike": lambda p, v: _arn_like(p, v),
}
_NEGATIONS = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _arn_like(pattern: str, value: str) -> bool:
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return pattern == "*"
    return all(_wildcard(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    lowered = {key.lower(): value for key, value in context.items()}
    for operator, keys in conditions.items():
        base = operator.removesuffix("IfExists")
        positive = _NEGATIONS.get(base, base)
        compare = _OPERATORS.get(positive)
        if compare is None or ":" in operator:
            raise UnsupportedPolicy(f"condition operator {operator}")
        for key, policy_values in dict(keys).items():
            value = lowered.get(key.lower())
            if value is None:
                if operator.endswith("IfExists") or positive != base:
                    continue
                return False
            matched = any(compare(str(p), value) for p in _list(policy_values))
            if matched == (positive != base):
                return False
    return True
