"""The emulator's read-only catalog (foundation models, availability, inference profiles) and its
IAM SimulatePrincipalPolicy, through boto3 as real clients call them."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.local import Emulator
from tests.doctor.identities import ACCOUNT, create_user, unique

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"


def test_get_foundation_model_answers_the_details_shape(emulator: Emulator) -> None:
    details = emulator.client("bedrock").get_foundation_model(modelIdentifier=CLAUDE)["modelDetails"]
    assert details["modelArn"] == f"arn:aws:bedrock:us-east-1::foundation-model/{CLAUDE}"
    assert details["modelId"] == CLAUDE and details["providerName"] == "Anthropic"
    assert details["inferenceTypesSupported"] == ["ON_DEMAND", "INFERENCE_PROFILE"]
    assert details["outputModalities"] == ["TEXT"]
    assert details["modelLifecycle"] == {"status": "ACTIVE"}


def test_a_model_arn_is_accepted_and_an_unknown_id_is_a_validation_error(emulator: Emulator) -> None:
    bedrock = emulator.client("bedrock")
    arn = f"arn:aws:bedrock:us-east-1::foundation-model/{CLAUDE}"
    assert bedrock.get_foundation_model(modelIdentifier=arn)["modelDetails"]["modelId"] == CLAUDE
    with pytest.raises(ClientError) as caught:
        bedrock.get_foundation_model(modelIdentifier="anthropic.claude-nope-v1:0")
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_list_foundation_models_filters_by_provider_modality_and_inference_type(emulator: Emulator) -> None:
    bedrock = emulator.client("bedrock")
    embeddings = bedrock.list_foundation_models(byOutputModality="EMBEDDING")["modelSummaries"]
    assert [m["modelId"] for m in embeddings] == ["amazon.titan-embed-text-v2:0"]
    meta = bedrock.list_foundation_models(byProvider="meta", byInferenceType="ON_DEMAND")["modelSummaries"]
    assert {m["modelId"] for m in meta} == {
        "meta.llama3-8b-instruct-v1:0",
        "meta.llama3-1-8b-instruct-v1:0",
        "meta.llama3-1-70b-instruct-v1:0",
    }


def test_availability_reports_the_model_authorized(emulator: Emulator) -> None:
    answer = emulator.client("bedrock").get_foundation_model_availability(modelId=CLAUDE)
    assert answer["authorizationStatus"] == "AUTHORIZED"
    assert answer["entitlementAvailability"] == answer["regionAvailability"] == "AVAILABLE"


def test_inference_profiles_carry_their_destination_model_arns(emulator: Emulator) -> None:
    bedrock = emulator.client("bedrock")
    profile = bedrock.get_inference_profile(inferenceProfileIdentifier="eu.amazon.nova-lite-v1:0")
    assert profile["inferenceProfileArn"] == (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/eu.amazon.nova-lite-v1:0"
    )
    assert profile["type"] == "SYSTEM_DEFINED" and profile["status"] == "ACTIVE"
    regions = {m["modelArn"].split(":")[3] for m in profile["models"]}
    assert "eu-west-1" in regions and all(r.startswith("eu-") for r in regions)
    by_arn = bedrock.get_inference_profile(inferenceProfileIdentifier=profile["inferenceProfileArn"])
    assert by_arn["inferenceProfileId"] == "eu.amazon.nova-lite-v1:0"
    global_profile = bedrock.get_inference_profile(
        inferenceProfileIdentifier="global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    )
    assert [m["modelArn"] for m in global_profile["models"]] == [
        "arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
    ]
    ids = {p["inferenceProfileId"] for p in bedrock.list_inference_profiles()["inferenceProfileSummaries"]}
    assert {"us.anthropic.claude-3-5-haiku-20241022-v1:0", "apac.amazon.nova-pro-v1:0"} <= ids


def test_an_unknown_profile_is_not_found(emulator: Emulator) -> None:
    with pytest.raises(ClientError) as caught:
        emulator.client("bedrock").get_inference_profile(
            inferenceProfileIdentifier="eu.meta.llama3-1-8b-instruct-v1:0"
        )
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def client_as(emulator: Emulator, service: str, key: dict[str, str]) -> Any:
    return boto3.client(
        service,
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )


def _decisions(emulator: Emulator, principal: str, **kwargs: object) -> list[tuple[str, str, str]]:
    results = emulator.client("iam").simulate_principal_policy(PolicySourceArn=principal, **kwargs)
    return [
        (r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in results["EvaluationResults"]
    ]


def _decision_with(
    emulator: Emulator, principal: str, action: str, resource: str, key: str, value: str
) -> str:
    """The decision for one action on one resource with one string context key."""
    entry = {"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}
    return _decisions(
        emulator, principal, ActionNames=[action], ResourceArns=[resource], ContextEntries=[entry]
    )[0][2]


def test_simulation_evaluates_the_roles_policies_with_context(emulator: Emulator) -> None:
    role = emulator.stack_outputs[OutputKey.SERVICE_ROLE_ARN]
    resource = f"arn:aws:s3:::{emulator.stack_outputs[OutputKey.INPUT_BUCKET]}/in/records.jsonl"
    for account, decision in ((ACCOUNT, "allowed"), ("111122223333", "implicitDeny")):  # aws:ResourceAccount
        assert (
            _decision_with(emulator, role, "s3:GetObject", resource, "aws:ResourceAccount", account)
            == decision
        )
    both = _decisions(
        emulator, role, ActionNames=["s3:DeleteObject", "s3:GetObject"], ResourceArns=[resource]
    )
    assert both[0] == ("s3:DeleteObject", resource, "implicitDeny")


def test_simulation_of_pass_role_honours_the_passed_to_service_condition(emulator: Emulator) -> None:
    role = emulator.stack_outputs[OutputKey.SERVICE_ROLE_ARN]
    iam = emulator.client("iam")
    user = unique("sim")
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=emulator.stack_outputs[OutputKey.SUBMITTER_POLICY_ARN])
    user_arn = iam.get_user(UserName=user)["User"]["Arn"]
    for service, decision in (("bedrock.amazonaws.com", "allowed"), ("ec2.amazonaws.com", "implicitDeny")):
        assert (
            _decision_with(emulator, user_arn, "iam:PassRole", role, "iam:PassedToService", service)
            == decision
        )


def test_simulation_needs_permission_and_a_known_principal(emulator: Emulator) -> None:
    key = create_user(
        emulator,
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
    )
    iam = client_as(emulator, "iam", key)
    role = emulator.stack_outputs[OutputKey.SERVICE_ROLE_ARN]
    with pytest.raises(ClientError) as denied:
        iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["s3:GetObject"])
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as missing:
        emulator.client("iam").simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/no-such-role", ActionNames=["s3:GetObject"]
        )
    assert missing.value.response["Error"]["Code"] == "NoSuchEntity"


def test_iam_users_need_the_catalog_actions(emulator: Emulator) -> None:
    only_claude = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "bedrock:GetFoundationModel",
                "Resource": f"arn:aws:bedrock:*::foundation-model/{CLAUDE}",
            }
        ],
    }
    key = create_user(emulator, only_claude)
    bedrock = client_as(emulator, "bedrock", key)
    assert bedrock.get_foundation_model(modelIdentifier=CLAUDE)["modelDetails"]["modelId"] == CLAUDE
    for call, kwargs in (
        (bedrock.get_foundation_model, {"modelIdentifier": "amazon.nova-lite-v1:0"}),
        (bedrock.get_foundation_model_availability, {"modelId": CLAUDE}),
        (bedrock.get_inference_profile, {"inferenceProfileIdentifier": f"us.{CLAUDE}"}),
    ):
        with pytest.raises(ClientError) as denied:
            call(**kwargs)
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
