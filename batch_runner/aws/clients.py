"""The one place boto3 sessions and clients are made, with one botocore config.

Clients are created at call time, never at import time. The endpoint comes from ``--endpoint-url``
when given; otherwise boto3 honours the standard ``AWS_ENDPOINT_URL`` variables itself, which is how
the local emulator is reached without a special code path.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from batch_runner.exceptions import ConfigurationError
from batch_runner.version import __version__

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config


# boto3 is imported with the first session, not with this module: a command that calls no AWS
# API (`--help`, `status` of a finished run) never pays for it.
@cache
def _config() -> Config:
    from botocore.config import Config

    return Config(
        retries={"mode": "adaptive", "max_attempts": 8},
        connect_timeout=10,
        read_timeout=60,
        user_agent_appid=f"bedrock-batch-runner-{__version__}",
    )


# A boto3 Session loads service models from disk on first use, which costs far more than the call
# itself; sessions are reused for as long as the settings that shape them (the AWS_* variables,
# profile and Region) stay the same. Sessions are not thread-safe, hence the lock.
_SESSIONS: dict[tuple[object, ...], boto3.Session] = {}
_SESSIONS_LOCK = threading.RLock()
_MAX_SESSIONS = 16


def _unlock_in_child() -> None:
    # A process forked while another thread held the lock (results' worker processes) would
    # wait for it forever: the child starts with a lock of its own.
    global _SESSIONS_LOCK
    _SESSIONS_LOCK = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_unlock_in_child)


def _session_key(profile: str | None, region: str | None) -> tuple[object, ...]:
    aws_environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    return (profile, region, aws_environment)


@dataclass(frozen=True)
class AwsContext:
    """Where and as whom to call AWS. ``None`` fields fall back to boto3's own resolution."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None

    def __post_init__(self) -> None:
        # botocore would raise a bare ValueError at the first client, deep inside some command.
        if self.endpoint_url:
            parts = urlsplit(self.endpoint_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigurationError(
                    f"invalid endpoint URL {self.endpoint_url!r}: give a full URL such as "
                    "http://127.0.0.1:4566 (the address `python -m batch_runner local serve` prints)"
                )

    def session(self) -> boto3.Session:
        import boto3

        key = _session_key(self.profile, self.region)
        with _SESSIONS_LOCK:
            session = _SESSIONS.get(key)
            if session is None:
                if len(_SESSIONS) >= _MAX_SESSIONS:
                    _SESSIONS.clear()
                session = _SESSIONS[key] = boto3.Session(profile_name=self.profile, region_name=self.region)
            return session

    def client(self, service: str) -> Any:
        kwargs: dict[str, Any] = {"config": _config()}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        with _SESSIONS_LOCK:
            return self.session().client(service, **kwargs)
