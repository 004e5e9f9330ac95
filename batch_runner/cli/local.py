"""`local serve`: run the offline AWS emulator (moto + Bedrock batch jobs) in the foreground."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time
from types import FrameType
from typing import Any

from batch_runner.exceptions import ConfigurationError, UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4510
_QUICK_START = f"""\
a job by hand, in a second shell:
  export AWS_ENDPOINT_URL=http://127.0.0.1:{DEFAULT_PORT} AWS_ACCESS_KEY_ID=testing \\
         AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  aws cloudformation describe-stacks --stack-name BedrockBatch-dev   # bucket names, role ARN
  aws s3 cp records.jsonl s3://<InputBucketName>/in/records.jsonl     # >= 100 records
  aws bedrock create-model-invocation-job --job-name demo-1 --role-arn <ServiceRoleArn> \\
      --model-id anthropic.claude-3-haiku-20240307-v1:0 \\
      --input-data-config s3InputDataConfig={{s3Uri=s3://<InputBucketName>/in/records.jsonl}} \\
      --output-data-config s3OutputDataConfig={{s3Uri=s3://<OutputBucketName>/out/}}
  aws bedrock get-model-invocation-job --job-identifier <jobArn>
  aws s3 ls --recursive s3://<OutputBucketName>/out/
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "local",
        help="run a local AWS emulator for offline use",
        description="Run a local AWS emulator (moto plus Amazon Bedrock batch jobs) for offline use.",
    )
    commands = parser.add_subparsers(dest="local_command", metavar="COMMAND", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve S3, IAM, STS, CloudFormation, EventBridge and Bedrock batch jobs on one port",
        description=(
            "Serve every AWS service the project uses on one local endpoint, with the dev stack from "
            "app.py deployed. Point clients at it with AWS_ENDPOINT_URL (printed on start). Runs until "
            "interrupted (Ctrl-C)."
        ),
        epilog=_QUICK_START,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"interface to listen on (default: {DEFAULT_HOST})"
    )
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port, 0 for any free one (default: {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--region", default="us-east-1", help="Region to deploy the stack in (default: us-east-1)"
    )
    serve.add_argument("--env", default="dev", help="environment whose stack is deployed (default: dev)")
    serve.add_argument("--no-stack", action="store_true", help="do not synthesize and deploy the stack")
    serve.add_argument("--log-requests", action="store_true", help="log every HTTP request")
    serve.add_argument(
        "--manual-clock",
        action="store_true",
        help="time stands still until POST /_emulator/clock/advance or /_emulator/run (for scripted tests)",
    )
    _add_config_options(serve)
    serve.set_defaults(handler=_serve)


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    from batch_runner.local.config import EmulatorConfig

    group = parser.add_argument_group("emulator settings (limits, timing, fault injection)")
    defaults = EmulatorConfig()
    for setting in dataclasses.fields(EmulatorConfig):
        group.add_argument(
            "--" + setting.name.replace("_", "-"),
            dest=f"config_{setting.name}",
            default=None,
            metavar="VALUE",
            help=f"{setting.metadata['help']} (default: {getattr(defaults, setting.name)})",
        )


def _config_changes(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key, value in vars(args).items():
        if key.startswith("config_") and value is not None:
            changes[key.removeprefix("config_")] = None if value.lower() in ("none", "null") else value
    return changes


def _serve(args: argparse.Namespace) -> int:
    from batch_runner.local.config import EmulatorConfig

    try:
        config = EmulatorConfig().updated(_config_changes(args))
    except ValueError as err:
        raise UsageError(f"{err}; see `python -m batch_runner local serve --help`") from err
    from batch_runner.local.clock import ManualClock
    from batch_runner.local.server import Emulator  # loads moto: only once the settings are valid

    clock = ManualClock() if args.manual_clock else None
    emulator = Emulator(
        config,
        clock=clock,
        region=args.region,
        environment=args.env,
        deploy_stack=not args.no_stack,
        log_requests=args.log_requests,
    )
    started = time.monotonic()
    try:
        emulator.start(host=args.host, port=args.port)
    except OSError as err:
        emulator.stop()
        raise ConfigurationError(
            f"cannot listen on {args.host}:{args.port} ({err.strerror}); choose another --port"
        ) from err
    except ConfigurationError as err:
        emulator.stop()
        raise ConfigurationError(f"{err} (to serve without the stack: --no-stack)") from err
    _print_banner(emulator, args, time.monotonic() - started)
    # Both stop the server cleanly, even when started in the background (where SIGINT is ignored).
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    print("emulator stopped", flush=True)
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _print_banner(emulator: Any, args: argparse.Namespace, seconds: float) -> None:
    url = emulator.endpoint_url
    lines = [f"Bedrock batch emulator listening on {url} (ready in {seconds:.1f}s)"]
    if emulator.stack_outputs:
        lines.append(f"Stack {emulator.stack_name} deployed; outputs:")
        lines += [f"  {key} = {value}" for key, value in sorted(emulator.stack_outputs.items())]
    lines += [
        "Point AWS clients at it:",
        f"  export AWS_ENDPOINT_URL={url}",
        "  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
        "   # the IAM user batch-runner-local, holding the submitter policy",
        f"  export AWS_REGION={args.region} AWS_DEFAULT_REGION={args.region}",
        f"Admin endpoints: {url}/_emulator/health, /config, /events, /jobs",
        *(
            ["Clock: manual; advance it with POST /_emulator/clock/advance or /_emulator/run"]
            if args.manual_clock
            else []
        ),
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)
    sys.stdout.flush()
