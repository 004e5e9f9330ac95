"""One WSGI app for every AWS service: admin endpoints, the emulated Bedrock batch-job and runtime APIs
and Service Quotas for ``bedrock``, fault injection on S3 reads, and moto for everything else.

Requests are told apart the way AWS endpoints tell them apart: by the SigV4 credential scope's
service name (``Credential=<key>/<date>/<region>/<service>/aws4_request``) and the path. So a
single port serves S3, IAM, STS, CloudFormation, EventBridge and Bedrock, and
``AWS_ENDPOINT_URL=http://127.0.0.1:<port>`` works for every boto3 client.
"""

from __future__ import annotations

import io
import json
import re
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from batch_runner.local import catalog, iam_simulation, local_identity, put_events, s3_access, service_quotas
from batch_runner.local.config import EmulatorConfig
from batch_runner.local.control_plane import ControlPlane, is_control_plane_path, tagged_job_arn
from batch_runner.local.errors import InternalServerError, ServiceError, ThrottlingError
from batch_runner.local.faults import FaultInjector
from batch_runner.local.job_store import Scope
from batch_runner.local.moto_state import LambdaSink, account_for_access_key
from batch_runner.local.runtime import RuntimeCall, runtime_call
from batch_runner.local.runtime import answer as runtime_answer

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
ADMIN_PREFIX = "/_emulator"


@dataclass(frozen=True)
class Signature:
    access_key: str
    region: str
    service: str


def signature(environ: dict[str, Any]) -> Signature | None:
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        return None
    return Signature(access_key=match.group(1), region=match.group(2), service=match.group(3))


def raw_uri(environ: dict[str, Any]) -> str:
    """The request target as sent (still percent-encoded, so a job ARN stays one path segment)."""
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if uri:
        return str(uri)
    query = environ.get("QUERY_STRING", "")
    return environ.get("PATH_INFO", "") + (f"?{query}" if query else "")


def json_response(
    start_response: StartResponse,
    status: int,
    body: Any,
    headers: list[tuple[str, str]] | None = None,
    content_type: str = "application/json",
) -> list[bytes]:
    payload = json.dumps(body).encode()
    all_headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(payload))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        *(headers or []),
    ]
    start_response(f"{status} {_REASONS.get(status, 'Error')}", all_headers)
    return [payload]


def error_response(start_response: StartResponse, error: ServiceError) -> list[bytes]:
    return json_response(
        start_response, error.status, {"message": error.message}, headers=[("x-amzn-ErrorType", error.code)]
    )


_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Slow Down",
}

_SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate. (injected by the Bedrock emulator)</Message>"
    b"<RequestId>EMULATED</RequestId></Error>"
)


