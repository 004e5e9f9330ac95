"""`cdk synth` as a user runs it: offline, without any credentials, for every environment in the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from batch_runner.aws.stack_outputs import stack_name
from stacks.config import load_environments

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"


def _without_credentials() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_"))}
    env.update(
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
        CDK_DISABLE_CLI_TELEMETRY="true",
        # cdk.json runs `python3 app.py`: the project's interpreter must come first.
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    return env


@pytest.mark.slow
def test_cdk_synth_builds_every_environment_without_credentials(tmp_path: Path) -> None:
    if not CDK.exists():
        pytest.skip(f"the CDK CLI is not installed at {CDK}; run scripts/setup.sh (npm ci)")
    result = subprocess.run(
        [str(CDK), "synth", "-c", "env=all", "--no-notices", "--quiet", "-o", str(tmp_path)],
        cwd=ROOT,
        env=_without_credentials(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    written = {path.name for path in tmp_path.glob("*.template.json")}
    assert written == {f"{stack_name(name)}.template.json" for name in load_environments()}


def test_plain_python_app_synthesizes_dev_by_default(tmp_path: Path) -> None:
    env = {**_without_credentials(), "CDK_OUTDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # no prints during synth
    assert {path.name for path in tmp_path.glob("*.template.json")} == {"BedrockBatch-dev.template.json"}


def test_cdk_json_runs_the_app_with_policy_minimization() -> None:
    settings = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))
    assert settings["app"] == "python3 app.py"
    assert settings["context"]["@aws-cdk/aws-iam:minimizePolicies"] is True
