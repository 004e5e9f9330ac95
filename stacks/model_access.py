"""Which ARNs a model ID in the allow-list stands for.

A batch job names either a foundation model (``anthropic.claude-3-haiku-20240307-v1:0``) or a
cross-Region inference profile (``us.anthropic.claude-3-5-haiku-20241022-v1:0``). A profile routes
each request to a foundation model in one of its *destination* Regions, so IAM must allow the
profile ARN (which carries the account ID) and the foundation-model ARN (empty account field) in
every destination Region. Getting either detail wrong fails jobs with access errors.

This module is plain data and string building so the config validator can use it without CDK.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Destination Regions of the system-defined geographic inference profiles, per ID prefix (the union
# over the models that offer the profile; a job may also be submitted from any of them).
# AWS adds Regions to profiles over time: when a profile gains one, add it here, otherwise requests
# routed there fail with AccessDenied. Source: "Supported Regions and models for inference profiles"
# in the Amazon Bedrock User Guide, and each model's page there.
GEO_DESTINATION_REGIONS: Mapping[str, tuple[str, ...]] = {
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

# Global profiles route to any commercial Region, a list AWS grows without notice, and Bedrock
# authorizes the routed call against the Region-less ARN arn:aws:bedrock:::foundation-model/<id>.
# Their foundation-model grant therefore uses a Region wildcard (an IAM "*" also matches the empty
# Region) guarded by a bedrock:InferenceProfileArn condition (see ``invoke_grants``).
GLOBAL_PREFIX = "global"

PROFILE_PREFIXES: tuple[str, ...] = (*GEO_DESTINATION_REGIONS, GLOBAL_PREFIX)

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
    """One entry of the allow-list, split into its profile prefix (if any) and foundation model."""

    model_id: str
    profile_prefix: str | None
    foundation_model_id: str

    @property
    def is_profile(self) -> bool:
        return self.profile_prefix is not None


def parse_model_id(model_id: str) -> ModelRef:
    """Split ``[profile-prefix.]provider.model`` and reject unknown prefixes."""
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
            f"{', '.join(p + '.' for p in PROFILE_PREFIXES)} or a provider such as anthropic., amazon.)"
        )
    return ModelRef(model_id=model_id, profile_prefix=None, foundation_model_id=model_id)


def profile_usable_from(ref: ModelRef, region: str) -> bool:
    """Whether a job in ``region`` can use this model ID (geographic profiles stay in their geography)."""
    if ref.profile_prefix is None or ref.profile_prefix == GLOBAL_PREFIX:
        return True
    return region in GEO_DESTINATION_REGIONS[ref.profile_prefix]


@dataclass(frozen=True)
class InvokeGrant:
    """``bedrock:InvokeModel`` on some resources, optionally under a condition."""

    resources: tuple[str, ...]
    conditions: Mapping[str, Mapping[str, str]] | None = None


def inference_profile_arn(ref: ModelRef, *, partition: str, region: str, account: str) -> str:
    return f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{ref.model_id}"


def foundation_model_arn(model_id: str, *, partition: str, region: str) -> str:
    # Foundation models belong to AWS, not to the caller: the account field is empty.
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"


def allowed_model_arns(models: Iterable[ModelRef], *, partition: str, region: str, account: str) -> list[str]:
    """Every profile and foundation-model ARN the allow-list stands for (without Region wildcards).

    ``region`` is the Region the jobs run in (may be a CloudFormation token). A profile's foundation
    model is listed in the job's Region as well as in each destination Region: Bedrock may check
    either when a job starts, and it is the same model the allow-list already admits.
    """
    arns: list[str] = []
    for ref in models:
        if ref.profile_prefix is not None:
            arns.append(inference_profile_arn(ref, partition=partition, region=region, account=account))
        arns.append(foundation_model_arn(ref.foundation_model_id, partition=partition, region=region))
        arns.extend(
            foundation_model_arn(ref.foundation_model_id, partition=partition, region=destination)
            for destination in GEO_DESTINATION_REGIONS.get(ref.profile_prefix or "", ())
        )
    return list(dict.fromkeys(arns))


def invoke_grants(
    models: Iterable[ModelRef], *, partition: str, region: str, account: str
) -> list[InvokeGrant]:
    """The ``bedrock:InvokeModel`` grants a role needs to run jobs on the allow-list."""
    refs = list(models)
    grants = [
        InvokeGrant(
            resources=tuple(allowed_model_arns(refs, partition=partition, region=region, account=account))
        )
    ]
    for ref in refs:
        if ref.profile_prefix != GLOBAL_PREFIX:
            continue
        # Global profiles may route to any commercial Region, now or later, so the foundation model
        # is granted in every Region, but only for requests made through this very profile: the
        # condition keeps the wildcard from opening direct calls to the model elsewhere.
        profile_arn = inference_profile_arn(ref, partition=partition, region=region, account=account)
        grants.append(
            InvokeGrant(
                resources=(foundation_model_arn(ref.foundation_model_id, partition=partition, region="*"),),
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
    """Characters the allow-list takes in a policy: its ARNs, plus one statement per global profile."""
    grants = invoke_grants(models, partition="aws", region=region or _SIZING_REGION, account=_SIZING_ACCOUNT)
    size = 0
    for grant in grants:
        size += sum(len(arn) + len('"",') for arn in grant.resources)
        if grant.conditions:
            # Sid, Effect, Action and the condition naming the profile ARN.
            size += 150 + sum(len(value) for keys in grant.conditions.values() for value in keys.values())
    return size
