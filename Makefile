# Two commands a newcomer needs: `make demo` and `make test`.
.PHONY: setup demo test synth

setup:
	./scripts/setup.sh

# Until the local emulator lands, the end-to-end job is a synthesis of every environment.
demo: setup
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true \
	  PATH="$(CURDIR)/.venv/bin:$$PATH" npx cdk synth --all --no-notices --quiet

test: setup
	./scripts/check.sh

# Synthesizes every environment in stacks/environments.yaml, offline.
synth: setup
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true \
	  PATH="$(CURDIR)/.venv/bin:$$PATH" npx cdk synth -c env=all --no-notices --quiet
