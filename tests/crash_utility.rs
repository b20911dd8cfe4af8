//! The real `crash` utility on haltpoint's dumps of Debian's kernel (slow; `make test`
//! runs it in its own stage and fetches what it needs with tests/linux/fetch-crash.sh).
//!
//! Debian's kernel, with qemu_fw_cfg loaded (so it registers its VMCOREINFO), panics
//! through `echo c > /proc/sysrq-trigger`. haltpoint catches the panic by symbol, with
//! the symbols of the `-dbg` package's vmlinux, and pauses; QMP dumps an ELF core and a
//! flattened kdump-zlib file. Debian trixie's riscv64 `crash`, run on the host by
//! qemu-user from a sysroot of its packages, opens both (the kdump file after
//! `makedumpfile -R`): `sys` names the sysrq panic and `bt` walks the panicking task
//! through `panic`.
//!
//! The trap is `__crash_kexec`, which `panic` calls once it has printed its message and
//! backtrace (where a kdump kernel would take over): crash finds the panic task by
//! `panic` return addresses on the active tasks' stacks and its panic message in the
//! log, neither of which exists yet on `panic`'s first instructions.
//!
//! These tests are `#[ignore]`d so that the parallel stage of `make test` leaves them
//! out; its next stage (also `make test-crash`) runs them with `--ignored`. crash loads
//! the 300 MB debug vmlinux under qemu-user: about two minutes a session.

mod common;

use common::qmp::Vm;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cache tests/linux/fetch-crash.sh fills: (debug vmlinux, sysroot with crash).
fn crash_cache() -> (String, PathBuf) {
    let dir = common::linux_cache().join("crash");
    let vmlinux = dir.join("vmlinux");
    let sysroot = dir.join("sysroot");
    assert!(
        vmlinux.exists() && sysroot.join("usr/bin/crash").exists(),
        "{} is incomplete: run `sh tests/linux/fetch-crash.sh` (make test does)",
        dir.display()
    );
    (vmlinux.display().to_string(), sysroot)
}

/// qemu-user for riscv64: the static build (package qemu-user-static), or qemu-user's.
fn qemu_user() -> &'static str {
    for q in ["qemu-riscv64-static", "qemu-riscv64"] {
        let found = Command::new(q)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if found {
            return q;
        }
    }
    panic!("no qemu-riscv64-static or qemu-riscv64: install qemu-user-static (make test does)");
}

/// Runs `crash -s VMLINUX DUMP` under qemu-user with `commands` (then `quit`); its
/// output (stdout and stderr) and exit status.
fn run_crash(vmlinux: &str, sysroot: &Path, dump: &Path, commands: &[&str]) -> (String, i32) {
    let cmds = dump.with_extension("crash-commands");
    std::fs::write(&cmds, commands.join("\n") + "\nquit\n").unwrap();
    let out = Command::new("timeout")
        .args(["--kill-after=10", "1200", qemu_user(), "-L"])
        .arg(sysroot)
        .arg(sysroot.join("usr/bin/crash"))
        .args(["-s", vmlinux])
        .arg(dump)
        .arg("-i")
        .arg(&cmds)
        .stdin(Stdio::null())
        .output()
        .expect("run crash under qemu-user");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (text, out.status.code().unwrap_or(-1))
}

/// The line of `out` that starts (after blanks) with `key`.
fn field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines().find(|l| l.trim_start().starts_with(key))
}

/// The function names of the backtrace frames (`#N [sp] FUNCTION at pc`), in order.
fn frames(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let mut it = l.split_whitespace().skip(2);
            let f = it.next()?;
            (it.next() == Some("at")).then(|| f.to_string())
        })
        .collect()
}

/// What `sys` and `bt` must show for the sysrq crash of `kver`.
fn check_crash_output(what: &str, out: &str, status: i32, kver: &str, context: &str) {
    let fail = |why: &str| -> ! {
        panic!("crash on the {what}: {why}\n--- crash (exit status {status}) ---\n{out}\n{context}")
    };
    if status != 0 {
        fail("crash failed");
    }
    match field(out, "RELEASE:") {
        Some(l) if l.contains(kver) => {}
        _ => fail(&format!("no `RELEASE: {kver}`")),
    }
    match field(out, "PANIC:") {
        Some(l) if l.contains("Kernel panic - not syncing: sysrq triggered crash") => {}
        _ => fail("`sys` does not name the sysrq panic"),
    }
    // bt: the task that wrote to /proc/sysrq-trigger, from the trap through panic into
    // the sysrq handler. (sysrq_handle_crash never returns: its return address is past
    // its end, so crash, like the kernel's own backtrace, names the next function.)
    match field(out, "PID:") {
        Some(l) if l.contains("PID: 1 ") && l.contains("COMMAND: \"init\"") => {}
        _ => fail("`bt` is not on the panicking task (init, PID 1)"),
    }
    let f = frames(out);
    let pos = |name: &str| f.iter().position(|x| x == name);
    match (
        pos("__crash_kexec"),
        pos("panic"),
        pos("__handle_sysrq"),
        pos("write_sysrq_trigger"),
    ) {
        (Some(0), Some(1), Some(h), Some(w)) if 1 < h && h < w => {}
        _ => fail(&format!(
            "`bt` does not walk __crash_kexec, panic, __handle_sysrq, write_sysrq_trigger: {f:?}"
        )),
    }
}

