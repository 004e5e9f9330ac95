"""Cancel and retry of an orchestrated run are its owner's: the caller that submitted it, as STS
names it. Anyone else is refused in one line (exit 77) unless they force it, and the scheduler
logs who asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batch_runner.aws.clients import AwsContext
from batch_runner.cli import main
from batch_runner.exceptions import NotRunOwnerError
from batch_runner.local import Emulator
from batch_runner.orchestration.registry import Registry
from batch_runner.runs import Run
from tests.orchestration.helpers import (
    become_another_submitter,
    queued_run,
    registry_table,
    scheduler,
    submit_orchestrated,
)


def _registry(emulator: Emulator) -> Registry:
    return Registry(emulator.client("dynamodb"), emulator.stack_outputs["RunRegistryTableName"])


# Who the default credentials are: the emulator's local user, holding the submitter policy.
LOCAL_USER = "arn:aws:iam::123456789012:user/batch-runner-local"


def test_the_run_is_owned_by_the_caller_that_submitted_it(emulator: Emulator, tmp_path: Path) -> None:
    run = submit_orchestrated(emulator, tmp_path, "own-submitted", 1, quota=2)
    entry = _registry(emulator).get(run.name)
    assert entry is not None
    assert entry.owner == LOCAL_USER
    emulator.settle()


def test_asking_who_the_caller_is_needs_no_permission(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on AWS: the submitter policy grants no sts action (the policy simulation says so), and
    GetCallerIdentity still answers, even a caller whose policies deny it explicitly."""
    arn = become_another_submitter(emulator, monkeypatch)
    iam = emulator.client("iam")
    simulated = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["sts:GetCallerIdentity"])
    assert simulated["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    sts = AwsContext(endpoint_url=emulator.endpoint_url).client("sts")
    assert sts.get_caller_identity()["Arn"] == arn
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "sts:*", "Resource": "*"}]}
    iam.put_user_policy(UserName=arn.rsplit("/", 1)[1], PolicyName="no-sts", PolicyDocument=json.dumps(deny))
    assert sts.get_caller_identity()["Arn"] == arn


def test_a_colleague_is_refused_in_one_line_and_force_asks_anyway(
    emulator: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = submit_orchestrated(emulator, tmp_path, "own-colleague", 3, quota=1)
    emulator.deliveries.join()
    colleague = become_another_submitter(emulator, monkeypatch)
    where = ["--endpoint-url", emulator.endpoint_url, "--state-dir", str(tmp_path / "colleague")]
    capsys.readouterr()

    for command in (["cancel", run.name], ["retry", run.name, "--yes"]):
        assert main([*command, *where]) == 77
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1
        assert f"run {run.name} belongs to {LOCAL_USER}, not to you ({colleague})" in err and "--force" in err
    entry = _registry(emulator).get(run.name)
    assert entry is not None and (entry.cancel_requested, entry.retry_requested) == (False, 0)

    assert main(["cancel", run.name, "--force", *where]) == 0
    entry = _registry(emulator).get(run.name)
    assert entry is not None and (entry.cancel_requested, entry.cancel_requested_by) == (True, colleague)
    emulator.settle()
    seen = Run.load(run.name, state_dir=tmp_path / "colleague", endpoint_url=emulator.endpoint_url)
    assert seen.status().state == "Stopped"


def test_the_python_api_asks_the_stack_and_checks_the_owner(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = submit_orchestrated(emulator, tmp_path, "own-api", 2, quota=1)
    emulator.deliveries.join()
    written = run.manifest.updated_at
    report = run.cancel()
    assert report.requested and report.stopped == [] and run.manifest.updated_at == written
    emulator.settle()
    assert run.status().state == "Stopped"

    become_another_submitter(emulator, monkeypatch)
    theirs = Run.load(run.name, state_dir=tmp_path / "colleague", endpoint_url=emulator.endpoint_url)
    with pytest.raises(NotRunOwnerError, match="force=True"):
        theirs.retry()
    assert theirs.retry(force=True).mode == "requested"
    emulator.settle()  # a retry after a cancel resends what the cancel left unprocessed
    assert theirs.status().state == "Completed" and {s.kind for s in theirs.shards} == {"batch", "retry"}


def test_the_scheduler_logs_who_asked_and_flags_forced_requests(emulator: Emulator, tmp_path: Path) -> None:
    table = registry_table(emulator)
    queued_run(emulator, tmp_path, table, "own-log", 2, quota=1)
    registry = Registry(emulator.client("dynamodb"), table)
    registry.update("own-log", {"owner": "arn:aws:iam::123456789012:user/alice"})
    assert registry.request("own-log", retry=True, by="arn:aws:iam::123456789012:user/alice")
    with pytest.raises(NotRunOwnerError, match="belongs to arn:aws:iam::123456789012:user/alice"):
        registry.request("own-log", cancel=True, by="arn:aws:iam::123456789012:user/bob")
    assert registry.request("own-log", cancel=True, by="arn:aws:iam::123456789012:user/bob", force=True)

    report = scheduler(emulator, table).run_pass()
    assert report.requests["own-log"] == [
        "cancel by arn:aws:iam::123456789012:user/bob",
        "retry by arn:aws:iam::123456789012:user/alice",
    ]
    assert report.warnings == [
        "run own-log: cancel forced by arn:aws:iam::123456789012:user/bob, "
        "owner arn:aws:iam::123456789012:user/alice"
    ]
    assert report.cancelled == ["own-log"]  # acted on: the registry is the authority, IAM its gate
