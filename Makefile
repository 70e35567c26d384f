# The entry point for people and CI. `make demo` runs the product locally, `make test` proves it.
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
TOOLS := $(VENV)/.installed
export PATH := $(VENV)/bin:$(PATH)
export CARGO_TARGET_DIR ?= $(CURDIR)/target
export SAM_CLI_TELEMETRY := 0

.PHONY: tools test fmt-check clippy check-layers lint-template lint-scripts demo build deploy deploy-cargo-lambda

## tools: project-local virtualenv with the emulator (moto), cargo-lambda, zig and cfn-lint, pinned
tools: $(TOOLS)
$(TOOLS): requirements-tools.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check --quiet --requirement requirements-tools.txt
	touch $@

## test: formatting, lints and every test tier (unit, emulator integration, end to end); the build is
##       the one every local target makes (cargo build --workspace --bins), so the SDK compiles once
test: tools fmt-check clippy lint-template lint-scripts
	cargo build --workspace --bins
	cargo test --workspace
	$(VENV)/bin/python -m unittest discover -s tests/template -v

## lint-template: cfn-lint on the SAM template (SAM transform included) and member.yaml, then checkov's security
##                checks offline (zero failed; each skip carries its reason in the template)
CHECKOV_VENV := $(CURDIR)/.venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --disable-pip-version-check --quiet --requirement requirements-checkov.txt
	touch $@
lint-template: tools $(CHECKOV_VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml member.yaml
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --file member.yaml --framework cloudformation --skip-download --compact --quiet

## lint-scripts: what is not Rust: ruff (lint and format) on the Python of scripts/ and tests/template/,
##               shellcheck on the shell scripts, and the relative links of the Markdown (README.md, docs/)
LINT := $(VENV)/.lint-installed
$(LINT): requirements-lint.txt $(TOOLS)
	$(VENV)/bin/pip install --disable-pip-version-check --quiet --requirement requirements-lint.txt
	touch $@
lint-scripts: $(LINT)
	$(VENV)/bin/ruff check --no-cache scripts tests/template
	$(VENV)/bin/ruff format --no-cache --check scripts tests/template
	$(VENV)/bin/shellcheck --external-sources scripts/*.sh .ci/run
	$(VENV)/bin/python scripts/check_links.py

fmt-check:
	cargo fmt --all -- --check

## check-layers: the core's floors (docs/architecture.md): no import up a floor, no cycle among a
##               module's files, and a check that the checker catches both (also run by make test)
check-layers:
	cargo test --workspace --lib layers

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

## build: the arm64 Lambda package (bootstrap.zip) for provided.al2023, cross-compiled with zig
build: tools
	cargo lambda build --release --arm64 --output-format zip -p node-role-remediator
	@ls -l $(CARGO_TARGET_DIR)/lambda/node-role-remediator/bootstrap.zip

## deploy: sam build && sam deploy (samconfig.toml), with a pinned SAM CLI in its own virtualenv
SAM_VENV := $(CURDIR)/.venv-sam
$(SAM_VENV)/.installed:
	python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --disable-pip-version-check --quiet 'aws-sam-cli==1.170.0'
	touch $@
deploy: tools $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/sam build --template-file template.yaml
	$(SAM_VENV)/bin/sam deploy $(SAM_DEPLOY_ARGS)

## deploy-cargo-lambda: the function alone, without the rules and topic (see docs/deploy.md)
deploy-cargo-lambda: build
	cargo lambda deploy --binary-name node-role-remediator $(CARGO_LAMBDA_DEPLOY_ARGS) node-role-remediator

## local: the function under `cargo lambda watch` (127.0.0.1:9000) against a seeded emulator, until
##        Ctrl-C; invoke it from another terminal (see README "Local runs"). MODE=enforce make local
.PHONY: local
local: tools
	bash scripts/local.sh

## demo-org: organization mode locally: three member accounts and an outsider in one emulator,
##           the function as a central deployment, an event, an outsider's event and a sweep
.PHONY: demo-org
demo-org: tools
	bash scripts/demo-org.sh

## audit-demo: the read-only audit command on the demo account: table, explain, and the HTML,
##             Markdown, JSON and ASFF reports under .demo/
.PHONY: audit-demo
audit-demo: tools
	bash scripts/audit-demo.sh

## demo: emulator + realistic account + the real function under `cargo lambda watch` + real events
demo: tools
	bash scripts/demo.sh

## bench: the release function on a seeded emulator, at each latency in BENCH_LATENCIES (ms added
##        per request): latency p50/p99, API calls vs the minimum, cold start, peak RSS, package size.
##        Extra options via BENCH_ARGS (see scripts/bench/README.md). Results: bench-results/*.json
##        Then the same account with a fraction of all AWS requests throttled, for each fraction in
##        BENCH_THROTTLE (default 0.3 0.5): time to success, Lambda attempts, HTTP requests per event.
BENCH_LATENCIES ?= 0 50
BENCH_THROTTLE ?= 0.3 0.5
##        Then organization mode (scripts/bench/org.py): one central function sweeping each number of
##        member accounts in BENCH_ORG (default 5 20 50), +50 ms per request; empty skips it.
BENCH_ORG ?= 5 20 50
comma := ,
space := $(subst ,, )
BENCH_ARGS ?=
BENCH_BINARIES = --binary $(CARGO_TARGET_DIR)/release/node-role-remediator --proxy-binary $(CARGO_TARGET_DIR)/release/aws-proxy
.PHONY: bench
bench: tools
	cargo build --release -p node-role-remediator
	cargo build --release -p aws-proxy
	@for ms in $(BENCH_LATENCIES); do \
	  PYTHONPATH=scripts $(VENV)/bin/python -m bench $(BENCH_BINARIES) \
	    --latency-ms $$ms --out bench-results/bench-$${ms}ms.json $(BENCH_ARGS) || exit 1; \
	done
	@for f in $(BENCH_THROTTLE); do \
	  PYTHONPATH=scripts $(VENV)/bin/python -m bench $(BENCH_BINARIES) \
	    --throttle $$f --out bench-results/bench-throttle-$$f.json $(BENCH_ARGS) || exit 1; \
	done
	@if [ -n "$(strip $(BENCH_ORG))" ]; then \
	  PYTHONPATH=scripts $(VENV)/bin/python -m bench.org $(BENCH_BINARIES) \
	    --accounts $(subst $(space),$(comma),$(strip $(BENCH_ORG))) --out bench-results/bench-org.json || exit 1; \
	fi
