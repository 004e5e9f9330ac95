"""Deterministic fault injection: every random draw comes from one RNG seeded by the config."""

from __future__ import annotations

import hashlib
import random
import threading

from batch_runner.local.config import EmulatorConfig
from batch_runner.local.models.schema_answers import FENCED, INVALID, UNPARSEABLE


class FaultInjector:
    def __init__(self, config: EmulatorConfig) -> None:
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: EmulatorConfig) -> None:
        """Adopt a new config and restart the draw sequence from its seed."""
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._runtime_calls: dict[str, int] = {}

    def _draw(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def control_plane_error(self) -> str | None:
        """``"throttle"``, ``"server"`` or None for one bedrock control-plane call."""
        if self._draw(self._config.throttle_rate):
            return "throttle"
        if self._draw(self._config.server_error_rate):
            return "server"
        return None

    def runtime_error(self, body: bytes) -> str | None:
        """Like ``control_plane_error``, for one bedrock-runtime call, but drawn from the seed, the
        request body and how often that body was sent before: each record meets the same faults
        whatever order the caller's threads send them in."""
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            attempt = self._runtime_calls.get(digest, 0)
            self._runtime_calls[digest] = attempt + 1
        config = self._config
        for fault, rate in (("throttle", config.throttle_rate), ("server", config.server_error_rate)):
            if rate > 0.0 and self._record_draw(f"runtime/{fault}/{digest}/{attempt}") < rate:
                return fault
        return None

    def s3_get_error(self) -> bool:
        return self._draw(self._config.s3_get_error_rate)

    def job_outcome(self) -> str | None:
        """A forced terminal status for a new job, or None to let it run normally."""
        config = self._config
        if config.job_outcome is not None:
            return config.job_outcome
        for outcome, rate in (
            ("Failed", config.job_failure_rate),
            ("Expired", config.job_expiry_rate),
            ("PartiallyCompleted", config.job_partial_rate),
        ):
            if self._draw(rate):
                return outcome
        return None

    def record_fails(self, record_key: str) -> bool:
        """Per record, from the seed and the record's ID only: independent of processing order and of
        the (random) job ID, so the same dataset fails the same records in every run and test."""
        rate = self._config.record_error_rate
        return rate > 0.0 and self._record_draw(record_key) < rate

    def schema_fault(self, record_key: str) -> str | None:
        """How a schema answer goes wrong for this record (``INVALID``, ``UNPARSEABLE``, ``FENCED``)
        or None; drawn like ``record_fails`` but independently of it, the three shares disjoint."""
        config = self._config
        shares = (
            (INVALID, config.schema_invalid_rate),
            (UNPARSEABLE, config.schema_unparseable_rate),
            (FENCED, config.schema_fenced_rate),
        )
        if not any(rate > 0.0 for _, rate in shares):
            return None
        value = self._record_draw(f"schema/{record_key}")
        for fault, rate in shares:
            if value < rate:
                return fault
            value -= rate
        return None

    def _record_draw(self, record_key: str) -> float:
        seed = f"{self._config.seed}/{record_key}".encode()
        return int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") / 2**64
