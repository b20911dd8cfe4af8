//! Helpers shared by the integration tests: run the real `haltpoint` binary.
#![allow(dead_code)]

pub mod gdb;
pub mod qmp;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// The result of one run.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Everything the run printed, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit status {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_haltpoint")
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn guest(name: &str) -> String {
    root().join("tests/guests").join(name).display().to_string()
}

/// Runs haltpoint with `args` under coreutils `timeout`, stdin from `input`.
pub fn run_with_input(args: &[&str], input: &[u8], secs: u32) -> Run {
    use std::io::Write;
    let mut child = Command::new("timeout")
        .arg("--kill-after=5")
        .arg(secs.to_string())
        .arg(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn haltpoint under timeout");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for haltpoint");
    let _ = writer.join();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn run(args: &[&str], secs: u32) -> Run {
    run_with_input(args, b"", secs)
}

/// The command line of a bare-metal guest (`-bios none`, no display).
pub fn bare_args<'a>(kernel: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "-M",
        "virt",
        "-bios",
        "none",
        "-nographic",
        "-kernel",
        kernel,
    ];
    args.extend_from_slice(extra);
    args
}

/// Runs a bare-metal test guest with `-bios none` and returns the run.
pub fn run_guest(elf: &str, extra: &[&str]) -> Run {
    let path = guest(elf);
    run(&bare_args(&path, extra), 60)
}

/// The Debian guest cache built by tests/linux/fetch.sh.
pub fn linux_cache() -> PathBuf {
    if let Ok(c) = std::env::var("HALTPOINT_CACHE") {
        return PathBuf::from(c);
    }
    let base = std::env::var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache")
        });
    base.join("haltpoint")
}
/// Collects the lines a child writes to `pipe` (its stderr) in a thread.
pub fn collect_lines(pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let t2 = text.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(l) = line else { break };
            let mut t = t2.lock().unwrap();
            t.push_str(&l);
            t.push('\n');
        }
    });
    text
}

/// The port haltpoint's gdb server says it listens on (`-gdb tcp::0`), from its stderr.
pub fn gdb_port(stderr: &str) -> Option<u16> {
    stderr
        .split("listening on tcp:127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
}

/// A file of the Debian guest cache, which must exist.
pub fn linux_file(name: &str) -> String {
    let p = linux_cache().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `sh tests/linux/fetch.sh` (make test does) to fetch the Debian guests",
        p.display()
    );
    p.display().to_string()
}

/// The command line that boots the Debian kernel and initramfs (512 MiB, OpenSBI).
pub fn linux_args(smp: &str, append: &str) -> Vec<String> {
    let mut v: Vec<String> = ["-M", "virt", "-m", "512M", "-smp", smp, "-nographic"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (opt, file) in [
        ("-bios", "fw_dynamic.bin"),
        ("-kernel", "vmlinux"),
        ("-initrd", "initramfs.cpio.gz"),
    ] {
        v.push(opt.into());
        v.push(linux_file(file));
    }
    v.push("-append".into());
    v.push(append.into());
    v
}
