"""Reads and writes of moto's in-memory AWS state (S3, IAM, STS, EventBridge) for the emulator.

moto's state is process-global; the control plane runs in the same process as the moto server
app, so it works on the same buckets, roles and buses the clients see over HTTP.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moto.events.models import events_backends
from moto.iam.models import get_account_id_from, iam_backends
from moto.kms.models import kms_backends
from moto.s3.models import s3_backends
from moto.sns.models import sns_backends
from moto.sts.models import sts_backends

PARTITION = "aws"


def account_for_access_key(access_key: str) -> str:
    return get_account_id_from(access_key)


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int
    kms_key_id: str | None = None  # set when the object is encrypted with SSE-KMS

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Bucket:
    name: str
    account_id: str
    region: str
    policy: str | None


def _object(bucket: str, key: str, item: Any) -> S3Object:
    kms_key_id = item.kms_key_id if item.encryption == "aws:kms" else None
    return S3Object(bucket=bucket, key=key, size=item.size, kms_key_id=kms_key_id)


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class S3State:
    def __init__(self, account_id: str) -> None:
        self._backend = s3_backends[account_id][PARTITION]

    def bucket(self, name: str) -> Bucket | None:
        raw = self._backend.buckets.get(name)
        if raw is None:
            return None
        policy = raw.policy.decode() if raw.policy else None
        return Bucket(name=name, account_id=raw.account_id, region=raw.region_name, policy=policy)

    def head(self, bucket: str, key: str) -> S3Object | None:
        raw = self._backend.buckets.get(bucket)
        if raw is None or not key:
            return None
        item = raw.keys.get(key)
        if item is None:
            return None
        return _object(bucket, key, item)

    def list(self, bucket: str, prefix: str) -> Iterator[S3Object]:
        raw = self._backend.buckets.get(bucket)
        if raw is None:
            return
        for key in sorted(raw.keys.keys()):
            if key.startswith(prefix):
                item = raw.keys.get(key)
                if item is not None:
                    yield _object(bucket, key, item)

    def read(self, bucket: str, key: str) -> bytes:
        item = self._backend.get_object(bucket, key)
        if item is None:
            raise KeyError(f"s3://{bucket}/{key}")
        return bytes(item.value)

    def write(self, bucket: str, key: str, body: bytes) -> None:
        self._backend.put_object(bucket, key, body)


@dataclass(frozen=True)
class KmsKey:
    arn: str
    policy: str


def kms_key(account_id: str, region: str, key_id: str) -> KmsKey | None:
    """A KMS key by ID, ARN, alias or alias ARN; None when it does not exist."""
    try:
        key = kms_backends[account_id][region].describe_key(key_id)
    except Exception:  # moto raises NotFoundException or KeyError for unknown IDs
        return None
    return KmsKey(arn=key.arn, policy=str(key.policy))


@dataclass(frozen=True)
class Identity:
    """A caller or role as IAM sees it: its ARN and the policies that apply to it."""

    arn: str
    policies: tuple[str, ...]
    permissions_boundary: str | None = None


class IamState:
    def __init__(self, account_id: str) -> None:
        self._iam = iam_backends[account_id][PARTITION]
        self._sts = sts_backends[account_id][PARTITION]

    def role(self, role_arn: str) -> tuple[Identity, str] | None:
        """The role's identity and its trust policy, or None when no such role exists."""
        try:
            role = self._iam.get_role_by_arn(role_arn)
        except Exception:  # moto raises its own IAMNotFoundException
            return None
        return self._role_identity(role), str(role.assume_role_policy_document)

    def caller(self, access_key: str) -> Identity | None:
        """The IAM user or assumed role behind an access key; None for moto's default root caller."""
        assumed = self._sts.get_assumed_role_from_access_key(access_key)
        if assumed is not None:
            found = self.role(assumed.role_arn)
            if found is None:
                return None
            identity, _ = found
            session_policies = (assumed.policy,) if assumed.policy else ()
            return Identity(arn=assumed.arn, policies=identity.policies + session_policies)
        user = self._iam.get_user_from_access_key_id(access_key)
        return None if user is None else self._user_identity(user)

    def user_of_access_key(self, access_key: str) -> tuple[str, str] | None:
        """ARN and user ID of the IAM user owning an access key, or None."""
        user = self._iam.get_user_from_access_key_id(access_key)
        return None if user is None else (str(user.arn), str(user.id))

    def give_access_key(self, user_name: str, access_key_id: str) -> None:
        """Make ``access_key_id`` (any string) an access key of the user, moved from whoever had it.

        IAM's CreateAccessKey picks random IDs; the emulator needs the documented default one.
        """
        for key in list(self._iam.access_keys.values()):
            if key.access_key_id == access_key_id and key.user_name not in (None, user_name):
                self._iam.delete_access_key(access_key_id, str(key.user_name))
        user = self._iam.get_user(user_name)
        if any(key.access_key_id == access_key_id for key in user.access_keys):
            return
        key = self._iam.create_access_key(user_name)
        del self._iam.access_keys[key.physical_resource_id]
        key.access_key_id = access_key_id
        self._iam.access_keys[key.physical_resource_id] = key

    def user(self, user_arn: str) -> Identity | None:
        """An IAM user's identity by ARN, or None when no such user exists."""
        user = next((u for u in self._iam.users.values() if u.arn == user_arn), None)
        return None if user is None else self._user_identity(user)

    def _user_identity(self, user: Any) -> Identity:
        policies = [*user.policies.values(), *_managed(user.managed_policies)]
        for group in self._iam.get_groups_for_user(user.name):
            policies += [*group.policies.values(), *_managed(group.managed_policies)]
        boundary = self._boundary(getattr(user, "permissions_boundary_arn", None))
        return Identity(arn=user.arn, policies=tuple(policies), permissions_boundary=boundary)

    def _role_identity(self, role: Any) -> Identity:
        policies = (*role.policies.values(), *_managed(role.managed_policies))
        return Identity(
            arn=role.arn,
            policies=tuple(policies),
            permissions_boundary=self._boundary(role.permissions_boundary_arn),
        )

    def _boundary(self, arn: str | None) -> str | None:
        if not arn:
            return None
        try:
            return _default_document(self._iam.get_policy(arn))
        except Exception:
            return None


