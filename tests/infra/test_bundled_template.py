"""The dev stack's template shipped in the package (what an installed `demo` and `local serve`
deploy) is exactly what app.py synthesizes, so the two never drift apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batch_runner.exceptions import ConfigurationError
from batch_runner.local.stack import (
    BUNDLED_ENVIRONMENT,
    bundled_template_path,
    stack_template,
    synthesized_template,
    without_lambda_code,
)
from tests.readme_commands import ROOT


def test_the_bundled_dev_template_is_what_app_py_synthesizes() -> None:
    bundled = json.loads(bundled_template_path().read_text(encoding="utf-8"))
    assert bundled == without_lambda_code(synthesized_template(ROOT, BUNDLED_ENVIRONMENT)), (
        "batch_runner/data/stacks/ is stale: run `python scripts/bundle_dev_stack.py` and commit it"
    )


def test_without_app_py_the_bundled_template_is_deployed(tmp_path: Path) -> None:
    assert stack_template(tmp_path, "dev") == json.loads(bundled_template_path().read_text())


def test_without_app_py_another_environment_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"bundles only the dev stack; use --env dev"):
        stack_template(tmp_path, "prod")
