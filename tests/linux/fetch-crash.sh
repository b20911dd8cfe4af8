#!/bin/sh
# Fetches what the crash-utility tests (part of make test) need, for the kernel that
# tests/linux/fetch.sh put in the cache (run that first):
#   - the kernel's debug vmlinux, from Debian's linux-image-KVER-dbg package (about 1 GB
#     to download): only that one file is extracted, and the .deb is deleted afterwards;
#   - Debian trixie's riscv64 `crash` and the libraries it runs with, unpacked with
#     dpkg-deb into a sysroot, to run on the host as
#       qemu-riscv64-static -L $CACHE/crash/sysroot $CACHE/crash/sysroot/usr/bin/crash ...
#
# apt is private to the cache (tests/linux/debian-apt.sh): the host's apt configuration
# is never touched.
#
# Output (in $CACHE/crash): vmlinux (with debug info), sysroot/, kernel-version
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/debian-apt.sh"
[ -f "$CACHE/kernel-version" ] || { echo "fetch-crash.sh: no kernel in $CACHE: run tests/linux/fetch.sh first" >&2; exit 1; }
kver=$(cat "$CACHE/kernel-version")
OUT=$CACHE/crash
mkdir -p "$OUT"
cd "$OUT"
stamp=$(cat "$HERE/fetch-crash.sh" "$HERE/debian-apt.sh" "$CACHE/kernel-version" | cksum)
if [ -f vmlinux ] && [ -x sysroot/usr/bin/crash ] && [ -f .stamp ] && [ "$(cat .stamp)" = "$stamp" ]; then
    echo "fetch-crash.sh: cache is up to date in $OUT"
    exit 0
fi
rm -f .stamp

debian_apt_update
rm -rf debs && mkdir debs && cd debs

# The debug vmlinux of exactly the cached kernel.
dbg=linux-image-$kver-dbg
# shellcheck disable=SC2086
if ! apt-cache $apt_opts show "$dbg" >/dev/null 2>&1; then
    echo "fetch-crash.sh: $dbg is not on the mirror (a newer kernel replaced it?);" \
        "refresh the guests: rm $CACHE/.stamp && sh tests/linux/fetch.sh" >&2
    exit 1
fi
echo "fetch-crash.sh: downloading $dbg (about 1 GB)"
# shellcheck disable=SC2086
apt-get $apt_opts download "$dbg" 2>&1 | grep -v "unsandboxed" >&2 || true
deb=$(ls ./linux-image-*-dbg_*.deb)
# tar stops at the first match (--occurrence), so the modules' debug files that follow
# in the archive are never written.
rm -rf ../dbg && mkdir ../dbg
# (dpkg-deb then dies of SIGPIPE and says so: its stderr is dropped.)
dpkg-deb --fsys-tarfile "$deb" 2>/dev/null | tar -x -C ../dbg --occurrence=1 "./usr/lib/debug/boot/vmlinux-$kver"
mv "../dbg/usr/lib/debug/boot/vmlinux-$kver" ../vmlinux
rm -rf ../dbg "$deb"

# crash and the libraries it loads: its Depends and theirs, recursively, libraries only
# (crash's `binutils` dependency is for commands the tests do not use).
want=crash
todo=crash
while [ -n "$todo" ]; do
    # shellcheck disable=SC2086
    next=$(apt-cache $apt_opts depends --no-recommends --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances $todo |
        sed -n 's/^ *\(Pre\)\{0,1\}Depends: \(lib[^ <]*\|gcc-[0-9]*-base\)$/\2/p' | sort -u)
    todo=
    for p in $next; do
        case " $want " in *" $p "*) ;; *) want="$want $p"; todo="$todo $p" ;; esac
    done
done
echo "fetch-crash.sh: downloading$(printf ' %s' $want)"
# shellcheck disable=SC2086
apt-get $apt_opts download $want 2>&1 | grep -v "unsandboxed" >&2 || true
cd ..
rm -rf sysroot && mkdir sysroot
for d in debs/*.deb; do dpkg-deb -x "$d" sysroot; done
# The packages are for a merged /usr (the symlink is base-files' job): crash asks for
# /lib/ld-linux-riscv64-lp64d.so.1.
ln -s usr/lib sysroot/lib
[ -x sysroot/usr/bin/crash ] || { echo "fetch-crash.sh: no crash binary in the sysroot" >&2; exit 1; }
rm -rf debs
cp "$CACHE/kernel-version" kernel-version
echo "$stamp" > .stamp
echo "fetch-crash.sh: ready in $OUT (kernel $kver)"
