# haltpoint: the two front-door commands are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
BIN := target/release/haltpoint
# Debian packages the build and the tests need (installed only when missing).
DEB_BUILD := cmake gcc make
DEB_TEST := cpio xz-utils zstd device-tree-compiler gdb-multiarch qemu-system-misc python3-venv e2fsprogs tmux makedumpfile python3-lzo python3-snappy
# ... and the crash utility's tests: qemu-user runs Debian's riscv64 crash on the host.
DEB_CRASH := qemu-user-static

.PHONY: all build run test test-quick test-crash deps deps-build deps-crash bench guests isa-tests lint fmt clippy clean qmp-doc venv

all: build

# $(call install_missing,PACKAGES): apt-get install those not installed yet.
define install_missing
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "Installing:$$missing"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
endef

deps-build:
	$(call install_missing,$(DEB_BUILD))

deps: deps-build
	$(call install_missing,$(DEB_TEST))

deps-crash: deps
	$(call install_missing,$(DEB_CRASH))

build: deps-build
	$(CARGO) build --release

# The main job: the embedded demo guest.
run: build
	$(BIN)

CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/haltpoint
VENV := $(CACHE)/venv

# The Python peers of the QMP tests: the qemu.qmp library from PyPI, in a venv.
venv: deps
	@[ -x $(VENV)/bin/python3 ] && $(VENV)/bin/python3 -c 'import qemu.qmp' 2>/dev/null || \
	  { python3 -m venv $(VENV) && $(VENV)/bin/pip install -q qemu.qmp; }

# Everything the tests need, then every test: unit, guest programs, QMP, Linux, and the
# slow ones (below). fetch-crash.sh downloads the kernel's -dbg package (about 1 GB)
# once into the cache.
test: deps-crash venv build
	sh tests/linux/fetch.sh
	sh tests/linux/fetch-crash.sh
	$(CARGO) test --release -- --test-threads=2
	$(SLOW_TESTS)

# The slow tests (several minutes): the real crash utility (Debian trixie's riscv64
# build, under qemu-user) on dumps of Debian's kernel after a sysrq panic, and
# gdb-multiarch on the running kernel with the -dbg package's symbols. They are
# #[ignore]d so that the parallel stage above leaves them out; each runs in its own
# stage, which keeps the timing tests of the first stage off a loaded host.
define SLOW_TESTS
$(CARGO) test --release --test crash_utility -- --ignored --nocapture
$(CARGO) test --release --test gdb_linux -- --ignored --test-threads=2
endef

# For development: every test but the slow ones (no 1 GB download).
test-quick: deps venv build
	sh tests/linux/fetch.sh
	$(CARGO) test --release -- --test-threads=2

# For development: only the slow tests.
test-crash: deps-crash build
	sh tests/linux/fetch.sh
	sh tests/linux/fetch-crash.sh
	$(SLOW_TESTS)

bench: deps build
	sh tests/linux/fetch.sh
	python3 benches/bench.py

# Rebuild the committed test and benchmark guests from source (needs gcc-riscv64-unknown-elf),
# and fetch the Debian guests into the cache.
guests:
	@dpkg -s gcc-riscv64-unknown-elf >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-riscv64-unknown-elf
	$(MAKE) -C tests/guests all
	$(MAKE) -C benches/guests all
	sh tests/linux/fetch.sh

# Cross-check with the public ISA test suite: RISCV_TESTS is a checkout of
# riscv-software-src/riscv-tests with its env submodule (not vendored, and not part of
# `make test`: the test machines reach no git host). Builds and runs every rv64 test of
# the extensions haltpoint implements (both the -p and the virtual-memory -v forms).
isa-tests: build
	@[ -n "$(RISCV_TESTS)" ] || { echo "usage: make isa-tests RISCV_TESTS=path/to/riscv-tests"; exit 2; }
	$(call install_missing,gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf)
	sh tests/isa/run-riscv-tests.sh $(RISCV_TESTS)

# Regenerate docs/qmp.md from the command table (tests/qmp.rs checks it is current).
qmp-doc: build
	$(BIN) --qmp-reference > docs/qmp.md

lint: fmt clippy
fmt:
	$(CARGO) fmt --check
clippy:
	$(CARGO) clippy --release --all-targets -- -D warnings

clean:
	$(CARGO) clean
