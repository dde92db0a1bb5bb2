# Two commands on a fresh machine: `make demo` and `make test`.
# Python tools (moto server, cargo-lambda, cfn-lint) go into ./.venv from tests/requirements.txt.
# The template checks of `make lint` have venvs of their own, made by `make setup-infra`: SAM CLI
# (.venv-sam) and checkov (.venv-checkov) each pin boto3 exactly, to different versions.

VENV ?= .venv
SAM_VENV ?= .venv-sam
CHECKOV_VENV ?= .venv-checkov
CUSTODIAN_VENV ?= .venv-custodian
PYTHON ?= python3

TEMPLATES = infra/template.yaml infra/member.yaml
# The template checks run offline: they need no account, and with a dummy region and credentials
# and no telemetry neither tool looks for one or calls out (checkov: --skip-download).
OFFLINE = AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=offline \
	AWS_SECRET_ACCESS_KEY=offline AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0

.PHONY: setup setup-infra setup-custodian demo test lint lint-templates build bench bench-quick bench-backtest

setup: $(VENV)/.installed

$(VENV)/.installed: tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

setup-infra: $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed

$(SAM_VENV)/.installed: infra/requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-sam.txt
	touch $@

$(CHECKOV_VENV)/.installed: infra/requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-checkov.txt
	touch $@

## Cloud Custodian, the peer reflex-bench times next to Reflex, in its own venv (.venv-custodian).
setup-custodian: $(CUSTODIAN_VENV)/.installed

$(CUSTODIAN_VENV)/.installed: bench/custodian/requirements.txt
	$(PYTHON) -m venv $(CUSTODIAN_VENV)
	$(CUSTODIAN_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/custodian/requirements.txt
	touch $@

## Start the emulator, seed a sample account, replay every sample event, print what was remediated;
## then the `reflex` command line on one attack: plan, invoke, undo (scripts/cli-demo).
demo: setup
	cargo run --quiet -p reflex-tests --bin reflex-demo
	scripts/cli-demo

## Unit tests, emulator-backed end-to-end tests, and the real binaries under cargo-lambda.
test: setup
	cargo test --workspace

## The benchmark suite (bench/): cold starts beside a hello-world Lambda, the first remediation
## beside Cloud Custodian on the same event and emulator, per-event cost (criterion), peak memory,
## AWS calls per remediation and artifact sizes; a table on stdout, JSON in bench/out/.
## A release build of every function first (long the first time). BENCH_ARGS adds options
## (`make bench BENCH_ARGS="--arm64 --contributors"`; `--help` lists them).
BENCH_ARGS ?=
bench: setup setup-custodian
	cargo run --quiet -p reflex-bench -- $(BENCH_ARGS)

## The same suite on a tiny input with the dev build, as CI runs it to keep the command working.
bench-quick: setup setup-custodian
	cargo run --quiet -p reflex-bench -- --quick --profile dev $(BENCH_ARGS)

## `reflex backtest` beside its floor (the same files only decompressed and parsed as JSON, on
## every core) over generated CloudTrail archives of 100 MB and 2 GB, with its peak memory. Built
## with the `backtest` profile (the hot path optimized, no LTO). The archives are generated once
## (scripts/cloudtrail-archive, about 25 minutes for 2 GB) and reused; BACKTEST_ARGS adds options
## (`--sizes 100MB,500MB`, `--dir DIR`).
BACKTEST_ARGS ?=
bench-backtest:
	cargo build --quiet --profile backtest -p reflex -p reflex-bench-backtest
	cargo run --quiet --profile backtest -p reflex-bench-backtest -- $(BACKTEST_ARGS)

## cfn-lint, SAM's own validation and linting, and checkov on the templates (skips, each with its
## reason, are in the templates' Metadata); then rustfmt and clippy.
lint: lint-templates
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

lint-templates: setup setup-infra
	$(VENV)/bin/cfn-lint $(TEMPLATES)
	for t in $(TEMPLATES); do \
		$(OFFLINE) $(SAM_VENV)/bin/sam validate -t $$t && \
		$(OFFLINE) $(SAM_VENV)/bin/sam validate --lint -t $$t || exit 1; \
	done
	$(OFFLINE) $(CHECKOV_VENV)/bin/checkov --framework cloudformation --skip-download --quiet \
		--compact $(addprefix -f ,$(TEMPLATES))

## One function's real binary on one event file, as Lambda would run it (cargo lambda watch +
## invoke --data-file), against the emulator seeded as in the demo; prints the response.
## `make invoke FUNCTION=revoke EVENT=events/revoke/attach-admin-to-user.json`; PROFILE=name
## (and REGION=, ENV_FILE= for the REFLEX_* configuration) runs it against a real account.
.PHONY: invoke
invoke: setup
	scripts/invoke-local $(FUNCTION) $(EVENT) $(if $(PROFILE),--profile $(PROFILE)) \
		$(if $(REGION),--region $(REGION)) $(if $(ENV_FILE),--env-file $(ENV_FILE))

## Deployable artifacts: `sam build` (rust-cargolambda) into .aws-sam/build/<Function>/bootstrap,
## with SAM CLI from .venv-sam and cargo-lambda and zig from ./.venv; settings in samconfig.toml.
## Not run by CI (a release LTO build of the SDK takes long); run it before `sam deploy`.
build: setup $(SAM_VENV)/.installed
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SAM_VENV)/bin/sam build --beta-features

## Fuzzing: cargo-fuzz (libFuzzer, no sanitizer, so stable Rust) runs every target under
## fuzz/fuzz_targets/ for FUZZ_SECONDS each, seeded from events/, and prints the executions run
## and the crashes found per target (crash inputs go to fuzz/artifacts/<target>/; exit 1 if any).
## `make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS=policy` runs one target longer. See fuzz/run.sh.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
TOOLS ?= .tools
CARGO_FUZZ_VERSION = 0.13.2
CARGO_FUZZ = $(TOOLS)/bin/cargo-fuzz

.PHONY: fuzz fuzz-setup

## cargo-fuzz, pinned, into ./.tools; nothing to do when that version is there.
fuzz-setup:
	@$(CARGO_FUZZ) --version 2>/dev/null | grep -qx 'cargo-fuzz $(CARGO_FUZZ_VERSION)' || \
		cargo install --locked --quiet --version $(CARGO_FUZZ_VERSION) --root $(TOOLS) cargo-fuzz

fuzz: fuzz-setup
	CARGO_FUZZ=$(CARGO_FUZZ) FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh $(FUZZ_TARGETS)
