"""The shell commands the README shows, as token lists (code blocks marked bash, continuations joined)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RUNNER = ["python", "-m", "batch_runner"]
_BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.DOTALL | re.MULTILINE)


def readme_commands() -> list[list[str]]:
    commands = []
    for block in _BASH_BLOCK.findall(README.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            tokens = shlex.split(line, comments=True)
            while "|" in tokens:  # each side of a pipe is a command of its own
                cut = tokens.index("|")
                commands.append(tokens[:cut])
                tokens = tokens[cut + 1 :]
            if tokens:
                commands.append(tokens)
    return commands


def runner_commands() -> list[list[str]]:
    """Arguments after ``python -m batch_runner`` of every runner command in the README."""
    return [tokens[len(RUNNER) :] for tokens in readme_commands() if tokens[: len(RUNNER)] == RUNNER]
