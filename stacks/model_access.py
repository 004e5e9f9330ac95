"""Which ARNs a model ID in the allow-list stands for.

A batch job names a foundation model (``anthropic.claude-3-haiku-20240307-v1:0``), a cross-Region
inference profile (``us.anthropic.claude-3-5-haiku-20241022-v1:0``) or an application inference
profile (its ARN, ``arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/a1b2c3d4e5f6``).
A profile routes each request to a foundation model in one of its *destination* Regions, so IAM must
allow the profile ARN (which carries the account ID) and the foundation-model ARN (empty account
field) wherever the request lands. Getting either detail wrong fails jobs with access errors.

Destination Regions are not listed here: AWS adds them without notice, and a hand-kept list turns
each addition into AccessDenied for the records routed there. The foundation model is granted in
every Region instead, but only for requests made through the profile (``bedrock:InferenceProfileArn``
names it), which is exactly the set of Regions AWS routes that profile to, now and later.

This module is plain data and string building so the config validator can use it without CDK.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Regions known to belong to each geographic profile prefix (sources and destinations, the union over
# the models that offer the profile). Only used to catch, at synth, a profile of another geography
# (an eu. profile in us-east-1): a Region missing here is accepted, and no grant depends on this
# table. Source: "Supported Regions and models for inference profiles" in the Amazon Bedrock User
# Guide, and each model's page there.
GEO_REGIONS: Mapping[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-1", "us-west-2"),
    "eu": (
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
    ),
    "apac": (
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        # Not Asia-Pacific, but AWS routes apac. profiles there too: mind data residency.
        "me-central-1",
    ),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
}
_KNOWN_REGIONS = frozenset(region for regions in GEO_REGIONS.values() for region in regions)

# Global profiles route to any commercial Region, and Bedrock authorizes the routed call against the
# Region-less ARN arn:aws:bedrock:::foundation-model/<id> as well: their grant names that ARN too.
GLOBAL_PREFIX = "global"

PROFILE_PREFIXES: tuple[str, ...] = (*GEO_REGIONS, GLOBAL_PREFIX)

# An application inference profile, given by its ARN (its ID alone does not say which account owns
# it, nor which Region it lives in); the ID is letters and digits.
_APPLICATION_PROFILE_ARN = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):bedrock:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d{1,2}):"
    r"(?P<account>\d{12}):application-inference-profile/[a-zA-Z0-9]+"
)
APPLICATION_PROFILE_EXAMPLE = (
    "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/a1b2c3d4e5f6"
)

# Model providers on Bedrock (the first segment of a foundation-model ID). A typo in a prefix would
# otherwise only surface as a failed job, days later.
MODEL_PROVIDERS: frozenset[str] = frozenset(
    {
        "ai21",
        "amazon",
        "anthropic",
        "cohere",
        "deepseek",
        "google",
        "meta",
        "minimax",
        "mistral",
        "moonshotai",
        "nvidia",
        "openai",
        "qwen",
        "stability",
        "twelvelabs",
        "writer",
    }
)


class ModelIdError(ValueError):
    """A model ID that does not name a known provider or inference-profile prefix."""


@dataclass(frozen=True)
class ModelRef:
    """One entry of the allow-list: a foundation model, a cross-Region profile or an application profile."""

    model_id: str
    # us, eu, apac, ... or global for a cross-Region (system-defined) profile, else None.
    profile_prefix: str | None
    # None for an application inference profile: its model was fixed when the profile was created
    # and cannot be read at synth (which makes no AWS calls).
    foundation_model_id: str | None

    @property
    def is_profile(self) -> bool:
        """A cross-Region (system-defined) inference profile."""
        return self.profile_prefix is not None

    @property
    def is_application_profile(self) -> bool:
        return self.foundation_model_id is None


def parse_model_id(model_id: str) -> ModelRef:
    """Split ``[profile-prefix.]provider.model`` or check an application profile ARN; refuse the unknown."""
    if model_id.startswith("arn:"):
        if not _APPLICATION_PROFILE_ARN.fullmatch(model_id):
            raise ModelIdError(
                f"'{model_id}' is not an application inference profile ARN like "
                f"'{APPLICATION_PROFILE_EXAMPLE}' (give foundation models and cross-Region profiles by ID)"
            )
        return ModelRef(model_id=model_id, profile_prefix=None, foundation_model_id=None)
    first, _, rest = model_id.partition(".")
    if not rest or any(ch.isspace() for ch in model_id):
        raise ModelIdError(f"'{model_id}' is not a model ID like 'anthropic.claude-3-haiku-20240307-v1:0'")
    if first in PROFILE_PREFIXES:
        provider = rest.partition(".")[0]
        if provider not in MODEL_PROVIDERS or "." not in rest:
            raise ModelIdError(
                f"'{model_id}': unknown model provider '{provider}' after profile prefix '{first}.' "
                f"(known providers: {', '.join(sorted(MODEL_PROVIDERS))})"
            )
        return ModelRef(model_id=model_id, profile_prefix=first, foundation_model_id=rest)
    if first not in MODEL_PROVIDERS:
        raise ModelIdError(
            f"'{model_id}': unknown model prefix '{first}.' (expected an inference-profile prefix "
            f"{', '.join(p + '.' for p in PROFILE_PREFIXES)}, a provider such as anthropic., amazon., "
            "or an application inference profile ARN)"
        )
    return ModelRef(model_id=model_id, profile_prefix=None, foundation_model_id=model_id)


def application_profile_location(ref: ModelRef) -> tuple[str, str, str]:
    """``(partition, region, account)`` of an application inference profile, from its ARN."""
    match = _APPLICATION_PROFILE_ARN.fullmatch(ref.model_id)
    if match is None:
        raise ValueError(f"{ref.model_id} is not an application inference profile ARN")
    return match["partition"], match["region"], match["account"]


def profile_usable_from(ref: ModelRef, region: str) -> bool:
    """Whether a job in ``region`` can use this model ID: False only for a geographic profile of
    another geography (a Region this module does not know is given the benefit of the doubt)."""
    if ref.profile_prefix is None or ref.profile_prefix == GLOBAL_PREFIX:
        return True
    return region not in _KNOWN_REGIONS or region in GEO_REGIONS[ref.profile_prefix]


@dataclass(frozen=True)
class InvokeGrant:
    """``bedrock:InvokeModel`` on some resources; ``via``: only through this profile (a condition)."""

    resources: tuple[str, ...]
    via: ModelRef | None = None
    conditions: Mapping[str, Mapping[str, str]] | None = None


def inference_profile_arn(ref: ModelRef, *, partition: str, region: str, account: str) -> str:
    """The ARN a request through this profile carries (an application profile's ARN is its ID)."""
    if ref.is_application_profile:
        return ref.model_id
    return f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{ref.model_id}"


def foundation_model_arn(model_id: str, *, partition: str, region: str) -> str:
    # Foundation models belong to AWS, not to the caller: the account field is empty.
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"


def allowed_model_arns(models: Iterable[ModelRef], *, partition: str, region: str, account: str) -> list[str]:
    """The ARNs the allow-list names directly, in the job's Region (no wildcards, no conditions).

    ``region`` is the Region the jobs run in (may be a CloudFormation token). A cross-Region profile's
    foundation model is listed in the job's Region as well: Bedrock may check it when a job starts,
    and it is the same model the allow-list already admits.
    """
    arns: list[str] = []
    for ref in models:
        if ref.is_profile or ref.is_application_profile:
            arns.append(inference_profile_arn(ref, partition=partition, region=region, account=account))
        if ref.foundation_model_id is not None:
            arns.append(foundation_model_arn(ref.foundation_model_id, partition=partition, region=region))
    return list(dict.fromkeys(arns))


def _routed_resources(ref: ModelRef, *, partition: str) -> tuple[str, ...]:
    """What a request through the profile ``ref`` may reach, in any Region."""
    if ref.foundation_model_id is None:
        # An application profile copies one foundation model or one cross-Region profile, fixed at
        # creation; synth cannot read which, so any model and any system profile of the profile's own
        # account and Region, for requests made through this very profile.
        profile_partition, profile_region, profile_account = application_profile_location(ref)
        return (
            foundation_model_arn("*", partition=profile_partition, region="*"),
            f"arn:{profile_partition}:bedrock:{profile_region}:{profile_account}:inference-profile/*",
        )
    anywhere = foundation_model_arn(ref.foundation_model_id, partition=partition, region="*")
    if ref.profile_prefix == GLOBAL_PREFIX:
        return (anywhere, foundation_model_arn(ref.foundation_model_id, partition=partition, region=""))
    return (anywhere,)


def invoke_grants(
    models: Iterable[ModelRef], *, partition: str, region: str, account: str
) -> list[InvokeGrant]:
    """The ``bedrock:InvokeModel`` grants a role needs to run jobs on the allow-list: the named ARNs,
    then one grant per profile for where its requests are routed (any Region, through that profile)."""
    refs = list(models)
    grants = [
        InvokeGrant(
            resources=tuple(allowed_model_arns(refs, partition=partition, region=region, account=account))
        )
    ]
    for ref in refs:
        if not (ref.is_profile or ref.is_application_profile):
            continue
        profile_arn = inference_profile_arn(ref, partition=partition, region=region, account=account)
        grants.append(
            InvokeGrant(
                resources=_routed_resources(ref, partition=partition),
                via=ref,
                # The condition keeps the Region wildcard from opening direct calls to the model.
                conditions={"StringEquals": {"bedrock:InferenceProfileArn": profile_arn}},
            )
        )
    return grants


# IAM allows 6,144 characters (whitespace excluded) in one managed policy. The submitter policy holds
# the allow-list's ARNs once, next to about 2,600 characters of other statements (buckets, jobs,
# data key, quotas); the service role keeps its model grants in a policy of their own.
MANAGED_POLICY_LIMIT = 6144
MODEL_GRANT_BUDGET = 3400
# Stand-ins for measuring account-agnostic or Region-agnostic environments: the longest values.
_SIZING_ACCOUNT = "123456789012"
_SIZING_REGION = "ap-southeast-7"


def model_grant_size(models: Iterable[ModelRef], *, region: str | None) -> int:
    """Characters the allow-list takes in a policy: its ARNs, plus one statement per profile."""
    grants = invoke_grants(models, partition="aws", region=region or _SIZING_REGION, account=_SIZING_ACCOUNT)
    size = 0
    for grant in grants:
        size += sum(len(arn) + len('"",') for arn in grant.resources)
        if grant.conditions:
            # Sid, Effect, Action and the condition naming the profile ARN: 162 characters as IAM
            # counts them (minified), with a little room.
            size += 170 + sum(len(value) for keys in grant.conditions.values() for value in keys.values())
    return size
