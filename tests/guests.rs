//! The bare-metal test guests (tests/guests/*.S) under the real binary.
//!
//! Each guest checks exact expected values and reports through sifive_test: exit status
//! 0 when every check passed, otherwise the number of the first failing check.

mod common;
use common::*;

fn expect_pass(elf: &str, extra: &[&str]) -> Run {
    let r = run_guest(elf, extra);
    assert_eq!(r.status, 0, "{elf} failed:\n{}", r.all());
    assert!(
        r.stdout.contains("checks passed"),
        "{elf}: no summary line:\n{}",
        r.all()
    );
    r
}

#[test]
fn rv64i() {
    expect_pass("rv64i.elf", &[]);
}

#[test]
fn rv64m() {
    expect_pass("rv64m.elf", &[]);
}

#[test]
fn rv64a() {
    expect_pass("rv64a.elf", &[]);
}

#[test]
fn rv64c() {
    expect_pass("rv64c.elf", &[]);
}

#[test]
fn zba_zbb_zbs() {
    expect_pass("zb.elf", &[]);
}

#[test]
fn floating_point() {
    expect_pass("fp.elf", &[]);
}

#[test]
fn privileged_architecture() {
    expect_pass("priv.elf", &[]);
}

#[test]
fn paging_sv39_sv48_sv57() {
    expect_pass("paging.elf", &[]);
}

#[test]
fn smp_four_harts() {
    expect_pass("smp.elf", &["-smp", "4"]);
}

#[test]
fn htif_tohost_exit_status() {
    let r = run_guest("htif.elf", &[]);
    assert_eq!(
        r.status,
        7,
        "tohost = (7 << 1) | 1 must exit 7:\n{}",
        r.all()
    );
    let r = run_guest("htif_pass.elf", &[]);
    assert_eq!(r.status, 0, "tohost = 1 must exit 0:\n{}", r.all());
}

#[test]
fn embedded_demo_runs_without_arguments() {
    let r = run(&[], 30);
    assert_eq!(r.status, 0, "{}", r.all());
    for line in [
        "traps",
        "timer interrupt",
        "Sv39 paging",
        "floating point",
        "all 9 checks passed",
    ] {
        assert!(
            r.stdout.contains(line),
            "demo output lacks {line:?}:\n{}",
            r.all()
        );
    }
}

#[test]
fn same_inputs_same_run() {
    // Deterministic by default: two runs retire exactly the same instructions.
    let a = run_guest("smp.elf", &["-smp", "4", "--stats"]);
    let b = run_guest("smp.elf", &["-smp", "4", "--stats"]);
    let counts = |r: &Run| -> Vec<String> {
        r.stderr
            .lines()
            .filter(|l| l.contains("retired"))
            .map(String::from)
            .collect()
    };
    assert_eq!(a.status, 0, "{}", a.all());
    assert!(!counts(&a).is_empty(), "no --stats output:\n{}", a.all());
    assert_eq!(counts(&a), counts(&b));
}
