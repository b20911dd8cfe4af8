//! virtio-blk end to end: Debian Linux mounts an ext2 disk built here, reads a file the
//! test put on it and writes one back; plus the command-line errors of -drive/-device.
//!
//! The Linux tests need the guest cache from `sh tests/linux/fetch.sh` and e2fsprogs
//! (`mke2fs`, `debugfs`); without them they fail and say what to do.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const HELLO: &str = "hello from the host disk";

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("hp-blk-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch directory");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The Debian guest cache, checked to exist and to match tests/linux/{init,fetch.sh}.
fn cache() -> PathBuf {
    let cache = linux_cache();
    for f in ["fw_dynamic.bin", "vmlinux", "initramfs.cpio.gz"] {
        assert!(
            cache.join(f).exists(),
            "{} is missing: run `sh tests/linux/fetch.sh` to build the Linux guest cache",
            cache.join(f).display()
        );
    }
    // fetch.sh stamps the cache with the checksum of the scripts it was built from; the
    // disk test needs the current init (it loads ext4).
    let dir = root().join("tests/linux");
    let sum = Command::new("sh")
        .arg("-c")
        .arg("cat init fetch.sh debian-apt.sh | cksum")
        .current_dir(&dir)
        .output()
        .expect("run cksum");
    let stamp = std::fs::read(cache.join(".stamp")).unwrap_or_default();
    assert!(
        sum.status.success() && sum.stdout == stamp,
        "The Linux guest cache in {} is out of date (tests/linux/init, fetch.sh or debian-apt.sh \
         changed): run `sh tests/linux/fetch.sh`",
        cache.display()
    );
    cache
}

fn tool(name: &str) -> String {
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p.display().to_string();
        }
    }
    panic!("{name} not found: install e2fsprogs (`make deps` does)");
}

