"""The Validating phase: what the service checks after accepting a job and before scheduling it.

A problem found here does not fail the Create call; the job ends ``Failed`` with a message. Checks
run in the order the service documents: the service role (trust, then S3 access, evaluated against
the role's real policies in moto IAM), then the input files (present, JSONL, record and size quotas).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from batch_runner.local import iam_policy
from batch_runner.local.config import EmulatorConfig
from batch_runner.local.iam_policy import AccessRequest, Decision
from batch_runner.local.jobs import InputFile, Job
from batch_runner.local.models import base_model_id
from batch_runner.local.moto_state import (
    Bucket,
    IamState,
    Identity,
    S3Object,
    S3State,
    kms_key,
    split_s3_uri,
)

BEDROCK_SERVICE = "bedrock.amazonaws.com"


class JobValidationError(Exception):
    """Why the job failed validation; the message becomes the job's ``message``."""


@dataclass(frozen=True)
class _Location:
    bucket: str
    key: str


def validate_job(job: Job, config: EmulatorConfig) -> list[InputFile]:
    """The job's input files with parsed records; raises ``JobValidationError``."""
    iam = IamState(job.account_id)
    s3 = S3State(job.account_id)
    role = _assumable_role(job, iam)
    _check_profile_access(job, role)
    _check_vpc_access(job, role)
    input_uri = job.input_data_config["s3InputDataConfig"]["s3Uri"]
    output_uri = job.output_data_config["s3OutputDataConfig"]["s3Uri"]
    input_location = _location(input_uri)
    output_location = _location(output_uri)
    input_bucket = _bucket(s3, input_location.bucket, job)
    output_bucket = _bucket(s3, output_location.bucket, job)
    objects = _input_objects(s3, input_location, input_uri)
    _check_s3_access(job, role, input_bucket, "s3:ListBucket", f"arn:aws:s3:::{input_bucket.name}", input_uri)
    for item in objects:
        _check_s3_access(job, role, input_bucket, "s3:GetObject", item.arn, item.uri)
        if item.kms_key_id:
            _check_kms(job, role, item.kms_key_id, "kms:Decrypt", "s3:GetObject", item.uri)
    output_key = f"{output_location.key.rstrip('/')}/{job.job_id}/manifest.json.out".lstrip("/")
    output_arn = f"arn:aws:s3:::{output_bucket.name}/{output_key}"
    _check_s3_access(job, role, output_bucket, "s3:PutObject", output_arn, output_uri)
    output_key_id = job.output_data_config["s3OutputDataConfig"].get("s3EncryptionKeyId")
    if output_key_id:
        _check_kms(job, role, output_key_id, "kms:GenerateDataKey", "s3:PutObject", output_uri)
    return _read_records(s3, objects, config, job)


def _location(uri: str) -> _Location:
    bucket, key = split_s3_uri(uri)
    return _Location(bucket=bucket, key=key)


def _assumable_role(job: Job, iam: IamState) -> Identity:
    found = iam.role(job.role_arn)
    if found is None:
        raise JobValidationError(
            f"The provided role {job.role_arn} does not exist or Amazon Bedrock cannot assume it. "
            "Check the role ARN."
        )
    role, trust_policy = found
    request = AccessRequest(
        action="sts:AssumeRole",
        resource=job.role_arn,
        principal={"Service": [BEDROCK_SERVICE]},
        context={
            "aws:SourceAccount": job.account_id,
            "aws:SourceArn": job.arn,
            "aws:PrincipalServiceName": BEDROCK_SERVICE,
            "aws:RequestedRegion": job.region,
            "aws:SecureTransport": True,
        },
    )
    if _decide([trust_policy], request) is not Decision.ALLOW:
        raise JobValidationError(
            f"Amazon Bedrock could not assume the role {job.role_arn}. Its trust policy must allow "
            f"{BEDROCK_SERVICE} to perform sts:AssumeRole for account {job.account_id} and job {job.arn}."
        )
    return role


# Regions each geographic inference profile routes to, a conservative core of AWS's lists (which vary
# by model): a role must be allowed to invoke the model in every one of them.
PROFILE_REGIONS = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-west-1", "eu-west-3"),
    "apac": ("ap-northeast-1", "ap-southeast-1", "ap-southeast-2"),
}
_PROFILE_ID = re.compile(
    r"(?:arn:aws[^:]*:bedrock:[^:]*:\d{12}:inference-profile/)?([a-z-]+)\.([a-z0-9-]+\..+)"
)


