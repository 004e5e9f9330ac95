"""The model: it exists in the Region, batch inference takes it, the account may use it, the stack
allows it, the role may invoke a profile's models, and the batch quotas that apply."""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.catalog.batch_support import batch_support
from batch_runner.catalog.model_ids import parse_model_id
from batch_runner.catalog.models.registry import model_family
from batch_runner.catalog.quotas import default_quotas, quota_model_name
from batch_runner.catalog.service_quotas import SOURCE_SERVICE_QUOTAS, read_quotas
from batch_runner.doctor.result import (
    ACCESS_DENIED,
    CheckResult,
    CheckTarget,
    error_code,
    error_message,
    failed,
    passed,
    statement_json,
    unverified,
)
from batch_runner.doctor.simulation import SimulationUnavailable, simulate

BATCH_MODELS_PAGE = "https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-supported.html"
_NOT_FOUND = frozenset({"ValidationException", "ResourceNotFoundException"})


@dataclass
class ModelFacts:
    """What the catalog said about one model ID; ``arns`` are what a job is authorized on."""

    model_id: str
    base_model_id: str = ""
    profile_arn: str = ""
    destination_arns: list[str] = field(default_factory=list)
    output_modalities: list[str] = field(default_factory=list)
    found: bool = False

    @property
    def arns(self) -> list[str]:
        return [self.profile_arn] if self.profile_arn else self.destination_arns[:1]


def check_model(target: CheckTarget, model_id: str) -> tuple[list[CheckResult], ModelFacts]:
    facts = ModelFacts(model_id, parse_model_id(model_id).base_model_id or model_id)
    results = [_look_up(target, facts)]
    if not facts.found:
        return results, facts
    batch = check_batch_support(facts)
    results += [batch, check_enabled(target, facts)]
    if target.allowed_models:
        results.append(check_allow_list(target, model_id))
    if facts.profile_arn and target.role_arn:
        results.append(check_profile_invoke(target, facts))
    if batch.ok is not False:  # quotas of a model batch does not take would only mislead
        results.append(check_quotas(target, facts.base_model_id))
    return results, facts


def _look_up(target: CheckTarget, facts: ModelFacts) -> CheckResult:
    name = f"model {facts.model_id} exists"
    bedrock = target.client("bedrock")
    listing = f"list what exists: `aws bedrock list-foundation-models --region {target.region}`"
    try:
        if _is_profile(facts.model_id):
            listing = f"list what exists: `aws bedrock list-inference-profiles --region {target.region}`"
            profile = bedrock.get_inference_profile(inferenceProfileIdentifier=facts.model_id)
            facts.profile_arn = profile["inferenceProfileArn"]
            facts.destination_arns = [m["modelArn"] for m in profile.get("models", [])]
            if facts.destination_arns:  # application profiles name their model only here
                facts.base_model_id = facts.destination_arns[0].rsplit("/", 1)[-1]
            listing = f"list what exists: `aws bedrock list-foundation-models --region {target.region}`"
        details = bedrock.get_foundation_model(modelIdentifier=facts.base_model_id)["modelDetails"]
    except ClientError as err:
        if error_code(err) in ACCESS_DENIED:
            return unverified(
                name,
                f"could not verify: {error_message(err)}",
                "allow the caller bedrock:GetFoundationModel and bedrock:GetInferenceProfile",
            )
        if error_code(err) in _NOT_FOUND:
            return failed(
                name,
                f"{facts.model_id} is not a model or inference profile in {target.region}: "
                f"{error_message(err)}",
                f"check the ID; {listing}",
            )
        return unverified(name, f"could not verify: {error_message(err)}")
    except BotoCoreError as err:
        return unverified(name, f"could not verify: {err}")
    facts.found = True
    facts.output_modalities = list(details.get("outputModalities", []))
    if not facts.destination_arns:
        facts.destination_arns = [details["modelArn"]]
    via = f" through {facts.profile_arn} ({len(facts.destination_arns)} Regions)" if facts.profile_arn else ""
    return passed(name, f"{details.get('modelName', facts.base_model_id)} in {target.region}{via}")


def _is_profile(model_id: str) -> bool:
    """System profiles (``us.…``, or their ARN) and application inference-profile ARNs."""
    return bool(parse_model_id(model_id).geo_prefix) or "inference-profile/" in model_id


