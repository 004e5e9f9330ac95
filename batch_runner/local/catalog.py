"""Read-only Bedrock catalog APIs: foundation models, their availability, system inference profiles.

Routes (botocore's ``bedrock`` model, rest-json): ``GET /foundation-models``,
``GET /foundation-models/{modelIdentifier}``, ``GET /foundation-model-availability/{modelId}``,
``GET /inference-profiles`` and ``GET /inference-profiles/{inferenceProfileIdentifier}``.

The catalog holds the models of the families the emulator runs, plus one image model the batch
service does not take, with ``inferenceTypesSupported`` as AWS reports it (``ON_DEMAND`` and/or
``INFERENCE_PROFILE``; AWS reports no batch marker, batch support is a separate table). Every model
is offered in every Region; geographic profiles route to ``PROFILE_REGIONS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from batch_runner.local.errors import AccessDeniedError, ResourceNotFoundError, ValidationError
from batch_runner.local.iam_simulation import allowed
from batch_runner.local.moto_state import IamState
from batch_runner.local.preflight import PROFILE_REGIONS

_ON_DEMAND = "ON_DEMAND"
_PROFILE = "INFERENCE_PROFILE"
_CREATED = "2024-08-27T00:00:00Z"


@dataclass(frozen=True)
class FoundationModel:
    model_id: str
    name: str
    provider: str
    inference_types: tuple[str, ...]
    profiles: tuple[str, ...] = ()  # geography prefixes of the system profiles that route to it
    output: str = "TEXT"
    input_modalities: tuple[str, ...] = ("TEXT",)


_US_EU_APAC = ("us", "eu", "apac")
MODELS: tuple[FoundationModel, ...] = (
    FoundationModel(
        "anthropic.claude-3-haiku-20240307-v1:0",
        "Claude 3 Haiku",
        "Anthropic",
        (_ON_DEMAND, _PROFILE),
        _US_EU_APAC,
        input_modalities=("TEXT", "IMAGE"),
    ),
    FoundationModel(
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "Claude 3.5 Haiku",
        "Anthropic",
        (_ON_DEMAND, _PROFILE),
        ("us",),
    ),
    FoundationModel(
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
        "Claude 3.7 Sonnet",
        "Anthropic",
        (_PROFILE,),
        _US_EU_APAC,
        input_modalities=("TEXT", "IMAGE"),
    ),
    FoundationModel(
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "Claude Sonnet 4.5",
        "Anthropic",
        (_PROFILE,),
        (*_US_EU_APAC, "global"),
        input_modalities=("TEXT", "IMAGE"),
    ),
    FoundationModel(
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "Claude Haiku 4.5",
        "Anthropic",
        (_PROFILE,),
        (*_US_EU_APAC, "global"),
        input_modalities=("TEXT", "IMAGE"),
    ),
    FoundationModel("amazon.nova-micro-v1:0", "Nova Micro", "Amazon", (_ON_DEMAND, _PROFILE), _US_EU_APAC),
    FoundationModel(
        "amazon.nova-lite-v1:0",
        "Nova Lite",
        "Amazon",
        (_ON_DEMAND, _PROFILE),
        _US_EU_APAC,
        input_modalities=("TEXT", "IMAGE"),
    ),
    FoundationModel(
        "amazon.nova-pro-v1:0",
        "Nova Pro",
        "Amazon",
        (_ON_DEMAND, _PROFILE),
        _US_EU_APAC,
        input_modalities=("TEXT", "IMAGE"),
    ),
    FoundationModel(
        "amazon.titan-embed-text-v2:0",
        "Titan Text Embeddings V2",
        "Amazon",
        (_ON_DEMAND,),
        output="EMBEDDING",
    ),
    FoundationModel(
        "meta.llama3-1-8b-instruct-v1:0", "Llama 3.1 8B Instruct", "Meta", (_ON_DEMAND, _PROFILE), ("us",)
    ),
    FoundationModel(
        "meta.llama3-1-70b-instruct-v1:0", "Llama 3.1 70B Instruct", "Meta", (_ON_DEMAND, _PROFILE), ("us",)
    ),
    FoundationModel(
        "meta.llama3-3-70b-instruct-v1:0", "Llama 3.3 70B Instruct", "Meta", (_PROFILE,), ("us",)
    ),
    # On demand only: batch inference does not take it (batch_runner/data/batch_support.yaml).
    FoundationModel("meta.llama3-8b-instruct-v1:0", "Llama 3 8B Instruct", "Meta", (_ON_DEMAND,)),
    FoundationModel("mistral.mistral-large-2407-v1:0", "Mistral Large (24.07)", "Mistral AI", (_ON_DEMAND,)),
    FoundationModel("mistral.mistral-small-2402-v1:0", "Mistral Small (24.02)", "Mistral AI", (_ON_DEMAND,)),
    # Image generation: listed by Bedrock, not accepted by batch inference.
    FoundationModel(
        "stability.sd3-5-large-v1:0",
        "Stable Diffusion 3.5 Large",
        "Stability AI",
        (_ON_DEMAND,),
        output="IMAGE",
    ),
)
_BY_ID = {model.model_id: model for model in MODELS}

_MODEL_PATH = re.compile(r"/foundation-models/(?P<id>[^/]+)")
_AVAILABILITY_PATH = re.compile(r"/foundation-model-availability/(?P<id>[^/]+)")
_PROFILE_PATH = re.compile(r"/inference-profiles/(?P<id>[^/]+)")
_MODEL_ARN = re.compile(r"arn:aws[^:]*:bedrock:[^:]*::foundation-model/(?P<id>.+)")
_PROFILE_ARN = re.compile(r"arn:aws[^:]*:bedrock:[^:]*:\d{12}:inference-profile/(?P<id>.+)")


def handles(method: str, raw_uri: str) -> bool:
    path = raw_uri.split("?", 1)[0].rstrip("/")
    return method == "GET" and (
        path in ("/foundation-models", "/inference-profiles")
        or any(pattern.fullmatch(path) for pattern in (_MODEL_PATH, _AVAILABILITY_PATH, _PROFILE_PATH))
    )


def answer(raw_uri: str, account_id: str, region: str, access_key: str) -> dict[str, Any]:
    """The JSON body of one catalog call; raises ``ServiceError`` for error responses."""
    path, _, query = raw_uri.partition("?")
    path = path.rstrip("/")
    _authorize(path, account_id, region, access_key)
    if path == "/foundation-models":
        return {"modelSummaries": _list_models(parse_qs(query), region)}
    if path == "/inference-profiles":
        return {"inferenceProfileSummaries": _profiles(account_id, region)}
    if match := _MODEL_PATH.fullmatch(path):
        return {"modelDetails": _model_details(_model(unquote(match["id"])), region)}
    if match := _AVAILABILITY_PATH.fullmatch(path):
        model = _model(unquote(match["id"]))
        return {
            "modelId": model.model_id,
            "agreementAvailability": {"status": "AVAILABLE"},
            "authorizationStatus": "AUTHORIZED",
            "entitlementAvailability": "AVAILABLE",
            "regionAvailability": "AVAILABLE",
        }
    if match := _PROFILE_PATH.fullmatch(path):
        return _profile(unquote(match["id"]), account_id, region)
    raise ValidationError(f"No catalog operation matches GET {path}")


def _authorize(path: str, account_id: str, region: str, access_key: str) -> None:
    """IAM users and roles need the catalog actions; moto's default root caller may do anything."""
    caller = IamState(account_id).caller(access_key)
    if caller is None:
        return
    action, resource = "bedrock:ListFoundationModels", "*"
    if path == "/inference-profiles":
        action = "bedrock:ListInferenceProfiles"
    elif match := _MODEL_PATH.fullmatch(path):
        action = "bedrock:GetFoundationModel"
        resource = _as_arn(unquote(match["id"]), f"arn:aws:bedrock:{region}::foundation-model/")
    elif _AVAILABILITY_PATH.fullmatch(path):
        action = "bedrock:GetFoundationModelAvailability"  # no resource types: "*"
    elif match := _PROFILE_PATH.fullmatch(path):
        action = "bedrock:GetInferenceProfile"
        resource = _as_arn(unquote(match["id"]), f"arn:aws:bedrock:{region}:{account_id}:inference-profile/")
    context = {"aws:RequestedRegion": region, "aws:PrincipalArn": caller.arn}
    if not allowed(caller, action, resource, context):
        raise AccessDeniedError(
            f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource} "
            f"because no identity-based policy allows the {action} action"
        )


