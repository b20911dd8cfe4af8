//! The crash pipeline's events and run states over QMP: every watchdog action, every
//! panic action (pvpanic and panic-by-symbol), and gdb hearing about those stops.
//!
//! Guests: tests/guests/wdt.S (arms the watchdog and sleeps), panic_sym.S (calls a
//! function named `panic`), and the demo in crash mode (`-append panic`: vmcoreinfo
//! through fw_cfg, then pvpanic).

mod common;

use common::qmp::{Client, Rsp, Vm};
use serde_json::json;
use std::time::{Duration, Instant};

fn start(guest: &str, extra: &[&str]) -> Vm {
    let g = common::guest(guest);
    let mut a = vec!["-bios", "none", "-serial", "none", "-kernel", &g, "-S"];
    a.extend_from_slice(extra);
    Vm::start(&a)
}

/// A guest stopped with -S, a negotiated QMP client, and a raw gdb connection in
/// no-ack mode.
fn with_gdb(guest: &str, extra: &[&str]) -> (Vm, Client, Rsp) {
    let mut a = vec!["-bios", "none", "-serial", "none", "-kernel", guest, "-S"];
    a.extend_from_slice(extra);
    a.extend_from_slice(&["-gdb", "tcp:127.0.0.1:0"]);
    let vm = Vm::start(&a);
    let q = vm.qmp();
    let mut r = Rsp::connect(vm.gdb_port());
    r.packet("QStartNoAckMode");
    (vm, q, r)
}

fn events(c: &mut Client) -> Vec<String> {
    c.take_events()
}

#[test]
fn watchdog_actions() {
    // (action, events after cont, state afterwards)
    let cases: &[(&str, &[&str], &str)] = &[
        ("reset", &["RESUME", "WATCHDOG", "RESET"], "running"),
        ("shutdown", &["RESUME", "WATCHDOG", "POWERDOWN"], "running"),
        ("pause", &["RESUME", "WATCHDOG", "STOP"], "watchdog"),
        ("debug", &["RESUME", "WATCHDOG", "STOP"], "debug"),
        ("none", &["RESUME", "WATCHDOG"], "running"),
        ("inject-nmi", &["RESUME", "WATCHDOG"], "running"),
    ];
    for (action, want, state) in cases {
        let vm = start("wdt.elf", &[]);
        let mut c = vm.qmp();
        c.ok("watchdog-set-action", json!({"action": action}));
        c.ok("cont", json!({}));
        let ev = c.wait_event("WATCHDOG");
        assert_eq!(ev["data"], json!({"action": action}));
        let last = want.last().unwrap();
        if *last != "WATCHDOG" {
            c.wait_event(last);
        }
        let mut got = vec!["RESUME".to_string(), "WATCHDOG".to_string()];
        if *last != "WATCHDOG" {
            got.push(last.to_string());
        }
        assert_eq!(got, *want, "{action}");
        assert_eq!(c.status(), *state, "{action}");
        if *action == "reset" {
            // The machine ran the guest again, which armed the watchdog again: the next
            // WATCHDOG is held back by the one-per-second rate limit and then sent.
            let t = Instant::now();
            let ev = c.wait_event("WATCHDOG");
            assert!(
                t.elapsed() >= Duration::from_millis(500),
                "not rate-limited"
            );
            assert_eq!(ev["data"]["action"], "reset");
        }
        if *action == "debug" {
            assert!(vm.stderr_has("watchdog: timer fired"), "{}", vm.stderr());
        }
        if *action == "pause" {
            c.ok("cont", json!({}));
            assert_eq!(c.status(), "running");
        }
    }
    // poweroff: the event, then an exit at once (no SHUTDOWN), status 0.
    let mut vm = start("wdt.elf", &["-watchdog-action", "poweroff"]);
    let mut c = vm.qmp();
    c.ok("cont", json!({}));
    let ev = c.wait_event("WATCHDOG");
    assert_eq!(ev["data"], json!({"action": "poweroff"}));
    assert_eq!(vm.wait(10), 0);
    let rest: Vec<_> = std::iter::from_fn(|| c.line()).collect();
    assert!(!rest.iter().any(|e| e["event"] == "SHUTDOWN"), "{rest:?}");
}

