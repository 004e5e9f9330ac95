"""The two ``bedrock-runtime`` operations the runner uses, over the emulated models.

Routes (botocore's ``bedrock-runtime`` model, protocol rest-json, signing name ``bedrock``):
``POST /model/{modelId}/invoke`` (InvokeModel: the body is the model family's native request,
the answer its native response, with token counts in ``X-Amzn-Bedrock-*-Token-Count`` headers) and
``POST /model/{modelId}/converse`` (Converse: one shape for every text model). The same models as
batch jobs answer, so a record gets the same reply on demand as in a batch job.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from batch_runner.local.errors import ValidationError
from batch_runner.local.faults import FaultInjector
from batch_runner.local.models import EmulatedModel, ModelError, resolve
from batch_runner.local.models.titan_embeddings import TitanEmbeddingsV2

INVOKE = "invoke"
CONVERSE = "converse"
_PATH = re.compile(r"/model/(?P<model>[^/?]+)/(?P<operation>invoke|converse)/?")


@dataclass(frozen=True)
class RuntimeCall:
    model_id: str
    operation: str  # INVOKE or CONVERSE


@dataclass(frozen=True)
class RuntimeResponse:
    body: dict[str, Any]
    headers: list[tuple[str, str]]


def runtime_call(method: str, raw_uri: str) -> RuntimeCall | None:
    """The runtime operation a request asks for, or None when it is not one."""
    match = _PATH.fullmatch(raw_uri.split("?", 1)[0])
    if method != "POST" or match is None:
        return None
    return RuntimeCall(model_id=unquote(match["model"]), operation=match["operation"])


def answer(call: RuntimeCall, body: bytes, faults: FaultInjector) -> RuntimeResponse:
    """The response to one call; raises ``ServiceError`` subclasses as the service would. Schema
    answer faults are drawn per request body (there is no record ID), so a body repeats its fault."""
    request = _json(body)
    model = _model(call)
    fault = faults.schema_fault(f"runtime/{hashlib.sha256(body).hexdigest()}")
    try:
        invocation = model.invoke(request, fault)
    except ModelError as err:
        raise ValidationError(err.message) from err
    if call.operation == CONVERSE:
        return RuntimeResponse(invocation.body, [])
    return RuntimeResponse(
        invocation.body,
        [
            ("X-Amzn-Bedrock-Input-Token-Count", str(invocation.input_tokens)),
            ("X-Amzn-Bedrock-Output-Token-Count", str(invocation.output_tokens)),
            ("X-Amzn-Bedrock-Invocation-Latency", str(100 + invocation.output_tokens)),
        ],
    )


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as err:
        raise ValidationError("Malformed input request, please reformat your input and try again.") from err


def _model(call: RuntimeCall) -> EmulatedModel:
    native = resolve(call.model_id)
    if native is None:
        raise ValidationError("The provided model identifier is invalid.")
    if call.operation == INVOKE:
        return native
    if isinstance(native, TitanEmbeddingsV2):
        raise ValidationError(
            "This action doesn't support the model that you provided. "
            "Try again with a supported text or chat model."
        )
    converse = resolve(call.model_id, "Converse")
    assert converse is not None  # a known native model always has the Converse shape
    return converse
