"""Jobs with a VPC configuration: the service role may create and manage their network interfaces in
exactly the subnets and security groups the jobs will name (else every such job fails validation)."""

from __future__ import annotations

from batch_runner.doctor.result import CheckResult, CheckTarget, failed, passed, statement_json, unverified
from batch_runner.doctor.simulation import SimulationUnavailable, simulate

VPC = "service role may run VPC jobs"
_DESCRIBE = tuple(
    f"ec2:Describe{kind}"
    for kind in ("NetworkInterfaces", "Vpcs", "DhcpOptions", "Subnets", "SecurityGroups")
)


def check_vpc(target: CheckTarget) -> CheckResult | None:
    """None when jobs run outside a VPC (nothing to check)."""
    if not target.subnet_ids:
        return None
    ec2 = f"arn:aws:ec2:{target.region}:{target.account}"
    eni = f"{ec2}:network-interface/*"
    job = target.job_arn_pattern.replace("/*", "/doctorcheck1")
    subnets = [f"{ec2}:subnet/{subnet}" for subnet in target.subnet_ids]
    groups = [f"{ec2}:security-group/{group}" for group in target.security_group_ids]
    tagged = {"aws:RequestTag/BedrockManaged": "true", "aws:RequestTag/BedrockModelInvocationJobArn": job}
    try:
        denied = simulate(target, target.role_arn, list(_DESCRIBE), ["*"], {})
        denied += simulate(target, target.role_arn, ["ec2:CreateNetworkInterface"], [eni], tagged)
        denied += simulate(target, target.role_arn, ["ec2:CreateNetworkInterface"], [*subnets, *groups], {})
    except SimulationUnavailable as err:
        return unverified(VPC, f"could not verify: {err}", err.fix)
    where = f"subnets {', '.join(target.subnet_ids)}, security groups {', '.join(target.security_group_ids)}"
    if denied:
        listed = ", ".join(f"{d.action} on {d.resource}" for d in denied)
        statements = [{"Effect": "Allow", "Action": d.action, "Resource": d.resource} for d in denied]
        return failed(
            VPC,
            f"{target.role_arn} may not {listed}; jobs in {where} would fail validation",
            "list these subnets and groups under `vpc` in stacks/environments.yaml and redeploy (the stack "
            "grants exactly them), or fix --subnet-ids/--security-group-ids; the role lacks:\n"
            + statement_json({"Version": "2012-10-17", "Statement": statements}),
        )
    return passed(VPC, f"may create the jobs' network interfaces in {where}")
