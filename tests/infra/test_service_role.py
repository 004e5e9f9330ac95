"""The Bedrock service role: confused-deputy-safe trust, exact data access, model grants through profiles."""

from __future__ import annotations

import re

from aws_cdk.assertions import Match

from tests.infra.conftest import APPLICATION_PROFILE, Synthesized
from tests.infra.policy_documents import actions_of, permissions_of_role, resources_of, statement


def _role(synthesized: Synthesized, env_name: str) -> str:
    return synthesized.deployed(env_name).only("AWS::IAM::Role", "BedrockServiceRole")


def test_trust_policy_admits_only_bedrock_batch_jobs_of_this_account_and_region(
    synthesized: Synthesized, env_name: str
) -> None:
    deployed = synthesized.deployed(env_name)
    trust = deployed.properties(_role(synthesized, env_name))["AssumeRolePolicyDocument"]
    jobs = f"arn:aws:bedrock:{deployed.region}:{deployed.account}:model-invocation-job/*"
    assert trust == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"Service": "bedrock.amazonaws.com"},
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": deployed.account},
                    "ArnLike": {"aws:SourceArn": jobs},
                },
            }
        ],
    }


def test_account_agnostic_stack_takes_the_account_from_cloudformation(synthesized: Synthesized) -> None:
    synthesized.template("dev").has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Condition": Match.object_like(
                                {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
                            )
                        }
                    )
                ]
            }
        },
    )