def _check_profile_access(job: Job, role: Identity) -> None:
    """A job through a cross-Region inference profile needs bedrock:InvokeModel on the profile and on
    the model in each Region it routes to (single-Region jobs need S3 access only)."""
    match = _PROFILE_ID.fullmatch(job.model_id)
    if match is None or match.group(1) not in (*PROFILE_REGIONS, "global"):
        return
    geo, model = match.groups()
    profile_id = f"{geo}.{model}"
    profile_arn = f"arn:aws:bedrock:{job.region}:{job.account_id}:inference-profile/{profile_id}"
    regions = PROFILE_REGIONS.get(geo, (job.region, ""))  # global profiles: the unscoped model ARN
    resources = [profile_arn, *(f"arn:aws:bedrock:{region}::foundation-model/{model}" for region in regions)]
    for resource in resources:
        request = AccessRequest(
            action="bedrock:InvokeModel",
            resource=resource,
            context={
                "aws:PrincipalArn": role.arn,
                "aws:PrincipalAccount": job.account_id,
                "aws:RequestedRegion": job.region,
                "bedrock:InferenceProfileArn": profile_arn,
            },
        )
        if _decide(role.policies, request) is not Decision.ALLOW:
            raise JobValidationError(
                f"The role {job.role_arn} is not allowed to perform bedrock:InvokeModel on {resource}. A job "
                f"that uses the inference profile {profile_id} needs it on the profile and on the model in "
                "every Region the profile routes to."
            )


def _vpc_requests(job: Job, subnets: list[str], groups: list[str]) -> list[AccessRequest]:
    """What Bedrock does with the role for a VPC job (the permissions of the user guide's batch-vpc and
    batch-iam-sr pages, reference section 5.5): describe the network, create the job's network
    interfaces in the given subnets and groups, tagged with the job, and manage them."""
    prefix = f"arn:aws:ec2:{job.region}:{job.account_id}"
    eni = f"{prefix}:network-interface/*"
    tags = {"aws:RequestTag/BedrockManaged": "true", "aws:RequestTag/BedrockModelInvocationJobArn": job.arn}
    describe = [
        AccessRequest(action=f"ec2:Describe{kind}", resource="*")
        for kind in ("NetworkInterfaces", "Vpcs", "DhcpOptions", "Subnets", "SecurityGroups")
    ]
    create = [AccessRequest(action="ec2:CreateNetworkInterface", resource=eni, context=tags)]
    create += [
        AccessRequest(action="ec2:CreateNetworkInterface", resource=f"{prefix}:subnet/{subnet}")
        for subnet in subnets
    ]
    create += [
        AccessRequest(action="ec2:CreateNetworkInterface", resource=f"{prefix}:security-group/{group}")
        for group in groups
    ]
    tag = AccessRequest(
        action="ec2:CreateTags",
        resource=eni,
        context={
            "ec2:CreateAction": "CreateNetworkInterface",
            "aws:TagKeys": ["BedrockManaged", "BedrockModelInvocationJobArn"],
        },
    )
    manage = [
        AccessRequest(
            action=action,
            resource=eni,
            context={
                "ec2:Subnet": f"{prefix}:subnet/{subnet}",
                "ec2:ResourceTag/BedrockModelInvocationJobArn": job.arn,
            },
        )
        for action in ("ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface")
        for subnet in subnets
    ]
    return [*describe, *create, tag, *manage]


def _check_vpc_access(job: Job, role: Identity) -> None:
    """A job with a vpcConfig fails validation when the role cannot manage its network interfaces."""
    if not job.vpc_config:
        return
    subnets, groups = job.vpc_config["subnetIds"], job.vpc_config["securityGroupIds"]
    for request in _vpc_requests(job, subnets, groups):
        context = {"aws:PrincipalArn": role.arn, "aws:PrincipalAccount": job.account_id, **request.context}
        checked = AccessRequest(action=request.action, resource=request.resource, context=context)
        if _decide(role.policies, checked) is not Decision.ALLOW:
            raise JobValidationError(
                f"The role {job.role_arn} is not allowed to perform {request.action} on {request.resource}. "
                "A job with a VPC configuration needs the network-interface permissions for its subnets "
                "and security groups; see Protect batch inference jobs using a VPC."
            )


def _bucket(s3: S3State, name: str, job: Job) -> Bucket:
    bucket = s3.bucket(name)
    if bucket is None:
        raise JobValidationError(f"The S3 bucket {name} does not exist. Check the S3 URI of the job.")
    if bucket.region != job.region:
        raise JobValidationError(
            f"The S3 bucket {name} is in {bucket.region}; a batch inference job in {job.region} "
            "needs its input and output buckets in the same Region."
        )
    return bucket


def _check_s3_access(job: Job, role: Identity, bucket: Bucket, action: str, resource: str, uri: str) -> None:
    request = AccessRequest(
        action=action,
        resource=resource,
        principal={"AWS": [role.arn]},
        context={
            "aws:PrincipalArn": role.arn,
            "aws:PrincipalAccount": job.account_id,
            "aws:ResourceAccount": bucket.account_id,
            "aws:SecureTransport": True,
            "aws:RequestedRegion": job.region,
            "aws:CalledVia": [BEDROCK_SERVICE],
            "aws:ViaAWSService": True,
            "s3:ResourceAccount": bucket.account_id,
        },
    )
    identity = _decide(role.policies, request)
    if identity is not Decision.EXPLICIT_DENY and role.permissions_boundary is not None:
        boundary = _decide([role.permissions_boundary], request)
        if boundary is not Decision.ALLOW:
            identity = Decision.IMPLICIT_DENY if boundary is Decision.IMPLICIT_DENY else boundary
    resource_policy = _decide([bucket.policy], request) if bucket.policy else Decision.IMPLICIT_DENY
    denied = Decision.EXPLICIT_DENY in (identity, resource_policy)
    if denied or Decision.ALLOW not in (identity, resource_policy):
        verb = {"s3:GetObject": "read", "s3:ListBucket": "list", "s3:PutObject": "write to"}[action]
        raise JobValidationError(
            f"Amazon Bedrock could not validate {action} permissions: the role {job.role_arn} is not "
            f"allowed to {verb} {uri}. Grant {action} on {resource} to the service role."
        )


