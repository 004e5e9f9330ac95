"""cdk-nag (AwsSolutions + HIPAA) runs on every synth and fails it on findings; acks have reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_s3 as s3

from stacks.security_checks import acknowledge, enable_security_checks
from tests.infra.conftest import Synthesized


def test_a_non_compliant_resource_fails_synth(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Careless")
    s3.Bucket(stack, "Plain")  # no TLS enforcement, no access logs, no versioning
    compliant_elsewhere = s3.Bucket(stack, "Acknowledged")
    acknowledge(compliant_elsewhere, "AwsSolutions-S1", "Test bucket: the finding is accepted here.")
    enable_security_checks(app)

    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()

    report = json.loads((tmp_path / "validation-report.json").read_text(encoding="utf-8"))
    violations = {
        violation["ruleName"]: {item["constructPath"] for item in violation["violatingConstructs"]}
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
    }
    assert {plugin["pluginName"] for plugin in report["pluginReports"]} == {"AwsSolutions", "HIPAA.Security"}
    assert "Careless/Plain/Resource" in violations["AwsSolutions-S1"]
    assert "Careless/Plain/Resource" in violations["AwsSolutions-S10"]  # TLS not enforced
    assert "Careless/Plain/Resource" in violations["HIPAA.Security-S3BucketVersioningEnabled"]
    # The acknowledgement covers exactly the rule it names on exactly its construct.
    assert "Careless/Acknowledged/Resource" not in violations["AwsSolutions-S1"]
    assert "Careless/Acknowledged/Resource" in violations["AwsSolutions-S10"]


def test_the_real_stacks_synthesize_with_both_packs_and_zero_findings(synthesized: Synthesized) -> None:
    # The session fixture's synth would have raised on any unacknowledged finding.
    report = json.loads((synthesized.outdir / "validation-report.json").read_text(encoding="utf-8"))
    assert report["pluginReports"] == []
    assert len(synthesized.templates) == 4


def test_every_acknowledgement_carries_a_reason(synthesized: Synthesized) -> None:
    acknowledgements: dict[str, str] = {}
    for construct in synthesized.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in entry.data.items():
                    acknowledgements[f"{construct.node.path}:{rule}"] = reason
    assert len(acknowledgements) >= 20
    for where, reason in acknowledgements.items():
        assert isinstance(reason, str) and len(reason.split()) >= 8, where
        rule = where.split("Annotation::", 1)[1]
        # Wildcard findings are accepted one resource at a time, never as a blanket rule.
        assert rule != "AwsSolutions-IAM5", where