def test_role_reads_input_writes_output_and_lists_both_in_this_account_only(
    synthesized: Synthesized, env_name: str
) -> None:
    deployed = synthesized.deployed(env_name)
    policy = permissions_of_role(deployed, _role(synthesized, env_name))
    input_arn = deployed.get_att(deployed.only("AWS::S3::Bucket", "BucketsInput"), "Arn")
    output_arn = deployed.get_att(deployed.only("AWS::S3::Bucket", "BucketsOutput"), "Arn")
    same_account = {"StringEquals": {"aws:ResourceAccount": deployed.account}}
    assert statement(policy, "ListBatchBuckets") == {
        "Sid": "ListBatchBuckets",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": [input_arn, output_arn],
        "Condition": same_account,
    }
    assert statement(policy, "ReadInput") == {
        "Sid": "ReadInput",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{input_arn}/*",
        "Condition": same_account,
    }
    assert statement(policy, "WriteOutput") == {
        "Sid": "WriteOutput",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": f"{output_arn}/*",
        "Condition": same_account,
    }
    s3_actions = {
        action for item in policy["Statement"] for action in actions_of(item) if action.startswith("s3:")
    }
    assert s3_actions == {"s3:ListBucket", "s3:GetObject", "s3:PutObject"}


def test_role_has_no_inline_policy(synthesized: Synthesized, env_name: str) -> None:
    deployed = synthesized.deployed(env_name)
    role = _role(synthesized, env_name)
    assert "Policies" not in deployed.properties(role)
    inline = [deployed.resource(policy)["Properties"] for policy in deployed.logical_ids("AWS::IAM::Policy")]
    assert not [policy for policy in inline if {"Ref": role} in policy["Roles"]]


def test_role_may_use_the_data_key_through_s3_only_when_kms_is_on(
    synthesized: Synthesized, env_name: str
) -> None:
    deployed = synthesized.deployed(env_name)
    policy = permissions_of_role(deployed, _role(synthesized, env_name))
    kms_statements = [
        item for item in policy["Statement"] if any(a.startswith("kms:") for a in actions_of(item))
    ]
    if not synthesized.configs[env_name].kms:
        assert kms_statements == []
        return
    key_arn = deployed.get_att(deployed.only("AWS::KMS::Key", "DataKey"), "Arn")
    assert kms_statements == [
        {
            "Sid": "BatchDataKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{deployed.region}.amazonaws.com"}},
        }
    ]


def _invoke_resources(synthesized: Synthesized, env_name: str) -> tuple[set[str], list[dict[str, object]]]:
    deployed = synthesized.deployed(env_name)
    policy = permissions_of_role(deployed, _role(synthesized, env_name))
    invoke = [item for item in policy["Statement"] if actions_of(item) == ["bedrock:InvokeModel"]]
    unconditional = {
        resource for item in invoke if "Condition" not in item for resource in resources_of(item)
    }
    conditional = [item for item in invoke if "Condition" in item]
    return unconditional, conditional


def _through(profile_arn: str, *resources: str) -> dict[str, object]:
    return {
        "Effect": "Allow",
        "Action": "bedrock:InvokeModel",
        "Resource": list(resources) if len(resources) > 1 else resources[0],
        "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": profile_arn}},
    }


def _without_sids(statements: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{key: value for key, value in item.items() if key != "Sid"} for item in statements]


def test_dev_grants_models_in_region_and_each_us_profile_s_model_anywhere_through_it(
    synthesized: Synthesized,
) -> None:
    unconditional, conditional = _invoke_resources(synthesized, "dev")
    account = synthesized.deployed("dev").account
    profiles = (
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "amazon.nova-lite-v1:0",
    )
    assert unconditional == {
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-8b-instruct-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/mistral.mistral-large-2407-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
        *(f"arn:aws:bedrock:us-east-1:{account}:inference-profile/us.{model}" for model in profiles),
        *(f"arn:aws:bedrock:us-east-1::foundation-model/{model}" for model in profiles),
    }
    # No Region list to keep up to date: wherever AWS routes the profile, and only through it.
    assert _without_sids(conditional) == [
        _through(
            f"arn:aws:bedrock:us-east-1:{account}:inference-profile/us.{model}",
            f"arn:aws:bedrock:*::foundation-model/{model}",
        )
        for model in profiles
    ]


def test_prod_grants_eu_profiles_anywhere_and_the_global_profile_also_region_less_through_a_condition(
    synthesized: Synthesized,
) -> None:
    unconditional, conditional = _invoke_resources(synthesized, "prod")
    profile = "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/"
    sonnet37, sonnet45, nova = (
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "amazon.nova-lite-v1:0",
    )
    assert unconditional == {
        f"{profile}eu.{sonnet37}",
        f"{profile}eu.{nova}",
        f"{profile}global.{sonnet45}",
        *(f"arn:aws:bedrock:eu-west-1::foundation-model/{model}" for model in (sonnet37, sonnet45, nova)),
    }
    assert conditional == [
        {
            "Sid": "AllowedModelsViaProfile0",
            **_through(f"{profile}eu.{sonnet37}", f"arn:aws:bedrock:*::foundation-model/{sonnet37}"),
        },
        {
            "Sid": "AllowedModelsViaProfile1",
            **_through(
                f"{profile}global.{sonnet45}",
                f"arn:aws:bedrock:*::foundation-model/{sonnet45}",
                # The Region-less ARN AWS documents for requests routed by global profiles.
                f"arn:aws:bedrock:::foundation-model/{sonnet45}",
            ),
        },
        {
            "Sid": "AllowedModelsViaProfile2",
            **_through(f"{profile}eu.{nova}", f"arn:aws:bedrock:*::foundation-model/{nova}"),
        },
    ]


def test_an_application_profile_reaches_its_model_and_system_profile_only_through_itself(
    synthesized: Synthesized,
) -> None:
    unconditional, conditional = _invoke_resources(synthesized, "kmsplain")
    assert APPLICATION_PROFILE in unconditional
    # Its model was fixed when the profile was created; synth cannot read it (no AWS calls).
    assert _without_sids(conditional) == [
        _through(
            APPLICATION_PROFILE,
            "arn:aws:bedrock:*::foundation-model/*",
            "arn:aws:bedrock:us-west-2:444455556666:inference-profile/*",
        )
    ]


def test_every_model_wildcard_is_conditioned_on_the_profile(synthesized: Synthesized, env_name: str) -> None:
    unconditional, conditional = _invoke_resources(synthesized, env_name)
    assert not any("*" in arn for arn in unconditional)
    for item in conditional:
        assert list(item["Condition"]) == ["StringEquals"]  # type: ignore[call-overload]


def test_profile_arns_carry_the_account_and_model_arns_an_empty_account(
    synthesized: Synthesized, env_name: str
) -> None:
    unconditional, conditional = _invoke_resources(synthesized, env_name)
    resources = unconditional | {arn for item in conditional for arn in resources_of(item)}
    assert resources
    for arn in resources:
        if ":inference-profile/" in arn:
            assert re.match(
                r"^arn:aws:bedrock:[a-z0-9-]+:\d{12}:inference-profile/((us|eu|apac|global)\.|\*$)", arn
            ), arn
        elif ":application-inference-profile/" in arn:
            assert re.match(r"^arn:aws:bedrock:[a-z0-9-]+:\d{12}:application-inference-profile/\w+$", arn), (
                arn
            )
        else:
            assert re.match(r"^arn:aws:bedrock:([a-z0-9-]+|\*|)::foundation-model/([a-z]|\*$)", arn), arn


def test_vpc_permissions_only_when_the_environment_gives_subnets(
    synthesized: Synthesized, env_name: str
) -> None:
    deployed = synthesized.deployed(env_name)
    policy = permissions_of_role(deployed, _role(synthesized, env_name))
    ec2 = [item for item in policy["Statement"] if any(a.startswith("ec2:") for a in actions_of(item))]
    vpc = synthesized.configs[env_name].vpc
    if vpc is None:
        assert ec2 == []
        return
    subnet_arns = [
        f"arn:aws:ec2:{deployed.region}:{deployed.account}:subnet/{subnet}" for subnet in vpc.subnet_ids
    ]
    job_arns = f"arn:aws:bedrock:{deployed.region}:{deployed.account}:model-invocation-job/*"
    eni = f"arn:aws:ec2:{deployed.region}:{deployed.account}:network-interface/*"
    create = statement(policy, "CreateJobNetworkInterfaces")
    assert create["Resource"] == eni
    assert create["Condition"] == {
        "StringEquals": {"aws:RequestTag/BedrockManaged": "true"},
        "ArnEquals": {"aws:RequestTag/BedrockModelInvocationJobArn": job_arns},
    }
    assert set(resources_of(statement(policy, "UseConfiguredSubnetsAndGroups"))) == {
        *subnet_arns,
        *(
            f"arn:aws:ec2:{deployed.region}:{deployed.account}:security-group/{group}"
            for group in vpc.security_group_ids
        ),
    }
    manage = statement(policy, "ManageJobNetworkInterfaces")
    assert manage["Condition"]["ArnEquals"] == {"ec2:Subnet": subnet_arns}
    tag = statement(policy, "TagJobNetworkInterfaces")
    assert tag["Condition"]["StringEquals"] == {"ec2:CreateAction": "CreateNetworkInterface"}
