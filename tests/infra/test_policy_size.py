"""Every managed policy fits IAM's 6,144-character limit, even for the widest allow-list config admits."""

from __future__ import annotations

import json

from stacks.model_access import MANAGED_POLICY_LIMIT
from tests.infra.conftest import Synthesized


def test_every_managed_policy_fits_the_iam_size_limit(synthesized: Synthesized, env_name: str) -> None:
    deployed = synthesized.deployed(env_name)
    for policy in deployed.logical_ids("AWS::IAM::ManagedPolicy"):
        document = deployed.properties(policy)["PolicyDocument"]
        # IAM counts the policy without whitespace.
        size = len(json.dumps(document, separators=(",", ":")))
        assert size <= MANAGED_POLICY_LIMIT, (policy, size)
