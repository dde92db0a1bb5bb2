# Two commands on a fresh machine: `make demo` and `make test`.
# Python tools (moto server, cargo-lambda) go into ./.venv from tests/requirements.txt.

VENV ?= .venv
PYTHON ?= python3

.PHONY: setup demo test lint

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
