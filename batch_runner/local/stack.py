"""The project's own stack in the emulator: synthesize ``app.py`` once, deploy it through moto.

In a checkout, synthesis runs ``python app.py`` in a subprocess (the runner never imports aws_cdk)
with the ``cdk.json`` context plus ``env=<environment>``. The template is cached under
``.batch-runner/cache/`` keyed by a hash of ``app.py``, ``cdk.json`` and ``stacks/``, so restarts
skip synthesis until the infrastructure code changes.

An installed package has no ``app.py``: it ships the dev stack's synthesized template as package
data (``data/stacks/``), so ``demo`` and ``local serve`` work from any directory without the CDK.
``scripts/bundle_dev_stack.py`` rewrites it; a test fails when it differs from what ``app.py``
synthesizes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from moto.cloudformation.parsing import NULL_MODELS, get_model_map

from batch_runner.aws.stack_outputs import stack_name
from batch_runner.exceptions import ConfigurationError

CACHE_DIR = Path(".batch-runner") / "cache"
SYNTH_TIMEOUT_SECONDS = 300
BUNDLED_ENVIRONMENT = "dev"


def bundled_template_path() -> Path:
    """The dev stack's template as shipped in the package (``batch_runner/data/stacks/``)."""
    return Path(__file__).resolve().parents[1] / "data" / "stacks" / f"{stack_name(BUNDLED_ENVIRONMENT)}.json"


def stack_template(root: Path, environment: str) -> dict[str, Any]:
    """The environment's template: synthesized from ``app.py`` in a checkout, else the bundled one."""
    if (root / "app.py").is_file():
        return synthesized_template(root, environment)
    if environment != BUNDLED_ENVIRONMENT:
        raise ConfigurationError(
            f"no app.py in {root} to synthesize {stack_name(environment)}: an installed package bundles "
            f"only the {BUNDLED_ENVIRONMENT} stack; use --env {BUNDLED_ENVIRONMENT}, or run from a checkout"
        )
    loaded: dict[str, Any] = json.loads(bundled_template_path().read_text(encoding="utf-8"))
    return loaded


def project_root() -> Path:
    """The checkout that holds ``app.py`` (the package's parent directory)."""
    return Path(__file__).resolve().parents[2]


