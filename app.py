#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c env=<name>` (default dev; `-c env=all` for every environment)."""

from stacks.application import create_app
from stacks.config import ConfigError


def main() -> None:
    try:
        app = create_app()
    except ConfigError as err:
        # A config mistake is the user's to fix: one line naming the field, no traceback.
        raise SystemExit(f"error: {err}") from None
    app.synth()


if __name__ == "__main__":
    main()
