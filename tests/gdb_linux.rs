//! Real `gdb-multiarch` (batch mode) against Debian's kernel, with the symbols of its
//! `-dbg` package's vmlinux (slow, and it needs that 1 GB package, which `make test`
//! fetches with tests/linux/fetch-crash.sh).
//!
//! Each test boots Debian's kernel with OpenSBI and the test initramfs (tests/linux/init:
//! the word `hp=...` on the command line picks what /init does) under haltpoint with
//! `-gdb tcp::0`, and drives gdb with `file .../crash/vmlinux`: breakpoints and
//! watchpoints on kernel symbols, kernel variables read through the kernel's page
//! tables, harts as threads, stepping, the helpers of gdb-scripts/haltpoint.py, Ctrl-C,
//! detach and reattach.
//!
//! gdb prints `echo ==NAME==` markers between the parts of a session; the assertions
//! look at one part at a time ([`part`]). Nothing depends on this kernel build's
//! addresses or line numbers: expected values come from the kernel's own data, read in
//! the same session.
//!
//! A note on this kernel: it is built with patchable function entries (ftrace), so
//! every function has its ELF symbol on the entry nops and its DWARF subprogram just
//! after them; gdb puts a breakpoint location on each (`Breakpoint 1 at ...: NAME. (2
//! locations)`), and a call stops on the first one (`1.1`).
//!
//! These tests are `#[ignore]`d so that the parallel stage of `make test` leaves them
//! out; its next stage (also `make test-crash`) runs them with `--ignored`.

mod common;

use common::gdb::{has, Hp};
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MARKER: &str = "HALTPOINT-MARKER: userspace reached";

/// How long one gdb session may take (a boot to userspace under gdb, on a busy host).
const GDB_SECS: u64 = 400;

/// INITIAL_JIFFIES of a kernel with HZ=250 (Debian's): 2^32 - 300 * HZ.
const INITIAL_JIFFIES: u64 = (1 << 32) - 300 * 250;

/// The `-dbg` package's vmlinux, from tests/linux/fetch-crash.sh.
fn vmlinux() -> String {
    let p = common::linux_cache().join("crash/vmlinux");
    assert!(
        p.exists(),
        "{} is missing: run `sh tests/linux/fetch-crash.sh` (make test does)",
        p.display()
    );
    p.display().to_string()
}

/// Debian's kernel under haltpoint with a gdb server; `held` adds `-S` (gdb starts it).
fn boot(smp: &str, append: &str, held: bool) -> Hp {
    let mut args = common::linux_args(smp, append);
    if held {
        args.push("-S".into());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Hp::spawn(&refs)
}

/// Runs gdb with the kernel's symbols and `cmds`; its output.
fn gdb(hp: &Hp, cmds: &[&str]) -> String {
    hp.gdb_run(Some(&vmlinux()), cmds, GDB_SECS)
}

/// The part of a gdb session's output after `echo ==NAME==\n`, up to the next marker.
fn part<'a>(out: &'a str, name: &str) -> &'a str {
    let m = format!("=={name}==\n");
    let start = out
        .find(&m)
        .unwrap_or_else(|| panic!("no part {name} in gdb output:\n{out}"))
        + m.len();
    let rest = &out[start..];
    let end = rest.find("\n==").map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

/// The rest of the first line of `text` that starts (after blanks) with `key`.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(key))
        .unwrap_or_else(|| panic!("no line starting with {key:?} in:\n{text}"))
        .trim()
}

fn num(s: &str) -> u64 {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

/// The function of each frame of a backtrace (`#N  [0xADDR in ]FUNCTION (...`).
fn frames(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.strip_prefix('#')?;
            let l = l.trim_start_matches(|c: char| c.is_ascii_digit()).trim();
            let l = match l.split_once(" in ") {
                Some((a, f)) if a.starts_with("0x") => f,
                _ => l,
            };
            Some(l.split([' ', '(']).next()?.to_string())
        })
        .collect()
}

/// The addresses `x/Ni` lists (`=> 0xADDR <SYMBOL+OFF>:\tINSN`).
fn insn_addrs(text: &str) -> Vec<u64> {
    text.lines()
        .filter(|l| l.contains(">:\t"))
        .filter_map(|l| {
            let a = l.trim_start_matches("=>").split_whitespace().next()?;
            a.starts_with("0x").then(|| num(a))
        })
        .collect()
}

