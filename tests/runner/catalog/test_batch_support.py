"""Batch availability per model (batch_runner/data/batch_support.yaml): a model documented as not
taking batch jobs is refused at planning, naming models that do; one with no record is a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch_runner.catalog.batch_support import BATCH_SUPPORT_FILE, batch_support, check_batch_support
from batch_runner.catalog.models import model_family
from batch_runner.catalog.tables import load_data_file
from batch_runner.exceptions import ModelNotSupportedError
from batch_runner.prepare.planning import build_plan
from tests.runner.planning_helpers import SMALL_QUOTAS, options, write_csv

TABLE = load_data_file(BATCH_SUPPORT_FILE)
FOUNDATION_MODEL_ARN = "arn:aws:bedrock:us-west-2::foundation-model"


@pytest.mark.parametrize(
    ("model_id", "instead"),
    [
        ("meta.llama3-8b-instruct-v1:0", "meta.llama3-1-8b-instruct-v1:0"),
        ("meta.llama3-70b-instruct-v1:0", "meta.llama3-1-70b-instruct-v1:0"),
        ("mistral.mistral-7b-instruct-v0:2", "mistral.mistral-small-2402-v1:0"),
        ("mistral.mixtral-8x7b-instruct-v0:1", "mistral.mistral-small-2402-v1:0"),
        (f"{FOUNDATION_MODEL_ARN}/mistral.mistral-large-2402-v1:0", "mistral.mistral-large-2407-v1:0"),
    ],
)
def test_a_model_documented_without_batch_is_refused_naming_one_that_does(
    model_id: str, instead: str
) -> None:
    with pytest.raises(ModelNotSupportedError) as refused:
        check_batch_support(model_id)
    message = str(refused.value)
    assert message.startswith(f"{model_id} does not support batch inference (")
    assert instead in message and "batch-inference-supported.html" in message
    assert refused.value.exit_code == 2


@pytest.mark.parametrize(
    "model_id",
    [
        "anthropic.claude-3-haiku-20240307-v1:0",
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "us.amazon.nova-premier-v1:0",
        "meta.llama3-1-8b-instruct-v1:0",
        "mistral.mistral-large-2407-v1:0",
        "amazon.titan-embed-text-v2:0",
        # An application inference profile names no model: nothing to look up, nothing to say.
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
    ],
)
def test_a_model_batch_takes_passes_silently(model_id: str) -> None:
    assert check_batch_support(model_id) is None


def test_a_model_with_no_record_is_a_warning_not_an_error() -> None:
    warning = check_batch_support("anthropic.claude-opus-4-6-v1")
    assert warning is not None
    assert "no record of whether batch inference takes anthropic.claude-opus-4-6-v1" in warning


def test_planning_refuses_before_reading_the_dataset(tmp_path: Path) -> None:
    with pytest.raises(ModelNotSupportedError):
        build_plan(
            tmp_path / "not-there.csv",
            options(model_id="meta.llama3-8b-instruct-v1:0"),
            quotas=SMALL_QUOTAS,
            workdir=tmp_path / "plan",
        )
    assert not (tmp_path / "plan").exists()


def test_the_plan_carries_the_warning(tmp_path: Path) -> None:
    dataset = write_csv(tmp_path / "d.csv", ["Context", "Response"], [["q", "a"]] * 3)
    plan = build_plan(
        dataset,
        options(model_id="us.anthropic.claude-opus-4-6-v1"),
        quotas=SMALL_QUOTAS,
        workdir=tmp_path / "p",
    )
    assert len(plan.warnings) == 1 and "no record" in plan.warnings[0]


def test_every_entry_cites_a_listed_source_and_alternatives_are_batch_models() -> None:
    for key, entry in TABLE["models"].items():
        assert entry["source"] in TABLE["sources"], key
        assert isinstance(entry["batch"], bool), key
        for alternative in entry.get("instead", ()):
            assert batch_support(alternative).supported is True, (key, alternative)
            assert model_family(alternative) is not None, alternative
        assert entry["batch"] or entry.get("instead"), f"{key}: name a model to use instead"


# Priced or limited, but no source found on whether batch takes them: planning warns for these.
UNRECORDED = (
    "anthropic.claude-opus-4-1",
    "anthropic.claude-opus-4-5",
    "anthropic.claude-opus-4-6",
    "anthropic.claude-sonnet-4-6",
)


@pytest.mark.parametrize("data_file", ["quotas.yaml", "pricing.yaml", "output_limits.yaml"])
def test_every_model_of_the_other_tables_has_a_batch_record(data_file: str) -> None:
    """A model the runner prices or limits must not surprise anyone at create time."""
    for key in load_data_file(data_file)["models"]:
        recorded = batch_support(f"{key}-v1:0").supported is not None
        assert recorded or key.startswith(UNRECORDED), (
            f"{data_file}: {key} has no record in {BATCH_SUPPORT_FILE}"
        )


def test_every_model_with_a_batch_quota_is_recorded_as_taking_batch_jobs() -> None:
    for key in load_data_file("quotas.yaml")["models"]:
        assert batch_support(f"{key}-v1:0").supported is True, key
