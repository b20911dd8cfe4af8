//! Debian's own riscv64 kernel, OpenSBI and a busybox initramfs under haltpoint.
//!
//! The guests come from `sh tests/linux/fetch.sh` (run by `make test`), which fills the
//! cache with Debian trixie packages. A missing cache fails these tests: it is never a
//! silent skip.

mod common;
use common::*;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const MARKER: &str = "HALTPOINT-MARKER: userspace reached";

fn boot(smp: &str, append: &str, extra: &[&str]) -> Run {
    let mut args = linux_args(smp, append);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs, 300)
}

fn boot_and_power_off(smp: &str) {
    let r = boot(smp, "console=ttyS0 hp=poweroff", &[]);
    assert_eq!(r.status, 0, "guest poweroff must exit 0:\n{}", r.all());
    let want = format!("{MARKER}, {smp} cpus");
    assert!(r.stdout.contains(&want), "no marker {want:?}:\n{}", r.all());
    assert!(r.stdout.contains("reboot: Power down"), "{}", r.all());
    // The device tree offers Sstc (as QEMU 7.2's does): the kernel programs its timer
    // through stimecmp, with no SBI call into OpenSBI per tick.
    assert!(
        r.stdout
            .contains("riscv-timer: Timer interrupt in S-mode is available via sstc extension"),
        "{}",
        r.all()
    );
}

#[test]
fn debian_boots_and_powers_off_smp1() {
    boot_and_power_off("1");
}

#[test]
fn debian_boots_and_powers_off_smp2() {
    boot_and_power_off("2");
}

#[test]
fn debian_boots_and_powers_off_smp4() {
    boot_and_power_off("4");
}

#[test]
fn guest_reboot_exits_0_with_no_reboot() {
    // Linux reboots through the syscon-reboot node (sifive_test 0x7777); with -no-reboot
    // QEMU exits with status 0 instead of resetting.
    let r = boot("1", "console=ttyS0 hp=reboot quiet", &["-no-reboot"]);
    assert_eq!(r.status, 0, "{}", r.all());
    assert!(
        r.stdout.contains("reboot: Restarting system"),
        "{}",
        r.all()
    );
}

#[test]
fn boots_are_deterministic() {
    // Same inputs, same run: identical console output up to the marker (the kernel's
    // timestamps come from virtual time) and the same instruction counts per hart. The
    // second boot has a QMP client attached from the start (-S, then `cont`), which
    // shortens the event loop's slices: the run must not depend on that.
    let a = boot("2", "console=ttyS0 hp=poweroff", &["--stats"]);
    assert_eq!(a.status, 0, "{}", a.all());
    let dir = common::qmp::tmpdir("determinism");
    let console = dir.join("console.txt");
    let mut args = linux_args("2", "console=ttyS0 hp=poweroff");
    args.retain(|x| x != "-nographic");
    args.extend(
        [
            "--stats",
            "-S",
            "-display",
            "none",
            "-serial",
            &format!("file:{}", console.display()),
        ]
        .map(String::from),
    );
    let sock = dir.join("q.sock");
    args.extend([
        "-qmp".to_string(),
        format!("unix:{},server=on,wait=off", sock.display()),
    ]);
    let mut vm = common::qmp::Vm::spawn(&args, dir, &[sock]);
    let mut q = vm.qmp();
    q.ok("cont", serde_json::json!({}));
    assert_eq!(vm.wait(300), 0, "{}", vm.stderr());
    let b_out = std::fs::read_to_string(&console).unwrap();
    let upto = |s: &str| s[..s.find(MARKER).expect("marker")].to_string();
    assert_eq!(
        upto(&a.stdout),
        upto(&b_out),
        "console output differs between runs"
    );
    let counts = |e: &str| -> Vec<String> {
        e.lines()
            .filter(|l| l.contains("retired"))
            .map(String::from)
            .collect()
    };
    assert_eq!(counts(&a.stderr).len(), 2, "{}", a.all());
    assert!(vm.stderr_has("hart 1 retired"));
    assert_eq!(counts(&a.stderr), counts(&vm.stderr()));
}

/// Drives the busybox shell on the serial console like a person would: wait for the
/// prompt, type a command, read its output.
struct Console {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    rx: mpsc::Receiver<u8>,
    seen: String,
    /// Everything haltpoint printed on stderr so far.
    err: Arc<Mutex<String>>,
}