#[test]
#[ignore = "slow (minutes): make test runs it in its own stage"]
fn crash_reads_elf_and_kdump_dumps_of_a_sysrq_panic() {
    let (vmlinux, sysroot) = crash_cache();
    let kver = std::fs::read_to_string(common::linux_cache().join("kernel-version"))
        .expect("kernel-version in the guest cache")
        .trim()
        .to_string();
    let dir = common::qmp::tmpdir("crashutil");
    let console = dir.join("console.txt");
    // The VM gets its own directory (removed when it ends); the dumps stay in `dir`.
    let vm_dir = common::qmp::tmpdir("crashutil-vm");
    let sock = vm_dir.join("q.sock");
    let mut args = common::linux_args("2", "console=ttyS0 hp=panic");
    args.retain(|a| a != "-nographic");
    args.extend(
        [
            "-display",
            "none",
            "-serial",
            &format!("file:{}", console.display()),
            // The default panic symbol for a kernel with __crash_kexec is that one.
            "--symbols",
            &vmlinux,
            "-action",
            "panic=pause",
            "-qmp",
            &format!("unix:{},server=on,wait=off", sock.display()),
        ]
        .map(String::from),
    );
    let vm = Vm::spawn(&args, vm_dir, &[sock]);
    let mut c = vm.qmp();
    c.set_timeout(600);
    let ev = c.wait_event("GUEST_PANICKED");
    assert_eq!(ev["data"]["action"], "pause", "{ev}");
    c.wait_event("STOP");
    assert_eq!(c.status(), "guest-panicked");
    assert!(vm.stderr_has("entered __crash_kexec"), "{}", vm.stderr());
    let console_text = || std::fs::read_to_string(&console).unwrap_or_default();
    assert!(
        console_text().contains("Kernel panic - not syncing: sysrq triggered crash"),
        "{}",
        console_text()
    );

    // The kernel's VMCOREINFO, registered through fw_cfg by qemu_fw_cfg.
    let info = c.ok("x-query-vmcoreinfo", json!({}));
    assert_eq!(info["registered"], true, "{info}");
    assert_eq!(info["phys-base"], 0x8000_0000u64, "{info}");
    let keys = &info["keys"];
    assert_eq!(keys["OSRELEASE"], kver.as_str(), "{info}");
    for k in [
        "SYMBOL(swapper_pg_dir)",
        "SYMBOL(_stext)",
        "NUMBER(VA_BITS)",
        "NUMBER(phys_ram_base)",
        "NUMBER(PAGE_OFFSET)",
        "NUMBER(va_kernel_pa_offset)",
        "BUILD-ID",
    ] {
        assert!(keys.get(k).is_some(), "no {k} in {info}");
    }

    let elf = dir.join("core.elf");
    let kdump = dir.join("core.kdump");
    for (file, format) in [(&elf, "elf"), (&kdump, "kdump-zlib")] {
        c.ok(
            "dump-guest-memory",
            json!({"paging": false, "protocol": format!("file:{}", file.display()), "format": format}),
        );
        let ev = c.wait_event("DUMP_COMPLETED");
        assert_eq!(ev["data"]["result"]["status"], "completed", "{ev}");
    }
    let context = format!(
        "--- guest console (tail) ---\n{}\n--- haltpoint stderr ---\n{}",
        console_text()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n"),
        vm.stderr()
    );
    drop(c);
    drop(vm);

    // The flattened kdump stream, reassembled as a user would before crash.
    let vmcore = dir.join("core.vmcore");
    let st = Command::new("makedumpfile")
        .arg("-R")
        .arg(&vmcore)
        .stdin(std::fs::File::open(&kdump).unwrap())
        .stdout(Stdio::null())
        .status()
        .expect("run makedumpfile");
    assert!(st.success(), "makedumpfile -R failed");

    // Both crash sessions at once (two cores).
    let sessions: Vec<_> = [("ELF core", elf.clone()), ("kdump file", vmcore.clone())]
        .into_iter()
        .map(|(what, dump)| {
            let (vmlinux, sysroot) = (vmlinux.clone(), sysroot.clone());
            std::thread::spawn(move || {
                let (out, status) = run_crash(&vmlinux, &sysroot, &dump, &["sys", "bt"]);
                (what, out, status)
            })
        })
        .collect();
    for s in sessions {
        let (what, out, status) = s.join().unwrap();
        println!("--- crash on the {what} ---\n{out}");
        check_crash_output(what, &out, status, &kver, &context);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