class EmulatorApp:
    def __init__(
        self,
        control_plane: ControlPlane,
        admin: WsgiApp,
        moto_app: WsgiApp,
        faults: FaultInjector,
        config: Callable[[], EmulatorConfig],
        lambda_sink: LambdaSink | None = None,
    ) -> None:
        self._config = config
        self._lambda_sink = lambda_sink
        self._control_plane = control_plane
        self._admin = admin
        self._moto = moto_app
        self._faults = faults
        self._conditional_writes = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(ADMIN_PREFIX):
            return self._admin(environ, start_response)
        signed = signature(environ)
        uri = raw_uri(environ)
        if signed is not None and signed.service == "bedrock":
            body = _read_body(environ)
            if is_control_plane_path(uri) or tagged_job_arn(uri, body) is not None:
                return self._bedrock(environ, start_response, signed, uri, body)
            call = runtime_call(environ["REQUEST_METHOD"], uri)
            if call is not None:
                return self._runtime(start_response, call, body)
        if (
            signed is not None
            and signed.service == "bedrock"
            and catalog.handles(environ["REQUEST_METHOD"], uri)
        ):
            return self._catalog(start_response, signed, uri)
        if signed is not None and signed.service == "sts":
            identity = local_identity.caller_identity(
                _read_body(environ), account_for_access_key(signed.access_key), signed.access_key
            )
            if identity is not None:
                return _xml_response(start_response, identity)
        if signed is not None and signed.service == "iam" and iam_simulation.handles(_read_body(environ)):
            return self._simulate(start_response, signed, _read_body(environ))
        if signed is not None and signed.service == "events":
            request = _json_object(_read_body(environ))
            if put_events.handles(environ.get("HTTP_X_AMZ_TARGET", ""), request):
                account_id = account_for_access_key(signed.access_key)
                answer = put_events.answer(request, account_id, signed.region, self._lambda_sink)
                return json_response(start_response, 200, answer, content_type="application/x-amz-json-1.1")
        if signed is not None and signed.service == "servicequotas":
            quotas = self._service_quotas(environ, start_response, signed)
            if quotas is not None:
                return quotas
        if signed is not None and signed.service == "s3":
            refusal = s3_access.denied(
                environ, account_for_access_key(signed.access_key), signed.access_key, signed.region
            )
            if refusal is not None:
                status, payload = refusal
                start_response(
                    f"{status} Forbidden",
                    [("Content-Type", "application/xml"), ("Content-Length", str(len(payload)))],
                )
                return [payload]
        if (
            signed is not None
            and signed.service == "s3"
            and _is_object_get(environ)
            and self._faults.s3_get_error()
        ):
            start_response(
                "503 Slow Down",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(_SLOW_DOWN)))],
            )
            return [_SLOW_DOWN]
        if signed is not None and signed.service == "s3" and _is_conditional_write(environ):
            # moto checks the precondition and then writes, unlocked; S3 decides conditional writes
            # atomically (exactly one of two racing If-None-Match: * creates wins), so they go one at a time.
            with self._conditional_writes:
                return list(self._moto(environ, start_response))
        return self._moto(environ, start_response)

    def _catalog(self, start_response: StartResponse, signed: Signature, uri: str) -> list[bytes]:
        try:
            body = catalog.answer(
                uri, account_for_access_key(signed.access_key), signed.region, signed.access_key
            )
        except ServiceError as err:
            return error_response(start_response, err)
        return json_response(start_response, 200, body)

    def _simulate(self, start_response: StartResponse, signed: Signature, body: bytes) -> list[bytes]:
        result = iam_simulation.answer(body, account_for_access_key(signed.access_key), signed.access_key)
        start_response(
            f"{result.status} {_REASONS.get(result.status, 'Error')}",
            [("Content-Type", "text/xml"), ("Content-Length", str(len(result.body)))],
        )
        return [result.body]

    def _service_quotas(
        self, environ: dict[str, Any], start_response: StartResponse, signed: Signature
    ) -> list[bytes] | None:
        request = _json_object(_read_body(environ))
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not service_quotas.handles(target, request):
            return None
        account_id = account_for_access_key(signed.access_key)
        try:
            page = service_quotas.answer(request, self._config(), account_id, signed.region)
        except ServiceError as err:
            return error_response(start_response, err)
        return json_response(start_response, 200, page, content_type="application/x-amz-json-1.1")

    def _bedrock(
        self, environ: dict[str, Any], start_response: StartResponse, signed: Signature, uri: str, body: bytes
    ) -> list[bytes]:
        scope = Scope(account_id=account_for_access_key(signed.access_key), region=signed.region)
        try:
            self._inject_fault(self._faults.control_plane_error())
            response = self._control_plane.handle(
                environ["REQUEST_METHOD"], uri, body, scope, signed.access_key
            )
        except ServiceError as err:
            return error_response(start_response, err)
        except Exception as err:  # an emulator bug: answer like the service would, keep the trace
            traceback.print_exc(file=sys.stderr)
            return error_response(start_response, InternalServerError(f"Bedrock emulator error: {err!r}"))
        return json_response(start_response, 200, response)

    def _runtime(self, start_response: StartResponse, call: RuntimeCall, body: bytes) -> list[bytes]:
        """bedrock-runtime InvokeModel/Converse (same signing name as the control plane)."""
        try:
            self._inject_fault(self._faults.runtime_error(body))
            response = runtime_answer(call, body, self._faults)
        except ServiceError as err:
            return error_response(start_response, err)
        except Exception as err:  # an emulator bug: answer like the service would, keep the trace
            traceback.print_exc(file=sys.stderr)
            return error_response(start_response, InternalServerError(f"Bedrock emulator error: {err!r}"))
        return json_response(start_response, 200, response.body, headers=response.headers)

    def _inject_fault(self, fault: str | None) -> None:
        if fault == "throttle":
            raise ThrottlingError(
                "Too many requests, please wait before trying again. (injected by the Bedrock emulator)"
            )
        if fault == "server":
            raise InternalServerError(
                "An internal server error occurred. Retry your request. (injected by the Bedrock emulator)"
            )


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, left readable for whichever app handles the request next."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body: bytes = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _xml_response(start_response: StartResponse, body: bytes) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
    return [body]


def _is_conditional_write(environ: dict[str, Any]) -> bool:
    return environ.get("REQUEST_METHOD") in ("PUT", "POST") and any(
        header in environ for header in ("HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH")
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _is_object_get(environ: dict[str, Any]) -> bool:
    """GetObject, path style (``/bucket/key``) or virtual-host style (``bucket.host/key``)."""
    if environ.get("REQUEST_METHOD") != "GET":
        return False
    path = environ.get("PATH_INFO", "").lstrip("/")
    query = environ.get("QUERY_STRING", "")
    if any(
        marker in query
        for marker in ("list-type", "uploads", "acl", "tagging", "versioning", "policy", "location")
    ):
        return False
    host = environ.get("HTTP_HOST", "")
    virtual_host = (
        host.count(".") >= 1 and not re.match(r"^[\d.]+(:\d+)?$", host) and not host.startswith("localhost")
    )
    return bool(path) and ("/" in path.rstrip("/") or virtual_host)
