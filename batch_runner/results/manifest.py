"""``manifest.json.out``: a job's own totals. Every field is optional and unknown ones are kept.

AWS adds fields over time (``inputAudioSecond``, image counts), and the names are
``successRecordCount``/``errorRecordCount`` — not ``successCount``, a mistake that reads as zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

_KNOWN = {
    "totalRecordCount": "total_record_count",
    "processedRecordCount": "processed_record_count",
    "successRecordCount": "success_record_count",
    "errorRecordCount": "error_record_count",
    "inputTokenCount": "input_token_count",
    "outputTokenCount": "output_token_count",
}


@dataclass(frozen=True)
class Manifest:
    total_record_count: int | None = None
    processed_record_count: int | None = None
    success_record_count: int | None = None
    error_record_count: int | None = None
    input_token_count: int | None = None
    output_token_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # fields this version does not know

    @classmethod
    def parse(cls, lines: Iterable[bytes]) -> Manifest:
        """Parse the manifest's bytes; raises ``ValueError`` when it is not a JSON object."""
        try:
            data = orjson.loads(b"\n".join(lines))
        except orjson.JSONDecodeError as err:
            raise ValueError(f"invalid JSON ({err})") from err
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        known: dict[str, int | None] = {}
        extra: dict[str, Any] = {}
        for name, value in data.items():
            if name in _KNOWN:
                known[_KNOWN[name]] = _count(value)
            else:
                extra[name] = value
        return cls(**known, extra=extra)


def _count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