/// An 8 MiB ext2 image holding hello.txt, built without mounting anything.
fn make_disk(s: &Scratch) -> String {
    let content = s.0.join("content");
    std::fs::create_dir_all(&content).expect("create content directory");
    std::fs::write(content.join("hello.txt"), format!("{HELLO}\n")).expect("write hello.txt");
    let img = s.path("disk.img");
    let out = Command::new(tool("mke2fs"))
        .args(["-q", "-F", "-t", "ext2", "-d"])
        .arg(&content)
        .args([&img, "8M"])
        .output()
        .expect("run mke2fs");
    assert!(
        out.status.success(),
        "mke2fs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    img
}

/// The contents of `path` inside the ext2 image, read with debugfs.
fn read_back(img: &str, path: &str) -> String {
    let out = Command::new(tool("debugfs"))
        .args(["-R", &format!("cat {path}"), img])
        .output()
        .expect("run debugfs");
    assert!(out.status.success(), "debugfs failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Boots Linux in `hp=disk` mode with `disk_args` and returns the run.
fn boot(disk_args: &[&str]) -> Run {
    let c = cache();
    let (fw, kernel, initrd) = (
        c.join("fw_dynamic.bin").display().to_string(),
        c.join("vmlinux").display().to_string(),
        c.join("initramfs.cpio.gz").display().to_string(),
    );
    let mut args = vec![
        "-M",
        "virt",
        "-m",
        "512M",
        "-smp",
        "1",
        "-nographic",
        "-bios",
        &fw,
        "-kernel",
        &kernel,
        "-initrd",
        &initrd,
        "-append",
        "console=ttyS0 hp=disk",
    ];
    args.extend_from_slice(disk_args);
    run(&args, 240)
}

/// Checks the guest read hello.txt, wrote guest.txt, and finished.
fn check_read_write(r: &Run, img: &str) {
    assert_eq!(r.status, 0, "{}", r.all());
    assert!(r.stdout.contains("virtio_blk virtio"), "{}", r.all());
    assert!(
        r.stdout.contains("[vda]"),
        "the disk is /dev/vda:\n{}",
        r.all()
    );
    assert!(
        r.stdout.contains(HELLO),
        "the guest read hello.txt:\n{}",
        r.all()
    );
    assert!(r.stdout.contains("HALTPOINT-DISK-DONE"), "{}", r.all());
    assert_eq!(
        read_back(img, "/guest.txt"),
        "written by guest\n",
        "guest.txt reached the image:\n{}",
        r.all()
    );
}

#[test]
fn linux_reads_and_writes_a_drive_if_virtio() {
    let s = Scratch::new("if-virtio");
    let img = make_disk(&s);
    let drive = format!("file={img},format=raw,if=virtio");
    let r = boot(&["-drive", &drive]);
    check_read_write(&r, &img);
}

#[test]
fn linux_reads_and_writes_a_drive_on_a_device() {
    let s = Scratch::new("device");
    let img = make_disk(&s);
    let drive = format!("file={img},format=raw,if=none,id=hd0");
    let r = boot(&["-drive", &drive, "-device", "virtio-blk-device,drive=hd0"]);
    check_read_write(&r, &img);
}

#[test]
fn linux_sees_a_read_only_drive() {
    let s = Scratch::new("ro");
    let img = make_disk(&s);
    let before = std::fs::read(&img).expect("read image");
    let drive = format!("file={img},format=raw,if=virtio,readonly=on");
    let r = boot(&["-drive", &drive]);
    assert_eq!(r.status, 0, "{}", r.all());
    assert!(
        r.stdout.contains(HELLO),
        "the guest read hello.txt:\n{}",
        r.all()
    );
    assert!(r.stdout.contains("HALTPOINT-DISK-DONE"), "{}", r.all());
    assert!(
        std::fs::read(&img).expect("read image") == before,
        "a read-only image must not change:\n{}",
        r.all()
    );
}

/// Runs the bare-metal rv64i guest with `extra` options that must be refused.
fn refused(extra: &[&str], want: &str) {
    let r = run_guest("rv64i.elf", extra);
    assert_eq!(r.status, 1, "{}", r.all());
    assert!(r.stderr.contains(want), "want {want:?}:\n{}", r.all());
}

#[test]
fn drive_errors_are_clear() {
    let s = Scratch::new("errors");
    let img = s.path("tiny.img");
    std::fs::write(&img, [0u8; 4096]).expect("write image");
    let missing = s.path("missing.img");
    refused(
        &["-drive", &format!("file={missing},format=raw,if=virtio")],
        &format!("Could not open '{missing}': No such file or directory"),
    );
    refused(
        &["-drive", &format!("file={img},format=raw,if=scsi")],
        "if=scsi is not supported",
    );
    refused(
        &["-drive", &format!("file={img},format=qcow2,if=virtio")],
        "image format 'qcow2' is not supported",
    );
    refused(
        &[
            "-drive",
            &format!("file={img},format=raw,if=none,id=hd0"),
            "-device",
            "virtio-blk-device,drive=hd1",
        ],
        "Property 'virtio-blk-device.drive' can't find value 'hd1'",
    );
    refused(
        &["-device", "virtio-net-device"],
        "'virtio-net-device' is not a valid device model name",
    );
    let nine: Vec<String> = (0..9)
        .map(|_| format!("file={img},format=raw,if=virtio,readonly=on"))
        .flat_map(|d| ["-drive".to_string(), d])
        .collect();
    let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
    refused(&nine, "Too many virtio devices: 9");
}

#[test]
fn drives_are_plugged_from_the_highest_slot_down() {
    let s = Scratch::new("dtb");
    let (a, b) = (s.path("a.img"), s.path("b.img"));
    std::fs::write(&a, [0u8; 4096]).expect("write image");
    std::fs::write(&b, [0u8; 4096]).expect("write image");
    let dtb = s.path("virt.dtb");
    let m = format!("virt,dumpdtb={dtb}");
    let kernel = guest("rv64i.elf");
    let r = run(
        &[
            "-M",
            &m,
            "-bios",
            "none",
            "-kernel",
            &kernel,
            "-drive",
            &format!("file={a},format=raw,if=virtio"),
            "-drive",
            &format!("file={b},format=raw,if=virtio"),
        ],
        30,
    );
    assert_eq!(r.status, 0, "{}", r.all());
    // QEMU's order: the first node in the tree (probed first by Linux) is the highest.
    let blob = std::fs::read(&dtb).expect("read dtb");
    let at = |name: &str| {
        blob.windows(name.len())
            .position(|w| w == name.as_bytes())
            .unwrap_or_else(|| panic!("{name} missing from the DTB"))
    };
    let order: Vec<usize> = (1..=8)
        .rev()
        .map(|n| at(&format!("virtio_mmio@1000{n}000")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
}
