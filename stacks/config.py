"""Per-environment configuration: loaded from ``stacks/environments.yaml`` and validated at synth.

Every difference between environments lives in that file. Invalid values fail synth with a
:class:`ConfigError` whose one-line message names the field, e.g.
``environments.prod.account: must be 12 digits, got '1234'``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from batch_runner.aws.stack_outputs import JOB_NAME_PREFIX_MAX_LENGTH, is_job_name_prefix
from stacks.model_access import (
    MODEL_GRANT_BUDGET,
    ModelIdError,
    ModelRef,
    application_profile_location,
    model_grant_size,
    parse_model_id,
    profile_usable_from,
)

if TYPE_CHECKING:
    from stacks.orchestration_config import OrchestrationConfig

ENVIRONMENTS_FILE = Path(__file__).with_name("environments.yaml")
# Characters of the submitter policy the orchestration's statements take, with the data key's
# (about 800 as IAM counts them), and a little room.
ORCHESTRATION_SUBMITTER_GRANTS = 850

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
_PRINCIPAL_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::(\d{12}):(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_SUBNET = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SECURITY_GROUP = re.compile(r"^sg-[0-9a-f]{8,17}$")
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,31}$")
_TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")
_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{0,256}$")
# Letters, digits and hyphens, then one dot: run names never hold a dot, so no environment's prefix
# can be the beginning of another's, and "<prefix><run>-s00001" is a valid Bedrock job name.

# On versioned buckets an expired object only becomes an old version; deleting that takes one more
# day, and S3 lifecycle counts whole days: two is the shortest retention S3 can carry out.
MIN_RETENTION_DAYS = 2
MAX_RETENTION_DAYS = 3650
# `-c env=all` synthesizes every environment, so no environment may be called that.
ALL_ENVIRONMENTS = "all"


class ConfigError(ValueError):
    """The environment file is invalid; the message is one line that names the field."""


@dataclass(frozen=True)
class VpcConfig:
    """Subnets and security groups Bedrock attaches to a job's network interfaces."""

    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]


@dataclass(frozen=True)
class EnvironmentConfig:
    """One deployable environment. Field docs are in ``stacks/environments.yaml``."""

    name: str
    models: tuple[ModelRef, ...]
    account: str | None = None
    region: str | None = None
    kms: bool = False
    retention_days: int = 30
    retain_data_on_delete: bool = True
    submitter_role_arns: tuple[str, ...] = ()
    submitter_role_principals: tuple[str, ...] = ()
    notification_emails: tuple[str, ...] = ()
    notify_on_completed: bool = False
    vpc: VpcConfig | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # Every job of this environment's runs is named "<prefix><run>-s<NNNNN>"; alerts match only these.
    job_name_prefix: str = ""
    orchestration: OrchestrationConfig | None = None  # stacks/orchestration_config.py

    @property
    def model_ids(self) -> tuple[str, ...]:
        return tuple(ref.model_id for ref in self.models)


T = TypeVar("T")


class _Fields:
    """Reads typed fields out of one mapping, naming the full path in every error."""

    def __init__(self, raw: object, path: str) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{path}: must be a mapping, got {type(raw).__name__}")
        self.raw: Mapping[str, Any] = raw
        self.path = path

    def reject_unknown(self, known: set[str]) -> None:
        for key in self.raw:
            if key not in known:
                raise ConfigError(f"{self.path}.{key}: unknown field (known: {', '.join(sorted(known))})")

    def get(self, key: str, kind: type[T], default: T) -> T:
        value = self.raw.get(key, default)
        # bool is an int subclass in Python; "retention_days: true" must not pass as 1.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{self.path}.{key}: must be {kind.__name__}, got {value!r}")
        return value

    def optional_str(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{self.path}.{key}: must be a string, got {value!r}")
        return value

    def strings(self, key: str, check: Callable[[str, str], None] | None = None) -> tuple[str, ...]:
        values = self.get(key, list, [])
        result: list[str] = []
        for index, value in enumerate(values):
            where = f"{self.path}.{key}[{index}]"
            if not isinstance(value, str):
                raise ConfigError(f"{where}: must be a string, got {value!r}")
            if check is not None:
                check(value, where)
            result.append(value)
        if len(set(result)) != len(result):
            raise ConfigError(f"{self.path}.{key}: contains duplicates")
        return tuple(result)


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[str, str], None]:
    def check(value: str, where: str) -> None:
        if not pattern.fullmatch(value):
            raise ConfigError(f"{where}: {value!r} is not {what}")

    return check


