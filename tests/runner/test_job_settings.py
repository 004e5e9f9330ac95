"""What every job of a run is created with: the timeout (retries included) and the VPC configuration."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from batch_runner import Run, submit
from batch_runner.api import QuotaOverrides
from batch_runner.exceptions import UsageError
from batch_runner.jobs.submission import DEFAULT_TIMEOUT_HOURS
from batch_runner.local import Emulator
from tests.runner.test_runs import HAIKU, run_objects, write_csv


@pytest.fixture
def where(emulator: Emulator, tmp_path: Path) -> dict[str, Any]:
    return {"endpoint_url": emulator.endpoint_url, "state_dir": tmp_path / "state"}


def job_of(emulator: Emulator, arn: str) -> dict[str, Any]:
    job: dict[str, Any] = emulator.client("bedrock").get_model_invocation_job(jobIdentifier=arn)
    return job


def test_every_job_gets_the_default_timeout_not_aws_24_hours(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    run = submit(
        write_csv(tmp_path / "a.csv", 100), model=HAIKU, prompt="{{ text }}", run="timeout-default", **where
    )
    assert run.manifest.plan["timeout_hours"] == DEFAULT_TIMEOUT_HOURS == 168
    assert job_of(emulator, run.job_arns[0])["timeoutDurationInHours"] == 168


def test_the_run_timeout_is_kept_in_the_manifest_and_used_by_retries(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    emulator.configure(record_error_rate=0.5, min_records_per_job=5)
    run = submit(
        write_csv(tmp_path / "b.csv", 40),
        model=HAIKU,
        prompt="{{ text }}",
        run=f"timeout-{uuid.uuid4().hex[:8]}",
        quotas=QuotaOverrides(min_records_per_job=5),
        timeout_hours=48,
        **where,
    )
    emulator.run_until_idle()
    emulator.configure(record_error_rate=0.0)
    loaded = Run.load(run.name, state_dir=where["state_dir"], endpoint_url=emulator.endpoint_url)
    assert loaded.manifest.plan["timeout_hours"] == 48
    loaded.retry()
    assert len(loaded.job_arns) == 2
    assert [job_of(emulator, arn)["timeoutDurationInHours"] for arn in loaded.job_arns] == [48, 48]


@pytest.mark.parametrize("hours", [12, 169, 0])
def test_a_timeout_outside_bedrock_limits_is_refused_before_anything_is_uploaded(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path, hours: int
) -> None:
    with pytest.raises(
        UsageError, match=f"--timeout-hours must be a whole number from 24 to 168.*got {hours}"
    ):
        submit(
            write_csv(tmp_path / "c.csv", 100),
            model=HAIKU,
            prompt="{{ text }}",
            run="timeout-bad",
            timeout_hours=hours,
            **where,
        )
    assert run_objects(emulator, "timeout-bad") == []


def test_subnet_and_group_flags_send_a_vpc_config(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    run = submit(
        write_csv(tmp_path / "d.csv", 100),
        model=HAIKU,
        prompt="{{ text }}",
        run="vpc-flags",
        subnet_ids="subnet-0a1b2c3d4e5f60718,subnet-0b1c2d3e4f5a60718",
        security_group_ids="sg-0a1b2c3d4e5f60718",
        **where,
    )
    assert run.manifest.settings["subnet_ids"] == ["subnet-0a1b2c3d4e5f60718", "subnet-0b1c2d3e4f5a60718"]
    job = job_of(emulator, run.job_arns[0])
    assert job["vpcConfig"] == {
        "subnetIds": ["subnet-0a1b2c3d4e5f60718", "subnet-0b1c2d3e4f5a60718"],
        "securityGroupIds": ["sg-0a1b2c3d4e5f60718"],
    }
    # The dev stack has no `vpc`, so its role was never granted the network interfaces: as on AWS, the
    # job fails validation instead of running outside the VPC.
    emulator.run_until_idle()
    assert job_of(emulator, run.job_arns[0])["status"] == "Failed"


def test_without_a_stack_vpc_or_flags_jobs_carry_no_vpc_config(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    run = submit(write_csv(tmp_path / "e.csv", 100), model=HAIKU, prompt="{{ text }}", run="no-vpc", **where)
    assert "vpcConfig" not in job_of(emulator, run.job_arns[0])