impl Console {
    fn start(args: &[String]) -> Console {
        let mut child = Command::new(bin())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn haltpoint");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let err = collect_lines(child.stderr.take().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut b = [0u8; 256];
            while let Ok(n) = stdout.read(&mut b) {
                if n == 0 || b[..n].iter().any(|&c| tx.send(c).is_err()) {
                    break;
                }
            }
        });
        Console {
            child,
            stdin,
            rx,
            seen: String::new(),
            err,
        }
    }

    /// The port of haltpoint's gdb server (`-gdb tcp::0`), from its stderr.
    fn gdb_port(&self) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(p) = gdb_port(&self.err.lock().unwrap()) {
                return p;
            }
            assert!(Instant::now() < deadline, "no gdb port in stderr");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Reads until `what` appears; returns everything read since the last call.
    fn expect(&mut self, what: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let start = self.seen.len();
        while !self.seen[start..].contains(what) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(c) => self.seen.push(c as char),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "timed out waiting for {what:?}; console so far:\n{}",
                        self.seen
                    );
                }
            }
        }
        self.seen[start..].to_string()
    }

    fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.write_all(b"\n").unwrap();
        self.stdin.flush().unwrap();
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn busybox_commands_on_the_serial_console() {
    let mut c = Console::start(&linux_args("2", "console=ttyS0 hp=shell quiet"));
    c.expect(MARKER, 300);
    c.expect("# ", 120);
    c.send("echo hello-$((6*7))");
    assert!(c.expect("# ", 60).contains("hello-42"), "{}", c.seen);
    c.send("uname -m");
    assert!(c.expect("# ", 60).contains("riscv64"), "{}", c.seen);
    c.send("grep -c ^processor /proc/cpuinfo");
    assert!(c.expect("# ", 60).contains("\n2"), "{}", c.seen);
    c.send("ls /lib/modules");
    let out = c.expect("# ", 60);
    assert!(
        out.contains("virtio_blk.ko") && out.contains("qemu_fw_cfg.ko"),
        "{}",
        c.seen
    );
    c.send("poweroff -f");
    c.expect("Power down", 60);
    let status = c.child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{}", c.seen);
}

/// Boots to the shell with `extra` arguments; returns the kernel's first crng message
/// and the guest's boot_id (a random UUID drawn from the kernel's pool).
fn crng_line_and_boot_id(extra: &[&str]) -> (String, String) {
    let mut args = linux_args("1", "console=ttyS0 hp=shell quiet");
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut c = Console::start(&args);
    c.expect(MARKER, 300);
    c.expect("# ", 120);
    c.send("dmesg | grep -m1 'crng init'; cat /proc/sys/kernel/random/boot_id");
    let out = c.expect("# ", 60);
    let line = |pat: &str| {
        out.lines()
            .find(|l| l.contains(pat) && !l.contains("grep"))
            .unwrap_or_else(|| panic!("no {pat:?} in:\n{}", c.seen))
            .trim()
            .to_string()
    };
    let crng = line("crng init");
    let id = out
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 36 && l.matches('-').count() == 4)
        .unwrap_or_else(|| panic!("no boot_id in:\n{}", c.seen))
        .to_string();
    (crng, id)
}

#[test]
fn the_device_tree_rng_seed_feeds_the_guests_random_pool() {
    // As on QEMU's virt, /chosen/rng-seed makes the kernel's random pool ready at once
    // (at time 0, before the timer even runs), instead of never during the boot.
    let (crng, id0) = crng_line_and_boot_id(&[]);
    assert!(
        crng.starts_with("[    0.000000] random: crng init done"),
        "{crng}"
    );
    // -seed picks other bytes: the guest's random numbers differ.
    let (_, id1) = crng_line_and_boot_id(&["-seed", "1"]);
    assert_ne!(id0, id1, "boot_id must follow -seed");
}

#[test]
fn guest_reboot_resets_the_machine() {
    // Without -no-reboot, a guest reboot resets the board and boots again, as QEMU does.
    let mut c = Console::start(&linux_args("1", "console=ttyS0 hp=reboot quiet"));
    c.expect("OpenSBI v", 120);
    c.expect("reboot: Restarting system", 300);
    c.expect("OpenSBI v", 120);
    c.expect(MARKER, 300);
}