def source_fingerprint(root: Path, environment: str) -> str:
    digest = hashlib.sha256(environment.encode())
    paths = [root / "app.py", root / "cdk.json"]
    stacks = root / "stacks"
    if stacks.is_dir():
        paths += sorted(p for p in stacks.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in paths:
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def synthesized_template(root: Path, environment: str) -> dict[str, Any]:
    """The environment's template, from the cache when the infrastructure code is unchanged."""
    if not (root / "app.py").is_file():
        raise ConfigurationError(
            f"no app.py in {root}: cannot synthesize the stack to deploy in the emulator"
        )
    cached = root / CACHE_DIR / f"template-{environment}-{source_fingerprint(root, environment)}.json"
    if cached.is_file():
        loaded: dict[str, Any] = json.loads(cached.read_text())
        return loaded
    template = _synthesize(root, environment)
    cached.parent.mkdir(parents=True, exist_ok=True)
    temporary = cached.with_suffix(".tmp")
    temporary.write_text(json.dumps(template))
    temporary.replace(cached)  # atomic, so a parallel start never reads half a file
    for stale in cached.parent.glob(f"template-{environment}-*.json"):
        if stale != cached:
            stale.unlink(missing_ok=True)
    return template


def _synthesize(root: Path, environment: str) -> dict[str, Any]:
    context = (
        json.loads((root / "cdk.json").read_text()).get("context", {})
        if (root / "cdk.json").is_file()
        else {}
    )
    context["env"] = environment
    with tempfile.TemporaryDirectory(prefix="batch-runner-synth-") as outdir:
        env = {
            **os.environ,
            "CDK_OUTDIR": outdir,
            "CDK_CONTEXT_JSON": json.dumps(context),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
        }
        result = subprocess.run(
            [sys.executable, "app.py"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=SYNTH_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise ConfigurationError("synthesizing app.py failed: " + " | ".join(tail))
        return _template_of(Path(outdir), stack_name(environment))


def _template_of(outdir: Path, wanted: str) -> dict[str, Any]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        properties = artifact.get("properties", {})
        if properties.get("stackName", artifact_id) == wanted:
            template: dict[str, Any] = json.loads((outdir / properties["templateFile"]).read_text())
            return template
    raise ConfigurationError(f"app.py did not synthesize a stack named {wanted}")


# CDK's bucket-emptying custom resources act only when the stack is deleted. moto cannot create
# them: their function's code sits in the CDK bootstrap bucket, and a custom resource waits for a
# Lambda invocation moto does not run without Docker.
AUTO_DELETE_TYPE = "Custom::S3AutoDeleteObjects"
AUTO_DELETE_PROVIDER = "CustomS3AutoDeleteObjectsCustomResourceProvider"


def unsupported_resources(template: dict[str, Any]) -> list[str]:
    """Logical IDs of resources moto's CloudFormation cannot create (it would skip them anyway)."""
    return sorted(
        logical_id
        for logical_id, resource in template.get("Resources", {}).items()
        if not _moto_supports(resource.get("Type", ""))
        or resource.get("Type") == AUTO_DELETE_TYPE
        or logical_id.startswith(AUTO_DELETE_PROVIDER)
    )


def _moto_supports(resource_type: str) -> bool:
    return (
        resource_type in NULL_MODELS
        or resource_type.startswith("Custom::")
        or resource_type in get_model_map()
    )


def deployable(template: dict[str, Any]) -> dict[str, Any]:
    """The template as moto can create it.

    Without the bootstrap version check (moto has no CDK bootstrap stack) and without resources
    moto does not implement (bucket and topic policies, alarms), which it would skip with a warning.
    """
    cleaned = json.loads(json.dumps(template))
    skipped = set(unsupported_resources(cleaned))
    resources = cleaned.get("Resources", {})
    for logical_id in skipped:
        del resources[logical_id]
    for resource in resources.values():
        depends = resource.get("DependsOn")
        if isinstance(depends, list):
            resource["DependsOn"] = [d for d in depends if d not in skipped]
        elif depends in skipped:
            del resource["DependsOn"]
    cleaned.get("Parameters", {}).pop("BootstrapVersion", None)
    cleaned.get("Rules", {}).pop("CheckBootstrapVersion", None)
    for section in ("Parameters", "Rules"):
        if section in cleaned and not cleaned[section]:
            del cleaned[section]
    for resource in cleaned.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::KMS::Key" and "Tags" in properties:
            # moto reads KMS tags in the API's TagKey/TagValue shape, not CloudFormation's Key/Value.
            properties["Tags"] = [
                {"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in properties["Tags"]
            ]
    return without_lambda_code(cleaned)


def without_lambda_code(template: dict[str, Any]) -> dict[str, Any]:
    """``template`` with each Lambda function's code replaced by a stub.

    The code is a CDK asset in a bootstrap bucket moto lacks; the emulator runs the handler
    in-process instead (batch_runner.local.lambdas). The asset's name is a hash of the runner's own
    sources, so the bundled dev template stores the stub: it changes only with the stacks."""
    portable = copy.deepcopy(template)
    for resource in portable.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Lambda::Function":
            resource.setdefault("Properties", {})["Code"] = {"ZipFile": "# runs in-process in the emulator"}
    return portable


def deploy(cloudformation: Any, name: str, template: dict[str, Any]) -> dict[str, str]:
    """CreateStack through moto's CloudFormation; returns the stack outputs."""
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(deployable(template)),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        reason = stack.get("StackStatusReason", "")
        raise ConfigurationError(f"deploying {name} in the emulator ended {stack['StackStatus']}: {reason}")
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
