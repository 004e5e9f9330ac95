"""Amazon Bedrock batch inference made easy, cheap and safe.

A library first, a CLI second: ``python -m batch_runner --help`` lists the commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from batch_runner.version import __version__

if TYPE_CHECKING:
    from batch_runner.api import submit
    from batch_runner.runs import Run


__all__ = ["Run", "__version__", "submit"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: `import batch_runner` (for __version__, say) does not pull in boto3.
    if name == "submit":
        from batch_runner.api import submit

        return submit
    if name == "Run":
        from batch_runner.runs import Run

        return Run
    raise AttributeError(f"module 'batch_runner' has no attribute {name!r}")