def _parse_vpc(raw: object, path: str) -> VpcConfig | None:
    if raw is None:
        return None
    fields = _Fields(raw, path)
    fields.reject_unknown({"subnet_ids", "security_group_ids"})
    vpc = VpcConfig(
        subnet_ids=fields.strings(
            "subnet_ids", _matching(_SUBNET, "a subnet ID like subnet-0123456789abcdef0")
        ),
        security_group_ids=fields.strings(
            "security_group_ids", _matching(_SECURITY_GROUP, "a security group ID like sg-0123456789abcdef0")
        ),
    )
    if not vpc.subnet_ids or not vpc.security_group_ids:
        raise ConfigError(f"{path}: needs at least one subnet_ids entry and one security_group_ids entry")
    return vpc


def _parse_tags(raw: object, path: str) -> dict[str, str]:
    fields = _Fields(raw if raw is not None else {}, path)
    tags: dict[str, str] = {}
    for key, value in fields.raw.items():
        if not isinstance(key, str) or not _TAG_KEY.fullmatch(key) or key.lower().startswith("aws:"):
            raise ConfigError(
                f"{path}: {key!r} is not a valid tag key (1-128 characters, not starting with aws:)"
            )
        if not isinstance(value, str) or not _TAG_VALUE.fullmatch(value):
            raise ConfigError(
                f"{path}.{key}: {value!r} is not a valid tag value (a string of up to 256 characters)"
            )
        tags[key] = value
    return tags


def _check_application_profile(ref: ModelRef, where: str, *, region: str | None, account: str | None) -> None:
    _, profile_region, profile_account = application_profile_location(ref)
    if region is not None and profile_region != region:
        raise ConfigError(
            f"{where}: application inference profile is in {profile_region}, not {region}; "
            "jobs can only use a profile of their own Region"
        )
    if account is not None and profile_account != account:
        raise ConfigError(
            f"{where}: application inference profile belongs to account {profile_account}, not {account}"
        )


def _parse_models(
    fields: _Fields, region: str | None, account: str | None, *, orchestrated: bool
) -> tuple[ModelRef, ...]:
    # The orchestration's statements (registry items, its key, the scheduler's events) share the
    # submitter policy with the allow-list.
    budget = MODEL_GRANT_BUDGET - (ORCHESTRATION_SUBMITTER_GRANTS if orchestrated else 0)
    with_orchestration = " beside the orchestration's grants" if orchestrated else ""
    refs: list[ModelRef] = []
    for index, model_id in enumerate(fields.strings("models")):
        where = f"{fields.path}.models[{index}]"
        try:
            ref = parse_model_id(model_id)
        except ModelIdError as err:
            raise ConfigError(f"{where}: {err}") from err
        if region is not None and not profile_usable_from(ref, region):
            raise ConfigError(
                f"{where}: inference profile '{model_id}' cannot be used from region {region} "
                f"(a {ref.profile_prefix}. profile serves its own geography; use that geography's prefix)"
            )
        if ref.is_application_profile:
            _check_application_profile(ref, where, region=region, account=account)
        refs.append(ref)
    if not refs:
        raise ConfigError(f"{fields.path}.models: list at least one model ID")
    size = model_grant_size(refs, region=region)
    if size > budget:
        # Better now than as a PolicySize error halfway through `cdk deploy`.
        raise ConfigError(
            f"{fields.path}.models: the allow-list expands to {size} characters of IAM policy (each "
            "inference profile needs a statement of its own), over the "
            f"{budget} that fit in one managed policy{with_orchestration}; remove models or split "
            "environments"
        )
    return tuple(refs)


_KNOWN_FIELDS = {
    "account",
    "region",
    "models",
    "kms",
    "retention_days",
    "retain_data_on_delete",
    "submitter_role_arns",
    "submitter_role_principals",
    "notification_emails",
    "notify_on_completed",
    "vpc",
    "tags",
    "job_name_prefix",
    "orchestration",
}


def _job_name_prefix(fields: _Fields, name: str) -> str:
    prefix = fields.optional_str("job_name_prefix")
    where = f"{fields.path}.job_name_prefix"
    if prefix is None:
        prefix = f"{name}."
        if len(prefix) > JOB_NAME_PREFIX_MAX_LENGTH:
            raise ConfigError(
                f"{where}: the default '{prefix}' is longer than {JOB_NAME_PREFIX_MAX_LENGTH} characters "
                "(Bedrock job names hold at most 63); set a shorter one, e.g. job_name_prefix: "
                f"'{name[: JOB_NAME_PREFIX_MAX_LENGTH - 1]}.'"
            )
        return prefix
    if not is_job_name_prefix(prefix):
        raise ConfigError(
            f"{where}: {prefix!r} is not 2-{JOB_NAME_PREFIX_MAX_LENGTH} letters, digits or hyphens "
            "ending in one dot, e.g. 'team-a.'"
        )
    return prefix


