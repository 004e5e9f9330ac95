"""EventBridge PutEvents on the default bus, delivered by the emulator's own rules.

moto's PutEvents delivers to neither SNS nor Lambda targets; the runner's events (run submitted,
cancel or retry requested) must reach the orchestration scheduler, so the emulator takes the call.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from batch_runner.local.moto_state import LambdaSink, put_event

TARGET = "AWSEvents.PutEvents"


def handles(target: str, request: dict[str, Any]) -> bool:
    entries = request.get("Entries") or []
    return target == TARGET and all(entry.get("EventBusName", "default") == "default" for entry in entries)


def answer(
    request: dict[str, Any], account_id: str, region: str, lambda_sink: LambdaSink | None
) -> dict[str, Any]:
    results = []
    for entry in request.get("Entries", []):
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": entry.get("DetailType", ""),
            "source": entry.get("Source", ""),
            "account": account_id,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": entry.get("Resources", []),
            "detail": json.loads(entry.get("Detail") or "{}"),
        }
        put_event(account_id, region, event, lambda_sink)
        results.append({"EventId": event["id"]})
    return {"FailedEntryCount": 0, "Entries": results}