#[test]
fn debian_registers_its_vmcoreinfo_through_fw_cfg() {
    // Debian's unmodified kernel: its qemu_fw_cfg module finds etc/vmcoreinfo (on by
    // default) and writes the address of its VMCOREINFO note. The guest also reads a
    // -fw_cfg file through sysfs. A debugger then reads the note on the host side.
    let mut args = linux_args("1", "console=ttyS0 hp=fwcfg quiet");
    args.extend(
        [
            "-fw_cfg",
            "name=opt/haltpoint/greeting,string=hello-from-the-host",
            "-gdb",
            "tcp::0",
        ]
        .map(String::from),
    );
    let mut c = Console::start(&args);
    let port = c.gdb_port();
    let line = c.expect("HALTPOINT-FWCFG:", 300);
    let line = line + &c.expect("\n", 60);
    assert!(
        line.contains("hello-from-the-host etc: boot-fail-wait vmcoreinfo"),
        "{}",
        c.seen
    );
    let out = Command::new("timeout")
        .arg("60")
        .arg("gdb-multiarch")
        .args([
            "-batch",
            "-nx",
            "-ex",
            "set architecture riscv:rv64",
            "-ex",
            &format!("target remote 127.0.0.1:{port}"),
            "-ex",
            "monitor info vmcoreinfo",
            "-ex",
            "kill",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run gdb-multiarch");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    for want in [
        "vmcoreinfo: guest_format 1 size ",
        "phys_base: 0x80000000",
        "NUMBER(phys_ram_base)=2147483648",
        "NUMBER(PAGE_OFFSET)=0x",
        "OSRELEASE=6.",
        "PAGESIZE=4096",
        "SYMBOL(swapper_pg_dir)=",
    ] {
        assert!(
            text.contains(want),
            "missing {want:?} in gdb output:\n{text}"
        );
    }
}

#[test]
fn debian_watchdog_fires_when_not_petted() {
    // sunxi_wdt (with the watchdog core) drives haltpoint's sun6i watchdog; the guest
    // opens /dev/watchdog with a 1 s timeout and never pets it. With the `debug` action
    // and gdb waiting in `continue`, the expiry stops the VM in `debug`, gdb hears
    // SIGTRAP, and QMP sees WATCHDOG then STOP.
    use common::qmp::{Rsp, Vm};
    let dir = common::qmp::tmpdir("debwdt");
    let sock = dir.join("q.sock");
    let mut args = linux_args("1", "console=ttyS0 hp=watchdog quiet");
    args.retain(|a| a != "-nographic");
    args.extend(
        [
            "-serial",
            "none",
            "-S",
            "-action",
            "watchdog=debug",
            "-gdb",
            "tcp:127.0.0.1:0",
            "-qmp",
            &format!("unix:{},server=on,wait=off", sock.display()),
        ]
        .map(String::from),
    );
    let vm = Vm::spawn(&args, dir, &[sock]);
    let mut q = vm.qmp();
    let t = std::time::Instant::now();
    let port = loop {
        if let Some(p) = common::gdb_port(&vm.stderr()) {
            break p;
        }
        assert!(t.elapsed().as_secs() < 10, "{}", vm.stderr());
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let mut g = Rsp::connect_timeout(port, 300);
    g.packet("QStartNoAckMode");
    g.send("vCont;c");
    let stop = g.recv();
    assert!(stop.starts_with("T05"), "{stop}");
    let ev = q.wait_event("WATCHDOG");
    assert_eq!(ev["data"]["action"], "debug");
    assert_eq!(q.status(), "debug");
    assert!(vm.stderr_has("watchdog: timer fired"), "{}", vm.stderr());
}

#[test]
fn debian_watchdog_actions() {
    // The real kernel's sunxi_wdt, never petted, under each watchdog action: WATCHDOG
    // first, then the action's events and run state. Two boots at a time.
    use serde_json::json;
    let cases: Vec<(&str, &[&str], &str)> = vec![
        ("reset", &["RESET"], "running"),
        ("shutdown", &["POWERDOWN"], "running"),
        ("pause", &["STOP"], "watchdog"),
        ("none", &[], "running"),
        ("inject-nmi", &[], "running"),
    ];
    let run = |(action, after, state): (&str, &[&str], &str)| {
        let mut args: Vec<String> = linux_args("1", "console=ttyS0 hp=watchdog quiet");
        args.retain(|a| a != "-nographic");
        args.extend(
            [
                "-serial",
                "none",
                "-S",
                "-action",
                &format!("watchdog={action}"),
            ]
            .map(String::from),
        );
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let vm = common::qmp::Vm::start(&refs);
        let mut q = vm.qmp();
        q.set_timeout(300);
        q.ok("cont", json!({}));
        let ev = q.wait_event("WATCHDOG");
        assert_eq!(ev["data"], json!({"action": action}));
        for e in after {
            q.wait_event(e);
        }
        assert_eq!(q.status(), state, "{action}");
    };
    for pair in cases.chunks(2) {
        std::thread::scope(|s| {
            for c in pair {
                let c = *c;
                s.spawn(move || run(c));
            }
        });
    }
}