def parse_environment(name: str, raw: object) -> EnvironmentConfig:
    """Validate one environment's mapping; raises :class:`ConfigError`."""
    from stacks.orchestration_config import parse_orchestration  # it builds on this module

    path = f"environments.{name}"
    if not _ENV_NAME.fullmatch(name):
        raise ConfigError(
            f"{path}: environment names are 1-32 letters, digits or '-', starting with a letter"
        )
    if name == ALL_ENVIRONMENTS:
        raise ConfigError(
            f"{path}: '{ALL_ENVIRONMENTS}' is reserved for -c env={ALL_ENVIRONMENTS}; pick another name"
        )
    fields = _Fields(raw, path)
    fields.reject_unknown(_KNOWN_FIELDS)

    if isinstance(fields.raw.get("account"), int):
        # YAML reads an unquoted account ID as a number and drops leading zeros.
        raise ConfigError(
            f'{path}.account: write the 12-digit account ID in quotes, e.g. account: "012345678901"'
        )
    account = fields.optional_str("account")
    if account is not None and not _ACCOUNT.fullmatch(account):
        raise ConfigError(f"{path}.account: must be 12 digits (quote it in YAML), got {account!r}")
    region = fields.optional_str("region")
    if region is not None and not _REGION.fullmatch(region):
        raise ConfigError(f"{path}.region: {region!r} is not an AWS Region name like us-east-1")

    retention_days = fields.get("retention_days", int, 30)
    if not MIN_RETENTION_DAYS <= retention_days <= MAX_RETENTION_DAYS:
        raise ConfigError(
            f"{path}.retention_days: must be between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS}, "
            f"got {retention_days}"
        )

    role_arns = fields.strings("submitter_role_arns", _matching(_ROLE_ARN, "an IAM role ARN"))
    for index, arn in enumerate(role_arns):
        role_account = arn.split(":")[4]
        if account is not None and role_account != account:
            raise ConfigError(
                f"{path}.submitter_role_arns[{index}]: role is in account {role_account}, not {account}; "
                "a managed policy can only be attached to roles of its own account"
            )
    principals = fields.strings(
        "submitter_role_principals",
        _matching(_PRINCIPAL_ARN, "an IAM principal ARN (account root, role or user)"),
    )

    orchestration = parse_orchestration(fields.raw.get("orchestration"), f"{path}.orchestration")
    return EnvironmentConfig(
        name=name,
        account=account,
        region=region,
        models=_parse_models(
            fields, region, account, orchestrated=orchestration is not None and orchestration.enabled
        ),
        kms=fields.get("kms", bool, False),
        retention_days=retention_days,
        retain_data_on_delete=fields.get("retain_data_on_delete", bool, True),
        submitter_role_arns=role_arns,
        submitter_role_principals=principals,
        notification_emails=fields.strings("notification_emails", _matching(_EMAIL, "an email address")),
        notify_on_completed=fields.get("notify_on_completed", bool, False),
        vpc=_parse_vpc(fields.raw.get("vpc"), f"{path}.vpc"),
        tags=_parse_tags(fields.raw.get("tags"), f"{path}.tags"),
        job_name_prefix=_job_name_prefix(fields, name),
        orchestration=orchestration,
    )


def parse_environments(document: object) -> dict[str, EnvironmentConfig]:
    """Validate a whole environment document (``{"environments": {name: {...}}}``)."""
    top = _Fields(document, "(file)")
    top.reject_unknown({"environments"})
    environments = _Fields(top.raw.get("environments"), "environments")
    if not environments.raw:
        raise ConfigError("environments: define at least one environment")
    parsed = {str(name): parse_environment(str(name), raw) for name, raw in environments.raw.items()}
    owners: dict[str, str] = {}
    for name, config in parsed.items():
        # Two environments sharing a prefix would alert on each other's jobs (in one account and Region).
        if config.job_name_prefix in owners:
            raise ConfigError(
                f"environments.{name}.job_name_prefix: '{config.job_name_prefix}' is already the prefix of "
                f"environments.{owners[config.job_name_prefix]}; each environment needs its own"
            )
        owners[config.job_name_prefix] = name
    from stacks.orchestration_config import check_shared_accounts

    check_shared_accounts(
        {n: (c.account, c.region, c.orchestration) for n, c in parsed.items() if c.orchestration}
    )
    return parsed


def load_environments(path: Path = ENVIRONMENTS_FILE) -> dict[str, EnvironmentConfig]:
    """Read and validate the environment file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the environment file ({err.strerror})") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from err
    return parse_environments(document)


def select_environment(environments: Mapping[str, EnvironmentConfig], name: str) -> EnvironmentConfig:
    """The environment chosen with ``-c env=NAME``."""
    if name not in environments:
        raise ConfigError(
            f"env: unknown environment {name!r} (defined: {', '.join(sorted(environments))}); "
            "choose one with -c env=NAME or add it to stacks/environments.yaml"
        )
    return environments[name]
