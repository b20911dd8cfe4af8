//! The gdb server against real `gdb-multiarch` (batch mode) and raw protocol bytes.
//!
//! Every test starts haltpoint with `-S -gdb tcp::0`, reads the port it bound from its
//! stderr, and always kills it at the end (printing its output on failure).

mod common;

use common::gdb::{has, Hp};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn gdb_registers_memory_step() {
    let hp = Hp::start(&[]);
    let out = hp.gdb(&[
        "p/x $pc",
        "p $f1",
        "p/x $mstatus",
        "p $priv",
        "p/x $misa",
        "set $a0 = 0x1234",
        "p/x $a0",
        "set $f1 = 1.5",
        "p $f1.double",
        "set var *(long*)&check_no = 77",
        "p *(long*)&check_no",
        "stepi",
        "p/x $pc",
        "stepi",
        "p/x $pc",
        "kill",
    ]);
    has(&out, "$1 = 0x1000");
    has(&out, "$2 = {float = 0, double = 0}");
    has(&out, "$3 = 0x");
    has(&out, "$4 = 3");
    has(&out, "$5 = 0x800000000014112d");
    has(&out, "$6 = 0x1234");
    has(&out, "$7 = 1.5");
    has(&out, "$8 = 77");
    has(&out, "$9 = 0x1004");
    has(&out, "$10 = 0x1008");
}

