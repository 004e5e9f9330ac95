"""Records too large for the model's context window: estimated input tokens plus the output budget.

The estimate is the cost estimate's (``pricing.yaml`` ``chars_per_token``), so it catches records
far over the window (a 4 MB field against 200K tokens), not those within a few percent of it.
Over the window, planning stops naming the row, or with ``--skip-oversized`` leaves the row out of
the jobs: its record-index line then carries ``skipped`` (``error_code`` ``oversized`` and the
message), which results reads as a failed row, so reconciliation still counts every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from batch_runner.catalog.context_windows import OVERSIZED_ERROR_CODE, context_window
from batch_runner.catalog.models import ModelAdapter
from batch_runner.catalog.pricing import estimate_input_tokens
from batch_runner.catalog.tables import load_data_file
from batch_runner.exceptions import PlanError

SKIP_OPTION = "--skip-oversized"


@dataclass(frozen=True)
class OversizeCheck:
    model_id: str
    window: int  # tokens, prompt and answer together
    output_tokens: int  # the answer's budget (max tokens; 0 for embeddings)
    chars_per_token: float
    skip: bool  # leave such records out instead of stopping

    @classmethod
    def for_adapter(cls, adapter: ModelAdapter | None, *, skip: bool) -> OversizeCheck | None:
        """The check for the adapter's model, or None when its window is unknown."""
        window = context_window(adapter.model_id) if adapter is not None else None
        if adapter is None or window is None:
            return None
        output = adapter.settings.max_tokens if adapter.produces_text else 0
        cpt = float(load_data_file("pricing.yaml")["chars_per_token"])
        return cls(adapter.model_id, window, output, cpt, skip)

    def char_limit(self, output_tokens: int | None = None) -> int:
        """The most prompt characters a record may have (fewer tokens than that always fit)."""
        budget = self.output_tokens if output_tokens is None else output_tokens
        return int(max(0, self.window - budget) * self.chars_per_token)

    def problem(self, chars: int, output_tokens: int | None = None) -> str | None:
        """Why a record of ``chars`` prompt characters does not fit, or None when it does."""
        if chars <= self.char_limit(output_tokens):
            return None
        budget = self.output_tokens if output_tokens is None else output_tokens
        return (
            f"about {estimate_input_tokens(chars):,} input tokens (estimated from {chars:,} characters) "
            f"plus {budget:,} output tokens exceed the {self.window:,}-token context window of "
            f"{self.model_id}"
        )

    def refuse(self, where: str, problem: str) -> PlanError:
        return PlanError(
            f"{where}: {problem}; shorten the row, or pass {SKIP_OPTION} to leave such rows out "
            "(results list them as failed, error_code oversized)"
        )

    @staticmethod
    def skipped(problem: str) -> dict[str, Any]:
        """The ``skipped`` field of the row's record-index line."""
        return {"error_code": OVERSIZED_ERROR_CODE, "error_message": f"not sent: {problem}"}