def _managed(policies: dict[str, Any]) -> list[str]:
    return [_default_document(policy) for policy in policies.values()]


def _default_document(policy: Any) -> str:
    for version in policy.versions:
        if version.is_default:
            return str(version.document)
    return "{}"


LambdaSink = Callable[[str, dict[str, Any]], None]


def put_event(account_id: str, region: str, event: Any, lambda_sink: LambdaSink | None = None) -> None:
    """Deliver an event through the rules of moto's default bus.

    moto's own PutEvents raises for SNS targets (what the stack's alert rules use), so delivery
    is done here: SNS targets get the event published to the topic, Lambda targets go to
    ``lambda_sink`` (an asynchronous invoke), state machine targets start an execution, others
    through moto. Schedule rules match no event
    (moto would match every event to a rule without a pattern); ``fire_schedules`` runs them.
    """
    bus = events_backends[account_id][region].describe_event_bus("default")
    for rule in list(bus.rules.values()):
        if rule.state != "ENABLED" or rule.scheduled_expression:
            continue
        if not rule.event_pattern.matches_event(event):
            continue
        deliver(rule, event, lambda_sink)


def fire_schedules(account_id: str, region: str, lambda_sink: LambdaSink | None, at: str) -> int:
    """Deliver a "Scheduled Event" to every enabled schedule rule's targets; returns how many rules."""
    bus = events_backends[account_id][region].describe_event_bus("default")
    fired = 0
    for rule in list(bus.rules.values()):
        if rule.state != "ENABLED" or not rule.scheduled_expression:
            continue
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": account_id,
            "time": at,
            "region": region,
            "resources": [rule.arn],
            "detail": {},
        }
        deliver(rule, event, lambda_sink)
        fired += 1
    return fired


def deliver(rule: Any, event: dict[str, Any], lambda_sink: LambdaSink | None) -> None:
    for target in rule.targets:
        if target["Arn"].startswith("arn:aws:sns:"):
            topic = sns_backends[rule.account_id][rule.region_name].get_topic(target["Arn"])
            topic.publish(json.dumps(event))
            continue
        if target["Arn"].startswith("arn:aws:lambda:"):
            if lambda_sink is not None:
                lambda_sink(target["Arn"], event)
            continue
        if target["Arn"].startswith("arn:aws:states:"):
            from batch_runner.local.step_functions import start_from_event  # loads the ASL interpreter

            start_from_event(target["Arn"], event)  # returns at once: the execution has its own thread
            continue
        # moto's delivery expects epoch seconds in "time" and rewrites the event in place.
        moto_event: Any = {**copy.deepcopy(event), "time": _epoch(event["time"])}
        single = copy.copy(rule)
        single.targets = [target]
        try:
            if "InputTransformer" in target:
                moto_event["ingestion-time"] = time.time()  # moto's input transformer reads it
                single.send_to_targets(moto_event)
            else:
                single.send_to_targets(moto_event, transform_input=False)
        except NotImplementedError:
            continue  # a target type moto cannot deliver to; EventBridge is best effort too


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
