#!/usr/bin/env bash
# Installs everything the project needs into the work tree, from pinned versions. Safe to re-run:
# each step is skipped when its pinned inputs have not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
want=$(stamp requirements.txt requirements-dev.txt)
if [ "$(cat .venv/.installed 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > .venv/.installed
fi

# checkov pins an old boto3, so it gets a virtualenv of its own.
if [ ! -x .venv-checkov/bin/python ]; then
  "$PYTHON" -m venv .venv-checkov
fi
want=$(stamp requirements-checkov.txt)
if [ "$(cat .venv-checkov/.installed 2>/dev/null)" != "$want" ]; then
  .venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
  echo "$want" > .venv-checkov/.installed
fi

# The CDK CLI (for `npx cdk synth|deploy`), pinned in package.json.
want=$(stamp package.json)
if [ "$(cat node_modules/.installed 2>/dev/null)" != "$want" ]; then
  npm install --no-audit --no-fund --loglevel=error
  echo "$want" > node_modules/.installed
fi

# The orchestration Lambdas' wheels, for their runtime rather than this machine: synth builds the
# Lambda code from them offline (stacks/lambda_bundle.py). Downloads only what is missing.
.venv/bin/python scripts/lambda_wheels.py
