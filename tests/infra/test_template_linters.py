"""cfn-lint (no errors or warnings) and checkov (no failures; skips carry reasons) on every environment."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import Synthesized

ROOT = Path(__file__).resolve().parents[2]
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


@pytest.fixture(scope="module")
def template_dir(synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Only the templates: the cloud assembly's other JSON files are not CloudFormation.
    directory = tmp_path_factory.mktemp("templates")
    for env in synthesized.templates:
        shutil.copy(synthesized.template_path(env), directory)
    return directory


def test_cfn_lint_finds_nothing(template_dir: Path) -> None:
    templates = sorted(str(path) for path in template_dir.glob("*.template.json"))
    assert len(templates) == 4
    result = subprocess.run([str(CFN_LINT), *templates], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.slow
def test_checkov_finds_no_failures_and_every_skip_has_a_reason(template_dir: Path) -> None:
    # No skip: CI must fail when checkov is missing rather than pass without it.
    assert CHECKOV.exists(), f"checkov is not installed at {CHECKOV}; run scripts/setup.sh"
    command = [str(CHECKOV), "-d", str(template_dir), "--framework", "cloudformation", "--skip-download"]
    result = subprocess.run(
        [*command, "--compact", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    failed = [(item["check_id"], item["resource"]) for item in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] > 0
    for skipped in report["results"]["skipped_checks"]:
        assert len(skipped["check_result"]["suppress_comment"].split()) >= 5, skipped["check_id"]
    assert result.returncode == 0
