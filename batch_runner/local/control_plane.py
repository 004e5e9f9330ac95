"""The bedrock batch-job REST API: parse rest-json requests, authorize, call the job store.

Routes (botocore's ``bedrock`` model, protocol rest-json):
``POST /model-invocation-job``, ``GET /model-invocation-job/{id}``,
``GET /model-invocation-jobs``, ``POST /model-invocation-job/{id}/stop``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from batch_runner.catalog.batch_support import batch_support
from batch_runner.local import shape_validation
from batch_runner.local.errors import AccessDeniedError, ServiceError, ValidationError
from batch_runner.local.iam_policy import AccessRequest, Decision, evaluate
from batch_runner.local.job_store import JobStore, Scope
from batch_runner.local.jobs import model_arn
from batch_runner.local.moto_state import IamState

_JOB_PATH = re.compile(r"/model-invocation-job/(?P<id>[^/?]+)(?P<stop>/stop)?/?")
BEDROCK_SERVICE = "bedrock.amazonaws.com"


_TAGGING = {
    "/tagResource": "TagResource",
    "/untagResource": "UntagResource",
    "/listTagsForResource": "ListTagsForResource",
}
_JOB_ARN = re.compile(r"arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:model-invocation-job/[a-z0-9]{12}")


def tagged_job_arn(raw_path: str, body: bytes) -> str | None:
    """The job ARN of a tagging call about a batch job (other resources' tags stay with moto)."""
    if raw_path.split("?", 1)[0].rstrip("/") not in _TAGGING:
        return None
    try:
        arn = json.loads(body or b"{}").get("resourceARN")
    except (ValueError, AttributeError):
        return None
    return arn if isinstance(arn, str) and _JOB_ARN.fullmatch(arn) else None


def is_control_plane_path(raw_path: str) -> bool:
    path = raw_path.split("?", 1)[0]
    return path.rstrip("/") in ("/model-invocation-job", "/model-invocation-jobs") or bool(
        _JOB_PATH.fullmatch(path)
    )


class ControlPlane:
    def __init__(self, store: JobStore) -> None:
        self._store = store

    def handle(self, method: str, raw_uri: str, body: bytes, scope: Scope, access_key: str) -> dict[str, Any]:
        """The JSON response body of one call; raises ``ServiceError`` for error responses."""
        path, _, query = raw_uri.partition("?")
        caller = _Caller(scope, access_key)
        if path.rstrip("/") in _TAGGING and method == "POST":
            return self._tagging(_TAGGING[path.rstrip("/")], _json_body(body), scope, caller)
        if path.rstrip("/") == "/model-invocation-job" and method == "POST":
            return self._create(_json_body(body), scope, caller)
        if path.rstrip("/") == "/model-invocation-jobs" and method == "GET":
            return self._list(query, scope, caller)
        match = _JOB_PATH.fullmatch(path)
        if match is None:
            raise ServiceError(f"No operation matches {method} {path}")
        identifier = unquote(match.group("id"))
        shape_validation.validate("GetModelInvocationJob", {"jobIdentifier": identifier})
        if match.group("stop") and method == "POST":
            caller.authorize("bedrock:StopModelInvocationJob", [_job_arn_pattern(scope, identifier)])
            self._store.stop(scope, identifier)
            return {}
        if not match.group("stop") and method == "GET":
            caller.authorize("bedrock:GetModelInvocationJob", [_job_arn_pattern(scope, identifier)])
            return self._store.get(scope, identifier).describe()
        raise ServiceError(f"No operation matches {method} {path}")

    def _create(self, request: dict[str, Any], scope: Scope, caller: _Caller) -> dict[str, Any]:
        shape_validation.validate("CreateModelInvocationJob", request)
        caller.authorize(
            "bedrock:CreateModelInvocationJob",
            [_job_arn_pattern(scope, "*"), model_arn(scope.region, scope.account_id, request["modelId"])],
        )
        caller.authorize(
            "iam:PassRole", [request["roleArn"]], context={"iam:PassedToService": BEDROCK_SERVICE}
        )
        if batch_support(request["modelId"]).supported is False:
            # Bedrock's words for a model it lists but does not batch (observed on AWS, see
            # batch_runner/data/batch_support.yaml): no hint of which part is wrong.
            raise ValidationError("The provided request is not valid")
        return {"jobArn": self._store.create(scope, request).arn}

    def _tagging(
        self, operation: str, request: dict[str, Any], scope: Scope, caller: _Caller
    ) -> dict[str, Any]:
        shape_validation.validate(operation, request)
        arn = request["resourceARN"]
        caller.authorize(f"bedrock:{operation}", [arn])
        if operation == "TagResource":
            self._store.tag(scope, arn, request["tags"])
            return {}
        if operation == "UntagResource":
            self._store.untag(scope, arn, request["tagKeys"])
            return {}
        return {"tags": self._store.get(scope, arn).tags}

    def _list(self, query: str, scope: Scope, caller: _Caller) -> dict[str, Any]:
        params = _list_params(query)
        shape_validation.validate("ListModelInvocationJobs", params)
        caller.authorize("bedrock:ListModelInvocationJobs", ["*"])
        page = self._store.list_jobs(scope, params)
        response: dict[str, Any] = {"invocationJobSummaries": [job.describe() for job in page.jobs]}
        if page.next_token is not None:
            response["nextToken"] = page.next_token
        return response


class _Caller:
    """The identity behind the request's access key, authorized against its IAM policies.

    moto's default credentials belong to no IAM user or role (the account root), which is allowed
    everything, as in AWS; users and assumed roles created in moto are held to their policies.
    """

    def __init__(self, scope: Scope, access_key: str) -> None:
        self._scope = scope
        self._identity = IamState(scope.account_id).caller(access_key)

    def authorize(self, action: str, resources: list[str], context: dict[str, Any] | None = None) -> None:
        identity = self._identity
        if identity is None:
            return
        full_context = {
            "aws:RequestedRegion": self._scope.region,
            "aws:PrincipalArn": identity.arn,
            **(context or {}),
        }
        for resource in resources:
            request = AccessRequest(action=action, resource=resource, context=full_context)
            decision = evaluate(identity.policies, request)
            if decision is Decision.ALLOW and identity.permissions_boundary is not None:
                decision = evaluate([identity.permissions_boundary], request)
            if decision is not Decision.ALLOW:
                reason = (
                    "with an explicit deny in an identity-based policy"
                    if decision is Decision.EXPLICIT_DENY
                    else f"because no identity-based policy allows the {action} action"
                )
                raise AccessDeniedError(
                    f"User: {identity.arn} is not authorized to perform: {action} "
                    f"on resource: {resource} {reason}"
                )


def _job_arn_pattern(scope: Scope, identifier: str) -> str:
    if identifier.startswith("arn:"):
        return identifier
    return f"arn:aws:bedrock:{scope.region}:{scope.account_id}:model-invocation-job/{identifier}"


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError as err:
        raise ValidationError("The request body is not valid JSON.") from err
    if not isinstance(parsed, dict):
        raise ValidationError("The request body must be a JSON object.")
    return parsed


def _list_params(query: str) -> dict[str, Any]:
    """Query-string members typed as the service model says (integers, timestamps, strings)."""
    operation = shape_validation.operation("ListModelInvocationJobs")
    assert operation.input_shape is not None
    by_location = {
        member.serialization.get("name", name): (name, member)
        for name, member in operation.input_shape.members.items()
    }
    params: dict[str, Any] = {}
    for key, values in parse_qs(query, keep_blank_values=True).items():
        if key not in by_location:
            continue
        name, shape = by_location[key]
        raw = values[-1]
        if shape.type_name == "integer":
            try:
                params[name] = int(raw)
            except ValueError as err:
                raise ValidationError(_type_error(raw, name, "an integer")) from err
        elif shape.type_name == "timestamp":
            params[name] = _timestamp(name, raw)
        else:
            params[name] = raw
    return params


def _timestamp(name: str, raw: str) -> datetime:
    try:
        if re.fullmatch(r"\d+(\.\d+)?", raw):
            return datetime.fromtimestamp(float(raw), tz=UTC)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as err:
        raise ValidationError(_type_error(raw, name, "a timestamp")) from err
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _type_error(raw: str, name: str, kind: str) -> str:
    return (
        f"1 validation error detected: Value '{raw}' at '{name}' failed to satisfy constraint: "
        f"Member must be {kind}"
    )
