//! QMP against real peers written in Python: the `qemu.qmp` library from PyPI, and a
//! differential session against `qemu-system-riscv64` (same requests, replies compared).
//! `make test` installs qemu.qmp into a venv in the cache (see the Makefile's `venv`).

mod common;

use std::process::Command;

fn venv_python() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("HALTPOINT_PYTHON") {
        return p.into();
    }
    let p = common::linux_cache().join("venv/bin/python3");
    assert!(
        p.exists(),
        "{} is missing: run `make test` (it creates the venv with qemu.qmp)",
        p.display()
    );
    p
}

fn script(name: &str) -> String {
    common::root()
        .join("tests/qmp")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn qemu_qmp_library_session() {
    let out = Command::new(venv_python())
        .arg(script("library.py"))
        .arg(common::bin())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("qemu.qmp session: ok"), "{text}");
}

#[test]
fn same_replies_as_qemu() {
    let qemu = "qemu-system-riscv64";
    assert!(
        Command::new(qemu).arg("--version").output().is_ok(),
        "{qemu} is missing: `make test` installs qemu-system-misc"
    );
    let out = Command::new("python3")
        .arg(script("differential.py"))
        .arg(common::bin())
        .arg(qemu)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains(" 0 differences"), "{text}");
}
