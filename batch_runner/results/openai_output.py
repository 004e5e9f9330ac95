"""Results in the OpenAI Batch API's output shape (``results --format openai``), for tools that read it.

One JSON line per input row, in input order: ``{"id", "custom_id", "response": {"status_code": 200,
"request_id", "body": <chat.completion>}, "error": null}`` for a succeeded record (an ``embedding``
list body for embeddings), and ``"response": null`` with ``"error": {"code", "message"}`` for a
failed or missing one. ``custom_id`` is the row's ID (the OpenAI file's ``custom_id``, or
``--id-column``), else the runner's record ID.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import IO, Any

import orjson

# Each model family's stop reasons, as OpenAI's finish_reason names them.
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop": "stop",
    "stop_sequence": "stop",
    "finish": "stop",
    "max_tokens": "length",
    "length": "length",
    "model_length": "length",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
    "refusal": "content_filter",
    "tool_use": "tool_calls",
}


def write_openai(
    handle: IO[bytes],
    columns: Sequence[str],
    kinds: dict[str, str],
    rows: Iterable[list[Any]],
    *,
    model_id: str,
) -> int:
    position = {name: k for k, name in enumerate(columns)}
    count = 0
    for values in rows:
        row = {name: values[k] for name, k in position.items()}
        handle.write(orjson.dumps(openai_line(row, model_id), option=orjson.OPT_APPEND_NEWLINE))
        count += 1
    return count


def openai_line(row: dict[str, Any], model_id: str) -> dict[str, Any]:
    record_id = str(row["record_id"])
    custom_id = row["id"] if row.get("id") is not None else record_id
    line: dict[str, Any] = {"id": f"batch_req_{record_id}", "custom_id": custom_id}
    if row["status"] != "succeeded":
        code = row.get("error_code") or row["status"]
        message = row.get("error_message") or "no output for this record (the job did not process it)"
        return {**line, "response": None, "error": {"code": str(code), "message": message}}
    body = _body(row, record_id, model_id)
    return {**line, "response": {"status_code": 200, "request_id": record_id, "body": body}, "error": None}


def _body(row: dict[str, Any], record_id: str, model_id: str) -> dict[str, Any]:
    prompt_tokens = row.get("input_tokens") or 0
    answer = row.get("answer")
    if isinstance(answer, list):  # an embedding
        usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
        data = [{"object": "embedding", "index": 0, "embedding": answer}]
        return {"object": "list", "data": data, "model": model_id, "usage": usage}
    completion_tokens = row.get("output_tokens") or 0
    stop_reason = str(row.get("stop_reason") or "").lower()
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": answer},
        "logprobs": None,
        "finish_reason": _FINISH_REASONS.get(stop_reason, stop_reason or "stop"),
    }
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    return {
        "id": f"chatcmpl-{record_id}",
        "object": "chat.completion",
        "model": model_id,
        "choices": [choice],
        "usage": usage,
    }
