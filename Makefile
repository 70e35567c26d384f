# The entry point for people and CI. `make demo` runs the product locally, `make test` proves it.
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
TOOLS := $(VENV)/.installed
export PATH := $(VENV)/bin:$(PATH)
export CARGO_TARGET_DIR ?= $(CURDIR)/target
export SAM_CLI_TELEMETRY := 0

.PHONY: tools test fmt-check clippy lint-template unit demo

## tools: project-local virtualenv with the emulator (moto), cargo-lambda, zig and cfn-lint, pinned
tools: $(TOOLS)
$(TOOLS): requirements-tools.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check --quiet --requirement requirements-tools.txt
	touch $@

## test: formatting, lints and every test tier (unit, emulator integration, end to end)
test: tools fmt-check clippy
	cargo build --workspace --bins
	cargo test --workspace

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

## demo: emulator + realistic account + the real function under `cargo lambda watch` + real events
demo: tools
	bash scripts/demo.sh
