"""The orchestration Lambdas' code: the project's own package plus its pinned SDK, built without Docker.

Synth copies ``batch_runner`` (without the emulator, the CLI and doctor) and the installed
distributions it imports into ``build/lambda/<digest>/``: the boto3 and botocore this project pins
(the Lambda runtime's SDK lags behind new Bedrock batch fields), botocore trimmed to the services
the handlers call. No network, no Docker; the same sources give the same directory, so the asset
hash only changes with the code. The compiled wheels (orjson, PyYAML) are the build interpreter's:
build on Linux x86_64 with Python 3.11, the Lambda runtime below, as CI and ``make`` do.
"""

from __future__ import annotations

import hashlib
import importlib.util
import platform
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from stacks.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / "build" / "lambda"
RUNTIME_VERSION = "3.11"
# What `import batch_runner.orchestration.handlers` loads from site-packages.
DEPENDENCIES = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "six",
    "urllib3",
    "orjson",
    "yaml",
    "_yaml",
)
BOTOCORE_SERVICES = ("bedrock", "bedrock-runtime", "s3", "dynamodb", "events", "sns", "sts")
# Parts of the runner a Lambda never runs.
EXCLUDED = ("local", "cli", "doctor", "demo.py", "__main__.py", "progress.py")


def check_build_platform(
    system: str | None = None, machine: str | None = None, version: tuple[int, int] | None = None
) -> None:
    """Refuse a bundle whose compiled wheels (orjson, PyYAML) would not import in Lambda."""
    system, machine = system or platform.system(), machine or platform.machine()
    built = f"{version[0]}.{version[1]}" if version else f"{sys.version_info[0]}.{sys.version_info[1]}"
    if (system, machine, built) != ("Linux", "x86_64", RUNTIME_VERSION):
        raise ConfigError(
            f"orchestration: the scheduler's Lambda bundles this interpreter's compiled wheels, built for "
            f"{system} {machine} Python {built}; synthesize on Linux x86_64 with Python {RUNTIME_VERSION} "
            "(CI, a container or CloudShell) or set orchestration.enabled: false"
        )


def lambda_code_dir(collector: bool = False) -> Path:
    """The asset directory for this checkout's sources (built once, then reused)."""
    sources = list(_sources())
    digest = hashlib.sha256()
    for source, relative in sources:
        digest.update(str(relative).encode())
        digest.update(source.read_bytes())
    target = BUILD_DIR / digest.hexdigest()[:16]
    if not target.is_dir():
        staging = BUILD_DIR / f".{target.name}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        for source, relative in sources:
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, staging / relative)
        staging.rename(target)
    return target


def _sources() -> Iterator[tuple[Path, Path]]:
    """(file, path in the bundle), in a stable order."""
    runner = ROOT / "batch_runner"
    for path in _files(runner):
        relative = path.relative_to(runner)
        if relative.parts[0] not in EXCLUDED:
            yield path, Path("batch_runner") / relative
    for name in DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"{name} is not installed: run scripts/setup.sh")
        origin = Path(spec.origin)
        if origin.name != "__init__.py":  # a single-file module (six) or extension (_yaml)
            yield origin, Path(origin.name)
            continue
        for path in _files(origin.parent):
            relative = path.relative_to(origin.parent.parent)
            if name == "botocore" and not _needed_botocore_data(relative):
                continue
            yield path, relative


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _needed_botocore_data(relative: Path) -> bool:
    """botocore's own files, its top-level data (endpoints, partitions) and the services used."""
    parts = relative.parts
    return len(parts) < 4 or parts[1] != "data" or parts[2] in BOTOCORE_SERVICES
