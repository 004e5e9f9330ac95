"""The orchestration Lambdas' code comes from wheels built for their runtime (python3.11 on x86_64,
Amazon Linux 2) whatever machine synthesizes: it loads there, holds only what the handlers use, and
the same sources give the same asset directory. Needs the wheelhouse `scripts/setup.sh` fills."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stacks.config import ConfigError
from stacks.lambda_bundle import BOTOCORE_SERVICES, build_bundle, lambda_code_dir
from stacks.lambda_target import (
    MAX_GLIBC_MINOR,
    TARGET_VERSIONS,
    Requirement,
    fits_target,
    lambda_requirements,
    normalized,
    pins,
    wheel_for,
)


@pytest.fixture(scope="module")
def scheduler() -> Path:
    return lambda_code_dir()


@pytest.fixture(scope="module")
def collector() -> Path:
    return lambda_code_dir(collector=True)


def run_alone(bundle: Path, code: str, *, cwd: Path) -> dict[str, object]:
    """Run ``code`` in an isolated interpreter whose only import path besides the standard library
    is ``bundle``, as in Lambda, and which writes no bytecode (Lambda's code directory is
    read-only; a ``__pycache__`` would change the asset); ``code`` leaves its findings in ``out``."""
    script = "\n".join(
        [
            "import json, os, sys",
            f"sys.path.insert(0, {str(bundle)!r})",
            "out = {}",
            textwrap.dedent(code),
            "files = [getattr(m, '__file__', None) or '' for m in list(sys.modules.values())]",
            f"allowed = ({str(bundle)!r}, os.path.dirname(os.__file__))",
            "out['outside'] = sorted(f for f in files if f and not f.startswith(allowed))",
            "print(json.dumps(out))",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", script], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout)
    assert found.pop("outside") == [], "modules loaded from outside the bundle"
    return found


def distributions(bundle: Path) -> dict[str, str]:
    """name -> version of the wheels unpacked into ``bundle``."""
    found = {}
    for metadata in bundle.glob("*.dist-info/METADATA"):
        fields = dict(re.findall(r"^(Name|Version): (.+)$", metadata.read_text(encoding="utf-8"), re.M))
        found[normalized(fields["Name"])] = fields["Version"]
    return found


def test_each_bundle_holds_the_pinned_wheels_built_for_the_lambda_runtime(
    scheduler: Path, collector: Path
) -> None:
    pinned = pins()
    for bundle, is_collector in ((scheduler, False), (collector, True)):
        wanted = {normalized(r.name): r.version for r in lambda_requirements(collector=is_collector)}
        assert distributions(bundle) == wanted
        for name, version in wanted.items():
            assert version == TARGET_VERSIONS.get(name, pinned[name])
        for wheel in bundle.glob("*.dist-info/WHEEL"):
            tags = re.findall(r"^Tag: (.+)$", wheel.read_text(encoding="utf-8"), re.M)
            assert tags and any(fits_target(f"x-1-{tag}.whl") for tag in tags), (wheel, tags)
        compiled = [p.name for p in bundle.rglob("*.so")]
        assert compiled and all(
            name.endswith((".cpython-311-x86_64-linux-gnu.so", ".abi3.so"))
            or re.fullmatch(r"lib[\w-]*\.so", name)  # a plain shared library, not a Python module
            for name in compiled
        ), compiled


def test_no_compiled_file_needs_a_newer_glibc_than_amazon_linux_2(scheduler: Path, collector: Path) -> None:
    # pyarrow 21 and later would fail here: their libarrow needs GLIBC_2.28.
    for bundle in (scheduler, collector):
        for library in [*bundle.rglob("*.so"), *bundle.rglob("*.so.*")]:
            needed = [int(minor) for minor in re.findall(rb"GLIBC_2\.(\d+)", library.read_bytes())]
            assert max(needed, default=0) <= MAX_GLIBC_MINOR, library


def test_botocore_holds_only_the_services_the_handlers_call_and_no_runner_extras(scheduler: Path) -> None:
    data = scheduler / "botocore" / "data"
    assert {p.name for p in data.iterdir() if p.is_dir()} == BOTOCORE_SERVICES
    assert (data / "endpoints.json").is_file() and not list(data.rglob("examples-1.json"))
    runner = {p.name for p in (scheduler / "batch_runner").iterdir()}
    assert "orchestration" in runner and not runner & {"local", "cli", "doctor", "demo.py", "__main__.py"}
    assert not list(scheduler.rglob("__pycache__")) and not list(scheduler.glob("*.dist-info/RECORD"))


def test_the_scheduler_has_no_pyarrow(scheduler: Path, collector: Path) -> None:
    assert not (scheduler / "pyarrow").exists()
    assert (collector / "pyarrow" / "parquet").is_dir()


def test_the_collector_s_pyarrow_is_trimmed_to_one_copy_of_each_library(collector: Path) -> None:
    pyarrow = collector / "pyarrow"
    names = {p.relative_to(pyarrow).as_posix() for p in pyarrow.rglob("*") if p.is_file()}
    assert not {"tests", "include", "includes", "src"} & {name.split("/")[0] for name in names}
    assert not [n for n in names if n.endswith((".pyx", ".pxd", ".pxi", ".h", ".cc"))]
    assert not [n for n in names if "flight" in n or "gandiva" in n or "cpp_tests" in n]
    libraries = [n for n in names if n.startswith("libarrow_python.")]
    assert len(libraries) == 1 and re.fullmatch(r"libarrow_python\.so\.\d+", libraries[0]), libraries
    assert [n for n in names if n.startswith("libarrow_substrait.so.")], "pyarrow.dataset links it"


def test_the_collector_imports_alone_and_writes_parquet_without_numpy(
    collector: Path, tmp_path: Path
) -> None:
    found = run_alone(
        collector,
        """
        import batch_runner.jobs.run_results
        import batch_runner.orchestration.handlers
        import pyarrow.dataset
        from batch_runner.results.writers import write_rows
        out["rows"] = write_rows(
            "results.parquet",
            ["record_id", "tokens", "answer"],
            {"record_id": "string", "tokens": "int", "answer": "json"},
            iter([["r1", 12, {"label": "yes"}], ["r2", None, None]]),
        )
        out["pyarrow"] = sys.modules["pyarrow"].__version__
        out["numpy"] = "numpy" in sys.modules
        """,
        cwd=tmp_path,
    )
    assert found == {"rows": 2, "pyarrow": TARGET_VERSIONS["pyarrow"], "numpy": False}
    # Read back with the project's own pinned pyarrow, as `results` on a laptop does.
    assert pq.read_table(tmp_path / "results.parquet").to_pylist() == [
        {"record_id": "r1", "tokens": 12, "answer": '{"label":"yes"}'},
        {"record_id": "r2", "tokens": None, "answer": None},
    ]


def test_the_scheduler_imports_alone_checks_schemas_and_makes_its_clients(
    scheduler: Path, tmp_path: Path
) -> None:
    found = run_alone(
        scheduler,
        f"""
        import boto3
        from batch_runner.orchestration.handlers import schedule
        from batch_runner.catalog.output_schema import output_schema
        schema = output_schema({{"type": "object", "properties": {{"label": {{"type": "string"}}}}}})
        out["errors"] = len(list(schema.validator.iter_errors({{"label": 1}})))
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
        for service in {sorted(BOTOCORE_SERVICES)!r}:
            session.client(service, region_name="us-east-1")
        out["pyarrow"] = "pyarrow" in sys.modules
        """,
        cwd=tmp_path,
    )
    assert found == {"errors": 1, "pyarrow": False}


def test_the_same_sources_give_the_same_directory(scheduler: Path, collector: Path, tmp_path: Path) -> None:
    assert lambda_code_dir() == scheduler and scheduler != collector
    rebuilt = build_bundle(lambda_requirements(collector=False), build_dir=tmp_path)
    assert rebuilt.name == scheduler.name
    files = sorted(p.relative_to(scheduler) for p in scheduler.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(rebuilt) for p in rebuilt.rglob("*") if p.is_file())
    assert all((scheduler / f).read_bytes() == (rebuilt / f).read_bytes() for f in files)


def test_without_the_wheelhouse_synth_names_the_command_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no Lambda wheel of boto3==.* run \./scripts/setup\.sh") as err:
        build_bundle(lambda_requirements(collector=False), wheelhouse=tmp_path, build_dir=tmp_path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("wheel", "fits"),
    [
        ("boto3-1.44.8-py3-none-any.whl", True),
        ("six-1.17.0-py2.py3-none-any.whl", True),
        ("orjson-3.13.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", True),
        (
            "pyyaml-6.0.4-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
            True,
        ),
        ("pyarrow-26.0.1-cp311-cp311-manylinux_2_28_x86_64.whl", False),  # Amazon Linux 2 has glibc 2.26
        ("orjson-3.13.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", False),
        ("orjson-3.13.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", False),
        ("orjson-3.13.0-cp311-cp311-macosx_10_15_x86_64.macosx_11_0_arm64.whl", False),
        ("orjson-3.13.0-cp311-cp311-musllinux_1_2_x86_64.whl", False),
    ],
)
def test_only_wheels_that_load_in_the_lambda_runtime_count(wheel: str, fits: bool, tmp_path: Path) -> None:
    (tmp_path / wheel).touch()
    name, version = wheel.split("-")[:2]
    assert (wheel_for(Requirement(name, version), tmp_path) is not None) is fits


def test_the_collector_bundle_collects_as_the_laptop_does(collector: Path, tmp_path: Path) -> None:
    """The Lambda's pyarrow (an older release, see stacks/lambda_target.py) joins, validates and
    writes Parquet, then cuts it into parts, exactly as the project's own pinned pyarrow does."""
    from batch_runner.results import LocalOutputSource, collect_results
    from tests.runner import results_samples as s
    from tests.runner.results.test_row_join import SCHEMA, answer, claude, rid, write_index, write_job

    job = write_job(
        tmp_path,
        "job000000001",
        {"a.jsonl.out": [s.success_line(rid(row), claude(answer(row))) for row in range(0, 9, 2)]},
    )
    index = write_index(tmp_path, [s.index_line(rid(row), row, None, text=f"q{row}") for row in range(9)])
    laptop = collect_results(
        LocalOutputSource(tmp_path), [job], index, tmp_path / "laptop.parquet", output_schema=SCHEMA
    )
    # Without a schema every column is typed: Parquet is written by Arrow's JSON reader.
    collect_results(LocalOutputSource(tmp_path), [job], index, tmp_path / "laptop-plain.parquet")
    found = run_alone(
        collector,
        f"""
        import shutil
        from pathlib import Path
        from batch_runner.orchestration.result_parts import write_parts
        from batch_runner.results import JobOutputRef, LocalOutputSource, collect_results
        job = JobOutputRef({job.job_arn!r}, {job.output_s3_uri!r}, "Completed")
        root = Path({str(tmp_path)!r})
        done = collect_results(
            LocalOutputSource(root), [job], root / "record-index.jsonl", root / "lambda.parquet",
            output_schema={SCHEMA!r},
        )
        out["reconciliation"] = done.to_dict()
        plain = root / "lambda-plain.parquet"
        collect_results(LocalOutputSource(root), [job], root / "record-index.jsonl", plain)
        out["numpy"] = "numpy" in sys.modules

        class Folder:  # S3's upload_file, into a local folder
            def upload_file(self, path, bucket, key):
                shutil.copyfile(path, root / key)

        out["parts"] = write_parts(Folder(), root / "lambda.parquet", "bucket", "part-", 4)
        """,
        cwd=tmp_path,
    )
    assert found["reconciliation"] == json.loads(json.dumps(laptop.to_dict(), default=str))
    assert found["numpy"] is False
    plain = pq.read_table(tmp_path / "lambda-plain.parquet")
    assert plain.equals(pq.read_table(tmp_path / "laptop-plain.parquet")) and plain.num_rows == 9
    expected = pq.read_table(tmp_path / "laptop.parquet")
    assert pq.read_table(tmp_path / "lambda.parquet").equals(expected)
    parts = sorted(tmp_path.glob("part-part-*.parquet"))
    assert found["parts"] == len(parts) == 3
    assert pa.concat_tables([pq.read_table(p) for p in parts]).equals(expected)