def _as_arn(identifier: str, arn_prefix: str) -> str:
    return identifier if identifier.startswith("arn:") else arn_prefix + identifier


def _model(identifier: str) -> FoundationModel:
    arn = _MODEL_ARN.fullmatch(identifier)
    model = _BY_ID.get(arn["id"] if arn else identifier)
    if model is None:
        raise ValidationError("The provided model identifier is invalid.")
    return model


def _model_details(model: FoundationModel, region: str) -> dict[str, Any]:
    return {
        "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model.model_id}",
        "modelId": model.model_id,
        "modelName": model.name,
        "providerName": model.provider,
        "inputModalities": list(model.input_modalities),
        "outputModalities": [model.output],
        "responseStreamingSupported": model.output == "TEXT",
        "customizationsSupported": [],
        "inferenceTypesSupported": list(model.inference_types),
        "modelLifecycle": {"status": "ACTIVE"},
    }


def _list_models(params: dict[str, list[str]], region: str) -> list[dict[str, Any]]:
    provider = params.get("byProvider", [""])[-1].lower()
    modality = params.get("byOutputModality", [""])[-1]
    inference = params.get("byInferenceType", [""])[-1]
    return [
        _model_details(model, region)
        for model in MODELS
        if (not provider or provider in model.provider.lower().replace(" ", ""))
        and (not modality or modality == model.output)
        and (not inference or inference in model.inference_types)
    ]


def _destinations(geo: str, region: str) -> tuple[str, ...]:
    return ("",) if geo == "global" else PROFILE_REGIONS.get(geo, (region,))


def _profile_body(geo: str, model: FoundationModel, account_id: str, region: str) -> dict[str, Any]:
    profile_id = f"{geo}.{model.model_id}"
    label = "Global" if geo == "global" else geo.upper()
    return {
        "inferenceProfileName": f"{label} {model.name}",
        "description": f"Routes requests to {model.name} in {label} Regions.",
        "createdAt": _CREATED,
        "updatedAt": _CREATED,
        "inferenceProfileArn": f"arn:aws:bedrock:{region}:{account_id}:inference-profile/{profile_id}",
        "models": [
            {"modelArn": f"arn:aws:bedrock:{destination}::foundation-model/{model.model_id}"}
            for destination in _destinations(geo, region)
        ],
        "inferenceProfileId": profile_id,
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }


def _profiles(account_id: str, region: str) -> list[dict[str, Any]]:
    return [_profile_body(geo, model, account_id, region) for model in MODELS for geo in model.profiles]


def _profile(identifier: str, account_id: str, region: str) -> dict[str, Any]:
    arn = _PROFILE_ARN.fullmatch(identifier)
    profile_id = arn["id"] if arn else identifier
    geo, _, model_id = profile_id.partition(".")
    model = _BY_ID.get(model_id)
    if model is None or geo not in model.profiles:
        raise ResourceNotFoundError(f"Inference profile {identifier} not found.")
    return _profile_body(geo, model, account_id, region)
