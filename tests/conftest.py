"""Fake credentials for every test, so nothing can ever reach a real AWS account.

Set at import time (not in a fixture) so session-scoped fixtures and subprocesses see them too.
"""

from __future__ import annotations

import os

pytest_plugins = ["tests.emulator_fixtures"]

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    # The dev stack orchestrates runs; tests drive runs from this machine unless they ask otherwise.
    "BATCH_RUNNER_ORCHESTRATED": "false",
}

os.environ.update(FAKE_ENV)
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