def check_batch_support(facts: ModelFacts) -> CheckResult:
    """AWS reports no batch marker in the model details: batch support comes from the documented
    table the runner ships (quota names exist only for batch-capable models) and its request formats."""
    name = f"model {facts.model_id} supports batch inference"
    support = batch_support(facts.base_model_id)
    if support.supported is False:
        return failed(
            name,
            f"{facts.base_model_id} does not support batch inference ({support.source})",
            f"use {' or '.join(support.instead)}",
        )
    quota_name = quota_model_name(facts.base_model_id)
    family = model_family(facts.base_model_id)
    if "IMAGE" in facts.output_modalities or (family is None and quota_name is None):
        return failed(
            name,
            f"{facts.base_model_id} is not a batch inference model that batch-runner can format requests for",
            f"pick a model listed on {BATCH_MODELS_PAGE} (e.g. anthropic.claude-3-haiku-20240307-v1:0)",
        )
    if family is None:
        return failed(
            name,
            f"batch-runner has no request format for {facts.base_model_id}",
            "pick a model of a supported family (Claude, Nova, Llama, Mistral, Titan Text Embeddings V2)",
        )
    if quota_name is None:
        return unverified(
            name,
            f"batch-runner's batch model table does not list {facts.base_model_id}",
            f"check it on {BATCH_MODELS_PAGE}",
        )
    return passed(name, f"{quota_name}, request format {family}")


def check_enabled(target: CheckTarget, facts: ModelFacts) -> CheckResult:
    name = f"model {facts.model_id} enabled for the account"
    try:
        answer = target.client("bedrock").get_foundation_model_availability(modelId=facts.base_model_id)
    except (ClientError, BotoCoreError) as err:
        return unverified(
            name,
            f"could not verify: {error_message(err)}",
            "allow the caller bedrock:GetFoundationModelAvailability",
        )
    states = {
        "authorizationStatus": (answer.get("authorizationStatus"), "AUTHORIZED"),
        "entitlementAvailability": (answer.get("entitlementAvailability"), "AVAILABLE"),
        "regionAvailability": (answer.get("regionAvailability"), "AVAILABLE"),
    }
    wrong = {key: got for key, (got, want) in states.items() if got != want}
    if wrong:
        return failed(
            name,
            f"{facts.base_model_id} in {target.region}: " + ", ".join(f"{k}={v}" for k, v in wrong.items()),
            f"enable access to it in the Bedrock console (Model access, {target.region}), or accept its "
            f"offer: `aws bedrock list-foundation-model-agreement-offers --model-id {facts.base_model_id}`",
        )
    return passed(name, "authorized, entitled and available in the Region")


def check_allow_list(target: CheckTarget, model_id: str) -> CheckResult:
    name = f"model {model_id} in the stack's allow-list"
    if model_id in target.allowed_models:
        return passed(name, f"{target.stack} grants it")
    return failed(
        name,
        f"{target.stack} allows only {', '.join(target.allowed_models)}",
        f"add {model_id} to the environment's `models` in stacks/environments.yaml and `cdk deploy`",
    )


def check_profile_invoke(target: CheckTarget, facts: ModelFacts) -> CheckResult:
    """A job through a profile invokes the profile and the model in each of its destination Regions."""
    name = f"service role may invoke {facts.model_id}"
    resources = [facts.profile_arn, *facts.destination_arns]
    context = {"bedrock:InferenceProfileArn": facts.profile_arn, "aws:RequestedRegion": target.region}
    try:
        denied = simulate(target, target.role_arn, ["bedrock:InvokeModel"], resources, context)
    except SimulationUnavailable as err:
        return unverified(name, f"could not verify: {err}", err.fix)
    if denied:
        statement = {
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": [d.resource for d in denied],
        }
        return failed(
            name,
            f"{target.role_arn} may not bedrock:InvokeModel on " + ", ".join(d.resource for d in denied),
            f"add {facts.model_id} to the stack's models and redeploy, or add to the role:\n"
            + statement_json(statement),
        )
    return passed(name, f"the profile and its {len(facts.destination_arns)} destination model ARNs")


def check_quotas(target: CheckTarget, model_id: str) -> CheckResult:
    name = f"batch quotas for {model_id}"
    lookup = read_quotas(lambda: target.client("service-quotas"), model_id, default_quotas(model_id))
    quotas = lookup.quotas
    summary = (
        f"{quotas.min_records_per_job}-{quotas.max_records_per_job} records per job, "
        f"{quotas.max_concurrent_jobs} jobs at once"
    )
    if lookup.source == SOURCE_SERVICE_QUOTAS:
        return passed(name, f"{summary} (from Service Quotas)")
    return passed(name, f"{summary} (documented defaults: {lookup.detail})")