def _check_kms(job: Job, role: Identity, key_id: str, action: str, s3_action: str, uri: str) -> None:
    """The role must be allowed the KMS action by its policies and by the key policy.

    As the service does, the failure names the S3 permission, not KMS (a known source of confusion).
    """
    key = kms_key(job.account_id, job.region, key_id)
    failure = JobValidationError(
        f"Amazon Bedrock could not validate {s3_action} permissions for {uri} with the role {job.role_arn}."
    )
    if key is None:
        raise failure
    request = AccessRequest(
        action=action,
        resource=key.arn,
        principal={"AWS": [role.arn]},
        context={
            "aws:PrincipalArn": role.arn,
            "aws:PrincipalAccount": job.account_id,
            "aws:ResourceAccount": job.account_id,
            "kms:ViaService": f"s3.{job.region}.amazonaws.com",
            "kms:CallerAccount": job.account_id,
            "aws:SecureTransport": True,
        },
    )
    if _decide([key.policy], request) is not Decision.ALLOW:
        raise failure
    # A key policy that names the role itself suffices; one that trusts the account root defers to IAM.
    if role.arn not in key.policy and _decide(role.policies, request) is not Decision.ALLOW:
        raise failure


def _decide(policies: list[str] | tuple[str, ...], request: AccessRequest) -> Decision:
    try:
        return iam_policy.evaluate(policies, request)
    except (ValueError, TypeError) as err:
        raise JobValidationError(
            f"A policy of the role {request.principal} cannot be evaluated: {err}"
        ) from err


def _input_objects(s3: S3State, location: _Location, uri: str) -> list[S3Object]:
    single = s3.head(location.bucket, location.key)
    if single is not None and not location.key.endswith("/"):
        if not single.key.endswith(".jsonl"):
            raise JobValidationError(
                f"The input file {uri} is not a .jsonl file. Input files must use the .jsonl extension."
            )
        return [single]
    prefix = location.key if not location.key or location.key.endswith("/") else location.key + "/"
    objects = [item for item in s3.list(location.bucket, prefix) if item.key.endswith(".jsonl")]
    if not objects:
        raise JobValidationError(
            f"No .jsonl input files were found at {uri}. Check the S3 URI of the input data."
        )
    return objects


def _read_records(s3: S3State, objects: list[S3Object], config: EmulatorConfig, job: Job) -> list[InputFile]:
    total_bytes = sum(item.size for item in objects)
    limit = config.job_bytes_limit(nova_pro=base_model_id(job.model_id).startswith("amazon.nova-pro"))
    if total_bytes > limit:
        raise JobValidationError(
            f"The input files of the job total {total_bytes} bytes, more than the job size quota of "
            f"{limit} bytes. Split the input into several jobs."
        )
    files: list[InputFile] = []
    total_records = 0
    for item in objects:
        if item.size > config.max_file_bytes:
            raise JobValidationError(
                f"The input file {item.uri} is {item.size} bytes, more than the file size quota of "
                f"{config.max_file_bytes} bytes. Split the file."
            )
        records = _parse_jsonl(item, s3.read(item.bucket, item.key))
        if len(records) > config.max_records_per_file:
            raise JobValidationError(
                f"The input file {item.uri} contains {len(records)} records, more than the quota of "
                f"{config.max_records_per_file} records per input file."
            )
        total_records += len(records)
        files.append(InputFile(name=item.key.rsplit("/", 1)[-1], records=records))
    if total_records > config.max_records_per_job:
        raise JobValidationError(
            f"Batch job {job.arn} contains more records ({total_records}) than the maximum allowed "
            f"of: {config.max_records_per_job}."
        )
    if total_records < config.min_records_per_job:
        raise JobValidationError(
            f"Batch job {job.arn} contains less records ({total_records}) than the required minimum "
            f"of: {config.min_records_per_job}."
        )
    return files


def _parse_jsonl(item: S3Object, data: bytes) -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise JobValidationError(f"The input file {item.uri} is not UTF-8 encoded JSONL.") from err
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise JobValidationError(
                f"The input file {item.uri} is not valid JSONL: "
                f"line {number} is not a JSON object ({err.msg})."
            ) from err
        if not isinstance(record, dict) or "modelInput" not in record:
            raise JobValidationError(
                f"The input file {item.uri} is not valid JSONL: line {number} has no modelInput. "
                'Each line must look like {"recordId": "...", "modelInput": {...}}.'
            )
        records.append(record)
    return records
