#!/usr/bin/env bash
# The one check command: lint, types, tests. CI runs exactly this (after scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true
export PATH="$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH"

ruff check .
ruff format --check .
mypy
pytest "$@"
