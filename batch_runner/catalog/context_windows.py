"""Each model's context window, from ``batch_runner/data/context_windows.yaml``: records whose
estimated prompt plus output budget exceed it are refused at planning, or left out of the jobs with
``--skip-oversized`` and listed in the results as failed with ``error_code`` ``oversized``."""

from __future__ import annotations

from batch_runner.catalog.tables import load_data_file, model_key

CONTEXT_WINDOWS_FILE = "context_windows.yaml"
# The results' error_code of a row planning left out because it would not fit the context window.
OVERSIZED_ERROR_CODE = "oversized"


def context_window(model_id: str) -> int | None:
    """The documented context window in tokens of the model behind ``model_id``; None when unknown."""
    table = load_data_file(CONTEXT_WINDOWS_FILE)["models"]
    key = model_key(table, model_id)
    return int(table[key]) if key is not None else None
