"""Whether batch inference takes a model, from ``batch_runner/data/batch_support.yaml``.

One table serves the runner (planning refuses a model documented as not taking batch jobs and warns
for one with no record) and the emulator (it refuses such a job at create, as Bedrock does).
"""

from __future__ import annotations

from dataclasses import dataclass

from batch_runner.catalog.model_ids import parse_model_id
from batch_runner.catalog.tables import load_data_file, model_entry
from batch_runner.exceptions import ModelNotSupportedError

BATCH_SUPPORT_FILE = "batch_support.yaml"


@dataclass(frozen=True)
class BatchSupport:
    supported: bool | None  # None: the table has no record of the model
    source: str = ""  # where the record comes from (a URL or a note)
    instead: tuple[str, ...] = ()  # models of the same provider that batch takes


def batch_support(model_id: str) -> BatchSupport:
    """What the table records for the model behind ``model_id`` (geography prefixes and ARNs allowed)."""
    data = load_data_file(BATCH_SUPPORT_FILE)
    entry = model_entry(data["models"], model_id)
    if entry is None:
        return BatchSupport(None)
    source = str(data["sources"].get(entry["source"], entry["source"]))
    return BatchSupport(bool(entry["batch"]), source, tuple(entry.get("instead", ())))


def check_batch_support(model_id: str) -> str | None:
    """Raise ``ModelNotSupportedError`` for a model documented as not taking batch jobs; return a
    warning for a model with no record; None when batch takes it (or the ID names no model, as an
    application inference profile's ARN does not)."""
    support = batch_support(model_id)
    if support.supported is False:
        raise ModelNotSupportedError(
            f"{model_id} does not support batch inference ({support.source}), so Bedrock would refuse "
            f"every job; use {' or '.join(support.instead)}, or another model listed at "
            f"{load_data_file(BATCH_SUPPORT_FILE)['sources']['batch_table']}"
        )
    if support.supported is None and parse_model_id(model_id).base_model_id is not None:
        return (
            f"batch-runner has no record of whether batch inference takes {model_id}; if Bedrock "
            "refuses the job, pick a model listed at "
            f"{load_data_file(BATCH_SUPPORT_FILE)['sources']['batch_table']}"
        )
    return None
