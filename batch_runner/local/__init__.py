"""A local AWS for offline use and tests: moto plus an emulation of Bedrock batch inference.

``Emulator`` serves every AWS service the project uses on one endpoint; ``EmulatorConfig`` holds
its limits, timing and fault injection. ``python -m batch_runner local serve`` runs it standalone.
"""

from batch_runner.local.clock import ManualClock, WallClock
from batch_runner.local.config import EmulatorConfig
from batch_runner.local.server import Emulator

__all__ = ["Emulator", "EmulatorConfig", "ManualClock", "WallClock"]
