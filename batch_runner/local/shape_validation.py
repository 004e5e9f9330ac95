"""Server-side request validation against botocore's own ``bedrock`` service model.

botocore checks only ``min`` on the client; the service also enforces ``max``, ``pattern`` (full
match), ``enum`` and ranges, and answers ``ValidationException`` listing every violation the way
AWS does: ``1 validation error detected: Value 'a_b' at 'jobName' failed to satisfy constraint:
Member must satisfy regular expression pattern: ...``.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ListShape, OperationModel, ServiceModel, Shape, StructureShape

from batch_runner.local.errors import ValidationError


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("bedrock")


def operation(name: str) -> OperationModel:
    return service_model().operation_model(name)


@cache
def runtime_operation(name: str) -> OperationModel:
    """An operation of ``bedrock-runtime`` (Converse record bodies are checked against it)."""
    return botocore.session.get_session().get_service_model("bedrock-runtime").operation_model(name)


def member_problems(operation_model: OperationModel, member: str, value: Any) -> list[str]:
    """Violations of one top-level input member's shape, in the service's words."""
    problems: list[str] = []
    shape = operation_model.input_shape
    if shape is not None and member in shape.members:
        _check(shape.members[member], value, member, problems)
    return problems


def validate(operation_name: str, params: dict[str, Any]) -> None:
    """Raise ``ValidationError`` when ``params`` break the operation's input shape."""
    shape = operation(operation_name).input_shape
    problems: list[str] = []
    if shape is not None:
        _check_structure(shape, params, "", problems)
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise ValidationError(f"{count} validation {noun} detected: " + "; ".join(problems))


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.DOTALL)


def _describe(value: Any) -> str:
    if isinstance(value, dict | list):
        return type(value).__name__
    return str(value)


def _violation(value: Any, path: str, constraint: str) -> str:
    return f"Value '{_describe(value)}' at '{path}' failed to satisfy constraint: Member must {constraint}"


def _check_structure(shape: StructureShape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(_violation(value, path, "be a structure"))
        return
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(
                f"Value null at '{path}{name}' failed to satisfy constraint: Member must not be null"
            )
    members = shape.members
    for name, member_value in value.items():
        if member_value is None:
            continue
        member = members.get(name)
        if member is None:
            continue  # the service ignores unknown members, as AWS does
        _check(member, member_value, f"{path}{name}", problems)
    if shape.metadata.get("union") and sum(1 for v in value.values() if v is not None) != 1:
        problems.append(
            f"Value at '{path.rstrip('.')}' failed to satisfy constraint: Member must set exactly one member"
        )


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        _check_structure(shape, value, f"{path}.", problems)
    elif kind == "list":
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            problems.append(_violation(value, path, "be a list"))
            return
        _check_length(shape, value, path, problems)
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}.{index + 1}.member", problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(_violation(value, path, "be a string"))
            return
        _check_length(shape, value, path, problems)
        enum = shape.enum
        if enum and value not in enum:
            problems.append(_violation(value, path, f"satisfy enum value set: [{', '.join(enum)}]"))
        pattern = shape.metadata.get("pattern")
        if pattern is not None and not _compiled(pattern).fullmatch(value):
            problems.append(_violation(value, path, f"satisfy regular expression pattern: {pattern}"))
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(_violation(value, path, "be an integer"))
            return
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            problems.append(_violation(value, path, f"have value greater than or equal to {low}"))
        if high is not None and value > high:
            problems.append(_violation(value, path, f"have value less than or equal to {high}"))
    elif kind == "timestamp" and not isinstance(value, datetime):
        problems.append(_violation(value, path, "be a timestamp"))


def _check_length(shape: Shape, value: str | list[Any], path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and len(value) < low:
        problems.append(_violation(value, path, f"have length greater than or equal to {low}"))
    if high is not None and len(value) > high:
        problems.append(_violation(value, path, f"have length less than or equal to {high}"))