#[test]
fn stepi_is_one_instruction_across_mret_and_ecall() {
    // The target description says osabi "none", so gdb steps with `vCont;s` instead of
    // its GNU/Linux default, a software step (a breakpoint after the instruction and a
    // continue), which runs the whole U-mode detour of an mret and stops after it. The
    // stop replies carry x0..x31 and pc, so gdb sends no `g` between the steps.
    let hp = Hp::start(&[]);
    let dis = hp.gdb(&["disassemble demo_user_ecall", "kill"]);
    let mret = dis
        .lines()
        .find(|l| l.contains("\tmret"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no mret in demo_user_ecall: {dis}"))
        .to_string();
    let hp = Hp::start(&[]);
    let out = hp.gdb(&[
        "show osabi",
        &format!("break *{mret}"),
        "continue",
        "delete",
        "set debug remote 1",
        "stepi",
        "set debug remote 0",
        "p $pc == &user_code",
        "p $priv",
        "stepi",
        "stepi",
        "p $pc == &trap_entry",
        "p $priv",
        "p/x $mcause",
        "p/x $a0",
        "kill",
    ]);
    has(&out, "(currently \"none\")");
    has(&out, "Sending packet: $vCont;s:p1.1");
    assert!(
        !out.contains("Sending packet: $Z0"),
        "a software step: {out}"
    );
    assert!(
        !out.contains("Sending packet: $g#"),
        "registers fetched: {out}"
    );
    has(&out, "$1 = 1\n");
    has(&out, "$2 = 0\n");
    has(&out, "$3 = 1\n");
    has(&out, "$4 = 3\n");
    has(&out, "$5 = 0x8\n");
    has(&out, "$6 = 0x2a\n");
}

#[test]
fn gdb_breakpoints_and_watchpoints() {
    let mut hp = Hp::start(&[]);
    let out = hp.gdb(&[
        "break main",
        "continue",
        "info threads",
        "watch *(long*)&check_no",
        "continue",
        "continue",
        "delete",
        "rwatch *(long*)&check_no",
        "continue",
        "delete",
        "awatch *(long*)&check_no",
        "continue",
        "delete",
        "hbreak feature",
        "continue",
        "kill",
    ]);
    has(&out, "Breakpoint 1, ");
    has(&out, "in main ()");
    has(&out, "Thread 1.1 (hart 0 M-mode");
    has(&out, "Old value = 0\nNew value = 1");
    has(&out, "Old value = 1\nNew value = 2");
    has(
        &out,
        "Hardware read watchpoint 3: *(long*)&check_no\n\nValue = 2",
    );
    has(&out, "Hardware access (read/write) watchpoint 4");
    has(&out, "Hardware assisted breakpoint 5 at");
    has(&out, "Breakpoint 5, ");
    has(&out, "in feature ()");
    assert!(hp.wait_exit().is_some(), "kill must end haltpoint");
}

#[test]
fn gdb_threads_monitor() {
    let hp = Hp::start(&["-smp", "2"]);
    let out = hp.gdb(&[
        "info threads",
        "thread 2",
        "p/x $mhartid",
        "monitor help",
        "monitor x/4i $pc",
        "monitor walk 0x80000000",
        "monitor info registers",
        "monitor phys on",
        "p/x *(int*)0x1000",
        "monitor nonsense",
        "kill",
    ]);
    has(&out, "Thread 1.1 (hart 0 M-mode running)");
    has(&out, "Thread 1.2 (hart 1 M-mode running)");
    has(&out, "$1 = 0x1");
    has(&out, "walk ADDR");
    has(&out, "0x0000000000001000:  auipc");
    has(&out, "no translation: pa 0x80000000");
    has(&out, "hart 1 (M-mode) pc 0x0000000000001000");
    has(&out, "physical memory mode on");
    has(&out, "$2 = 0x297");
    has(&out, "unknown command 'nonsense'");
}

#[test]
fn gdb_detach_and_reattach() {
    let mut hp = Hp::start(&[]);
    let out = hp.gdb(&["break main", "continue", "delete", "detach"]);
    has(&out, "Breakpoint 1, ");
    has(&out, "[Inferior 1 (process 1) detached]");
    hp.wait_for(|s| s.contains("gdb detached").then_some(()));
    // The guest runs on to its end and powers off, or we catch it still running.
    let out = hp.gdb(&["p/x $pc", "kill"]);
    if !out.contains("$1 = 0x") {
        // It had already finished.
        assert!(hp.wait_exit().is_some());
    }
}

/// Reads from `s` until `want` shows up (or the deadline passes).
fn read_until(s: &mut TcpStream, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while Instant::now() < deadline {
        let mut b = [0u8; 1024];
        match s.read(&mut b) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&b[..n]),
            Err(_) => {}
        }
        if String::from_utf8_lossy(&got).contains(want) {
            break;
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn gdb_raw_malformed_packets() {
    let hp = Hp::start(&[]);
    let mut s = TcpStream::connect(("127.0.0.1", hp.port)).expect("connect");
    let mut junk: Vec<u8> = Vec::new();
    junk.extend_from_slice(b"$?#00"); // bad checksum
    junk.extend_from_slice(b"$g#zz"); // malformed checksum
    junk.extend_from_slice(b"\x00\xff\x80garbage#12"); // binary garbage outside packets
    junk.extend_from_slice(b"$m1000,4"); // truncated, then a new packet starts
    junk.push(b'$');
    junk.extend(std::iter::repeat_n(b'A', 20_000)); // overlong
    junk.extend_from_slice(b"#41");
    s.write_all(&junk).unwrap();
    s.write_all(b"$?#3f").unwrap();
    let got = read_until(&mut s, "T05thread:");
    assert!(
        got.contains("T05thread:"),
        "no stop reply after junk: {got:?}"
    );
    assert!(got.contains('-'), "bad packets must be NAKed: {got:?}");
    // Still alive for a real command.
    s.write_all(b"+$m1000,4#8e").unwrap();
    let got = read_until(&mut s, "$9702");
    assert!(got.contains("$9702"), "memory read after junk: {got:?}");
}

#[test]
fn gdb_scripts_priv_trap_walk() {
    let hp = Hp::start(&[]);
    let script = format!(
        "source {}/gdb-scripts/haltpoint.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = hp.gdb(&[
        &script,
        "hp-priv",
        "hp-trap",
        "hp-walk 0x80000000",
        // An Sv39 root table at 0x80100000 with one 1 GiB leaf:
        // 0xffffffffc0000000 -> 0x80000000 (V R W X A D).
        "set var *(unsigned long *)0x80100ff8 = 0x200000cf",
        "set $satp = 0x8000000000080100",
        "hp-walk 0xffffffffc0000780",
        "hp-walk 0x1000",
        "kill",
    ]);
    has(&out, "privilege: M (machine)");
    has(&out, "mcause 0x0 (instruction address misaligned)");
    has(&out, "satp mode 0: no translation, 0x80000000 is physical");
    has(
        &out,
        "level 2: pte @ 0x80100ff8 = 0x00000000200000cf [VRWXAD]",
    );
    has(&out, "0xffffffffc0000780 -> physical 0x80000780");
    has(&out, "level 2: pte @ 0x80100000 = 0x0000000000000000 []");
    has(&out, "invalid: page fault");
}

#[test]
fn gdb_monitor_info_vmcoreinfo_and_guest_panic() {
    // The demo's crash mode (-append panic): before the registration there is no note;
    // after it, the monitor shows the guest's keys. Then the pvpanic report ends the run
    // with the default panic action (shutdown, status 0).
    let mut hp = Hp::start(&["-append", "panic"]);
    let out = hp.gdb(&[
        "monitor info vmcoreinfo",
        "break register_vmcoreinfo",
        "continue",
        "finish",
        "monitor info vmcoreinfo",
        "continue",
    ]);
    has(&out, "vmcoreinfo: the guest has not registered a note");
    has(&out, "in demo_crash ()");
    has(&out, "vmcoreinfo: guest_format 1 size 116 paddr 0x8000");
    has(&out, "note: 116 bytes, descriptor 92 bytes");
    has(&out, "phys_base: 0x80000000");
    has(&out, "DEMO(crash)=pvpanic");
    has(&out, "NUMBER(phys_ram_base)=2147483648");
    has(&out, "OSRELEASE=haltpoint-demo");
    assert_eq!(hp.wait_exit(), Some(0));
    hp.wait_for(|e| e.contains("Guest crashed").then_some(()));
}

#[test]
fn watchpoint_catches_device_dma() {
    // The demo's crash mode talks to fw_cfg by DMA: the device writes the descriptor's
    // control word back (0 = done) into guest RAM. A write watchpoint on it stops the
    // machine twice: first before the hart's own store, then right after the MMIO
    // store that made the device write it. QEMU's gdbstub cannot see DMA.
    let hp = Hp::start(&["-append", "panic"]);
    let out = hp.gdb(&[
        "monitor phys on",
        "watch *(unsigned int *)&dma_desc",
        "continue",
        "continue",
        "print/x *(unsigned int *)&dma_desc",
    ]);
    has(&out, "Hardware watchpoint 1: *(unsigned int *)&dma_desc");
    // The hart's store of the (big-endian) control word, then the device's write of 0.
    has(&out, "Old value = 0\n");
    has(&out, "New value = 0\n");
    assert!(
        out.matches("Hardware watchpoint 1: *(unsigned int *)&dma_desc")
            .count()
            >= 3,
        "{out}"
    );
    has(&out, "$1 = 0x0");
    assert!(hp.stderr().contains("gdb connected"));
}

#[test]
fn read_watchpoint_sees_an_amo() {
    // rv64a.S's first AMOW test runs amoswap.w on the word at amo_w+8 and then loads
    // it. Stopped at that AMO, an rwatch on the word must fire for the AMO itself (it
    // reads as well as writes), not first for the load after it.
    let elf = common::guest("rv64a.elf");
    let args = common::bare_args(&elf, &["-S"]);
    let dis = Hp::spawn(&args).gdb_elf(Some(&elf), &["disassemble main,+8000"]);
    let amo = dis
        .lines()
        .find(|l| l.contains("amoswap.w\t"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("no amoswap.w in main: {dis}"));
    let hp = Hp::spawn(&args);
    let out = hp.gdb_elf(
        Some(&elf),
        &[
            &format!("break *{amo:#x}"),
            "continue",
            "delete",
            "rwatch *(int *)((char *)&amo_w + 8)",
            "continue",
            "print/x $pc",
        ],
    );
    has(
        &out,
        "Hardware read watchpoint 2: *(int *)((char *)&amo_w + 8)",
    );
    // gdb steps over the accessing instruction before it reports the hit.
    has(&out, &format!("$1 = {:#x}", amo + 4));
}

#[test]
fn watched_page_stops_only_on_the_watched_bytes() {
    // watchpage.S hammers the bytes just below and above `target` and the ends of its
    // page (1000 rounds), then writes target, reads it, and touches one byte of it with a
    // misaligned store and a misaligned load from each side. Each watchpoint kind must
    // stop exactly at the accesses that overlap target, with the right values, and never
    // at a neighbour: a watched page runs accesses outside the watched span at full speed.
    let elf = common::guest("watchpage.elf");
    let args = common::bare_args(&elf, &["-S"]);
    let session = |cmds: &[&str]| Hp::spawn(&args).gdb_elf(Some(&elf), cmds);
    let watch = session(&[
        "watch *(long *)&target",
        "continue",
        "print $s1",
        "continue",
        "print $pc == &straddle_load",
        "kill",
    ]);
    has(&watch, "Hardware watchpoint 1: *(long *)&target");
    // The first stop is the first write of target, after all 1000 rounds (s1 counts
    // them down).
    has(&watch, "Old value = 0\nNew value = 5\n0x");
    has(&watch, " in load_target ()\n$1 = 0\n");
    // The halfword store at target-1 writes target's first byte: 5 -> 0x11.
    has(&watch, "Old value = 5\nNew value = 17\n");
    has(&watch, "$2 = 1\n");
    assert_eq!(watch.matches("Old value").count(), 2, "{watch}");

    let rwatch = session(&[
        "rwatch *(long *)&target",
        "continue",
        "continue",
        "print $pc > &load_target && $pc < &straddle_store",
        "continue",
        "print (long)$pc - (long)&straddle_load",
        "kill",
    ]);
    has(&rwatch, "Hardware read watchpoint 1: *(long *)&target");
    // The check `ld a1, 0(s0)` after the loop reads it first (0), then load_target (5),
    // then the misaligned halfword load of its last byte.
    has(&rwatch, "Value = 0\n");
    has(&rwatch, "Value = 5\n");
    has(&rwatch, "$1 = 1\n");
    // The halfword load at target+7, stopped right after it (a 4-byte instruction).
    has(&rwatch, "Value = 17\n");
    has(&rwatch, "$2 = 4\n");
    assert_eq!(rwatch.matches("Value = ").count(), 3, "{rwatch}");

    let awatch = session(&["awatch *(long *)&target", "continue", "continue", "kill"]);
    has(
        &awatch,
        "Hardware access (read/write) watchpoint 1: *(long *)&target",
    );
    has(&awatch, "Value = 0\n");
    has(&awatch, "Old value = 0\nNew value = 5\n");
}

/// User plus system CPU time of process `pid` so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // The fields after the command name (which is in parentheses): utime is the 12th,
    // stime the 13th.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn a_stopped_machine_with_gdb_attached_sleeps() {
    // After it serves gdb, the loop polls for the next packet for a moment instead of
    // sleeping (stepping is much faster that way), but only for a moment: a machine
    // stopped under an idle debugger must cost no CPU.
    let hp = Hp::start(&[]);
    let mut s = TcpStream::connect(("127.0.0.1", hp.port)).expect("connect");
    for _ in 0..5 {
        s.write_all(b"$s#73").unwrap();
        let got = read_until(&mut s, "T05thread:");
        assert!(got.contains("T05thread:"), "no stop after a step: {got:?}");
        s.write_all(b"+").unwrap();
    }
    let before = cpu_ticks(hp.child.id());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(hp.child.id()) - before;
    // Clock ticks are 10 ms: polling without end would use about 200 in two seconds.
    assert!(used <= 5, "{used} ticks of CPU while stopped and idle");
    s.write_all(b"$?#3f").unwrap();
    assert!(read_until(&mut s, "T05thread:").contains("T05thread:"));
}

#[test]
fn next_and_step_range_step_over_source_lines() {
    // lines.c (built with -g -O0) has a line that loops 3000 times and a call to a
    // function whose single line loops 2000 times. gdb steps over a line by asking the
    // stub to step while pc stays in the line (`vCont;r`): each loop line must take a
    // few requests, not one per instruction (QEMU, without range stepping, needs some
    // 40 s for the first `next` here). A breakpoint inside the range must stop it.
    let elf = common::guest("lines.elf");
    let args = common::bare_args(&elf, &["-S"]);
    let hp = Hp::spawn(&args);
    let out = hp.gdb_elf(
        Some(&elf),
        &[
            "break main",
            "continue",
            "next",
            "info line *$pc",
            "set debug remote 1",
            "next",
            "set debug remote 0",
            "info line *$pc",
            "print counter",
            "step",
            "info line *$pc",
            "next",
            "next",
            "info line *$pc",
            "print counter",
            "kill",
        ],
    );
    has(&out, "Breakpoint 1, main () at ./lines.c:21");
    has(&out, "Line 22 of \"./lines.c\"");
    has(&out, "Line 23 of \"./lines.c\"");
    has(&out, "$1 = 4498501\n");
    // `step` goes into work(); two `next`s run its loop line and return to main.
    has(&out, "work (n=2000) at ./lines.c:16");
    has(&out, "Line 16 of \"./lines.c\"");
    has(&out, "main () at ./lines.c:24");
    has(&out, "Line 24 of \"./lines.c\"");
    has(&out, "$2 = 6497501\n");
    let ranges = out.matches("Sending packet: $vCont;r").count();
    let resumes = out.matches("Sending packet: $vCont;").count();
    assert!(ranges >= 1, "no range stepping: {out}");
    assert!(
        resumes < 100,
        "{resumes} resume requests for one line: {out}"
    );

    // A breakpoint inside the line being stepped stops the range step there.
    let hp = Hp::spawn(&args);
    let out = hp.gdb_elf(
        Some(&elf),
        &[
            "break main",
            "continue",
            "next",
            "x/4i $pc",
            "break *$_",
            "next",
            "print $pc == $_",
            "info line *$pc",
            "delete 2",
            "next",
            "info line *$pc",
            "kill",
        ],
    );
    has(&out, "Breakpoint 2, 0x");
    has(&out, "$1 = 1\n");
    assert_eq!(out.matches("Line 22 of").count(), 1, "{out}");
    has(&out, "Line 23 of \"./lines.c\"");
}

#[test]
fn unix_socket_step_irq_and_monitor_run_control() {
    // stepirq.elf raises a machine software interrupt with one store (`raise`). Over a
    // unix socket (-gdb unix:PATH): by default a step skips the pending interrupt; with
    // `monitor step-irq on` the step takes it and stops on the handler's first
    // instruction, unexecuted; the guest then finishes its own checks.
    let dir = std::env::temp_dir().join(format!("hp-gdb-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("gdb.sock").display().to_string();
    let elf = common::guest("stepirq.elf");
    let args = common::bare_args(&elf, &["-S"]);
    let mut hp = Hp::spawn_unix(&args, &sock);
    let text = hp.gdb_elf(
        Some(&elf),
        &[
            "monitor step-irq",
            "break *raise",
            "continue",
            "stepi",
            "print (long)$pc - (long)&after_raise",
            "stepi",
            "print (long)$pc - (long)&after_raise",
            "monitor step-irq on",
            "stepi",
            "print (long)$pc - (long)&msi_handler",
            "print/x $mcause",
            "print (long)$mepc - (long)&after_raise",
            "print $s3",
            "stepi",
            "print (long)$pc - (long)&msi_handler",
            "delete",
            "continue",
        ],
    );
    hp.wait_console("stepirq: all 2 checks passed", 20);
    let status = hp.wait_exit();
    let hp_out = hp.out.lock().unwrap().clone();
    let _ = std::fs::remove_dir_all(&dir);
    has(&text, "interrupts while stepping are off");
    has(&text, "Breakpoint 1, ");
    // Off: the store, then the next instruction (compressed): no interrupt yet.
    has(&text, "$1 = 0\n");
    has(&text, "$2 = 2\n");
    has(&text, "interrupts while stepping on");
    // On: the step is the interrupt's entry; the handler has not run.
    has(&text, "$3 = 0\n");
    has(&text, "$4 = 0x8000000000000003\n");
    has(&text, "$5 = 2\n");
    has(&text, "$6 = 0\n");
    // The next step runs the handler's first instruction (a 4-byte store).
    has(&text, "$7 = 4\n");
    has(&text, "[Inferior 1 (process 1) exited normally]");
    has(&hp_out, "stepirq: all 2 checks passed");
    assert_eq!(status, Some(0), "{hp_out}");

    // `monitor cont` resumes the machine behind gdb's back, `monitor stop` pauses it
    // again, and `monitor system_reset` puts the harts back at the reset vector.
    let cpu = common::root().join("benches/guests/cpu.elf");
    let cpu = cpu.display().to_string();
    let args = common::bare_args(&cpu, &["-S"]);
    let hp = Hp::spawn(&args);
    let out = hp.gdb_elf(
        Some(&cpu),
        &[
            "break main",
            "continue",
            "delete",
            "print $minstret < 1000000",
            "monitor cont",
            "shell sleep 0.5",
            "monitor stop",
            "maintenance flush register-cache",
            "print $minstret > 10000000",
            "monitor system_reset",
            "maintenance flush register-cache",
            "print/x $pc",
            "kill",
        ],
    );
    has(&out, "Breakpoint 1, ");
    has(&out, "$1 = 1\n");
    has(&out, "running");
    has(&out, "stopped");
    has(&out, "$2 = 1\n");
    has(&out, "reset");
    has(&out, "$3 = 0x1000\n");
}
