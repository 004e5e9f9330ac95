"""doctor against the emulator: every check passes on the dev stack; each broken piece is named
with its fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batch_runner.aws.clients import AwsContext
from batch_runner.aws.settings import Overrides
from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.doctor import CheckResult, prepare, run_checks
from batch_runner.doctor.account import check_credentials
from batch_runner.doctor.buckets import check_bucket
from batch_runner.local import Emulator
from tests.doctor.identities import (
    ACCOUNT,
    CLAUDE,
    DOCTOR_READS,
    create_role,
    create_user,
    submitter_key,
    submitter_policy,
    trust,
    unique,
    use_key,
)

JOB_ARNS = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:model-invocation-job/*"


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {result.name: result for result in results}


def failures(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {result.name: result for result in results if result.ok is not True}


def test_every_check_passes_for_the_submitter_on_the_dev_stack(
    emulator: Emulator, emulator_ctx: AwsContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_key(monkeypatch, submitter_key(emulator))
    results = run_checks(emulator_ctx, environ={})
    assert failures(results) == {}
    names = by_name(results)
    # The stack's whole allow-list is checked, profiles included.
    assert "service role may invoke us.anthropic.claude-3-5-haiku-20241022-v1:0" in names
    assert "caller may pass the role" in names and "caller may manage jobs" in names
    assert names["credentials and Region"].detail.startswith(f"arn:aws:iam::{ACCOUNT}:user/doctor-")


def test_a_role_that_trusts_another_service_is_named_with_the_trust_policy_to_use(
    emulator: Emulator, emulator_ctx: AwsContext
) -> None:
    role = create_role(emulator, trust("ec2.amazonaws.com"))
    results = by_name(run_checks(emulator_ctx, Overrides(role_arn=role), models=[CLAUDE], environ={}))
    check = results["service role trust"]
    assert check.ok is False
    assert role in check.detail and "bedrock.amazonaws.com" in check.detail
    fix = json.loads(check.fix.split("\n", 1)[1])
    statement = fix["Statement"][0]
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": JOB_ARNS},
    }
    assert results["service role data access"].ok is True  # only the trust is broken


def test_a_trust_policy_without_source_arn_is_a_confused_deputy(
    emulator: Emulator, emulator_ctx: AwsContext
) -> None:
    role = create_role(emulator, trust(StringEquals={"aws:SourceAccount": ACCOUNT}))
    check = by_name(run_checks(emulator_ctx, Overrides(role_arn=role), models=[CLAUDE], environ={}))[
        "service role trust"
    ]
    assert check.ok is False
    assert "aws:SourceArn" in check.detail and "aws:SourceAccount" not in check.detail
    assert JOB_ARNS in check.fix


def test_a_trust_policy_for_another_account_does_not_admit_this_accounts_jobs(
    emulator: Emulator, emulator_ctx: AwsContext
) -> None:
    role = create_role(emulator, trust(StringEquals={"aws:SourceAccount": "111122223333"}))
    check = by_name(run_checks(emulator_ctx, Overrides(role_arn=role), models=[CLAUDE], environ={}))[
        "service role trust"
    ]
    assert check.ok is False
    assert f"jobs of account {ACCOUNT}" in check.detail
    assert f'"aws:SourceAccount": "{ACCOUNT}"' in check.fix


def test_a_role_without_data_access_gets_the_statements_it_lacks(
    emulator: Emulator, emulator_ctx: AwsContext
) -> None:
    good_trust = trust(StringEquals={"aws:SourceAccount": ACCOUNT}, ArnLike={"aws:SourceArn": JOB_ARNS})
    role = create_role(emulator, good_trust, copy_from_stack=False)
    results = by_name(run_checks(emulator_ctx, Overrides(role_arn=role), models=[CLAUDE], environ={}))
    assert results["service role trust"].ok is True
    access = results["service role data access"]
    assert access.ok is False
    statements = json.loads(access.fix.split("\n", 1)[1])["Statement"]
    output_bucket = emulator.stack_outputs[OutputKey.OUTPUT_BUCKET]
    assert {
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{output_bucket}/*",
    } in statements
    assert {s["Action"] for s in statements} == {"s3:ListBucket", "s3:GetObject", "s3:PutObject"}


def test_a_submitter_without_pass_role_is_told_the_statement_to_add(
    emulator: Emulator, emulator_ctx: AwsContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = submitter_policy(emulator)
    policy["Statement"] = [
        s for s in policy["Statement"] if "iam:PassRole" not in json.dumps(s.get("Action"))
    ]
    use_key(monkeypatch, create_user(emulator, policy, DOCTOR_READS))
    results = run_checks(emulator_ctx, models=[CLAUDE], environ={})
    assert set(failures(results)) == {"caller may pass the role"}
    check = by_name(results)["caller may pass the role"]
    role = emulator.stack_outputs[OutputKey.SERVICE_ROLE_ARN]
    assert role in check.detail and "AccessDeniedException" in check.detail
    statement = json.loads(check.fix.split("\n", 1)[1])
    assert statement == {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": role,
        "Condition": {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
    }


def _without_doctor_reads(policy: dict[str, Any]) -> dict[str, Any]:
    reads = {"iam:GetRole", "iam:SimulatePrincipalPolicy", "bedrock:GetFoundationModelAvailability"}
    statements = []
    for item in policy["Statement"]:
        actions = [item["Action"]] if isinstance(item["Action"], str) else item["Action"]
        kept = [action for action in actions if action not in reads]
        if kept:
            statements.append({**item, "Action": kept})
    return {**policy, "Statement": statements}


def test_the_submitter_policy_alone_lets_doctor_check_the_model_and_the_service_role(
    emulator: Emulator, emulator_ctx: AwsContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_key(monkeypatch, create_user(emulator, submitter_policy(emulator)))
    results = by_name(run_checks(emulator_ctx, models=[CLAUDE], environ={}))
    assert results[f"model {CLAUDE} enabled for the account"].ok is True
    assert results["service role data access"].ok is True
    assert results["service role trust"].ok is True


def test_a_caller_who_may_not_simulate_gets_could_not_verify(
    emulator: Emulator, emulator_ctx: AwsContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_key(monkeypatch, create_user(emulator, _without_doctor_reads(submitter_policy(emulator))))
    results = by_name(run_checks(emulator_ctx, models=[CLAUDE], environ={}))
    check = results["caller may pass the role"]
    assert check.ok is None
    assert "iam:SimulatePrincipalPolicy" in check.detail and "iam:SimulatePrincipalPolicy" in check.fix
    assert results["service role data access"].ok is None
    enabled = results[f"model {CLAUDE} enabled for the account"]
    assert enabled.ok is None and "bedrock:GetFoundationModelAvailability" in enabled.fix
    assert results[f"model {CLAUDE} exists"].ok is True  # the submitter policy grants GetFoundationModel


def test_a_bucket_in_another_region_is_named_with_both_regions(
    emulator: Emulator, emulator_ctx: AwsContext
) -> None:
    bucket = unique("doctor-eu")
    emulator.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    results = by_name(
        run_checks(emulator_ctx, models=[CLAUDE], environ={"BATCH_RUNNER_INPUT_BUCKET": bucket})
    )
    check = results["input bucket"]
    assert check.ok is False
    assert bucket in check.detail and "eu-west-1" in check.detail and "us-east-1" in check.detail
    assert "env BATCH_RUNNER_INPUT_BUCKET" in check.detail  # says where the name came from
    assert "--region eu-west-1" in check.fix
    assert results["output bucket"].ok is True


def test_a_missing_bucket_is_named(emulator_ctx: AwsContext) -> None:
    bucket = unique("doctor-missing")
    check = by_name(run_checks(emulator_ctx, Overrides(output_bucket=bucket), models=[CLAUDE], environ={}))[
        "output bucket"
    ]
    assert check.ok is False and f"{bucket} (from flag) does not exist" in check.detail


def test_an_unknown_model_is_named_with_the_listing_command(emulator_ctx: AwsContext) -> None:
    model = "anthropic.claude-nonexistent-20990101-v1:0"
    results = failures(run_checks(emulator_ctx, models=[model], environ={}))
    check = results[f"model {model} exists"]
    assert check.ok is False
    assert "us-east-1" in check.detail
    assert "aws bedrock list-foundation-models --region us-east-1" in check.fix


def test_an_unknown_inference_profile_is_named(emulator_ctx: AwsContext) -> None:
    model = "eu.anthropic.claude-3-5-haiku-20241022-v1:0"  # the catalog has only its us. profile
    check = failures(run_checks(emulator_ctx, models=[model], environ={}))[f"model {model} exists"]
    assert "list-inference-profiles" in check.fix


def test_a_model_without_batch_support_is_named(emulator_ctx: AwsContext) -> None:
    model = "stability.sd3-5-large-v1:0"
    everything = run_checks(emulator_ctx, models=[model], environ={})
    results = failures(everything)
    check = results[f"model {model} supports batch inference"]
    assert check.ok is False
    assert "batch-inference-supported" in check.fix
    assert results[f"model {model} in the stack's allow-list"].ok is False
    assert not any(result.name.startswith("batch quotas") for result in everything)  # they would mislead


def test_a_text_model_batch_does_not_take_is_named_with_one_that_it_does(emulator_ctx: AwsContext) -> None:
    model = "meta.llama3-8b-instruct-v1:0"
    check = failures(run_checks(emulator_ctx, models=[model], environ={}))[
        f"model {model} supports batch inference"
    ]
    assert "does not support batch inference" in check.detail
    assert check.fix == "use meta.llama3-1-8b-instruct-v1:0"


def test_a_profile_the_role_may_not_invoke_everywhere_is_named(emulator_ctx: AwsContext) -> None:
    model = "eu.amazon.nova-lite-v1:0"  # a profile the dev stack does not grant
    results = failures(run_checks(emulator_ctx, models=[model], environ={}))
    check = results[f"service role may invoke {model}"]
    assert check.ok is False
    assert "arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-lite-v1:0" in check.fix
    assert f"inference-profile/{model}" in check.fix


def test_a_stack_that_is_not_deployed_stops_the_checks_with_the_deploy_command(
    emulator_ctx: AwsContext,
) -> None:
    results = run_checks(emulator_ctx, Overrides(env="nosuch"), models=[CLAUDE], environ={})
    assert [r.name for r in results] == ["credentials and Region", "stack"]
    assert results[1].ok is False
    assert "BedrockBatch-nosuch is not deployed in us-east-1" in results[1].detail
    assert "cdk deploy -c env=nosuch" in results[1].fix


def test_single_checks_are_callable_from_python(emulator: Emulator, emulator_ctx: AwsContext) -> None:
    target = prepare(emulator_ctx, environ={})
    assert check_credentials(target).ok is True
    target.input_bucket = emulator.stack_outputs[OutputKey.INPUT_BUCKET]
    result = check_bucket(target, "input")
    assert result == CheckResult(
        "input bucket", True, f"{target.input_bucket} in us-east-1, owned by {ACCOUNT}"
    )


def test_an_assumed_role_session_is_checked_as_its_role(
    emulator: Emulator, emulator_ctx: AwsContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam = emulator.client("iam")
    name = unique("submitter")
    account_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=name, Path="/team/", AssumeRolePolicyDocument=json.dumps(account_trust))
    iam.attach_role_policy(RoleName=name, PolicyArn=emulator.stack_outputs[OutputKey.SUBMITTER_POLICY_ARN])
    iam.put_role_policy(RoleName=name, PolicyName="doctor", PolicyDocument=json.dumps(DOCTOR_READS))
    session = emulator.client("sts").assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="doctor")
    credentials = session["Credentials"]
    use_key(
        monkeypatch,
        {"AccessKeyId": credentials["AccessKeyId"], "SecretAccessKey": credentials["SecretAccessKey"]},
    )
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    results = by_name(run_checks(emulator_ctx, models=[CLAUDE], environ={}))
    assert results["caller may pass the role"].ok is True
    assert results["caller may manage jobs"].detail.startswith(f"arn:aws:iam::{ACCOUNT}:role/team/{name} may")


def test_a_kms_key_the_role_may_not_use_is_named(emulator: Emulator, emulator_ctx: AwsContext) -> None:
    key = emulator.client("kms").create_key(Description="doctor test")["KeyMetadata"]
    check = by_name(run_checks(emulator_ctx, Overrides(kms_key=key["KeyId"]), models=[CLAUDE], environ={}))[
        "service role data access"
    ]
    assert check.ok is False
    assert (
        f"kms:Decrypt on {key['Arn']}" in check.detail
        and f"kms:GenerateDataKey on {key['Arn']}" in check.detail
    )


def test_without_the_stack_resources_from_variables_are_still_checked(
    emulator: Emulator, emulator_ctx: AwsContext
) -> None:
    outputs = emulator.stack_outputs
    environ = {
        "BATCH_RUNNER_INPUT_BUCKET": outputs[OutputKey.INPUT_BUCKET],
        "BATCH_RUNNER_OUTPUT_BUCKET": outputs[OutputKey.OUTPUT_BUCKET],
        "BATCH_RUNNER_ROLE_ARN": outputs[OutputKey.SERVICE_ROLE_ARN],
    }
    results = run_checks(emulator_ctx, Overrides(env="elsewhere"), models=[CLAUDE], environ=environ)
    assert set(failures(results)) >= {"stack"}
    named = by_name(results)
    assert named["input bucket"].ok is True and named["service role trust"].ok is True
    assert f"model {CLAUDE} in the stack's allow-list" not in named  # no stack, no allow-list to compare


def test_a_stack_from_an_older_deploy_is_named_with_its_missing_outputs(
    emulator: Emulator, emulator_ctx: AwsContext
) -> None:
    env = unique("old").replace("-", "")
    outputs = emulator.stack_outputs
    old_template = {  # the outputs of the first release, pointing at the dev stack's resources
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            key: {"Value": outputs[key]}
            for key in (OutputKey.INPUT_BUCKET, OutputKey.OUTPUT_BUCKET, OutputKey.SERVICE_ROLE_ARN)
        },
    }
    emulator.client("cloudformation").create_stack(
        StackName=f"BedrockBatch-{env}", TemplateBody=json.dumps(old_template)
    )
    check = by_name(run_checks(emulator_ctx, Overrides(env=env), models=[CLAUDE], environ={}))["stack"]
    assert check.ok is False
    missing = "SubmitterPolicyArn, NotificationTopicArn, Region, AllowedModels"
    assert check.detail == f"stack BedrockBatch-{env} has no output {missing}"
    assert check.fix == f"redeploy it with the current project: `cdk deploy -c env={env}`"


def test_a_role_of_another_account_is_named(emulator_ctx: AwsContext) -> None:
    role = "arn:aws:iam::111122223333:role/service-role/bedrock-batch"
    check = by_name(run_checks(emulator_ctx, Overrides(role_arn=role), models=[CLAUDE], environ={}))[
        "service role trust"
    ]
    assert check.ok is False and f"not a role of account {ACCOUNT}" in check.detail
