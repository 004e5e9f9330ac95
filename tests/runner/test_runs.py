"""End to end through the Python API against the emulator over HTTP: dataset in, jobs running."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

import batch_runner.jobs.submission
from batch_runner import Run, submit
from batch_runner.api import QuotaOverrides
from batch_runner.exceptions import UsageError
from batch_runner.jobs.run_state import QUEUED, SUBMITTED, manifest_key
from batch_runner.jobs.submission import find_run_jobs
from batch_runner.local import Emulator

CONVERSATIONS = Path(__file__).resolve().parents[1] / "data" / "counseling_conversations.csv"  # 400 real rows
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def write_csv(path: Path, rows: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows([f"row-{n}", f"Customer message number {n}, about billing."] for n in range(rows))
    return path


def run_objects(emulator: Emulator, run: str) -> list[str]:
    s3 = emulator.client("s3")
    listing = s3.list_objects_v2(Bucket=emulator.stack_outputs["InputBucketName"], Prefix=f"runs/{run}/")
    return sorted(obj["Key"] for obj in listing.get("Contents", []))


def run_jobs(emulator: Emulator, run: str) -> list[str]:
    return sorted(job.name for job in emulator.jobs() if job.name.startswith(f"dev.{run}-s"))


@pytest.fixture
def where(emulator: Emulator, tmp_path: Path) -> dict[str, Any]:
    return {"endpoint_url": emulator.endpoint_url, "state_dir": tmp_path / "state"}


FAMILIES = [
    pytest.param(HAIKU, "InvokeModel", {}, ("anthropic_version", "messages"), id="claude"),
    pytest.param("us.amazon.nova-lite-v1:0", "InvokeModel", {}, ("messages",), id="nova"),
    pytest.param("meta.llama3-1-8b-instruct-v1:0", "InvokeModel", {}, ("prompt",), id="llama"),
    pytest.param("mistral.mistral-large-2407-v1:0", "InvokeModel", {}, ("messages",), id="mistral"),
    pytest.param(HAIKU, "Converse", {}, ("messages", "inferenceConfig"), id="converse"),
    pytest.param(
        "amazon.titan-embed-text-v2:0",
        "InvokeModel",
        {"dimensions": 256},
        ("inputText", "dimensions"),
        id="titan",
    ),
]


@pytest.mark.parametrize(("model", "invocation_type", "model_options", "body_keys"), FAMILIES)
def test_csv_to_completed_jobs_for_each_model_family(
    emulator: Emulator,
    where: dict[str, Any],
    tmp_path: Path,
    model: str,
    invocation_type: str,
    model_options: dict[str, object],
    body_keys: tuple[str, ...],
) -> None:
    name = f"fam-{model.replace('.', '-').replace(':', '-')[:20]}-{invocation_type[:3].lower()}"
    outputs = emulator.stack_outputs
    # Given explicitly, the stack (and its model allow-list, three models in dev) is not consulted.
    explicit = {
        "input_bucket": outputs["InputBucketName"],
        "output_bucket": outputs["OutputBucketName"],
        "role_arn": outputs["ServiceRoleArn"],
    }
    run = submit(
        write_csv(tmp_path / "tickets.csv", 150),
        model=model,
        prompt="Classify this ticket: {{ text }}",
        invocation_type=invocation_type,
        model_options=model_options,
        id_column="id",
        run=name,
        **explicit,
        **where,
    )
    assert [s.state for s in run.shards] == [SUBMITTED]
    job = emulator.client("bedrock").get_model_invocation_job(jobIdentifier=run.job_arns[0])
    assert job["modelId"].rsplit("/", 1)[-1] == model  # AWS echoes a bare model ID as its ARN
    assert job["modelInvocationType"] == invocation_type
    assert job["roleArn"] == emulator.stack_outputs["ServiceRoleArn"]
    first_line = json.loads(Path(run.shards[0].local_path).read_text().splitlines()[0])
    assert set(body_keys) <= set(first_line["modelInput"])

    emulator.run_until_idle()
    done = emulator.client("bedrock").get_model_invocation_job(jobIdentifier=run.job_arns[0])
    assert done["status"] == "Completed", done.get("message")
    assert done["successRecordCount"] == 150


def test_real_conversations_dataset_end_to_end_with_claude(emulator: Emulator, where: dict[str, Any]) -> None:
    run = submit(
        CONVERSATIONS,
        model=HAIKU,
        prompt="You are a counselor. Reply briefly to: {{ Context }}",
        max_tokens=200,
        run="conversations-api",
        quotas=QuotaOverrides(max_records_per_job=150),
        **where,
    )
    assert [s.record_count for s in run.shards] == [150, 150, 100]
    assert len(run.job_arns) == 3
    keys = run_objects(emulator, "conversations-api")
    assert keys == [
        *(f"runs/conversations-api/input/shard-{s.index:05d}-{s.sha256[:16]}.jsonl" for s in run.shards),
        "runs/conversations-api/manifest.json",
        "runs/conversations-api/record-index.ndjson",
    ]
    emulator.run_until_idle()
    bedrock = emulator.client("bedrock")
    statuses = [bedrock.get_model_invocation_job(jobIdentifier=arn) for arn in run.job_arns]
    assert [s["status"] for s in statuses] == ["Completed"] * 3
    assert sum(s["successRecordCount"] for s in statuses) == 400
    outputs = emulator.client("s3").list_objects_v2(
        Bucket=emulator.stack_outputs["OutputBucketName"], Prefix="runs/conversations-api/output/"
    )
    assert len([o for o in outputs["Contents"] if o["Key"].endswith(".jsonl.out")]) == 3


def test_any_machine_picks_the_run_up_from_s3(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    run = submit(
        write_csv(tmp_path / "a.csv", 100), model=HAIKU, prompt="{{ text }}", run="shared-run", **where
    )
    elsewhere = Run.load(
        "shared-run", state_dir=tmp_path / "other-machine", endpoint_url=emulator.endpoint_url
    )
    assert elsewhere.job_arns == run.job_arns
    assert elsewhere.manifest.fingerprint == run.manifest.fingerprint
    assert (tmp_path / "other-machine" / "runs" / "shared-run" / "manifest.json").is_file()
    s3_copy = emulator.client("s3").get_object(
        Bucket=emulator.stack_outputs["InputBucketName"], Key=manifest_key("shared-run")
    )
    assert json.loads(s3_copy["Body"].read())["shards"][0]["job_arn"] == run.job_arns[0]


class Crash(Exception):
    """Stands in for the process dying at a chosen point."""


def test_crash_between_upload_and_create_then_resume(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_create = batch_runner.jobs.submission.create_job

    def die(*args: object, **kwargs: object) -> str:
        raise Crash

    monkeypatch.setattr(batch_runner.jobs.submission, "create_job", die)
    dataset = write_csv(tmp_path / "c.csv", 300)
    options: dict[str, Any] = {
        "model": HAIKU,
        "prompt": "{{ text }}",
        "quotas": QuotaOverrides(max_records_per_job=100),
    }
    with pytest.raises(Crash):
        submit(dataset, run="crash-upload", **options, **where)
    assert len(run_objects(emulator, "crash-upload")) == 5  # 3 shards, index, manifest
    assert run_jobs(emulator, "crash-upload") == []
    monkeypatch.setattr(batch_runner.jobs.submission, "create_job", real_create)

    run = Run.load("crash-upload", state_dir=where["state_dir"], endpoint_url=emulator.endpoint_url)
    assert [s.state for s in run.shards] == [QUEUED] * 3
    run.resume()
    assert run_jobs(emulator, "crash-upload") == [
        "dev.crash-upload-s00000",
        "dev.crash-upload-s00001",
        "dev.crash-upload-s00002",
    ]
    run.resume()  # idempotent
    assert len(run_jobs(emulator, "crash-upload")) == 3


def test_crash_between_create_and_manifest_write_then_submit_again(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_create = batch_runner.jobs.submission.create_job

    def create_then_die(*args: Any, **kwargs: Any) -> str:
        real_create(*args, **kwargs)
        raise Crash  # the job exists; its ARN is never written down

    monkeypatch.setattr(batch_runner.jobs.submission, "create_job", create_then_die)
    dataset = write_csv(tmp_path / "d.csv", 200)
    options: dict[str, Any] = {
        "model": HAIKU,
        "prompt": "{{ text }}",
        "quotas": QuotaOverrides(max_records_per_job=100),
    }
    with pytest.raises(Crash):
        submit(dataset, run="crash-create", **options, **where)
    assert run_jobs(emulator, "crash-create") == ["dev.crash-create-s00000"]
    monkeypatch.setattr(batch_runner.jobs.submission, "create_job", real_create)

    run = submit(dataset, run="crash-create", **options, **where)
    assert run_jobs(emulator, "crash-create") == ["dev.crash-create-s00000", "dev.crash-create-s00001"]
    listed = find_run_jobs(emulator.client("bedrock"), "crash-create", name_prefix="dev.")
    assert sorted(run.job_arns) == sorted(job["jobArn"] for job in listed.values())


def test_concurrency_quota_leaves_shards_queued_for_later(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    run = submit(
        write_csv(tmp_path / "e.csv", 400),
        model=HAIKU,
        prompt="{{ text }}",
        run="queued-run",
        quotas=QuotaOverrides(max_records_per_job=100, max_concurrent_jobs=2),
        **where,
    )
    assert [s.state for s in run.shards] == [SUBMITTED, SUBMITTED, QUEUED, QUEUED]
    assert run.summary()["queued"] == [2, 3]
    assert run.submit_queued().created == []  # still two active
    # Submitting the same run again may raise the limit (it does not change the shards).
    again = submit(
        tmp_path / "e.csv",
        model=HAIKU,
        prompt="{{ text }}",
        run="queued-run",
        quotas=QuotaOverrides(max_records_per_job=100, max_concurrent_jobs=3),
        **where,
    )
    assert again.summary()["queued"] == [3]
    emulator.run_until_idle()
    later = Run.load("queued-run", state_dir=where["state_dir"], endpoint_url=emulator.endpoint_url)
    assert later.submit_queued().created == [3]
    assert len(run_jobs(emulator, "queued-run")) == 4


def test_same_run_name_for_other_data_is_refused_and_changes_nothing(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    submit(write_csv(tmp_path / "f.csv", 100), model=HAIKU, prompt="{{ text }}", run="taken", **where)
    before = run_objects(emulator, "taken")
    manifest_before = (
        emulator.client("s3")
        .get_object(Bucket=emulator.stack_outputs["InputBucketName"], Key=manifest_key("taken"))["Body"]
        .read()
    )
    with pytest.raises(UsageError, match="run taken already exists for a different dataset or options"):
        submit(write_csv(tmp_path / "g.csv", 120), model=HAIKU, prompt="{{ text }}", run="taken", **where)
    assert run_objects(emulator, "taken") == before
    assert run_jobs(emulator, "taken") == ["dev.taken-s00000"]
    manifest_after = (
        emulator.client("s3")
        .get_object(Bucket=emulator.stack_outputs["InputBucketName"], Key=manifest_key("taken"))["Body"]
        .read()
    )
    assert manifest_after == manifest_before


NOT_ALLOWED = "meta.llama3-1-405b-instruct-v1:0"  # a supported family, absent from the dev allow-list


def test_model_outside_the_stack_allow_list_is_refused_before_upload(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    assert NOT_ALLOWED not in emulator.stack_outputs["AllowedModels"].split(",")
    with pytest.raises(UsageError, match="not in the allow-list of stack BedrockBatch-dev"):
        submit(
            write_csv(tmp_path / "h.csv", 100),
            model=NOT_ALLOWED,
            prompt="{{ text }}",
            run="not-allowed",
            **where,
        )
    assert run_objects(emulator, "not-allowed") == []
    assert run_jobs(emulator, "not-allowed") == []


def test_live_quotas_from_service_quotas_shape_the_run(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    emulator.configure(max_records_per_job=150, max_active_jobs_per_model=1)
    run = submit(
        write_csv(tmp_path / "q.csv", 300), model=HAIKU, prompt="{{ text }}", run="live-quotas", **where
    )
    assert run.manifest.quotas["source"] == "service-quotas"
    assert (run.quotas.max_records_per_job, run.quotas.max_concurrent_jobs) == (150, 1)
    assert [s.record_count for s in run.shards] == [150, 150]
    assert run.summary()["queued"] == [1]


def test_iterable_of_dicts_source(emulator: Emulator, where: dict[str, Any]) -> None:
    rows = ({"text": f"note {n}"} for n in range(100))
    run = submit(rows, model=HAIKU, prompt="Summarize: {{ text }}", run="from-rows", **where)
    assert run.manifest.plan["record_count"] == 100
    assert run.manifest.dataset["source"] == "<generator>"
    assert run_jobs(emulator, "from-rows") == ["dev.from-rows-s00000"]


def test_dataframe_source(emulator: Emulator, where: dict[str, Any]) -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"text": [f"note {n}" for n in range(100)], "n": range(100)})
    run = submit(frame, model=HAIKU, prompt="Summarize: {{ text }} ({{ n }})", run="from-frame", **where)
    assert run.manifest.plan["record_count"] == 100
    assert run.name == "from-frame"
    assert run_jobs(emulator, "from-frame") == ["dev.from-frame-s00000"]


def test_pre_formatted_jsonl_needs_no_prompt(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path
) -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 20,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hi"}]}],
    }
    dataset = tmp_path / "requests.jsonl"
    dataset.write_text(
        "".join(json.dumps({"recordId": f"REC{n:05d}", "modelInput": body}) + "\n" for n in range(100))
    )
    run = submit(dataset, model=HAIKU, run="pre-formatted", **where)
    assert len(run.job_arns) == 1
    sent = json.loads(Path(run.shards[0].local_path).read_text().splitlines()[0])
    assert sent["modelInput"] == body
    emulator.run_until_idle()
    job = emulator.client("bedrock").get_model_invocation_job(jobIdentifier=run.job_arns[0])
    assert (job["status"], job["successRecordCount"]) == ("Completed", 100)


def test_crash_after_upload_resumes_on_a_machine_without_the_files(
    emulator: Emulator, where: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = Run.save
    saves = []

    def save_then_die_after_upload(self: Run) -> None:
        saves.append(1)
        if len(saves) == 2:  # the save that would record the upload
            raise Crash
        real_save(self)

    monkeypatch.setattr(Run, "save", save_then_die_after_upload)
    dataset = write_csv(tmp_path / "u.csv", 200)
    options: dict[str, Any] = {
        "model": HAIKU,
        "prompt": "{{ text }}",
        "quotas": QuotaOverrides(max_records_per_job=100),
    }
    with pytest.raises(Crash):
        submit(dataset, run="crash-uploaded", **options, **where)
    monkeypatch.setattr(Run, "save", real_save)
    uploaded = run_objects(emulator, "crash-uploaded")
    assert any(key.startswith("runs/crash-uploaded/input/shard-00001-") for key in uploaded)

    elsewhere = Run.load("crash-uploaded", state_dir=tmp_path / "laptop", endpoint_url=emulator.endpoint_url)
    assert [s.state for s in elsewhere.shards] == ["planned", "planned"]
    elsewhere.resume()
    assert run_jobs(emulator, "crash-uploaded") == ["dev.crash-uploaded-s00000", "dev.crash-uploaded-s00001"]
