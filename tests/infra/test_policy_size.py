"""Every managed policy fits IAM's 6,144-character limit, even for the widest allow-list config admits."""

from __future__ import annotations

import json

from stacks.model_access import MANAGED_POLICY_LIMIT, model_grant_size
from tests.infra.conftest import Synthesized


def test_every_managed_policy_fits_the_iam_size_limit(synthesized: Synthesized, env_name: str) -> None:
    deployed = synthesized.deployed(env_name)
    for policy in deployed.logical_ids("AWS::IAM::ManagedPolicy"):
        document = deployed.properties(policy)["PolicyDocument"]
        # IAM counts the policy without whitespace.
        size = len(json.dumps(document, separators=(",", ":")))
        assert size <= MANAGED_POLICY_LIMIT, (policy, size)


def test_config_validation_measures_the_model_grants_as_synth_writes_them(
    synthesized: Synthesized, env_name: str
) -> None:
    # Synth refuses allow-lists over MODEL_GRANT_BUDGET by this estimate, before any policy exists;
    # it must track the statements actually written (one per profile) or a config could pass
    # validation and fail deploy with a PolicySize error.
    config = synthesized.configs[env_name]
    deployed = synthesized.deployed(env_name)
    model_policy = deployed.properties(deployed.only("AWS::IAM::ManagedPolicy", "ModelAccess"))
    written = len(json.dumps(model_policy["PolicyDocument"]["Statement"], separators=(",", ":")))
    assert abs(written - model_grant_size(config.models, region=config.region)) <= 100
