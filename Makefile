# Two commands on a fresh machine: `make demo` and `make test`.
# Python tools (moto server, cargo-lambda) go into ./.venv from tests/requirements.txt.

VENV ?= .venv
PYTHON ?= python3

.PHONY: setup demo test lint build

setup: $(VENV)/.installed

$(VENV)/.installed: tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

## Start the emulator, seed a sample account, replay every sample event, print what was remediated.
demo: setup
	cargo run --quiet -p reflex-tests --bin reflex-demo

## Unit tests, emulator-backed end-to-end tests, and the real binaries under cargo-lambda.
test: setup
	cargo test --workspace

lint: setup
	$(VENV)/bin/cfn-lint infra/template.yaml
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

## Deployable artifacts: `sam build` (rust-cargolambda) into .aws-sam/build/<Function>/bootstrap.
## SAM CLI lives in its own venv (infra/build-requirements.txt) so its pins never fight moto's or
## cfn-lint's; cargo-lambda and zig come from ./.venv. Settings are in samconfig.toml.
## Not run by CI (a release LTO build of the SDK is slow); run it before `sam deploy`.
BUILD_VENV ?= .venv-build

$(BUILD_VENV)/.installed: infra/build-requirements.txt
	$(PYTHON) -m venv $(BUILD_VENV)
	$(BUILD_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/build-requirements.txt
	touch $@

build: setup $(BUILD_VENV)/.installed
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(BUILD_VENV)/bin/sam build --beta-features