#[test]
fn watchdog_debug_action_stops_gdb() {
    let g = common::guest("wdt.elf");
    let (_vm, mut q, mut g) = with_gdb(&g, &["-action", "watchdog=debug"]);
    g.send("vCont;c");
    let stop = g.recv();
    assert!(
        stop.starts_with("T05"),
        "the debug action stops gdb with SIGTRAP: {stop}"
    );
    assert_eq!(q.status(), "debug");
    q.wait_event("WATCHDOG");
}

/// Panic actions, by pvpanic (the demo in crash mode) and by symbol (panic_sym).
#[test]
fn panic_actions() {
    for (guest, extra) in [
        ("demo/demo.elf", &["-append", "panic"][..]),
        ("panic_sym.elf", &[][..]),
    ] {
        // pause: GUEST_PANICKED{pause}, STOP, guest-panicked; cont resumes.
        let mut a = extra.to_vec();
        a.extend_from_slice(&["-action", "panic=pause"]);
        let vm = start(guest, &a);
        let mut c = vm.qmp();
        c.ok("cont", json!({}));
        let ev = c.wait_event("GUEST_PANICKED");
        assert_eq!(ev["data"], json!({"action": "pause"}), "{guest}");
        c.wait_event("STOP");
        assert_eq!(c.status(), "guest-panicked", "{guest}");
        assert!(vm.stderr_has("Guest crashed"));
        c.ok("cont", json!({}));
        c.wait_event("RESUME");

        // shutdown (the default): GUEST_PANICKED{poweroff}, STOP, SHUTDOWN guest-panic,
        // exit 0. exit-failure: the same with status 1.
        for (action, status) in [(None, 0), (Some("panic=exit-failure"), 1)] {
            let mut a = extra.to_vec();
            if let Some(x) = action {
                a.extend_from_slice(&["-action", x]);
            }
            let mut vm = start(guest, &a);
            let mut c = vm.qmp();
            c.ok("cont", json!({}));
            let ev = c.wait_event("GUEST_PANICKED");
            assert_eq!(ev["data"], json!({"action": "poweroff"}));
            c.wait_event("STOP");
            let ev = c.wait_event("SHUTDOWN");
            assert_eq!(ev["data"], json!({"guest": true, "reason": "guest-panic"}));
            assert_eq!(vm.wait(10), status, "{guest} {action:?}");
        }

        // none: GUEST_PANICKED{run}, the guest goes on.
        let mut a = extra.to_vec();
        a.extend_from_slice(&["-action", "panic=none"]);
        let vm = start(guest, &a);
        let mut c = vm.qmp();
        c.ok("cont", json!({}));
        let ev = c.wait_event("GUEST_PANICKED");
        assert_eq!(ev["data"], json!({"action": "run"}));
        assert!(!c.events.iter().any(|e| e["event"] == "STOP"));
        let _ = events(&mut c);
    }
}

#[test]
fn panic_by_symbol_lands_gdb_on_panic() {
    let g = common::guest("panic_sym.elf");
    let (vm, mut q, mut r) = with_gdb(&g, &["-action", "panic=pause"]);
    r.send("vCont;c");
    let stop = r.recv();
    assert!(stop.starts_with("T05"), "{stop}");
    assert_eq!(q.status(), "guest-panicked");
    // pc (register 32) is the first instruction of `panic`.
    let pc = pc_of(&mut r);
    let syms = std::process::Command::new("riscv64-unknown-elf-nm")
        .arg(&g)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let want = match syms {
        Some(s) if !s.is_empty() => s
            .lines()
            .find(|l| l.ends_with(" T panic"))
            .and_then(|l| u64::from_str_radix(l.split(' ').next()?, 16).ok())
            .unwrap(),
        // Without binutils for riscv: the ELF symbol table through readelf.
        _ => readelf_symbol(&g, "panic"),
    };
    assert_eq!(pc, want);
    assert!(vm.stderr_has("entered panic"), "{}", vm.stderr());
}

