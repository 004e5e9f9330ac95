"""A small, exact IAM policy evaluator for the checks the emulated service makes.

Covers what identity, trust and bucket policies written by CDK or by hand use: Allow/Deny,
Action/NotAction, Resource/NotResource, Principal/NotPrincipal, ``*``/``?`` wildcards, and the
condition operators (String*, Arn*, Bool, Null, Numeric*, Date*, IpAddress, with ``IfExists`` and
``ForAnyValue:``/``ForAllValues:``) with case-insensitive condition keys. Evaluation follows the
documented order: an explicit Deny wins, then any Allow, else an implicit deny.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

ContextValue = str | bool | int | float | Sequence[str]


class Decision(enum.Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class AccessRequest:
    action: str
    resource: str = "*"
    # Who asks, for resource-based policies (trust and bucket policies), e.g.
    # {"Service": ["bedrock.amazonaws.com"]} or {"AWS": ["arn:aws:iam::123456789012:role/x"]}.
    principal: Mapping[str, Sequence[str]] = field(default_factory=dict)
    context: Mapping[str, ContextValue] = field(default_factory=dict)


def parse_document(document: str | Mapping[str, Any]) -> dict[str, Any]:
    """A policy document as stored by IAM: a JSON string (possibly URL-encoded) or a mapping."""
    if isinstance(document, Mapping):
        return dict(document)
    text = document.strip()
    if text.startswith("%7B") or text.startswith("%7b"):
        from urllib.parse import unquote

        text = unquote(text)
    parsed = json.loads(text)
    if not isinstance(parsed, dict):
        raise ValueError("a policy document must be a JSON object")
    return parsed


def evaluate(policies: Iterable[str | Mapping[str, Any]], request: AccessRequest) -> Decision:
    """Combine every statement of every policy for one request."""
    allowed = False
    context = {key.lower(): value for key, value in request.context.items()}
    for policy in policies:
        for statement in _statements(parse_document(policy)):
            if not _statement_applies(statement, request, context):
                continue
            if str(statement.get("Effect", "")).lower() == "deny":
                return Decision.EXPLICIT_DENY
            if str(statement.get("Effect", "")).lower() == "allow":
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, Mapping) else list(statements)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _statement_applies(
    statement: Mapping[str, Any], request: AccessRequest, context: Mapping[str, ContextValue]
) -> bool:
    return (
        _matches_element(statement, "Action", request.action, _action_matches)
        and _matches_element(statement, "Resource", request.resource, _glob_matches)
        and _principal_matches(statement, request.principal)
        and _conditions_hold(statement.get("Condition", {}), context)
    )


def _matches_element(
    statement: Mapping[str, Any], name: str, value: str, match: Callable[[str, str], bool]
) -> bool:
    if name in statement:
        return any(match(pattern, value) for pattern in _as_list(statement[name]))
    if f"Not{name}" in statement:
        return not any(match(pattern, value) for pattern in _as_list(statement[f"Not{name}"]))
    return True  # trust policies carry no Resource element


@cache
def _glob_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _glob_matches(pattern: str, value: str) -> bool:
    return _glob_regex(str(pattern), False).fullmatch(value) is not None


def _action_matches(pattern: str, action: str) -> bool:
    return _glob_regex(str(pattern), True).fullmatch(action) is not None


def _principal_matches(statement: Mapping[str, Any], principal: Mapping[str, Sequence[str]]) -> bool:
    if "Principal" in statement:
        return _principal_listed(statement["Principal"], principal)
    if "NotPrincipal" in statement:
        return not _principal_listed(statement["NotPrincipal"], principal)
    return True  # identity policies carry no Principal element


def _principal_listed(element: Any, principal: Mapping[str, Sequence[str]]) -> bool:
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    for kind, listed in element.items():
        for entry in _as_list(listed):
            for candidate in principal.get(kind, ()):
                if entry == "*" or entry == candidate or (kind == "AWS" and _same_account(entry, candidate)):
                    return True
    return False


def _same_account(entry: str, candidate: str) -> bool:
    """``"123456789012"`` and ``arn:aws:iam::123456789012:root`` name every principal of the account."""
    account = entry if entry.isdigit() else ""
    match = re.fullmatch(r"arn:aws[^:]*:iam::(\d{12}):root", entry)
    if match:
        account = match.group(1)
    return bool(account) and f":{account}:" in candidate


# Conditions -------------------------------------------------------------------------------


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, ContextValue]) -> bool:
    for operator, keys in conditions.items():
        for key, policy_values in keys.items():
            if not _condition_holds(operator, key.lower(), _as_list(policy_values), context):
                return False
    return True


def _condition_holds(
    operator: str, key: str, policy_values: list[Any], context: Mapping[str, ContextValue]
) -> bool:
    qualifier, _, base = operator.rpartition(":")
    qualifier = qualifier.lower()
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    present = key in context and context[key] is not None
    if base == "Null":
        wants_missing = str(policy_values[0]).lower() == "true"
        return (not present) == wants_missing
    compare, negated = _comparator(base)
    if not present:
        if qualifier == "forallvalues":
            return True
        if qualifier == "foranyvalue":
            return False
        return if_exists or negated
    raw = context[key]
    request_values = list(raw) if isinstance(raw, list | tuple) else [raw]

    def matches_any(value: Any) -> bool:
        return any(compare(policy, value) for policy in policy_values)

    if qualifier == "forallvalues":
        return all(matches_any(value) != negated for value in request_values)
    if qualifier == "foranyvalue":
        return any(matches_any(value) != negated for value in request_values)
    matched = any(matches_any(value) for value in request_values)
    return not matched if negated else matched


_NEGATED_PREFIXES = ("StringNot", "ArnNot", "NumericNot", "DateNot", "NotIp")


def _comparator(base: str) -> tuple[Callable[[Any, Any], bool], bool]:
    negated = base.startswith(_NEGATED_PREFIXES)
    positive = base
    for prefix, replacement in (
        ("StringNot", "String"),
        ("ArnNot", "Arn"),
        ("NumericNot", "Numeric"),
        ("DateNot", "Date"),
        ("NotIp", "Ip"),
    ):
        if base.startswith(prefix):
            positive = replacement + base[len(prefix) :]
    comparator = _COMPARATORS.get(positive)
    if comparator is None:
        raise ValueError(f"unsupported condition operator {base}")
    return comparator, negated


def _number(value: Any) -> float:
    return float(value)


def _date(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value)
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return datetime.fromtimestamp(float(text), tz=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _arn_like(pattern: Any, value: Any) -> bool:
    pattern_parts = str(pattern).split(":", 5)
    value_parts = str(value).split(":", 5)
    if str(pattern) == "*":
        return True
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False  # each of the six components is matched on its own; a missing one cannot match
    return all(_glob_matches(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _bool(policy: Any, value: Any) -> bool:
    return str(policy).lower() == str(value).lower()


def _ip(policy: Any, value: Any) -> bool:
    try:
        return ipaddress.ip_address(str(value)) in ipaddress.ip_network(str(policy), strict=False)
    except ValueError:
        return False


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "StringEquals": lambda p, v: str(p) == str(v),
    "StringEqualsIgnoreCase": lambda p, v: str(p).lower() == str(v).lower(),
    "StringLike": lambda p, v: _glob_matches(str(p), str(v)),
    "ArnEquals": _arn_like,  # AWS documents ArnEquals and ArnLike as identical
    "ArnLike": _arn_like,
    "Bool": _bool,
    "NumericEquals": lambda p, v: _number(v) == _number(p),
    "NumericLessThan": lambda p, v: _number(v) < _number(p),
    "NumericLessThanEquals": lambda p, v: _number(v) <= _number(p),
    "NumericGreaterThan": lambda p, v: _number(v) > _number(p),
    "NumericGreaterThanEquals": lambda p, v: _number(v) >= _number(p),
    "DateEquals": lambda p, v: _date(v) == _date(p),
    "DateLessThan": lambda p, v: _date(v) < _date(p),
    "DateLessThanEquals": lambda p, v: _date(v) <= _date(p),
    "DateGreaterThan": lambda p, v: _date(v) > _date(p),
    "DateGreaterThanEquals": lambda p, v: _date(v) >= _date(p),
    "IpAddress": _ip,
}
