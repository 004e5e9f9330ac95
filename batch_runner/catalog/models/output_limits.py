"""The most output tokens each model accepts per request, from ``batch_runner/data/output_limits.yaml``.

One table serves the runner (``--max-tokens`` and pre-formatted records are checked at planning) and
the emulator (records over the ceiling fail like on Bedrock). Models the table does not list, and IDs
that do not name a model (application inference profiles), have no known ceiling and are not checked.
"""

from __future__ import annotations

from batch_runner.catalog.tables import load_data_file, model_key

OUTPUT_LIMITS_FILE = "output_limits.yaml"


def max_output_tokens(model_id: str) -> int | None:
    """The documented output-token ceiling of the model behind ``model_id``, or None when unknown."""
    table = load_data_file(OUTPUT_LIMITS_FILE)["models"]
    key = model_key(table, model_id)
    return int(table[key]) if key is not None else None