/// The current thread's pc from a `g` packet (x0..x31, then pc, little-endian hex).
fn pc_of(r: &mut Rsp) -> u64 {
    let g = r.packet("g");
    let hex = &g[32 * 16..33 * 16];
    u64::from_str_radix(hex, 16).unwrap().swap_bytes()
}

fn readelf_symbol(elf: &str, name: &str) -> u64 {
    let out = std::process::Command::new("readelf")
        .args(["-sW", elf])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().last() == Some(name))
        .unwrap_or_else(|| panic!("{name} not in {elf}"));
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn vmcoreinfo_over_qmp_and_breakpoint_on_a_page_mapped_later() {
    // A breakpoint on the demo's S-mode code at its Sv39 address, set before paging is
    // on, is caught once the guest maps it (breakpoints re-arm on satp writes).
    let demo = common::guest("demo/demo.elf");
    let (_vm, mut q, mut r) = with_gdb(&demo, &[]);
    let s_code = readelf_symbol(&demo, "demo_s_code");
    let va = 0xffff_ffff_c000_0000u64 + (s_code - 0x8000_0000);
    assert_eq!(r.packet(&format!("Z0,{va:x},2")), "OK");
    r.send("vCont;c");
    let stop = r.recv();
    assert!(stop.starts_with("T05"), "{stop}");
    let pc = u64::from_str_radix(&r.packet("p20"), 16)
        .unwrap()
        .swap_bytes();
    assert_eq!(pc, va);
    assert_eq!(q.status(), "debug");
}

#[test]
fn x_query_vmcoreinfo() {
    // The demo in crash mode registers its note through fw_cfg DMA, then panics.
    let vm = start(
        "demo/demo.elf",
        &["-append", "panic", "-action", "panic=pause"],
    );
    let mut c = vm.qmp();
    let before = c.ok("x-query-vmcoreinfo", json!({}));
    assert_eq!(before, json!({"available": true, "registered": false}));
    c.ok("cont", json!({}));
    c.wait_event("GUEST_PANICKED");
    let v = c.ok("x-query-vmcoreinfo", json!({}));
    assert_eq!(v["registered"], true, "{v}");
    assert_eq!(v["phys-base"], 0x8000_0000u64, "{v}");
    assert_eq!(v["keys"]["OSRELEASE"], "haltpoint-demo", "{v}");
    assert_eq!(v["keys"]["DEMO(crash)"], "pvpanic", "{v}");
    assert!(v.get("warning").is_none(), "{v}");

    let vm = start("demo/demo.elf", &["-M", "virt,vmcoreinfo=off"]);
    let mut c = vm.qmp();
    assert_eq!(
        c.ok("x-query-vmcoreinfo", json!({})),
        json!({"available": false, "registered": false})
    );
}

