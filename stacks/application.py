"""Build the CDK app: feature flags from cdk.json, environments from stacks/environments.yaml, nag checks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App

from batch_runner.aws.stack_outputs import DEFAULT_ENVIRONMENT
from stacks.batch_inference_stack import BatchInferenceStack
from stacks.config import ALL_ENVIRONMENTS, EnvironmentConfig, load_environments, select_environment
from stacks.security_checks import enable_security_checks

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"
ENV_CONTEXT_KEY = "env"
# Another environment file, e.g. a platform team's own: -c environments_file=path/to/file.yaml
FILE_CONTEXT_KEY = "environments_file"


def feature_flags() -> dict[str, Any]:
    """The context of cdk.json, so a plain ``python app.py`` synthesizes what ``cdk synth`` does."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]
    return context


def create_app(
    *,
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
    environments: Mapping[str, EnvironmentConfig] | None = None,
) -> App:
    """An app with the stack of the environment named by context ``env`` (``all``: every environment).

    Environments come from ``environments`` if given, else from the file named by context
    ``environments_file``, else from stacks/environments.yaml.

    ``context`` and CDK_CONTEXT_JSON (set by the CDK CLI from ``-c``) override cdk.json.
    Raises :class:`stacks.config.ConfigError` for an invalid environment file or name.
    """
    app = App(context={**feature_flags(), **(context or {})}, outdir=outdir)
    if environments is None:
        path = app.node.try_get_context(FILE_CONTEXT_KEY)
        environments = load_environments(Path(path)) if path else load_environments()
    name = str(app.node.try_get_context(ENV_CONTEXT_KEY) or DEFAULT_ENVIRONMENT)
    if name == ALL_ENVIRONMENTS:
        selected = list(environments.values())
    else:
        selected = [select_environment(environments, name)]
    for config in selected:
        BatchInferenceStack(app, config=config)
    enable_security_checks(app)
    return app
