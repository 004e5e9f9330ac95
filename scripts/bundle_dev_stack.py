#!/usr/bin/env python3
"""Rewrite the dev stack's template shipped in the package (batch_runner/data/stacks/) from app.py.

An installed package has no app.py, so `demo` and `local serve` deploy this copy in the emulator.
tests/infra/test_bundled_template.py fails when it no longer matches what app.py synthesizes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from batch_runner.local.stack import (  # noqa: E402
    BUNDLED_ENVIRONMENT,
    bundled_template_path,
    synthesized_template,
    without_lambda_code,
)


def main() -> None:
    template = without_lambda_code(synthesized_template(ROOT, BUNDLED_ENVIRONMENT))
    path = bundled_template_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(template, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
