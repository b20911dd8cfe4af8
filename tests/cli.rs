//! Command-line behaviour of the real binary: QEMU spellings, errors, dumpdtb.

mod common;
use common::*;

#[test]
fn unknown_option_is_named_with_status_1() {
    let r = run(&["-frobnicate", "1"], 10);
    assert_eq!(r.status, 1, "{}", r.all());
    assert!(r.stderr.contains("-frobnicate"), "{}", r.all());
}

/// Runs a valid bare-metal guest with one bad option: status 1, and stderr names `what`.
fn bad_option_is_named(opt: &str, value: &str, what: &str) {
    let elf = guest("rv64i.elf");
    let r = run(&[opt, value, "-bios", "none", "-kernel", &elf], 10);
    assert_eq!(r.status, 1, "{}", r.all());
    assert!(r.stderr.contains(what), "{}", r.all());
}

#[test]
fn bad_seed_is_named_with_status_1() {
    bad_option_is_named("-seed", "abc", "'abc' for '--seed");
}

#[test]
fn unsupported_machine_is_an_error() {
    bad_option_is_named("-M", "sifive_u", "sifive_u");
}

#[test]
fn missing_kernel_file_is_a_clear_error() {
    let r = run(&["-bios", "none", "-kernel", "/nonexistent/k.elf"], 10);
    assert_eq!(r.status, 1, "{}", r.all());
    assert!(
        r.stderr.contains("Cannot read /nonexistent/k.elf"),
        "{}",
        r.all()
    );
}

#[test]
fn help_lists_qemu_options() {
    let r = run(&["--help"], 10);
    assert_eq!(r.status, 0, "{}", r.all());
    for opt in [
        "--machine",
        "--smp",
        "--bios",
        "--kernel",
        "--nographic",
        "-d",
    ] {
        assert!(r.stdout.contains(opt), "help lacks {opt}:\n{}", r.stdout);
    }
}

#[test]
fn dumpdtb_writes_a_valid_tree() {
    let dir = std::env::temp_dir().join(format!("hp-dtb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dtb = dir.join("virt.dtb");
    let m = format!("virt,dumpdtb={}", dtb.display());
    let r = run(
        &[
            "-M",
            &m,
            "-smp",
            "2",
            "-m",
            "256M",
            "-bios",
            "none",
            "-kernel",
            &guest("rv64i.elf"),
            "-append",
            "console=ttyS0",
        ],
        10,
    );
    assert_eq!(r.status, 0, "{}", r.all());
    let out = std::process::Command::new("dtc")
        .args(["-I", "dtb", "-O", "dts"])
        .arg(&dtb)
        .output()
        .expect("dtc (device-tree-compiler) is installed by make test");
    let dts = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "dtc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "cpu@0",
        "cpu@1",
        "memory@80000000",
        "reg = <0x00 0x80000000 0x00 0x10000000>",
        "serial@10000000",
        "plic@c000000",
        "clint@2000000",
        "virtio_mmio@10001000",
        "bootargs = \"console=ttyS0\"",
        // splitmix64 of the default seed 0 (see machine::fdt::rng_seed).
        "rng-seed = <0xafcd1d7b 0x39a820e2",
        "riscv,isa = \"rv64imafdc",
    ] {
        assert!(dts.contains(want), "DTB lacks {want:?}:\n{dts}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn guest_errors_are_logged_not_fatal() {
    // priv.elf loads from unmapped addresses on purpose; -d guest_errors must say so.
    let r = run_guest("priv.elf", &["-d", "guest_errors"]);
    assert_eq!(r.status, 0, "{}", r.all());
    assert!(r.stderr.contains("unmapped"), "{}", r.all());
}

#[test]
fn wall_clock_time_runs_the_demo() {
    let r = run(&["--clock", "wall"], 30);
    assert_eq!(r.status, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("timer interrupt (CLINT mtimecmp + wfi) ... ok"),
        "{}",
        r.all()
    );
}

#[test]
fn unimplemented_csr_is_reported_under_d_unimp() {
    let r = run_guest("priv.elf", &["-d", "unimp"]);
    assert_eq!(r.status, 0, "{}", r.all());
    assert!(
        r.stderr.contains("access to unimplemented CSR 0x7c0"),
        "{}",
        r.all()
    );
}

#[test]
fn exec_trace_with_registers() {
    let r = run_guest("rv64i.elf", &["-d", "exec,cpu", "--max-steps", "3"]);
    assert_eq!(r.status, 3, "--max-steps ends with status 3:\n{}", r.all());
    // The reset ROM's first instructions, then t0 = 0x1000 after the auipc.
    assert!(
        r.stderr.contains("pc 0x0000000000001000: auipc    t0, 0"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("x5 =0000000000001000"), "{}", r.all());
}
