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
fn blocks_loops_calls_page_crossing_and_rewritten_code() {
    expect_pass("blocks.elf", &[]);
}

#[test]
fn lines_runs_without_a_debugger() {
    expect_pass("lines.elf", &[]);
}

#[test]
fn watchpage_runs_without_a_debugger() {
    expect_pass("watchpage.elf", &[]);
}

#[test]
fn stepirq_runs_without_a_debugger() {
    expect_pass("stepirq.elf", &[]);
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

/// Asserts that `text` (stdout or stderr of `r`) contains each of `want`.
fn has_all(r: &Run, text: &str, want: &[&str]) {
    for w in want {
        assert!(text.contains(w), "missing {w:?}:\n{}", r.all());
    }
}

#[test]
fn demo_panic_registers_vmcoreinfo_and_crashes() {
    // `-append panic`: the demo registers its vmcoreinfo note through fw_cfg DMA, then
    // reports a panic through pvpanic. QEMU's default panic action is shutdown: log
    // "Guest crashed" and exit with status 0, the guest never running on.
    let r = run_guest("demo/demo.elf", &["-append", "console=ttyS0 panic"]);
    assert_eq!(r.status, 0, "{}", r.all());
    has_all(
        &r,
        &r.stdout,
        &[
            "all 9 checks passed",
            "vmcoreinfo note (fw_cfg DMA write of etc/vmcoreinfo) ... ok",
            "panic (pvpanic-mmio PANICKED) ... reported",
        ],
    );
    assert!(!r.stdout.contains("still running"), "{}", r.all());
    has_all(&r, &r.stderr, &["Guest crashed"]);

    // Without the word, the demo is the plain demo.
    let r = run_guest("demo/demo.elf", &["-append", "panicky"]);
    assert_eq!(r.status, 0, "{}", r.all());
    assert!(!r.stdout.contains("vmcoreinfo") && !r.stderr.contains("Guest crashed"));

    // vmcoreinfo=off takes etc/vmcoreinfo away (the demo exits 14, as under QEMU 7.2);
    // -device vmcoreinfo brings it back.
    let demo = guest("demo/demo.elf");
    let mut a = vec![
        "-M",
        "virt,vmcoreinfo=off",
        "-bios",
        "none",
        "-kernel",
        &demo,
    ];
    a.extend_from_slice(&["-nographic", "-append", "panic"]);
    let r = run(&a, 60);
    assert_eq!(r.status, 14, "{}", r.all());
    has_all(&r, &r.stdout, &["no etc/vmcoreinfo"]);
    a.extend_from_slice(&["-device", "vmcoreinfo", "-device", "vmcoreinfo"]);
    let r = run(&a, 60);
    assert_eq!(r.status, 0, "{}", r.all());
    has_all(&r, &r.stderr, &["Guest crashed"]);
}

#[test]
fn fw_cfg_option_errors_are_qemus() {
    let demo = guest("demo/demo.elf");
    let run_fw = |spec: &str| run(&["-bios", "none", "-kernel", &demo, "-fw_cfg", spec], 30);
    for (spec, status, want) in [
        (
            "name=opt/a",
            1,
            "-fw_cfg name=opt/a: name, plus exactly one of file, string and gen_id, are needed",
        ),
        (
            "name=etc/vmcoreinfo,string=x",
            1,
            "duplicate fw_cfg file name: etc/vmcoreinfo",
        ),
        // A name outside opt/ is a warning only.
        (
            "name=my/file,string=x",
            0,
            "externally provided fw_cfg item names should be prefixed with \"opt/\"",
        ),
    ] {
        let r = run_fw(spec);
        assert_eq!(r.status, status, "{}", r.all());
        has_all(&r, &r.stderr, &[want]);
    }
}
