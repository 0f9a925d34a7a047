# wardwatch: the two commands are `make demo` and `make test`. Everything else is a helper.
SHELL := /bin/bash
export ORT_DYLIB_PATH ?= $(CURDIR)/.venv/libonnxruntime.so
DEMO_START ?= 2026-11-26T23:00:00+07:00

.PHONY: setup build demo test bench fmt lint broker-start broker-stop install uninstall deb

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

# Packaging (docs/packaging.md). `make install` copies what `make build` and `make setup`
# made; it does not build (run `make build` first, or name the binary with BIN=).
# PREFIX=/usr/local by default; DESTDIR stages the tree; the config goes to
# $(SYSCONFDIR)/wardwatch only if there is none yet. Paths inside the unit and the config
# are rewritten to PREFIX and SYSCONFDIR. Run as root without DESTDIR it also creates the
# system user wardwatch and /var/lib/wardwatch (CREATE_USER=no leaves them out).
PREFIX ?= /usr/local
CREATE_USER ?= yes
SYSCONFDIR ?= /etc
DESTDIR ?=
BIN ?= target/release/wardwatch
ORT_VERSION := 1.32.0
ORT_LIB ?= $(shell readlink -f .venv/libonnxruntime.so)
BINDIR := $(PREFIX)/bin
LIBDIR := $(PREFIX)/lib/wardwatch
DATADIR := $(PREFIX)/share/wardwatch
DOCDIR := $(PREFIX)/share/doc/wardwatch
UNITDIR ?= $(PREFIX)/lib/systemd/system
FHS_SED := -e 's|/usr/bin/wardwatch|$(BINDIR)/wardwatch|g' -e 's|/usr/lib/wardwatch|$(LIBDIR)|g' \
	-e 's|/usr/share/wardwatch|$(DATADIR)|g' -e 's|/usr/share/doc/wardwatch|$(DOCDIR)|g' \
	-e 's|/etc/wardwatch|$(SYSCONFDIR)/wardwatch|g'

install:
	@test -x "$(BIN)" || { echo "make install: $(BIN) is missing: run 'make build' first (or pass BIN=)" >&2; exit 1; }
	@test -f "$(ORT_LIB)" || { echo "make install: ONNX Runtime library '$(ORT_LIB)' is missing: run 'make setup' (or pass ORT_LIB=)" >&2; exit 1; }
	install -D -m 0755 "$(BIN)" "$(DESTDIR)$(BINDIR)/wardwatch"
	install -D -m 0644 "$(ORT_LIB)" "$(DESTDIR)$(LIBDIR)/libonnxruntime.so.$(ORT_VERSION)"
	install -D -m 0644 models/nanodet-g-416.onnx "$(DESTDIR)$(DATADIR)/models/nanodet-g-416.onnx"
	install -d -m 0755 "$(DESTDIR)$(UNITDIR)" "$(DESTDIR)$(DOCDIR)"
	sed $(FHS_SED) packaging/wardwatch.service > "$(DESTDIR)$(UNITDIR)/wardwatch.service"
	chmod 0644 "$(DESTDIR)$(UNITDIR)/wardwatch.service"
	install -m 0644 README.md docs/*.md "$(DESTDIR)$(DOCDIR)/"
	install -d -m 0750 "$(DESTDIR)$(SYSCONFDIR)/wardwatch"
	@if [ -e "$(DESTDIR)$(SYSCONFDIR)/wardwatch/wardwatch.toml" ]; then \
		echo "make install: keeping the existing $(DESTDIR)$(SYSCONFDIR)/wardwatch/wardwatch.toml"; \
	else \
		sed $(FHS_SED) packaging/wardwatch.toml > "$(DESTDIR)$(SYSCONFDIR)/wardwatch/wardwatch.toml" && \
		chmod 0640 "$(DESTDIR)$(SYSCONFDIR)/wardwatch/wardwatch.toml" && \
		echo "make install: wrote $(DESTDIR)$(SYSCONFDIR)/wardwatch/wardwatch.toml"; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ "$(CREATE_USER)" = yes ] && [ "$$(id -u)" = 0 ]; then \
		getent group wardwatch >/dev/null || groupadd --system wardwatch; \
		getent passwd wardwatch >/dev/null || useradd --system --gid wardwatch --home-dir /var/lib/wardwatch \
			--no-create-home --shell /usr/sbin/nologin --comment "wardwatch video analytics" wardwatch; \
		chgrp wardwatch "$(SYSCONFDIR)/wardwatch" "$(SYSCONFDIR)/wardwatch/wardwatch.toml"; \
		install -d -o wardwatch -g wardwatch -m 0750 /var/lib/wardwatch; \
		echo "make install: done; edit $(SYSCONFDIR)/wardwatch/wardwatch.toml, then: systemctl daemon-reload && systemctl enable --now wardwatch"; \
	else \
		echo "make install: installed; the service needs the system user: useradd --system --user-group --home-dir /var/lib/wardwatch --shell /usr/sbin/nologin wardwatch"; \
	fi

# Removes what `make install` installed except the config and /var/lib/wardwatch.
uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/wardwatch" "$(DESTDIR)$(UNITDIR)/wardwatch.service"
	rm -rf "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(DATADIR)" "$(DESTDIR)$(DOCDIR)"

# target/debian/wardwatch_<version>-1_<arch>.deb with a stripped binary, and its line tables
# in wardwatch-dbgsym_<version>-1_<arch>.ddeb; cargo-deb comes from scripts/setup.sh.
deb: build
	cargo deb --no-build --dbgsym