/// The `(old, new)` pairs gdb printed for watchpoint hits that changed the value, and
/// the values of hits that only read it, in the order of the hits.
#[derive(Debug, PartialEq)]
enum Hit {
    Write(u64, u64),
    Read(u64),
}

fn hits(text: &str) -> Vec<Hit> {
    let mut v = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        if let Some(old) = l.strip_prefix("Old value = ") {
            let new = lines
                .next()
                .and_then(|n| n.strip_prefix("New value = "))
                .unwrap_or_else(|| panic!("no new value after {l:?}:\n{text}"));
            v.push(Hit::Write(num(old), num(new)));
        } else if let Some(val) = l.strip_prefix("Value = ") {
            v.push(Hit::Read(num(val)));
        }
    }
    v
}

#[test]
#[ignore = "slow: make test runs it in its own stage"]
fn kernel_breakpoints_registers_variables_threads_and_stepping() {
    // Two harts, held at reset. The first openat() of the kernel's life comes from
    // /init (pid 1), through the syscall path; a software breakpoint catches it there.
    let mut hp = boot("2", "console=ttyS0 hp=poweroff", true);
    // kernel_map: where the kernel image is (virt_addr -> phys_addr) and the offset of
    // the linear map (va - va_pa_offset = pa).
    let image_pa = "kernel_map.phys_addr + ((unsigned long)&jiffies - kernel_map.virt_addr)";
    let current = "((struct task_struct *)$tp)";
    let per_thread = |t: u32| -> Vec<String> {
        vec![
            format!("thread {t}"),
            format!("echo ==thread{t}==\\n"),
            "p $pc".into(),
            format!(
                "printf \"hart %d priv %d cpu-of-current-is-this-hart %d\\n\", $mhartid, $priv, __cpuid_to_hartid_map[{current}->thread_info.cpu] == $mhartid"
            ),
            "bt 3".into(),
        ]
    };
    let mut cmds: Vec<String> = vec![
        "break do_sys_openat2".into(),
        "continue".into(),
        "set $hit = $_thread".into(),
        "echo ==bt==\\n".into(),
        "bt".into(),
        "echo ==regs==\\n".into(),
        "info registers".into(),
        "info registers priv".into(),
        "printf \"sstatus.SPP %d\\n\", ($sstatus >> 8) & 1".into(),
        "printf \"stvec-is-handle_exception %d\\n\", $stvec == (unsigned long)&handle_exception".into(),
        "printf \"satp.MODE %d\\n\", ($satp >> 60) & 0xf".into(),
        format!(
            "printf \"satp-is-current-pgd %d\\n\", ($satp & 0xfffffffffff) == ((unsigned long){current}->mm->pgd - kernel_map.va_pa_offset) >> 12"
        ),
        "echo ==vars==\\n".into(),
        format!("printf \"current %s pid %d\\n\", {current}->comm, {current}->pid"),
        "p init_task.comm".into(),
        "printf \"jiffies %lu\\n\", jiffies".into(),
        format!("set $jpa = {image_pa}"),
        "monitor phys on".into(),
        "printf \"jiffies-by-pa %lu\\n\", *(unsigned long *)$jpa".into(),
        "monitor phys off".into(),
        "echo ==threads==\\n".into(),
        "info threads".into(),
    ];
    cmds.extend(per_thread(1));
    cmds.extend(per_thread(2));
    cmds.extend(
        [
            // Back to the thread that hit: a hardware breakpoint on the next call.
            "eval \"thread %d\", $hit",
            "delete",
            "echo ==hbreak==\\n",
            "hbreak do_filp_open",
            "continue",
            "bt 2",
            "echo ==stepi==\\n",
            "x/3i $pc",
            "stepi",
            "printf \"pc %#lx\\n\", $pc",
            "stepi",
            "printf \"pc %#lx\\n\", $pc",
            // On past the entry nops, into the function DWARF describes.
            "python exec(\"for i in range(16):\\n if gdb.selected_frame().function(): break\\n gdb.execute('stepi')\")",
            "echo ==next==\\n",
            "bt 1",
            "delete",
            "next",
            "bt 1",
            "echo ==finish==\\n",
            "finish",
            "p $->f_path.dentry->d_name.name",
            "echo ==end==\\n",
            "kill",
        ]
        .map(String::from),
    );
    let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    let out = gdb(&hp, &refs);

    has(&out, "Breakpoint 1 at 0x");
    has(&out, " in do_sys_openat2 () at fs/open.c:");
    // The syscall path, from the breakpoint down to the exception entry.
    let f = frames(part(&out, "bt"));
    let pos = |name: &str| f.iter().position(|x| x == name);
    match (
        pos("do_sys_openat2"),
        pos("do_sys_open"),
        pos("do_trap_ecall_u"),
        pos("handle_exception"),
    ) {
        (Some(0), Some(a), Some(b), Some(c)) if 0 < a && a < b && b < c => {}
        _ => panic!("bt does not walk do_sys_openat2 .. handle_exception: {f:?}\n{out}"),
    }

    // Registers: pc at the breakpoint, ra in the caller, the dfd argument AT_FDCWD,
    // S-mode, and CSRs that must agree with the kernel's own data.
    let regs = part(&out, "regs");
    assert!(field(regs, "pc").ends_with("<do_sys_openat2>"), "{regs}");
    assert!(
        field(regs, "ra").contains(" <__riscv_sys_openat+"),
        "{regs}"
    );
    assert!(field(regs, "a0").ends_with("\t-100"), "{regs}");
    assert_eq!(field(regs, "priv"), "0x1\tprv:1 [Supervisor]", "{regs}");
    // The syscall came from U-mode.
    assert_eq!(field(regs, "sstatus.SPP"), "0", "{regs}");
    assert_eq!(field(regs, "stvec-is-handle_exception"), "1", "{regs}");
    // Sv57, haltpoint's widest mode, which the kernel picks; satp holds the page
    // directory of the current process (init's mm), by its physical page number.
    assert_eq!(field(regs, "satp.MODE"), "10", "{regs}");
    assert_eq!(field(regs, "satp-is-current-pgd"), "1", "{regs}");

    // Kernel variables through the kernel's page tables.
    let vars = part(&out, "vars");
    assert_eq!(field(vars, "current"), "init pid 1", "{vars}");
    has(vars, "= \"swapper/0\\000\\000\\000\\000\\000\\000\"");
    let jiffies = num(field(vars, "jiffies "));
    assert!(jiffies > INITIAL_JIFFIES, "{vars}");
    // The same variable read by the physical address of the kernel image's mapping.
    assert_eq!(num(field(vars, "jiffies-by-pa")), jiffies, "{vars}");

    // Threads: one per hart, both in the kernel; on each, the kernel's current task runs
    // on the CPU whose hart id is this hart's.
    let threads = part(&out, "threads");
    has(threads, "1    Thread 1.1 (hart 0 S-mode");
    has(threads, "2    Thread 1.2 (hart 1 S-mode");
    let hit: u32 = threads
        .lines()
        .find_map(|l| l.strip_prefix("* "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no current thread:\n{threads}"));
    for t in [1u32, 2] {
        let p = part(&out, &format!("thread{t}"));
        assert_eq!(
            field(p, "hart"),
            format!("{} priv 1 cpu-of-current-is-this-hart 1", t - 1),
            "{p}"
        );
        assert!(field(p, "$").contains("(void (*)()) 0xffffffff"), "{p}");
        let f = frames(p);
        assert!(f.len() >= 2, "thread {t}: no backtrace:\n{p}");
        if t == hit {
            assert_eq!(f[0], "do_sys_openat2", "{p}");
        }
    }

    // hbreak: the next call on that thread is init's do_filp_open, from do_sys_openat2.
    let hb = part(&out, "hbreak");
    has(hb, "Hardware assisted breakpoint 2 at 0x");
    has(hb, " in do_filp_open () at fs/namei.c:");
    has(hb, "#1  0x");
    has(hb, " in do_sys_openat2 (dfd=-100, ");

    // stepi: one instruction at a time, to the addresses x/3i listed.
    let st = part(&out, "stepi");
    let addrs = insn_addrs(st);
    assert_eq!(addrs.len(), 3, "{st}");
    let pcs: Vec<u64> = st
        .lines()
        .filter_map(|l| l.strip_prefix("pc "))
        .map(num)
        .collect();
    assert_eq!(pcs, addrs[1..], "{st}");

    // next: the next line of the same function (no descent into a callee).
    let nx = part(&out, "next");
    let lines: Vec<&str> = nx
        .lines()
        .filter(|l| l.starts_with("#0  ") && l.contains("do_filp_open (dfd=-100, "))
        .filter_map(|l| l.rsplit_once(" at fs/namei.c:").map(|(_, n)| n))
        .collect();
    assert_eq!(lines.len(), 2, "{nx}");
    assert_ne!(lines[0], lines[1], "{nx}");

    // finish: back in do_sys_openat2 with the opened file.
    let fin = part(&out, "finish");
    has(fin, " in do_sys_openat2 (dfd=-100, ");
    has(fin, "Value returned is $");
    has(fin, " = (struct file *) 0xff");
    // The file: the shell running /init opens its script first.
    assert!(field(fin, "$").ends_with(" \"init\""), "{fin}");
    assert!(hp.wait_exit().is_some(), "kill must end haltpoint");
    assert!(hp.stderr().contains("killed by gdb"), "{}", hp.stderr());
}

#[test]
#[ignore = "slow: make test runs it in its own stage"]
fn kernel_watchpoints_on_jiffies() {
    // From start_kernel on (the kernel image is mapped where it stays), the timer tick
    // writes jiffies: from INITIAL_JIFFIES up, one tick at a time, in do_timer.
    let hp = boot("1", "console=ttyS0 hp=poweroff", true);
    let out = gdb(
        &hp,
        &[
            "break start_kernel",
            "continue",
            "delete",
            "echo ==start==\\n",
            "printf \"jiffies %lu\\n\", jiffies",
            "echo ==watch==\\n",
            "watch jiffies",
            "continue",
            "continue",
            "delete",
            "echo ==rwatch==\\n",
            "rwatch jiffies",
            "continue",
            "bt 2",
            "delete",
            "echo ==awatch==\\n",
            "awatch jiffies",
            // Reads until the next tick's write (at most 100 stops).
            "python exec(\"v = int(gdb.parse_and_eval('jiffies'))\\nfor i in range(100):\\n gdb.execute('continue')\\n if int(gdb.parse_and_eval('jiffies')) != v: break\")",
            "echo ==end==\\n",
            "kill",
        ],
    );
    has(&out, " in start_kernel ()");
    let start = num(field(part(&out, "start"), "jiffies"));
    assert_eq!(start, INITIAL_JIFFIES, "{out}");

    // watch: two ticks, each stopped right after do_timer's store, with the old and
    // the new value.
    let w = part(&out, "watch");
    has(w, "Hardware watchpoint 2: jiffies");
    assert_eq!(
        hits(w),
        [
            Hit::Write(start, start + 1),
            Hit::Write(start + 1, start + 2)
        ],
        "{w}"
    );
    assert_eq!(
        w.matches("\ndo_timer (ticks=1) at kernel/time/").count(),
        2,
        "{w}"
    );

    // rwatch: the next read, of the value just written, by calc_global_load (which
    // do_timer calls after the update).
    let r = part(&out, "rwatch");
    has(r, "Hardware read watchpoint 3: jiffies\n\nValue = ");
    assert_eq!(hits(r), [Hit::Read(start + 2)], "{r}");
    assert_eq!(frames(r), ["calc_global_load", "do_timer"], "{r}");

    // awatch: every access: reads of the current value, then the next tick's write.
    let a = part(&out, "awatch");
    has(a, "Hardware access (read/write) watchpoint 4: jiffies\n\n");
    let h = hits(a);
    let (last, reads) = h.split_last().unwrap_or_else(|| panic!("no hits:\n{a}"));
    assert!(!reads.is_empty(), "{a}");
    assert!(reads.iter().all(|x| *x == Hit::Read(start + 2)), "{a}");
    assert_eq!(*last, Hit::Write(start + 2, start + 3), "{a}");
}

/// The name hp-trap gives a cause (the privileged spec's table).
fn cause_name(c: u64) -> String {
    let irq = c >> 63 == 1;
    let names: &[(u64, &str)] = if irq {
        &[
            (1, "supervisor software"),
            (3, "machine software"),
            (5, "supervisor timer"),
            (7, "machine timer"),
            (9, "supervisor external"),
            (11, "machine external"),
            (13, "counter overflow"),
        ]
    } else {
        &[
            (0, "instruction address misaligned"),
            (1, "instruction access fault"),
            (2, "illegal instruction"),
            (3, "breakpoint"),
            (4, "load address misaligned"),
            (5, "load access fault"),
            (6, "store/AMO address misaligned"),
            (7, "store/AMO access fault"),
            (8, "environment call from U-mode"),
            (9, "environment call from S-mode"),
            (11, "environment call from M-mode"),
            (12, "instruction page fault"),
            (13, "load page fault"),
            (15, "store/AMO page fault"),
        ]
    };
    let code = c & !(1 << 63);
    let name = names
        .iter()
        .find(|(n, _)| *n == code)
        .map_or("reserved", |(_, s)| s);
    if irq {
        format!("{name} interrupt")
    } else if name == "reserved" {
        "reserved exception".into()
    } else {
        name.into()
    }
}

#[test]
#[ignore = "slow: make test runs it in its own stage"]
fn haltpoint_py_helpers_on_a_sysrq_panic() {
    // /init panics the kernel through `echo c > /proc/sysrq-trigger`. hp-panic stops in
    // panic() with its message and a backtrace through the sysrq handler; stopped there,
    // hp-priv, hp-trap and hp-walk describe the hart, and hp-walk's physical addresses
    // agree with the kernel's own mappings and with `monitor walk`.
    let mut hp = boot("1", "console=ttyS0 hp=panic", true);
    let script = format!(
        "source {}/gdb-scripts/haltpoint.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let walk = |name: &str, va: &str, pa: &str| -> Vec<String> {
        vec![
            format!("echo =={name}==\\n"),
            format!("hp-walk {va}"),
            format!("printf \"kernel says %#lx\\n\", {pa}"),
            format!("eval \"monitor walk %#lx\", {va}"),
        ]
    };
    let mut cmds: Vec<String> = [
        script.as_str(),
        "hp-panic",
        "echo ==panic==\\n",
        "continue",
        "echo ==priv==\\n",
        "hp-priv",
        "echo ==trap==\\n",
        "hp-trap",
        "printf \"s %#lx %#lx %#lx\\n\", $scause, $sepc, $stval",
        "printf \"m %#lx %#lx %#lx\\n\", $mcause, $mepc, $mtval",
    ]
    .map(String::from)
    .to_vec();
    // A variable of the kernel image, and the current task in the linear map.
    cmds.extend(walk(
        "walk-image",
        "(unsigned long)&jiffies",
        "kernel_map.phys_addr + ((unsigned long)&jiffies - kernel_map.virt_addr)",
    ));
    cmds.extend(walk(
        "walk-linear",
        "$tp",
        "(unsigned long)$tp - kernel_map.va_pa_offset",
    ));
    cmds.extend(["echo ==end==\\n", "kill"].map(String::from));
    let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    let out = gdb(&hp, &refs);
    hp.wait_console("sysrq: Trigger a crash", 10);

    let p = part(&out, "panic");
    assert_eq!(
        field(p, "*** kernel panic:"),
        "sysrq triggered crash",
        "{out}"
    );
    // The backtrace: panic, then the sysrq handler, down to the write to the proc file.
    let f = frames(p);
    let pos = |name: &str| f.iter().position(|x| x == name);
    match (
        pos("panic"),
        pos("sysrq_handle_crash"),
        pos("__handle_sysrq"),
        pos("write_sysrq_trigger"),
    ) {
        (Some(0), Some(1), Some(h), Some(w)) if 1 < h && h < w => {}
        _ => panic!("hp-panic's bt does not walk panic .. write_sysrq_trigger: {f:?}\n{out}"),
    }
    // It stops once per panic: the breakpoint's other locations do not stop again.
    assert_eq!(out.matches("*** kernel panic:").count(), 1, "{out}");

    assert_eq!(
        field(part(&out, "priv"), "privilege:"),
        "S (supervisor)",
        "{out}"
    );

    // hp-trap: the CSRs as gdb reads them, with the causes named.
    let t = part(&out, "trap");
    for m in ["s", "m"] {
        let v: Vec<u64> = field(t, &format!("{m} "))
            .split_whitespace()
            .map(num)
            .collect();
        let want = format!(
            "{m}cause {:#x} ({})  {m}epc {:#x}  {m}tval {:#x}",
            v[0],
            cause_name(v[0]),
            v[1],
            v[2]
        );
        assert!(t.lines().any(|l| l == want), "no {want:?} in:\n{t}");
    }

    for name in ["walk-image", "walk-linear"] {
        let w = part(&out, name);
        let pa = num(field(w, "kernel says"));
        // Sv57: five levels, from level 4 down to a leaf.
        has(w, "level 4: pte @ 0x");
        let got = w
            .lines()
            .find_map(|l| l.split_once(" -> physical "))
            .map(|(_, p)| num(p))
            .unwrap_or_else(|| panic!("hp-walk found no leaf:\n{w}"));
        assert_eq!(got, pa, "{name}:\n{w}");
        assert_eq!(num(field(w, "pa ")), pa, "monitor walk, {name}:\n{w}");
    }
    assert!(hp.wait_exit().is_some(), "kill must end haltpoint");
}

/// gdb running in the background (with the kernel's symbols), its output (stdout and
/// stderr, interleaved) collected; killed on drop.
struct BgGdb {
    child: std::process::Child,
    out: Arc<Mutex<String>>,
}

impl BgGdb {
    fn start(hp: &Hp, cmds: &[&str]) -> BgGdb {
        let (mut r, w) = std::io::pipe().expect("pipe");
        let child = Command::new("gdb-multiarch")
            .args(hp.gdb_args(Some(&vmlinux()), cmds))
            .stdin(Stdio::null())
            .stdout(w.try_clone().expect("pipe"))
            .stderr(w)
            .spawn()
            .expect("run gdb-multiarch");
        let out = Arc::new(Mutex::new(String::new()));
        let o = out.clone();
        std::thread::spawn(move || {
            let mut b = [0u8; 4096];
            while let Ok(n) = r.read(&mut b) {
                if n == 0 {
                    break;
                }
                o.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&b[..n]));
            }
        });
        BgGdb { child, out }
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Waits until gdb has printed `pat`.
    fn wait_for(&self, pat: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.out.lock().unwrap().contains(pat) {
            assert!(
                Instant::now() < deadline,
                "gdb did not print {pat:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for gdb to end; its output.
    fn finish(mut self, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "gdb did not end:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The reader threads get the last bytes after the exit.
        std::thread::sleep(Duration::from_millis(200));
        let out = self.output();
        eprintln!("--- gdb ---\n{out}");
        out
    }
}

impl Drop for BgGdb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "slow: make test runs it in its own stage"]
fn ctrl_c_stops_the_booting_kernel_and_it_boots_on() {
    // gdb continues the held machine; once the kernel prints its banner, Ctrl-C (SIGINT
    // to gdb, which sends \x03) stops it mid-boot: for the two seconds gdb then sleeps
    // the console stays as it is. gdb continues again and the guest boots to userspace
    // and powers off: gdb sees the exit.
    let mut hp = boot("1", "console=ttyS0 hp=poweroff", true);
    let g = BgGdb::start(
        &hp,
        &[
            "continue",
            "echo ==stopped==\\n",
            "info threads",
            "bt 1",
            "shell sleep 1",
            "echo ==paused-1s==\\n",
            "shell sleep 1",
            "echo ==paused-2s==\\n",
            "shell sleep 1",
            "echo ==on==\\n",
            "continue",
        ],
    );
    hp.wait_console("Linux version", GDB_SECS);
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(g.child.id() as i32, libc::SIGINT) }, 0);
    // (A second for the console output from before the stop to arrive.)
    g.wait_for("==paused-1s==", 60);
    let console_at_stop = hp.out.lock().unwrap().clone();
    g.wait_for("==paused-2s==", 60);
    assert_eq!(
        *hp.out.lock().unwrap(),
        console_at_stop,
        "the console went on while gdb held the machine"
    );
    let out = g.finish(GDB_SECS);
    let stop = part(&out, "stopped");
    has(&out, "Program received signal SIGINT, Interrupt.");
    has(stop, "* 1    Thread 1.1 (hart 0 ");
    assert_eq!(frames(stop).len(), 1, "{stop}");
    // Stopped mid-boot, before userspace.
    assert!(!console_at_stop.contains(MARKER), "{console_at_stop}");
    has(&out, "[Inferior 1 (process 1) exited normally]");
    assert_eq!(hp.wait_exit(), Some(0), "{}", hp.stderr());
    hp.wait_console(&format!("{MARKER}, 1 cpus"), 10);
    hp.wait_console("reboot: Power down", 10);
}

#[test]
#[ignore = "slow: make test runs it in its own stage"]
fn detach_and_reattach_while_the_kernel_runs_then_kill() {
    // Two harts, running (no -S), /init runs a shell on the console. gdb attaches to
    // the running kernel and detaches; the shell still answers. A second gdb attaches,
    // breaks where `cat /proc/version` (typed on the console) reads the kernel's
    // version, and detaches; cat finishes. A third gdb continues the machine, stops it
    // with Ctrl-C and kills haltpoint.
    let mut hp = Hp::spawn_console(
        &common::linux_args("2", "console=ttyS0 hp=shell quiet")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    // Waits for `pat` on the console after its first `from` bytes; returns where the
    // match ends.
    let console = |hp: &Hp, pat: &str, from: usize| -> usize {
        let deadline = Instant::now() + Duration::from_secs(GDB_SECS);
        loop {
            let out = hp.out.lock().unwrap().clone();
            if let Some(i) = out[from..].find(pat) {
                return from + i + pat.len();
            }
            assert!(
                Instant::now() < deadline,
                "no {pat:?} on the console:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let len = |hp: &Hp| hp.out.lock().unwrap().len();
    let at = console(&hp, MARKER, 0);
    console(&hp, "# ", at);

    let out = gdb(
        &hp,
        &[
            "echo ==attached==\\n",
            "info threads",
            "p init_task.comm",
            "detach",
        ],
    );
    let a = part(&out, "attached");
    has(a, "1    Thread 1.1 (hart 0 ");
    has(a, "2    Thread 1.2 (hart 1 ");
    has(a, "= \"swapper/0\\000");
    has(&out, "[Inferior 1 (process 1) detached]");
    hp.wait_for(|e| e.contains("gdb detached").then_some(()));

    // The guest runs on.
    let mark = len(&hp);
    hp.send("echo alive-$((6*7))");
    let at = console(&hp, "alive-42", mark);
    console(&hp, "# ", at);

    let g = BgGdb::start(
        &hp,
        &[
            "break version_proc_show",
            "continue",
            "echo ==version==\\n",
            "bt 8",
            "printf \"current %s\\n\", ((struct task_struct *)$tp)->comm",
            "echo ==end==\\n",
            "delete",
            "detach",
        ],
    );
    // Typed while gdb holds the machine: the shell reads it when gdb continues.
    g.wait_for("Breakpoint 1 at 0x", 60);
    let mark = len(&hp);
    hp.send("cat /proc/version");
    let out = g.finish(GDB_SECS);
    let v = part(&out, "version");
    let f = frames(v);
    assert_eq!(
        f.first().map(String::as_str),
        Some("version_proc_show"),
        "{v}"
    );
    assert!(f.iter().any(|x| x == "seq_read_iter"), "{f:?}\n{v}");
    assert_eq!(field(v, "current"), "cat", "{v}");
    has(&out, "[Inferior 1 (process 1) detached]");
    let at = console(&hp, "Linux version 6.", mark);
    console(&hp, "# ", at);
    assert_eq!(
        hp.stderr().matches("gdb detached").count(),
        2,
        "{}",
        hp.stderr()
    );

    // A third gdb lets the kernel run, stops it with Ctrl-C while the shell waits for
    // input, and kills haltpoint.
    let g = BgGdb::start(
        &hp,
        &[
            "continue",
            "echo ==interrupted==\\n",
            "info threads",
            "kill",
        ],
    );
    hp.wait_for(|e| (e.matches("gdb connected").count() == 3).then_some(()));
    // The console answers only once gdb has continued the machine.
    let mark = len(&hp);
    hp.send("echo running-$((1+1))");
    console(&hp, "running-2", mark);
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(g.child.id() as i32, libc::SIGINT) }, 0);
    let out = g.finish(GDB_SECS);
    // gdb names the thread of the stop, which becomes its current thread.
    let t = out
        .lines()
        .find_map(|l| l.strip_suffix(" received signal SIGINT, Interrupt."))
        .and_then(|l| l.strip_prefix("Thread "))
        .unwrap_or_else(|| panic!("no SIGINT stop:\n{out}"));
    let i = part(&out, "interrupted");
    has(i, &format!("* {t}    Thread 1.{t} (hart "));
    has(i, "1    Thread 1.1 (hart 0 S-mode ");
    has(i, "2    Thread 1.2 (hart 1 S-mode ");
    has(&out, "Kill the program being debugged?");
    assert!(hp.wait_exit().is_some(), "kill must end haltpoint");
    assert!(hp.stderr().contains("killed by gdb"), "{}", hp.stderr());
}
