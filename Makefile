# wardwatch: the two commands are `make demo` and `make test`. Everything else is a helper.
SHELL := /bin/bash
export ORT_DYLIB_PATH ?= $(CURDIR)/.venv/libonnxruntime.so
DEMO_START ?= 2026-11-26T23:00:00+07:00

.PHONY: setup build demo test bench fmt lint broker-start broker-stop

setup:
	@bash scripts/setup.sh

build: setup
	cargo build --release

demo: build
	@bash scripts/broker.sh start
	./target/release/wardwatch replay --config config/demo.toml --start $(DEMO_START) data/vtest.avi

test: setup
	cargo fmt --check
	cargo clippy --release --all-targets -- -D warnings
	cargo test --release --no-fail-fast -- --nocapture

bench: setup
	cargo bench

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

broker-start:
	@bash scripts/broker.sh start

broker-stop:
	@bash scripts/broker.sh stop
