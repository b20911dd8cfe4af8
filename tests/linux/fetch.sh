#!/bin/sh
# Fetches Debian trixie riscv64 packages (kernel, modules, OpenSBI, busybox) into a cache
# outside the repository and builds a test initramfs from them.
#
# apt is private to the cache (tests/linux/debian-apt.sh): the host's apt configuration
# is never touched.
#
# Output (in $CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/haltpoint):
#   fw_dynamic.bin  vmlinux  initramfs.cpio.gz  kernel-version
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/debian-apt.sh"
mkdir -p "$CACHE"
cd "$CACHE"

if [ -f initramfs.cpio.gz ] && [ -f vmlinux ] && [ -f fw_dynamic.bin ] && [ -f .stamp ] &&
   [ "$(cat .stamp)" = "$(cat "$HERE/init" "$HERE/fetch.sh" "$HERE/debian-apt.sh" | cksum)" ]; then
    echo "fetch.sh: cache is up to date in $CACHE"
    exit 0
fi

mkdir -p debs
debian_apt_update
# The linux-image-riscv64 metapackage names the versioned kernel package.
# shellcheck disable=SC2086
kpkg=$(apt-cache $apt_opts depends linux-image-riscv64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
[ -n "$kpkg" ] || { echo "fetch.sh: cannot resolve linux-image-riscv64" >&2; exit 1; }
echo "fetch.sh: kernel package $kpkg"
cd debs
# shellcheck disable=SC2086
apt-get $apt_opts download "$kpkg" opensbi busybox-static 2>&1 | grep -v "unsandboxed" >&2 || true
ls ./*.deb >/dev/null
cd ..

rm -rf ex && mkdir -p ex
for d in debs/*.deb; do dpkg-deb -x "$d" ex; done
moddir=ex/usr/lib/modules
[ -d "$moddir" ] || moddir=ex/lib/modules
kver=$(ls "$moddir" | head -n 1)
echo "$kver" > kernel-version
cp ex/boot/vmlinu*-"$kver" vmlinux
cp ex/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin fw_dynamic.bin

# initramfs: busybox, the init script, and the modules we need, decompressed.
rm -rf initrd && mkdir -p initrd/bin initrd/lib/modules initrd/proc initrd/sys initrd/dev initrd/mnt initrd/tmp
cp ex/usr/bin/busybox initrd/bin/busybox 2>/dev/null || cp ex/bin/busybox initrd/bin/busybox
cp "$HERE/init" initrd/init
chmod +x initrd/init
# ext4 (with its dependencies, loaded in this order) mounts the ext2 test disk;
# sunxi_wdt drives haltpoint's watchdog and needs the watchdog core module.
for m in qemu_fw_cfg virtio_mmio virtio_blk watchdog sunxi_wdt crc16 mbcache jbd2 crc32c_generic ext4; do
    f=$(find "$moddir/$kver" -name "$m.ko*" | head -n 1)
    [ -n "$f" ] || { echo "fetch.sh: module $m not found (built in?)"; continue; }
    case "$f" in
        *.xz) xz -dc "$f" > initrd/lib/modules/"$m".ko ;;
        *.zst) zstd -qdc "$f" > initrd/lib/modules/"$m".ko ;;
        *.gz) gzip -dc "$f" > initrd/lib/modules/"$m".ko ;;
        *) cp "$f" initrd/lib/modules/"$m".ko ;;
    esac
done
(cd initrd && find . | sort | cpio -o -H newc --quiet | gzip -9n > ../initramfs.cpio.gz)
cat "$HERE/init" "$HERE/fetch.sh" "$HERE/debian-apt.sh" | cksum > .stamp
echo "fetch.sh: ready in $CACHE (kernel $kver)"
