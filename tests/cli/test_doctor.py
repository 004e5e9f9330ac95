"""`python -m batch_runner doctor`: one ✓/✗/? line per check, fixes indented below, exit status."""

from __future__ import annotations

import json
import re
import socket

import pytest

from batch_runner.cli import main
from batch_runner.cli.doctor import EXIT_UNVERIFIED, exit_code
from batch_runner.doctor import CheckResult
from batch_runner.local import Emulator
from tests.doctor.identities import CLAUDE, ROOT_KEY, create_user, submitter_key, submitter_policy, use_key

_LINE = re.compile(r"^(✓|✗|\?) \S.*?: \S.*$")


def doctor(emulator: Emulator, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["doctor", "--endpoint-url", emulator.endpoint_url, "--region", "us-east-1", *args])
    return code, capsys.readouterr().out.splitlines()


def test_all_checks_pass_exit_zero(
    emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_key(monkeypatch, submitter_key(emulator))
    code, lines = doctor(emulator, capsys, "--model", CLAUDE)
    assert code == 0
    *checks, summary = lines
    assert all(_LINE.match(line) and line.startswith("✓") for line in checks), checks
    assert summary == f"{len(checks)} passed, 0 failed, 0 could not be verified"


def test_a_failed_check_prints_a_cross_and_its_fix_and_exits_one(
    emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_key(monkeypatch, ROOT_KEY)
    model = "anthropic.claude-nonexistent-20990101-v1:0"
    code, lines = doctor(emulator, capsys, "--model", model)
    assert code == 1
    index = lines.index(next(line for line in lines if line.startswith(f"✗ model {model} exists: ")))
    assert lines[index + 1] == (
        "    fix: check the ID; list what exists: `aws bedrock list-foundation-models --region us-east-1`"
    )
    assert lines[-1].endswith("could not be verified") and " 0 failed" not in lines[-1]


def test_unverifiable_checks_are_marked_apart_and_exit_three(
    emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A user holding only the submitter policy may not simulate its own policies (it may read only
    # the roles the stack knows), so the caller's permissions cannot be verified.
    use_key(monkeypatch, create_user(emulator, submitter_policy(emulator)))
    code, lines = doctor(emulator, capsys, "--model", CLAUDE)
    assert code == EXIT_UNVERIFIED
    unverified = [line for line in lines if line.startswith("? ")]
    assert [line.split(":")[0] for line in unverified] == [
        "? caller may pass the role",
        "? caller may manage jobs",
    ]
    assert all("could not verify" in line for line in unverified)
    assert lines[lines.index(unverified[0]) + 1].startswith("    to verify: ")


def test_the_multi_line_fix_is_indented_json(
    emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_key(monkeypatch, ROOT_KEY)
    code, lines = doctor(emulator, capsys, "--model", "eu.amazon.nova-lite-v1:0")
    assert code == 1
    start = next(i for i, line in enumerate(lines) if line.startswith("✗ service role may invoke"))
    assert lines[start + 1].startswith("    fix: ")
    assert lines[start + 2] == "      {"


def test_a_fresh_emulator_passes_doctor_with_the_default_credentials(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = doctor(emulator, capsys)  # AWS_ACCESS_KEY_ID=testing, as `local serve` prints
    assert code == 0, lines
    assert lines[0].startswith("✓ credentials and Region: arn:aws:iam::123456789012:user/batch-runner-local ")


def test_exit_code_prefers_failure_over_unverified() -> None:
    ok, bad, unknown = (
        CheckResult("a", True, ""),
        CheckResult("b", False, "", "f"),
        CheckResult("c", None, ""),
    )
    assert exit_code([ok]) == 0
    assert exit_code([ok, unknown]) == EXIT_UNVERIFIED
    assert exit_code([unknown, bad]) == 1


def test_without_a_region_doctor_says_how_to_set_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert main(["doctor"]) == 2
    assert "no AWS Region configured" in capsys.readouterr().err


def test_an_unreachable_endpoint_is_one_failed_check(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = main(["doctor", "--endpoint-url", f"http://127.0.0.1:{port}", "--region", "us-east-1"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[0].startswith("✗ credentials and Region: cannot reach AWS in us-east-1")
    assert "--endpoint-url" in lines[1] and lines[-1] == "0 passed, 1 failed, 0 could not be verified"


def test_json_lists_every_check_with_the_same_exit_status(
    emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_key(monkeypatch, ROOT_KEY)
    model = "anthropic.claude-nonexistent-20990101-v1:0"
    code = main(
        ["doctor", "--endpoint-url", emulator.endpoint_url, "--region", "us-east-1", "--model", model]
    )
    text = capsys.readouterr().out.splitlines()
    json_code = main(
        [
            "doctor",
            "--endpoint-url",
            emulator.endpoint_url,
            "--region",
            "us-east-1",
            "--model",
            model,
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert json_code == code == 1
    assert text[-1] == (
        f"{report['passed']} passed, {report['failed']} failed, {report['unverified']} could not be verified"
    )
    failed = next(check for check in report["checks"] if check["name"] == f"model {model} exists")
    assert failed["ok"] is False and failed["fix"].startswith("check the ID")
    assert all(set(check) == {"name", "ok", "detail", "fix"} for check in report["checks"])
