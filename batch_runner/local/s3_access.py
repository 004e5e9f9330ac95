"""S3 object and listing calls by IAM users and assumed roles, held to their identity policies,
which moto does not check.

Reads (GetObject, HeadObject), writes (PutObject, the multipart calls), deletes and bucket listings
(ListObjects, HeadBucket) are authorized as S3 authorizes them: the action on the object ARN
(``arn:aws:s3:::bucket/key``) or the bucket ARN. Refusals answer as S3 does: 403 with an
``AccessDenied`` XML error (no body for HEAD). moto's default credentials (the account root) are
allowed everything, as in AWS; other bucket operations (creating buckets, their configuration)
are left to moto. Bucket policies are not evaluated: the stack's buckets grant users nothing.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from batch_runner.local.iam_policy import AccessRequest, Decision, evaluate
from batch_runner.local.moto_state import IamState

_OBJECT_ACTIONS = {
    "GET": "s3:GetObject",
    "HEAD": "s3:GetObject",
    "PUT": "s3:PutObject",
    "POST": "s3:PutObject",
}
_BUCKET_SUBRESOURCES = (
    "acl",
    "tagging",
    "versioning",
    "policy",
    "location",
    "lifecycle",
    "cors",
    "encryption",
)


def denied(
    environ: dict[str, Any], account_id: str, access_key: str, region: str
) -> tuple[int, bytes] | None:
    """``(status, body)`` of S3's refusal when the caller may not make this call, else None."""
    request = _request(environ)
    if request is None:
        return None
    action, resource = request
    identity = IamState(account_id).caller(access_key)
    if identity is None:
        return None
    context = {
        "aws:RequestedRegion": region,
        "aws:PrincipalArn": identity.arn,
        "aws:ResourceAccount": account_id,
    }
    access = AccessRequest(action=action, resource=resource, context=context)
    decision = evaluate(identity.policies, access)
    if decision is Decision.ALLOW and identity.permissions_boundary is not None:
        decision = evaluate([identity.permissions_boundary], access)
    if decision is Decision.ALLOW:
        return None
    reason = (
        "with an explicit deny in an identity-based policy"
        if decision is Decision.EXPLICIT_DENY
        else f"because no identity-based policy allows the {action} action"
    )
    message = (
        f'User: {identity.arn} is not authorized to perform: {action} on resource: "{resource}" {reason}'
    )
    if environ.get("REQUEST_METHOD") == "HEAD":
        return 403, b""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        f"<Message>{escape(message)}</Message><RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return 403, body.encode()


def _request(environ: dict[str, Any]) -> tuple[str, str] | None:
    """The action and resource ARN of a path-style object or listing call; None for other calls."""
    method = environ.get("REQUEST_METHOD", "")
    bucket, _, key = unquote(environ.get("PATH_INFO", "")).lstrip("/").partition("/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if not bucket or any(name in query for name in _BUCKET_SUBRESOURCES):
        return None
    if not key:
        if method in ("GET", "HEAD") and "uploads" not in query:
            return "s3:ListBucket", f"arn:aws:s3:::{bucket}"
        return None
    resource = f"arn:aws:s3:::{bucket}/{key}"
    if method == "DELETE":
        return ("s3:AbortMultipartUpload" if "uploadId" in query else "s3:DeleteObject"), resource
    action = _OBJECT_ACTIONS.get(method)
    return None if action is None else (action, resource)
