"""A local AWS for offline use and tests: moto plus an emulation of Bedrock batch inference.

``Emulator`` serves every AWS service the project uses on one endpoint; ``EmulatorConfig`` holds
its limits, timing and fault injection. ``python -m batch_runner local serve`` runs it standalone.
Names are imported lazily, so the CLI does not load moto unless the emulator is used. May import:
``batch_runner.catalog``, ``batch_runner.aws``, ``batch_runner.exceptions``; the core never imports it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batch_runner.local.clock import ManualClock, WallClock
    from batch_runner.local.config import EmulatorConfig
    from batch_runner.local.server import Emulator

__all__ = ["Emulator", "EmulatorConfig", "ManualClock", "WallClock"]

_HOMES = {
    "Emulator": "batch_runner.local.server",
    "EmulatorConfig": "batch_runner.local.config",
    "ManualClock": "batch_runner.local.clock",
    "WallClock": "batch_runner.local.clock",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'batch_runner.local' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
