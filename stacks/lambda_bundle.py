"""The orchestration Lambdas' code: the project's own package plus its pinned dependencies, unpacked
from wheels built for the Lambda runtime (``stacks.lambda_target``), without Docker or network.

``lambda_code_dir()`` is the scheduler's code: ``batch_runner`` (without the emulator, the CLI and
doctor) and the wheels of boto3 (pinned: the runtime's SDK lags behind new Bedrock batch fields),
botocore trimmed to the services the handlers call, orjson, msgspec, PyYAML and jsonschema.
``lambda_code_dir(collector=True)`` adds pyarrow, trimmed: no tests, headers, C++ or Cython
sources, Flight or Gandiva, one file per shared library (a wheel stores a library's symlinks as
copies). ``libarrow_substrait`` stays: ``pyarrow.dataset`` links it.

The directory is ``build/lambda/<digest of the sources, wheels and these rules>/``: the same sources
give the same directory, so the asset hash changes only with the code. Each wheel is unpacked once
into ``build/lambda/wheels/`` and hard-linked into the bundles, so a change to the runner costs a
copy of the runner only. ``build/lambda/`` may be deleted at any time: synth rebuilds it.

Measured 2026-12-06 (``benchmarks/bench_lambda_bundle.py``): the scheduler's code is 11.3 MB
unzipped, 3.5 MB zipped (``zip -9``); the collector's 114.6 MB and 34.0 MB (170.4 MB and 61.4 MB
from the same wheels unpacked whole; Lambda allows 250 MB unzipped). A cold import of the
collector's modules with pyarrow, in an isolated interpreter with only the bundle on its path and
no bytecode, takes 0.43 s; it writes Parquet without numpy.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from stacks.lambda_target import WHEELHOUSE, Requirement, lambda_requirements, target_wheels

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / "build" / "lambda"
BOTOCORE_SERVICES = frozenset({"bedrock", "bedrock-runtime", "s3", "dynamodb", "events", "sns", "sts"})
# Parts of the runner a Lambda never runs.
EXCLUDED = ("local", "cli", "doctor", "demo.py", "__main__.py", "progress.py")
# The license and the metadata (importlib.metadata reads it) stay; RECORD would list dropped files.
KEPT_METADATA = re.compile(r"(METADATA|WHEEL|(LICEN[CS]E|NOTICE|COPYING|AUTHORS)[^/]*)")
PYARROW_DROPPED_DIRS = frozenset({"tests", "include", "includes", "src"})
SOURCE_SUFFIXES = frozenset({".pyx", ".pxd", ".pxi", ".h", ".cc", ".cpp"})
PYARROW_DROPPED_NAMES = re.compile(r"(.*(^|_)flight.*|.*gandiva.*|_pyarrow_cpp_tests\..*)")
SHARED_LIBRARY = re.compile(r"(lib[\w.+-]+?\.so)((?:\.\d+)*)")
RULES = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def lambda_code_dir(collector: bool = False) -> Path:
    """The asset directory of the scheduler's code, or the collector's (built once, then reused)."""
    return build_bundle(lambda_requirements(collector=collector))


def build_bundle(
    requirements: list[Requirement], *, wheelhouse: Path = WHEELHOUSE, build_dir: Path = BUILD_DIR
) -> Path:
    """The runner plus the wheels of ``requirements`` in a directory named by their digest."""
    wheels = target_wheels(requirements, wheelhouse)
    runner = list(_runner_files())
    digest = hashlib.sha256(RULES.encode())
    for wheel in wheels:
        digest.update(wheel.name.encode())  # names carry exact versions; an index never reuses one
    for source, relative in runner:
        digest.update(str(relative).encode())
        digest.update(source.read_bytes())
    target = build_dir / digest.hexdigest()[:16]
    if target.is_dir():
        return target
    staging = build_dir / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    for wheel in wheels:
        unpacked = _unpacked(wheel, build_dir / "wheels")
        for path in _files(unpacked):
            _link(path, staging / path.relative_to(unpacked))
    for source, relative in runner:
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, staging / relative)
    _publish(staging, target)
    return target


def _runner_files() -> Iterator[tuple[Path, Path]]:
    """(file, path in the bundle) of ``batch_runner``, in a stable order."""
    runner = ROOT / "batch_runner"
    for path in _files(runner):
        relative = path.relative_to(runner)
        if relative.parts[0] not in EXCLUDED:
            yield path, Path("batch_runner") / relative


def _unpacked(wheel: Path, cache: Path) -> Path:
    """The wheel's kept files, extracted once per wheel and rules."""
    target = cache / f"{wheel.name.removesuffix('.whl')}-{RULES}"
    if target.is_dir():
        return target
    staging = cache / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        names = {info.filename for info in archive.infolist() if not info.is_dir()}
        for name in sorted(names):
            kept = kept_path(name, names)
            if kept is not None:
                destination = staging / kept
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(name) as source, destination.open("wb") as copy:
                    shutil.copyfileobj(source, copy)
    _publish(staging, target)
    return target


def kept_path(name: str, names: set[str]) -> str | None:
    """Where a wheel's file goes in the bundle, or None when the Lambda never needs it."""
    parts = PurePosixPath(name).parts
    if parts[0].endswith(".data"):
        # Installed scripts, headers and data files are not importable code.
        installed = len(parts) > 2 and parts[1] in ("purelib", "platlib")
        return kept_path("/".join(parts[2:]), names) if installed else None
    if parts[0].endswith(".dist-info"):
        return name if KEPT_METADATA.fullmatch(parts[-1]) or "licenses" in parts else None
    if "__pycache__" in parts or name.endswith(".pyc") or _duplicate_library(name, names):
        return None
    if parts[0] in ("botocore", "boto3") and len(parts) > 3 and parts[1] == "data":
        return name if parts[2] in BOTOCORE_SERVICES and parts[-1] != "examples-1.json" else None
    if parts[0] == "pyarrow" and (
        (len(parts) > 2 and parts[1] in PYARROW_DROPPED_DIRS)
        or PurePosixPath(name).suffix in SOURCE_SUFFIXES
        or PYARROW_DROPPED_NAMES.fullmatch(parts[-1])
    ):
        return None
    return name


def _duplicate_library(name: str, names: set[str]) -> bool:
    """``libx.so`` or ``libx.so.1.2.3`` beside ``libx.so.1``, the name the loader looks for."""
    match = SHARED_LIBRARY.fullmatch(PurePosixPath(name).name)
    if match is None or match.group(2).count(".") == 1:
        return False
    directory = PurePosixPath(name).parent
    return any(re.fullmatch(re.escape(f"{directory / match.group(1)}") + r"\.\d+", other) for other in names)


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _link(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, destination)
    except OSError:  # a file system without hard links
        shutil.copyfile(source, destination)


def _publish(staging: Path, target: Path) -> None:
    """Rename the finished directory into place; a parallel build that got there first wins."""
    staging.mkdir(parents=True, exist_ok=True)
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not target.is_dir():
            raise
