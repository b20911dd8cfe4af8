#!/bin/sh
# Builds the public RISC-V ISA tests (riscv-software-src/riscv-tests) for the extensions
# haltpoint implements and runs each one under haltpoint. A test reports through HTIF
# `tohost`: exit status 0 passes, (n<<1)|1 fails test case n (haltpoint exits with n).
#
#   sh tests/isa/run-riscv-tests.sh RISCV_TESTS_DIR [HALTPOINT]
#
# RISCV_TESTS_DIR is a checkout with its `env` submodule:
#   git clone --recursive https://github.com/riscv-software-src/riscv-tests
# (`make isa-tests RISCV_TESTS=DIR` installs the compilers and runs this.) The suite
# is not vendored here and the test machines reach no git host, so `make test` runs
# haltpoint's own ISA guests instead (tests/guests); this script is the cross-check.
# Needs gcc-riscv64-unknown-elf, and picolibc-riscv64-unknown-elf for the -v tests'
# headers. Builds out of tree, in a temporary directory.
set -eu
SRC=${1:?usage: run-riscv-tests.sh RISCV_TESTS_DIR [HALTPOINT]}
HP=${2:-$(pwd)/target/release/haltpoint}
SRC=$(cd "$SRC" && pwd)
[ -f "$SRC/isa/Makefile" ] && [ -f "$SRC/env/p/link.ld" ] || {
    echo "$SRC is not a riscv-tests checkout with its env submodule" >&2
    exit 2
}
[ -x "$HP" ] || { echo "$HP is not executable (cargo build --release)" >&2; exit 2; }
SUITES="rv64ui rv64uc rv64um rv64ua rv64uf rv64ud rv64uzba rv64uzbb rv64uzbs rv64si rv64mi"
LIBC=/usr/lib/picolibc/riscv64-unknown-elf/include
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
make -s -C "$OUT" -f "$SRC/isa/Makefile" src_dir="$SRC/isa" XLEN=64 -j2 \
    RISCV_PREFIX=riscv64-unknown-elf- \
    RISCV_GCC_OPTS="-static -mcmodel=medany -fvisibility=hidden -nostdlib -nostartfiles -isystem $LIBC" \
    $SUITES >"$OUT/build.log" 2>&1 || { tail -20 "$OUT/build.log" >&2; exit 2; }
pass=0
failed=""
for t in $(cd "$OUT" && ls | grep -E '^rv64[a-z]+-[pv]-' | grep -v '\.dump$'); do
    if timeout 20 "$HP" -M virt -bios none -nographic -kernel "$OUT/$t" </dev/null >/dev/null 2>&1; then
        pass=$((pass + 1))
    else
        failed="$failed $t(exit $?)"
    fi
done
echo "riscv-tests ($(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')): $pass passed"
if [ -n "$failed" ]; then
    echo "failed:$failed"
    exit 1
fi
[ "$pass" -gt 0 ] || { echo "no tests were built" >&2; exit 1; }
