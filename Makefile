# Two commands a newcomer needs: `make demo` and `make test`.
.PHONY: setup demo test synth

setup:
	./scripts/setup.sh

# The main job end to end on the local emulator: deploy, submit, wait, results, summary.
demo: setup
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true \
	  .venv/bin/python -m batch_runner demo

test: setup
	./scripts/check.sh

# Synthesizes every environment in stacks/environments.yaml, offline.
synth: setup
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true \
	  PATH="$(CURDIR)/.venv/bin:$$PATH" npx cdk synth -c env=all --no-notices --quiet
