"""The package layout holds: imports point one way, no module imports itself in a circle, the
core the orchestration Lambda loads stays light, and `--help` loads no command's core.

Every ``import`` statement counts, including those inside functions: a lazy import is still a
dependency, and a circle through one is still a circle. Imports under ``TYPE_CHECKING`` count for
the layers but not for circles (they never run).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "batch_runner"

# What each part of the runner may import (besides itself). Mirrors the docstring of each package
# and the Development section of the README: cli -> api/runs -> jobs -> prepare -> results ->
# catalog -> aws -> exceptions. `local` (the emulator) and `demo` sit beside the CLI.
BELOW_JOBS = {"prepare", "results", "catalog", "aws", "exceptions", "version", "display"}
ALLOWED: dict[str, set[str]] = {
    "version": set(),
    "display": set(),
    "data": set(),
    "exceptions": set(),
    "aws": {"exceptions", "version"},
    "catalog": {"aws", "exceptions"},
    "results": {"catalog", "aws", "exceptions", "display"},
    "prepare": {"results", "catalog", "aws", "exceptions", "display"},
    "jobs": BELOW_JOBS,
    "orchestration": {"jobs", *BELOW_JOBS},
    "doctor": {"catalog", "aws", "exceptions"},
    "runs": {"orchestration", "jobs", "progress", *BELOW_JOBS},
    "progress": {"jobs", *BELOW_JOBS},
    "api": {"runs", "orchestration", "jobs", *BELOW_JOBS},
    "__init__": {"api", "runs", "version"},
    "local": {"catalog", "aws", "exceptions"},
    "demo": {"api", "runs", "progress", "orchestration", "jobs", "local", *BELOW_JOBS},
    "cli": {"api", "runs", "progress", "orchestration", "jobs", "doctor", "local", "demo", *BELOW_JOBS},
    "__main__": {"cli"},
}
# Modules the orchestration Lambda needs: their import must not load a heavy library.
LIGHT_CORE = (
    "batch_runner.jobs.run_state",
    "batch_runner.jobs.run_context",
    "batch_runner.jobs.tracking",
    "batch_runner.jobs.submission",
    "batch_runner.jobs.cancelling",
    "batch_runner.jobs.retrying",
    "batch_runner.jobs.waiting",
    "batch_runner.jobs.costs",
    "batch_runner.runs",
    "batch_runner.orchestration.scheduler",
)
HEAVY = ("pyarrow", "jinja2", "jsonschema", "referencing", "pandas", "tqdm")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def type_only(tree: ast.AST) -> set[int]:
    """Ids of the statements under ``if TYPE_CHECKING:``."""
    guarded = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    return {id(inner) for node in guarded for stmt in node.body for inner in ast.walk(stmt)}


def imported(path: Path, known: set[str], *, typing: bool = True) -> Iterator[str]:
    """The runner's modules that ``path`` imports, resolved to modules (not names in them)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set() if typing else type_only(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` depends on the module; `from module import name` on it.
            targets = [
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("batch_runner"):
                yield target


def import_graph(*, typing: bool = True) -> dict[str, set[str]]:
    found = modules()
    return {name: set(imported(path, set(found), typing=typing)) - {name} for name, path in found.items()}


def part(module: str) -> str:
    """The layer a module belongs to: its first component below ``batch_runner``."""
    rest = module.removeprefix("batch_runner").lstrip(".")
    return rest.split(".")[0] if rest else "__init__"


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for child in edges:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_in_a_circle() -> None:
    assert circles(import_graph(typing=False)) == []


def test_every_part_has_a_place_in_the_layers() -> None:
    assert {part(name) for name in modules()} <= set(ALLOWED)


def test_imports_point_one_way() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in targets
        if part(target) != part(module) and part(target) not in ALLOWED[part(module)]
    )
    assert wrong == []


def test_each_package_says_its_job() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring, f"{init.relative_to(ROOT)} has no docstring"


def loaded_after(code: str) -> set[str]:
    """Top-level packages in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_orchestration_core_loads_no_heavy_library() -> None:
    loaded = loaded_after("\n".join(f"import {m}" for m in LIGHT_CORE))
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_boto3_loads_with_the_first_client_not_with_the_core() -> None:
    # `status` of a finished run and `--help` call no AWS API, so they never pay for boto3.
    assert "boto3" not in loaded_after("import batch_runner.runs, batch_runner.cli.status")
    assert "boto3" in loaded_after("from batch_runner.aws.clients import AwsContext\nAwsContext().session()")


def test_the_public_api_is_unchanged() -> None:
    loaded = loaded_after("from batch_runner import Run, submit\nassert callable(submit) and Run.load")
    assert "batch_runner" in loaded


@pytest.mark.parametrize("argv", [["--help"], ["submit", "--help"], ["status", "--help"]])
def test_help_loads_no_command_core(argv: list[str]) -> None:
    code = (
        "import contextlib, io\nfrom batch_runner.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): main({argv!r})"
    )
    unwanted = {*HEAVY, "boto3", "botocore", "yaml"}
    assert loaded_after(code).isdisjoint(unwanted), sorted(loaded_after(code) & unwanted)
