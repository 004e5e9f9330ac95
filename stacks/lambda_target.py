"""What the orchestration Lambdas run on, and the wheels built for it.

The functions run the ``python3.11`` runtime on x86_64, which is Amazon Linux 2 (glibc 2.26), so
every compiled wheel must be ``cp311`` and ``manylinux2014`` (glibc 2.17) or older: a
``manylinux_2_28`` wheel installs on a newer build machine and then fails to load in Lambda.
``scripts/lambda_wheels.py`` (run by ``scripts/setup.sh``) downloads the wheels into the
wheelhouse, where the network is allowed; synth only unpacks them, offline.

Versions are the pins of ``requirements.txt``, with one exception, :data:`TARGET_VERSIONS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from stacks.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
WHEELHOUSE = ROOT / "build" / "wheelhouse"
WHEELS_COMMAND = "./scripts/setup.sh (or python scripts/lambda_wheels.py)"

RUNTIME_VERSION = "3.11"
PLATFORM = "manylinux2014_x86_64"
MAX_GLIBC_MINOR = 26  # Amazon Linux 2, the python3.11 runtime's OS
# Distributions whose wheels the target accepts: pure Python, or compiled for CPython 3.11.
PYTHON_TAGS = frozenset({"py3", "cp311"})
ABI_TAGS = frozenset({"none", "abi3", "cp311"})

# What `import batch_runner.orchestration.handlers` loads, including a retry of a run with an
# output schema (jsonschema and its own dependencies).
SCHEDULER_PACKAGES = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
    "orjson",
    "msgspec",
    "pyyaml",
    "jsonschema",
    "jsonschema-specifications",
    "referencing",
    "attrs",
    "rpds-py",
    "typing-extensions",
)
# The collector also writes Parquet.
COLLECTOR_PACKAGES = (*SCHEDULER_PACKAGES, "pyarrow")
# pyarrow 21 and later ship only manylinux_2_28 wheels (libarrow needs GLIBC_2.28); 20.0.0 is the
# newest that loads on Amazon Linux 2. The Parquet files it writes read back with the pinned one.
TARGET_VERSIONS = {"pyarrow": "20.0.0"}


@dataclass(frozen=True)
class Requirement:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


def normalized(name: str) -> str:
    """A distribution name as wheel file names spell it (PEP 503, with underscores)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def pins(requirements: Path = REQUIREMENTS) -> dict[str, str]:
    """``name==version`` lines of a requirements file, by normalized name."""
    found = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)", line)
        if match:
            found[normalized(match.group(1))] = match.group(2)
    return found


def lambda_requirements(*, collector: bool, requirements: Path = REQUIREMENTS) -> list[Requirement]:
    """The exact distributions a bundle holds."""
    pinned = pins(requirements)
    wanted = []
    for name in COLLECTOR_PACKAGES if collector else SCHEDULER_PACKAGES:
        version = TARGET_VERSIONS.get(name) or pinned.get(normalized(name))
        if version is None:
            raise ConfigError(f"orchestration: {name} is not pinned (name==version) in {requirements.name}")
        wanted.append(Requirement(name, version))
    return wanted


def fits_target(wheel_name: str) -> bool:
    """Whether a wheel file (by its name's tags) loads in the Lambda runtime."""
    parts = wheel_name.removesuffix(".whl").split("-")
    if len(parts) < 5:
        return False
    python, abi, platforms = parts[-3], parts[-2], parts[-1].split(".")
    if PYTHON_TAGS.isdisjoint(python.split(".")) or abi not in ABI_TAGS:
        return False
    return any(platform == "any" or _old_enough(platform) for platform in platforms)


def _old_enough(platform: str) -> bool:
    legacy = {"manylinux1_x86_64": 5, "manylinux2010_x86_64": 12, "manylinux2014_x86_64": 17}
    if platform in legacy:
        return legacy[platform] <= MAX_GLIBC_MINOR
    match = re.fullmatch(r"manylinux_2_(\d+)_x86_64", platform)
    return match is not None and int(match.group(1)) <= MAX_GLIBC_MINOR


def wheel_for(requirement: Requirement, wheelhouse: Path = WHEELHOUSE) -> Path | None:
    """The wheelhouse's wheel of ``requirement`` that fits the target, if any."""
    prefix = f"{normalized(requirement.name)}-{requirement.version}-"
    for path in sorted(wheelhouse.glob("*.whl")):
        if path.name.lower().startswith(prefix.lower()) and fits_target(path.name):
            return path
    return None


def target_wheels(requirements: list[Requirement], wheelhouse: Path = WHEELHOUSE) -> list[Path]:
    """Each requirement's wheel; one line naming the first missing one and the command to run."""
    wheels = []
    for requirement in requirements:
        wheel = wheel_for(requirement, wheelhouse)
        if wheel is None:
            raise ConfigError(
                f"orchestration: no Lambda wheel of {requirement} (cp{RUNTIME_VERSION.replace('.', '')} "
                f"{PLATFORM}) in {_shown(wheelhouse)}: run {WHEELS_COMMAND} where the network is allowed"
            )
        wheels.append(wheel)
    return wheels


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
