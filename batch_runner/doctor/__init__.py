"""``doctor``: check an account, stack and model are ready for batch jobs before submitting any.

Each check is a plain function returning a ``CheckResult``; ``run_checks`` runs them all in order,
skipping those whose inputs an earlier failure left unknown. Doctor only calls AWS APIs through
boto3, so it judges a real account and the local emulator alike. May import: ``batch_runner.catalog``,
``batch_runner.aws``, ``batch_runner.exceptions``.

One check on its own::

    target = prepare(AwsContext(region="eu-west-1"))
    check_credentials(target)          # fills in target.account and target.caller_arn
    target.input_bucket = "my-bucket"  # or check_stack(target, Overrides()) to resolve everything
    print(check_bucket(target, "input"))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from batch_runner.aws.clients import AwsContext
from batch_runner.aws.settings import Overrides, resolve_stack_name, with_region
from batch_runner.doctor.account import check_credentials, check_stack
from batch_runner.doctor.buckets import check_bucket
from batch_runner.doctor.caller import check_job_actions, check_pass_role
from batch_runner.doctor.model import check_model
from batch_runner.doctor.result import CheckResult, CheckTarget
from batch_runner.doctor.service_role import check_role_data_access, check_role_trust
from batch_runner.doctor.vpc import check_vpc

__all__ = [
    "CheckResult",
    "CheckTarget",
    "check_bucket",
    "check_credentials",
    "check_job_actions",
    "check_model",
    "check_pass_role",
    "check_role_data_access",
    "check_role_trust",
    "check_stack",
    "check_vpc",
    "prepare",
    "run_checks",
]


def prepare(
    ctx: AwsContext, overrides: Overrides | None = None, environ: Mapping[str, str] | None = None
) -> CheckTarget:
    """The target of the checks: Region resolved, stack named (raises ``ConfigurationError`` when no
    Region is configured)."""
    aws = with_region(ctx, environ)
    return CheckTarget(
        aws=aws, region=str(aws.region), stack=resolve_stack_name(overrides or Overrides(), environ)
    )


def run_checks(
    ctx: AwsContext,
    overrides: Overrides | None = None,
    models: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> list[CheckResult]:
    """Every check, in order. ``models`` defaults to the stack's allow-list; ``environ`` (default
    ``os.environ``) supplies the ``BATCH_RUNNER_*`` variables, resolved as ``resolve_settings`` does."""
    target = prepare(ctx, overrides, environ)
    results = [check_credentials(target)]
    if results[-1].ok is False:
        return results
    results.append(check_stack(target, overrides or Overrides(), environ))
    if not target.role_arn:
        return results
    results += [check_bucket(target, "input"), check_bucket(target, "output")]
    results += [check_role_trust(target), check_role_data_access(target), check_pass_role(target)]
    vpc = check_vpc(target)
    if vpc is not None:
        results.append(vpc)
    model_arns: list[str] = []
    for model_id in models or target.allowed_models:
        model_results, facts = check_model(target, model_id)
        results += model_results
        model_arns += facts.arns
    results.append(check_job_actions(target, model_arns))
    return results