fn readelf(args: &[&str], file: &std::path::Path) -> String {
    let out = std::process::Command::new("readelf")
        .args(args)
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn dump_guest_memory_over_qmp() {
    // The demo registers its vmcoreinfo and panics (paused): dump it.
    let vm = start(
        "demo/demo.elf",
        &["-append", "panic", "-action", "panic=pause", "-smp", "2"],
    );
    let mut c = vm.qmp();
    assert_eq!(
        c.ok("query-dump", json!({})),
        json!({"status": "none", "completed": 0, "total": 0})
    );
    let caps = c.ok("query-dump-guest-memory-capability", json!({}));
    for f in [
        "elf",
        "kdump-zlib",
        "kdump-lzo",
        "kdump-snappy",
        "kdump-raw-zlib",
    ] {
        assert!(
            caps["formats"].as_array().unwrap().iter().any(|x| x == f),
            "{caps}"
        );
    }
    c.ok("cont", json!({}));
    c.wait_event("GUEST_PANICKED");
    c.wait_event("STOP");
    let core = vm.dir.join("core.elf");
    c.ok(
        "dump-guest-memory",
        json!({"paging": false, "protocol": format!("file:{}", core.display())}),
    );
    let ev = c.wait_event("DUMP_COMPLETED");
    assert_eq!(ev["data"]["result"]["status"], "completed", "{ev}");
    assert!(ev["data"].get("error").is_none());
    let q = c.ok("query-dump", json!({}));
    assert_eq!(q["status"], "completed");
    assert_eq!(q["completed"], q["total"]);
    assert_eq!(c.status(), "guest-panicked", "a stopped VM stays stopped");
    let notes = readelf(&["-n"], &core);
    assert_eq!(notes.matches("NT_PRSTATUS").count(), 2, "{notes}");
    assert!(notes.contains("VMCOREINFO"), "{notes}");
    let h = readelf(&["-h"], &core);
    assert!(
        h.contains("CORE (Core file)") && h.contains("RISC-V"),
        "{h}"
    );

    // kdump-zlib: a flattened makedumpfile file with the same notes.
    let kd = vm.dir.join("core.kdump");
    c.ok(
        "dump-guest-memory",
        json!({"paging": false, "protocol": format!("file:{}", kd.display()), "format": "kdump-zlib"}),
    );
    let head = std::fs::read(&kd).unwrap();
    assert_eq!(&head[..12], b"makedumpfile");

    // Errors in QEMU's order and texts; none leaves a file.
    let bad = |c: &mut Client, args: serde_json::Value| {
        c.err(json!({"execute": "dump-guest-memory", "arguments": args}))
            .1
    };
    let f = format!("file:{}", vm.dir.join("bad").display());
    assert_eq!(
        bad(
            &mut c,
            json!({"paging": true, "protocol": f, "format": "kdump-zlib"})
        ),
        "kdump-compressed format doesn't support paging or filter"
    );
    assert_eq!(
        bad(&mut c, json!({"paging": false, "protocol": f, "begin": 0})),
        "Parameter 'length' is missing"
    );
    assert_eq!(
        bad(&mut c, json!({"paging": false, "protocol": "pipe:x"})),
        "parameter 'protocol' must start with 'file:' or 'fd:'"
    );
    assert_eq!(
        bad(
            &mut c,
            json!({"paging": false, "protocol": f, "begin": 0x8000_0000u64, "length": 0})
        ),
        "parameter 'length' expects a non-zero size"
    );
    assert_eq!(
        bad(
            &mut c,
            json!({"paging": false, "protocol": "file:/nonexistent-dir/x"})
        ),
        "Could not open '/nonexistent-dir/x': No such file or directory"
    );
    assert_eq!(
        bad(&mut c, json!({"paging": false, "protocol": "fd:nope"})),
        "File descriptor named 'nope' has not been found"
    );
    assert!(!vm.dir.join("bad").exists());
}

#[test]
fn detached_dump_of_a_running_vm() {
    let vm = start("wdt.elf", &["-action", "watchdog=none"]);
    let mut c = vm.qmp();
    c.ok("cont", json!({}));
    c.take_events();
    let core = vm.dir.join("core.elf");
    // The dump and a `stop` in one write: the stop is answered while the dump runs.
    let req = format!(
        "{}\n{}\n",
        json!({"execute": "dump-guest-memory", "arguments": {"paging": false, "detach": true, "protocol": format!("file:{}", core.display())}}),
        json!({"execute": "stop"})
    );
    c.send(req.as_bytes());
    assert_eq!(c.reply(), json!({"return": {}}));
    assert_eq!(
        c.reply()["error"]["desc"],
        "There is a dump in process, please wait."
    );
    let ev = c.wait_event("DUMP_COMPLETED");
    assert_eq!(ev["data"]["result"]["status"], "completed");
    c.wait_event("RESUME");
    assert_eq!(c.status(), "running", "the VM runs again after the dump");
    // STOP (save-vm) came before DUMP_COMPLETED, RESUME after it.
    let names: Vec<String> = c
        .events
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .filter(|n| n != "WATCHDOG")
        .collect();
    assert_eq!(names, ["STOP"], "{names:?}");
    assert!(readelf(&["-h"], &core).contains("CORE"));
    // HMP's form, with progress in `info dump`.
    let out = c.ok(
        "human-monitor-command",
        json!({"command-line": format!("dump-guest-memory -z {}", vm.dir.join("h.kdump").display())}),
    );
    assert!(out.as_str().unwrap().contains("bytes written"), "{out}");
    assert_eq!(
        c.ok(
            "human-monitor-command",
            json!({"command-line": "info dump"})
        ),
        "Status: completed\r\n"
    );
}

#[test]
fn device_state_round_trip_over_qmp() {
    // The watchdog guest with the `none` action sleeps for ever once it has fired.
    let vm = start("wdt.elf", &["-smp", "2", "-action", "watchdog=none"]);
    let mut c = vm.qmp();
    c.ok("cont", json!({}));
    c.wait_event("WATCHDOG");
    c.ok("stop", json!({}));
    let regs = |c: &mut Client| {
        c.ok(
            "human-monitor-command",
            json!({"command-line": "info registers -a"}),
        )
        .as_str()
        .unwrap()
        .to_string()
    };
    let before = regs(&mut c);
    let f = vm.dir.join("state.qevm");
    let fs = f.display().to_string();
    c.ok("xen-save-devices-state", json!({"filename": fs}));
    let data = std::fs::read(&f).unwrap();
    assert_eq!(&data[..8], b"QEVM\0\0\0\x03");
    c.ok("system_reset", json!({}));
    assert_ne!(regs(&mut c), before, "the reset changed the harts");
    // A truncated file is refused and changes nothing.
    let t = vm.dir.join("trunc.qevm");
    std::fs::write(&t, &data[..data.len() / 2]).unwrap();
    let after_reset = regs(&mut c);
    let e = c.err(json!({"execute": "xen-load-devices-state", "arguments": {"filename": t.display().to_string()}}));
    assert_eq!(e.0, "GenericError");
    assert_eq!(
        regs(&mut c),
        after_reset,
        "a refused load leaves the VM untouched"
    );
    c.ok("xen-load-devices-state", json!({"filename": fs}));
    assert_eq!(
        regs(&mut c),
        before,
        "save, reset, load restores every register"
    );
    // Loading into a running VM is refused with QEMU's text.
    c.ok("cont", json!({}));
    assert_eq!(
        c.err(json!({"execute": "xen-load-devices-state", "arguments": {"filename": fs}}))
            .1,
        "Cannot update device state while vm is running"
    );
}

#[test]
fn dump_on_panic_then_the_action() {
    let dir = common::qmp::tmpdir("dop");
    let core = dir.join("panic.core");
    let g = common::guest("panic_sym.elf");
    let spec = format!("{},paging=on", core.display());
    let r = common::run(&common::bare_args(&g, &["--dump-on-panic", &spec]), 30);
    assert_eq!(r.status, 0, "{}", r.all());
    assert!(
        r.stderr.contains("dump on panic: written to"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("Guest crashed"), "{}", r.all());
    assert!(readelf(&["-n"], &core).contains("NT_PRSTATUS"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_guest_note_is_a_warning_and_the_dump_goes_on() {
    // The demo registers its note and panics (paused). A debugger then corrupts the
    // note's header in guest memory (namesz far larger than the registered size): the
    // next dump warns and goes on without the note.
    let demo = common::guest("demo/demo.elf");
    let (vm, mut q, mut r) = with_gdb(&demo, &["-append", "panic", "-action", "panic=pause"]);
    q.ok("cont", json!({}));
    q.wait_event("GUEST_PANICKED");
    let info = q.ok("x-query-vmcoreinfo", json!({}));
    let paddr = info["paddr"].as_u64().unwrap();
    // `monitor phys on`: console output packets, then OK.
    r.send("qRcmd,70687973206f6e");
    while r.recv() != "OK" {}
    assert_eq!(r.packet(&format!("M{paddr:x},4:ffffff00")), "OK");
    let info = q.ok("x-query-vmcoreinfo", json!({}));
    assert!(info["warning"].is_string(), "{info}");
    let core = vm.dir.join("core");
    q.ok(
        "dump-guest-memory",
        json!({"paging": false, "protocol": format!("file:{}", core.display())}),
    );
    let notes = readelf(&["-n"], &core);
    assert!(notes.contains("NT_PRSTATUS"), "{notes}");
    assert!(!notes.contains("VMCOREINFO"), "{notes}");
    assert!(
        vm.stderr_has("the dump goes on without the note"),
        "{}",
        vm.stderr()
    );
}

#[test]
fn flight_recorder_prints_the_last_instructions_at_a_panic() {
    let g = common::guest("panic_sym.elf");
    let r = common::run(&common::bare_args(&g, &["--flight-recorder", "6"]), 30);
    assert_eq!(r.status, 0, "{}", r.all());
    let at = r
        .stderr
        .find("flight recorder, hart 0, oldest first:")
        .unwrap_or_else(|| panic!("no flight recorder output: {}", r.all()));
    let lines: Vec<&str> = r.stderr[at..].lines().skip(1).take(6).collect();
    assert_eq!(lines.len(), 6, "{}", r.all());
    // The last instructions before the panic trap are main's call of panic
    // (auipc ra + jalr ra, landing on `panic`).
    let panic_pc = readelf_symbol(&g, "panic");
    assert!(lines[4].contains("auipc    ra, 0"), "{lines:?}");
    assert!(lines[5].contains("jalr     ra, ra, "), "{lines:?}");
    let auipc_pc = u64::from_str_radix(&lines[4].trim_start()[4..20], 16).unwrap();
    let off = lines[5].rsplit(", ").next().unwrap();
    let off = u64::from_str_radix(off.trim_start_matches("0x"), 16).unwrap();
    assert_eq!(auipc_pc + off, panic_pc, "{lines:?}");
    assert!(
        lines.iter().all(|l| l.trim_start().starts_with("M 0x")),
        "{lines:?}"
    );
}

#[test]
fn a_trap_loop_is_reported_once() {
    // An empty machine: the zeros at 0x80000000 are illegal and mtvec is 0, so the hart
    // faults at 0 for ever.
    let r = common::run(
        &[
            "-M",
            "virt",
            "-bios",
            "none",
            "-nographic",
            "--max-steps",
            "200000",
            "--flight-recorder",
            "4",
        ],
        30,
    );
    assert_eq!(r.status, 3, "{}", r.all());
    assert_eq!(
        r.stderr.matches("is in a trap loop").count(),
        1,
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("at pc 0x0"), "{}", r.all());
}

#[test]
fn device_state_keeps_the_vmcoreinfo_registration() {
    // fw_cfg's state (the guest's etc/vmcoreinfo registration) is in the device-state
    // file: save, reset (which clears it), load.
    let vm = start(
        "demo/demo.elf",
        &["-append", "panic", "-action", "panic=pause"],
    );
    let mut c = vm.qmp();
    c.ok("cont", json!({}));
    c.wait_event("GUEST_PANICKED");
    let before = c.ok("x-query-vmcoreinfo", json!({}));
    assert_eq!(before["registered"], true, "{before}");
    let f = vm.dir.join("state.qevm").display().to_string();
    c.ok("xen-save-devices-state", json!({"filename": f}));
    c.ok("system_reset", json!({}));
    assert_eq!(c.ok("x-query-vmcoreinfo", json!({}))["registered"], false);
    c.ok("xen-load-devices-state", json!({"filename": f}));
    assert_eq!(c.ok("x-query-vmcoreinfo", json!({})), before);
}

#[test]
fn pvpanic_crash_loaded_and_shutdown() {
    let mut vm = start("pvpanic_events.elf", &[]);
    let mut c = vm.qmp();
    c.ok("cont", json!({}));
    let ev = c.wait_event("GUEST_CRASHLOADED");
    assert_eq!(ev["data"], json!({"action": "run"}));
    c.wait_event("GUEST_PVSHUTDOWN");
    let ev = c.wait_event("SHUTDOWN");
    assert_eq!(
        ev["data"],
        json!({"guest": true, "reason": "guest-shutdown"})
    );
    assert!(
        !c.events.iter().any(|e| e["event"] == "GUEST_PANICKED"),
        "{:?}",
        c.events
    );
    assert_eq!(vm.wait(10), 0, "a pvpanic shutdown is a guest poweroff");
}
