"""Typed settings of the emulator: service limits, timing and fault injection.

One frozen dataclass, replaced as a whole when changed (in-process, by ``local serve`` flags, or by
``POST /_emulator/config``), so a request always sees one consistent configuration.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

JOB_OUTCOMES = ("Failed", "Expired", "PartiallyCompleted")
# Nova Pro V1 jobs may be 100 GB where others may be 5 GB: that model's limit is this multiple.
NOVA_PRO_JOB_SIZE_FACTOR = 20


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class EmulatorConfig:
    # Service quotas (defaults are the AWS defaults; tests lower them).
    min_records_per_job: int = _setting(100, "records a job needs across its files")
    max_records_per_file: int = _setting(50_000, "records allowed per input file")
    max_records_per_job: int = _setting(50_000, "records allowed per job")
    max_file_bytes: int = _setting(1_000_000_000, "bytes allowed per input file")
    max_job_bytes: int = _setting(5_000_000_000, "bytes allowed per job")
    max_active_jobs_per_model: int = _setting(20, "submitted and in-progress jobs allowed per model")

    # Timing, in emulator-clock seconds.
    submitted_seconds: float = _setting(1.0, "seconds a job stays Submitted")
    validating_seconds: float = _setting(1.0, "seconds a job stays Validating")
    scheduled_seconds: float = _setting(1.0, "seconds a job waits Scheduled (past its timeout: Expired)")
    stopping_seconds: float = _setting(1.0, "seconds a job stays Stopping")
    records_per_second: float = _setting(100.0, "records processed per second while InProgress")

    # Fault injection. Rates are fractions in [0, 1]; draws come from one RNG seeded with `seed`.
    seed: int = _setting(0, "seed of every fault-injection draw")
    throttle_rate: float = _setting(0.0, "share of bedrock calls answered 429 ThrottlingException")
    server_error_rate: float = _setting(0.0, "share of bedrock calls answered 500 InternalServerException")
    s3_get_error_rate: float = _setting(0.0, "share of S3 GetObject calls answered 503 SlowDown")
    record_error_rate: float = _setting(0.0, "share of records that end as error lines (errorCode 500)")
    job_outcome: str | None = _setting(
        None, "force every new job to end Failed, Expired or PartiallyCompleted"
    )
    job_failure_rate: float = _setting(0.0, "share of new jobs forced to end Failed")
    job_expiry_rate: float = _setting(0.0, "share of new jobs forced to end Expired")
    job_partial_rate: float = _setting(0.0, "share of new jobs forced to end PartiallyCompleted")
    partial_fraction: float = _setting(0.5, "share of records a forced PartiallyCompleted job processes")
    # Answers to requests that ask for JSON matching a schema (the three shares add up to at most 1).
    schema_invalid_rate: float = _setting(
        0.0, "share of schema answers that are valid JSON breaking the schema (e.g. a required field dropped)"
    )
    schema_unparseable_rate: float = _setting(
        0.0, "share of schema answers cut off mid-way (not parseable JSON)"
    )
    schema_fenced_rate: float = _setting(
        0.0, "share of schema answers inside ```json fences with a sentence before and after"
    )

    def __post_init__(self) -> None:
        for setting in dataclasses.fields(self):
            value = getattr(self, setting.name)
            if setting.name.endswith(("_rate", "_fraction")) and not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{setting.name} must be between 0 and 1, got {value}")
            if setting.name.endswith("_seconds") and float(value) < 0:
                raise ValueError(f"{setting.name} must not be negative, got {value}")
        schema_rates = self.schema_invalid_rate + self.schema_unparseable_rate + self.schema_fenced_rate
        if schema_rates > 1.0:
            raise ValueError(
                "schema_invalid_rate, schema_unparseable_rate and schema_fenced_rate must add up to at "
                f"most 1, got {schema_rates:g}"
            )
        if self.records_per_second <= 0:
            raise ValueError(f"records_per_second must be positive, got {self.records_per_second}")
        if self.job_outcome is not None and self.job_outcome not in JOB_OUTCOMES:
            raise ValueError(f"job_outcome must be one of {', '.join(JOB_OUTCOMES)} or null")

    def job_bytes_limit(self, nova_pro: bool) -> int:
        return self.max_job_bytes * (NOVA_PRO_JOB_SIZE_FACTOR if nova_pro else 1)

    def updated(self, changes: dict[str, Any]) -> EmulatorConfig:
        """A copy with ``changes`` applied; unknown fields and wrong types raise ``ValueError``."""
        fields = {setting.name: setting for setting in dataclasses.fields(self)}
        unknown = sorted(set(changes) - set(fields))
        if unknown:
            raise ValueError(f"unknown emulator setting(s): {', '.join(unknown)}")
        coerced = {name: _coerce(name, fields[name].type, value) for name, value in changes.items()}
        return dataclasses.replace(self, **coerced)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(name: str, type_name: Any, value: Any) -> Any:
    """JSON and command-line values into the field's type (annotations are strings here)."""
    kind = str(type_name)
    if value is None and "None" in kind:
        return None
    try:
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if kind.startswith("str"):
            if not isinstance(value, str):
                raise TypeError
            return value
    except (TypeError, ValueError):
        pass
    else:
        return value
    raise ValueError(f"{name} must be of type {kind}, got {value!r}")
