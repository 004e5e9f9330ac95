"""Shared helpers for the planning tests: small datasets, options and quotas."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from batch_runner.catalog.quotas import ModelQuotas
from batch_runner.prepare.plan import SubmitOptions

REAL_DATASET = Path(__file__).resolve().parents[1] / "data" / "counseling_conversations.csv"  # 400 real rows
CLAUDE = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
PROMPT = "Context: {{ Context }}\nResponse: {{ Response }}\n"
SMALL_QUOTAS = ModelQuotas(min_records_per_job=2, max_records_per_file=10, max_records_per_job=10)


def options(**overrides: Any) -> SubmitOptions:
    values: dict[str, Any] = {"model_id": CLAUDE, "prompt_template": PROMPT}
    values.update(overrides)
    return SubmitOptions(**values)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: Iterable[Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    return path


def conversation_rows(count: int) -> list[list[str]]:
    return [[f'question {n} with "quotes"\nand a newline', f"answer {n}\tdone"] for n in range(count)]


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]
