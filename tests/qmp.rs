//! The QMP server over real sockets: negotiation, validation errors with QEMU's texts,
//! parse errors and recovery, id echo, events to several clients, run states and
//! actions, -S / --preconfig, quit, signals, HMP, memsave, the generated reference, the
//! gdb/QMP `debug` state, descriptor passing (SCM_RIGHTS, `getfd`, `closefd`, dumps to
//! `fd:NAME`, no leaks), and robustness (garbage, many clients, a client that never
//! reads).
//!
//! Every test starts the real binary, and kills it on drop (printing its stderr when a
//! test fails).

mod common;

use common::qmp::{tmpdir, Client, Rsp, Vm};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

fn empty_machine(extra: &[&str]) -> Vm {
    let mut a = vec!["-bios", "none", "-serial", "none"];
    a.extend_from_slice(extra);
    Vm::start(&a)
}

#[test]
fn greeting_and_negotiation() {
    let vm = empty_machine(&["-S"]);
    let mut c = vm.client();
    let g = &c.greeting["QMP"];
    assert_eq!(g["capabilities"], json!([]));
    assert!(g["version"]["qemu"]["major"].is_u64());
    assert!(g["version"]["package"]
        .as_str()
        .unwrap()
        .starts_with("haltpoint"));
    assert_eq!(
        c.err(json!({"execute": "query-status"})),
        (
            "CommandNotFound".into(),
            "Expecting capabilities negotiation with 'qmp_capabilities'".into()
        )
    );
    assert_eq!(
        c.err(json!({"execute": "no-such-command"})).1,
        "Expecting capabilities negotiation with 'qmp_capabilities'"
    );
    assert_eq!(
        c.err(json!({"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}})),
        ("GenericError".into(), "Capability oob not available".into())
    );
    assert_eq!(
        c.err(json!({"execute": "qmp_capabilities", "arguments": {"enable": ["x"]}}))
            .1,
        "Parameter 'enable[0]' does not accept value 'x'"
    );
    // A second client that has not negotiated gets no events; the first one does.
    let mut quiet = vm.client();
    assert_eq!(
        c.cmd(json!({"execute": "qmp_capabilities", "id": 1})),
        json!({"return": {}, "id": 1})
    );
    assert_eq!(
        c.err(json!({"execute": "qmp_capabilities"})),
        (
            "CommandNotFound".into(),
            "Capabilities negotiation is already complete, command ignored".into()
        )
    );
    c.ok("cont", json!({}));
    assert_eq!(c.take_events(), ["RESUME"]);
    // The quiet client's first line is the reply to its own command, not RESUME.
    let r = quiet.cmd(json!({"execute": "query-status", "id": "q"}));
    assert_eq!(r["id"], "q");
    assert!(r.get("error").is_some());
    assert!(
        quiet.events.is_empty(),
        "events before negotiation: {:?}",
        quiet.events
    );
}

#[test]
fn validation_order_and_texts() {
    let vm = empty_machine(&["-S"]);
    let mut c = vm.qmp();
    let cases: &[(&str, &str, &str)] = &[
        ("[1]", "GenericError", "QMP input must be a JSON object"),
        ("\"s\"", "GenericError", "QMP input must be a JSON object"),
        ("{\"execute\": 1}", "GenericError", "QMP input member 'execute' must be a string"),
        (
            "{\"execute\": \"stop\", \"arguments\": []}",
            "GenericError",
            "QMP input member 'arguments' must be an object",
        ),
        ("{\"execute\": \"stop\", \"foo\": 1}", "GenericError", "QMP input member 'foo' is unexpected"),
        ("{\"arguments\": {}}", "GenericError", "QMP input lacks member 'execute'"),
        ("{\"execute\": \"nosuch\"}", "CommandNotFound", "The command nosuch has not been found"),
        ("{\"execute\": \"stop\", \"arguments\": {\"x\": 1}}", "GenericError", "Parameter 'x' is unexpected"),
        ("{\"execute\": \"watchdog-set-action\"}", "GenericError", "Parameter 'action' is missing"),
        (
            "{\"execute\": \"watchdog-set-action\", \"arguments\": {\"action\": 3}}",
            "GenericError",
            "Invalid parameter type for 'action', expected: string",
        ),
        (
            "{\"execute\": \"set-action\", \"arguments\": {\"panic\": \"bogus\"}}",
            "GenericError",
            "Parameter 'panic' does not accept value 'bogus'",
        ),
        (
            "{\"execute\": \"memsave\", \"arguments\": {\"val\": \"x\", \"size\": 1, \"filename\": \"f\"}}",
            "GenericError",
            "Invalid parameter type for 'val', expected: integer",
        ),
        (
            "{\"execute\": \"memsave\", \"arguments\": {\"val\": 1.5, \"size\": 1, \"filename\": \"f\"}}",
            "GenericError",
            "Invalid parameter type for 'val', expected: integer",
        ),
        (
            "{\"execute\": \"memsave\", \"arguments\": {\"val\": 18446744073709551615, \"size\": 1, \"filename\": \"f\"}}",
            "GenericError",
            "Parameter 'val' expects int64",
        ),
        (
            "{\"execute\": \"human-monitor-command\", \"arguments\": {}}",
            "GenericError",
            "Parameter 'command-line' is missing",
        ),
        (
            "{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"info status\", \"cpu-index\": 7}}",
            "GenericError",
            "Parameter 'cpu-index' expects a CPU number",
        ),
        ("{\"execute\": \"inject-nmi\"}", "GenericError", "this feature or command is not currently supported"),
        ("{\"execute\": \"system_wakeup\"}", "GenericError", "wake-up from suspend is not supported by this guest"),
        ("{\"execute\": \"x-exit-preconfig\"}", "GenericError", "The command is permitted only before machine initialization"),
    ];
    for (input, class, desc) in cases {
        c.send(format!("{input}\n").as_bytes());
        let r = c.reply();
        assert_eq!(r["error"]["class"], *class, "{input}: {r}");
        assert_eq!(r["error"]["desc"], *desc, "{input}: {r}");
        assert!(r.get("id").is_none());
    }
}

#[test]
fn id_echo_parse_errors_and_recovery() {
    let vm = empty_machine(&["-S"]);
    let mut c = vm.qmp();
    for id in [
        json!(1),
        json!("x"),
        json!({"a": [1, null]}),
        json!(true),
        json!(-2.5),
    ] {
        let r = c.cmd(json!({"execute": "query-status", "id": id}));
        assert_eq!(r["id"], id);
        let r = c.cmd(json!({"execute": "nosuch", "id": id}));
        assert_eq!(r["id"], id, "errors echo the id too");
    }
    let parse = |c: &mut Client, raw: &str| -> Vec<String> {
        c.send(raw.as_bytes());
        c.send(b"{\"execute\": \"query-status\", \"id\": \"sync\"}\n");
        let mut out = Vec::new();
        loop {
            let r = c.reply();
            if r["id"] == "sync" {
                assert_eq!(
                    r["return"]["status"], "prelaunch",
                    "recovered after {raw:?}"
                );
                return out;
            }
            out.push(r["error"]["desc"].as_str().unwrap_or("?").to_string());
        }
    };
    assert_eq!(
        parse(&mut c, "{\"execute\": foo}\n"),
        ["JSON parse error, invalid keyword 'foo'"]
    );
    assert_eq!(
        parse(&mut c, "{\"execute\":\"query-status\"]}\n"),
        [
            "JSON parse error, expected separator in dict",
            "JSON parse error, expecting value"
        ]
    );
    assert_eq!(parse(&mut c, "@\n"), ["JSON parse error, stray '@'"]);
    assert_eq!(
        parse(&mut c, "{\"a\":1,\"a\":2}\n"),
        ["JSON parse error, duplicate key"]
    );
    assert_eq!(
        parse(&mut c, "{\"a\" 1}\n"),
        ["JSON parse error, missing : in object pair"]
    );
    // A message split across writes, single quotes, and two messages in one write.
    c.send(b"{'execute': 'query-status',");
    std::thread::sleep(Duration::from_millis(50));
    c.send(b" 'id': 7}{\"execute\":\"query-name\",\"id\":8}\n");
    assert_eq!(c.reply()["id"], 7);
    assert_eq!(c.reply()["id"], 8);
    // The nesting limit (1024).
    let deep = format!("{}{}\n", "[".repeat(1100), "]".repeat(1100));
    let errs = parse(&mut c, &deep);
    assert_eq!(errs[0], "JSON nesting depth limit exceeded");
}

#[test]
fn stop_cont_reset_and_events_to_every_client() {
    let vm = empty_machine(&["-S"]);
    let mut a = vm.qmp();
    let mut b = vm.qmp();
    assert_eq!(a.status(), "prelaunch");
    a.ok("stop", json!({}));
    assert_eq!(
        a.status(),
        "prelaunch",
        "stop does nothing to a VM that is not live"
    );
    assert!(a.take_events().is_empty());
    a.ok("cont", json!({}));
    assert_eq!(a.take_events(), ["RESUME"]);
    let st = a.ok("query-status", json!({}));
    assert_eq!(st, json!({"running": true, "status": "running"}));
    a.ok("stop", json!({}));
    assert_eq!(a.take_events(), ["STOP"]);
    a.ok("stop", json!({}));
    assert!(
        a.take_events().is_empty(),
        "stopping a stopped VM emits nothing"
    );
    assert_eq!(a.status(), "paused");
    // Client b saw both events, with timestamps.
    let r = b.wait_event("RESUME");
    assert!(r["timestamp"]["seconds"].as_u64().unwrap() > 1_600_000_000);
    assert!(r["timestamp"]["microseconds"].as_u64().unwrap() < 1_000_000);
    assert!(r.get("data").is_none());
    b.wait_event("STOP");
    // A reset of a stopped VM leaves it in prelaunch.
    a.ok("system_reset", json!({}));
    let ev = a.wait_event("RESET");
    assert_eq!(
        ev["data"],
        json!({"guest": false, "reason": "host-qmp-system-reset"})
    );
    assert_eq!(a.status(), "prelaunch");
    a.ok("cont", json!({}));
    a.ok("system_reset", json!({}));
    assert_eq!(a.status(), "running", "a running VM runs on after a reset");
    a.ok("system_powerdown", json!({}));
    a.wait_event("POWERDOWN");
    // HMP shares the same commands.
    assert_eq!(
        a.ok(
            "human-monitor-command",
            json!({"command-line": "info status"})
        ),
        "VM status: running\r\n"
    );
    assert_eq!(
        a.ok("human-monitor-command", json!({"command-line": "stop"})),
        ""
    );
    a.wait_event("STOP");
    assert_eq!(
        a.ok(
            "human-monitor-command",
            json!({"command-line": "info status"})
        ),
        "VM status: paused\r\n"
    );
    assert_eq!(
        a.ok("human-monitor-command", json!({"command-line": "foo"})),
        "unknown command: 'foo'\r\n"
    );
    // The reset ROM as QEMU's xp prints it.
    assert_eq!(
        a.ok(
            "human-monitor-command",
            json!({"command-line": "xp /2x 0x1000"})
        ),
        "0000000000001000: 0x00000297 0x02828613\r\n"
    );
    assert_eq!(
        a.ok(
            "human-monitor-command",
            json!({"command-line": "xp /3dw 0x1000"})
        ),
        "0000000000001000:        663   42108435 4047512947\r\n"
    );
    assert_eq!(
        a.ok(
            "human-monitor-command",
            json!({"command-line": "xp /2x zz"})
        ),
        "invalid char 'z' in expression\r\nTry \"help xp\" for more information\r\n"
    );
    let regs = a.ok(
        "human-monitor-command",
        json!({"command-line": "info registers"}),
    );
    assert!(regs.as_str().unwrap().contains(" pc       "), "{regs}");
    let cpus = a.ok("query-cpus-fast", json!({}));
    assert_eq!(cpus[0]["qom-path"], "/machine/soc0/harts[0]");
    assert_eq!(cpus[0]["props"], json!({"core-id": 0}));
    assert_eq!(a.ok("query-target", json!({})), json!({"arch": "riscv64"}));
    assert_eq!(a.ok("query-name", json!({})), json!({}));
}

#[test]
fn guest_poweroff_with_no_shutdown_then_reset() {
    let demo = common::guest("demo/demo.elf");
    let vm = Vm::start(&[
        "-bios",
        "none",
        "-serial",
        "none",
        "-kernel",
        &demo,
        "-S",
        "-no-shutdown",
    ]);
    let mut c = vm.qmp();
    c.ok("cont", json!({}));
    let ev = c.wait_event("SHUTDOWN");
    assert_eq!(
        ev["data"],
        json!({"guest": true, "reason": "guest-shutdown"})
    );
    c.wait_event("STOP");
    assert_eq!(c.status(), "shutdown");
    assert_eq!(
        c.err(json!({"execute": "cont"})),
        (
            "GenericError".into(),
            "Resetting the Virtual Machine is required".into()
        )
    );
    c.ok("system_reset", json!({}));
    assert_eq!(c.status(), "prelaunch");
    c.ok("cont", json!({}));
    c.wait_event("SHUTDOWN");
    assert_eq!(
        c.status(),
        "shutdown",
        "the demo ran again and powered off again"
    );
}

#[test]
fn guest_reset_and_no_reboot() {
    let reset = common::guest("reset.elf");
    let mut vm = Vm::start(&["-bios", "none", "-serial", "none", "-kernel", &reset, "-S"]);
    let mut c = vm.qmp();
    c.ok("cont", json!({}));
    let ev = c.wait_event("RESET");
    assert_eq!(ev["data"], json!({"guest": true, "reason": "guest-reset"}));
    let ev = c.wait_event("SHUTDOWN");
    assert_eq!(
        ev["data"],
        json!({"guest": true, "reason": "guest-shutdown"})
    );
    assert_eq!(vm.wait(20), 0);

    let mut vm = Vm::start(&[
        "-bios",
        "none",
        "-serial",
        "none",
        "-kernel",
        &reset,
        "-S",
        "-no-reboot",
    ]);
    let mut c = vm.qmp();
    c.ok("cont", json!({}));
    let ev = c.wait_event("SHUTDOWN");
    assert_eq!(ev["data"], json!({"guest": true, "reason": "guest-reset"}));
    assert!(!c.events.iter().any(|e| e["event"] == "RESET"));
    assert_eq!(vm.wait(20), 0);
}

#[test]
fn actions_by_qmp() {
    let reset = common::guest("reset.elf");
    let vm = Vm::start(&["-bios", "none", "-serial", "none", "-kernel", &reset, "-S"]);
    let mut c = vm.qmp();
    // set-action changes what a guest reboot and poweroff do.
    c.ok(
        "set-action",
        json!({"reboot": "shutdown", "shutdown": "pause"}),
    );
    c.ok("watchdog-set-action", json!({"action": "debug"}));
    c.ok("cont", json!({}));
    let ev = c.wait_event("SHUTDOWN");
    assert_eq!(ev["data"]["reason"], "guest-reset");
    c.wait_event("STOP");
    assert_eq!(c.status(), "shutdown");
}

#[test]
fn preconfig() {
    let vm = empty_machine(&["--preconfig"]);
    let mut c = vm.qmp();
    assert_eq!(c.status(), "prelaunch");
    for cmd in [
        "stop",
        "cont",
        "query-cpus-fast",
        "system_reset",
        "human-monitor-command",
    ] {
        assert_eq!(
            c.err(json!({"execute": cmd})).1,
            format!(
                "The command '{cmd}' is permitted only after machine initialization has completed"
            )
        );
    }
    c.ok("set-action", json!({"panic": "pause"}));
    c.ok("query-name", json!({}));
    assert!(c.ok("query-commands", json!({})).as_array().unwrap().len() > 10);
    c.ok("x-exit-preconfig", json!({}));
    assert_eq!(c.take_events(), ["RESUME"]);
    assert_eq!(c.status(), "running");
    assert_eq!(
        c.err(json!({"execute": "x-exit-preconfig"})).1,
        "The command is permitted only before machine initialization"
    );

    let vm = empty_machine(&["--preconfig", "-S"]);
    let mut c = vm.qmp();
    c.ok("x-exit-preconfig", json!({}));
    assert_eq!(
        c.status(),
        "prelaunch",
        "-S keeps the VM stopped after preconfig"
    );
    assert!(c.take_events().is_empty());
}

#[test]
fn quit_replies_then_shuts_down() {
    let mut vm = empty_machine(&[]);
    let mut c = vm.qmp();
    let r = c.cmd(json!({"execute": "quit", "id": 9}));
    assert_eq!(r, json!({"return": {}, "id": 9}));
    let ev = c.wait_event("SHUTDOWN");
    assert_eq!(
        ev["data"],
        json!({"guest": false, "reason": "host-qmp-quit"})
    );
    assert!(c.line().is_none(), "the connection closes");
    assert_eq!(vm.wait(10), 0);
    assert!(!vm.sock().exists(), "the socket file is removed");
}

#[test]
fn signals_shut_down_cleanly() {
    for sig in [libc_sig::TERM, libc_sig::INT] {
        let mut vm = empty_machine(&[]);
        let mut c = vm.qmp();
        assert_eq!(c.status(), "running");
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &vm.pid().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let ev = c.wait_event("SHUTDOWN");
        assert_eq!(ev["data"], json!({"guest": false, "reason": "host-signal"}));
        assert_eq!(vm.wait(10), 0);
        assert!(vm.stderr_has("terminating on signal"));
    }
}

mod libc_sig {
    pub const TERM: &str = "TERM";
    pub const INT: &str = "INT";
}

#[test]
fn memsave_and_pmemsave() {
    let vm = empty_machine(&["-S"]);
    let mut c = vm.qmp();
    let f = vm.dir.join("rom.bin");
    let fs = f.display().to_string();
    c.ok(
        "pmemsave",
        json!({"val": 0x1000, "size": 8, "filename": fs}),
    );
    assert_eq!(
        std::fs::read(&f).unwrap(),
        [0x97, 0x02, 0x00, 0x00, 0x13, 0x86, 0x82, 0x02]
    );
    let v = vm.dir.join("virt.bin");
    c.ok(
        "memsave",
        json!({"val": 0x1000, "size": 4, "filename": v.display().to_string(), "cpu-index": 0}),
    );
    assert_eq!(std::fs::read(&v).unwrap(), [0x97, 0x02, 0x00, 0x00]);
    assert_eq!(
        c.err(json!({"execute": "memsave", "arguments": {"val": -1, "size": 16, "filename": vm.dir.join("bad").display().to_string()}})).1,
        "Invalid addr 0xffffffffffffffff/size 16 specified"
    );
    assert!(
        !vm.dir.join("bad").exists(),
        "a failed memsave leaves no file"
    );
    assert_eq!(
        c.err(json!({"execute": "pmemsave", "arguments": {"val": 0, "size": 1, "filename": "/nonexistent-dir/x"}})).1,
        "Could not open '/nonexistent-dir/x': No such file or directory"
    );
    let left: Vec<_> = std::fs::read_dir(&vm.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn schema_commands_and_reference_are_generated_from_one_table() {
    let vm = empty_machine(&["-S"]);
    let mut c = vm.qmp();
    let schema = c.ok("query-qmp-schema", json!({}));
    let list = schema.as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|e| e["name"].as_str().unwrap()).collect();
    let commands = c.ok("query-commands", json!({}));
    for cmd in commands.as_array().unwrap() {
        let n = cmd["name"].as_str().unwrap();
        let e = list
            .iter()
            .find(|e| e["name"] == n)
            .unwrap_or_else(|| panic!("{n} not in schema"));
        assert_eq!(e["meta-type"], "command");
    }
    for ev in [
        "SHUTDOWN",
        "RESET",
        "STOP",
        "RESUME",
        "POWERDOWN",
        "WATCHDOG",
        "GUEST_PANICKED",
    ] {
        assert!(
            list.iter()
                .any(|e| e["name"] == ev && e["meta-type"] == "event"),
            "{ev}"
        );
    }
    // Every referenced type exists; non-builtin names are masked numbers.
    for e in list {
        for k in ["arg-type", "ret-type", "element-type"] {
            if let Some(t) = e.get(k).and_then(|v| v.as_str()) {
                assert!(
                    names.contains(&t),
                    "{t} referenced by {} is not defined",
                    e["name"]
                );
            }
        }
        if e["meta-type"] == "object" || e["meta-type"] == "enum" {
            assert!(
                e["name"].as_str().unwrap().parse::<u32>().is_ok(),
                "unmasked {e}"
            );
        }
    }
    let status = list.iter().find(|e| e["name"] == "query-status").unwrap();
    let ret = list
        .iter()
        .find(|e| e["name"] == status["ret-type"])
        .unwrap();
    let run_state = ret["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "status")
        .unwrap();
    let rs = list
        .iter()
        .find(|e| e["name"] == run_state["type"])
        .unwrap();
    assert_eq!(rs["values"].as_array().unwrap().len(), 16);
    // docs/qmp.md is the generated reference.
    let out = Command::new(common::bin())
        .arg("--qmp-reference")
        .output()
        .unwrap();
    let doc = std::fs::read_to_string(common::root().join("docs/qmp.md")).unwrap();
    assert!(
        doc == String::from_utf8_lossy(&out.stdout),
        "docs/qmp.md is stale: run `make qmp-doc`"
    );
}

#[test]
fn several_sockets_chardev_mon_and_tcp() {
    let dir = tmpdir("multi");
    let a = dir.join("a.sock");
    let b = dir.join("b.sock");
    let args: Vec<String> = [
        "-M",
        "virt",
        "-bios",
        "none",
        "-serial",
        "none",
        "-S",
        "-qmp",
        &format!("unix:{},server=on,wait=off", a.display()),
        "-chardev",
        &format!("socket,id=mon0,path={},server=on,wait=off", b.display()),
        "-mon",
        "chardev=mon0,mode=control",
        "-qmp",
        "tcp:127.0.0.1:0,server=on,wait=off",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let vm = Vm::spawn(&args, dir, &[a.clone(), b.clone()]);
    use std::os::unix::fs::PermissionsExt;
    for p in [&a, &b] {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
    let mut ca = Client::connect(&a);
    let mut cb = Client::connect(&b);
    for c in [&mut ca, &mut cb] {
        c.ok("qmp_capabilities", json!({}));
    }
    ca.ok("cont", json!({}));
    cb.wait_event("RESUME");
    // The TCP listener bound to loopback on a port of its own.
    let port = qmp_tcp_port(&vm);
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut r = BufReader::new(s);
    let mut g = String::new();
    r.read_line(&mut g).unwrap();
    assert!(g.contains("\"QMP\""), "{g}");
}

#[test]
fn bad_server_options_are_refused() {
    for (args, want) in [
        (vec!["-qmp", "unix:/tmp/x"], "haltpoint only listens"),
        (
            vec!["-qmp", "tcp:host:notaport,server"],
            "expected tcp:[HOST]:PORT",
        ),
        (vec!["-chardev", "stdio,id=x"], "only 'socket' chardevs"),
        (
            vec!["-mon", "chardev=nope,mode=control"],
            "chardev 'nope' not found",
        ),
        (
            vec![
                "-chardev",
                "socket,id=m,path=/tmp/hp-unused.sock,server=on,wait=off",
                "-mon",
                "chardev=m",
            ],
            "only mode=control",
        ),
        (
            vec!["-action", "panic=bogus"],
            "Parameter 'panic' does not accept value 'bogus'",
        ),
        (vec!["-watchdog-action", "bogus"], "unknown action"),
    ] {
        let mut a = vec!["-M", "virt", "-bios", "none", "-serial", "none"];
        a.extend(args.iter());
        let r = common::run(&a, 10);
        assert_eq!(r.status, 1, "{}", r.all());
        assert!(r.stderr.contains(want), "{want}: {}", r.all());
    }
}

#[test]
fn gdb_and_qmp_share_the_debug_state() {
    // An empty machine: the reset ROM jumps to 0x80000000, where the zeros trap for
    // ever (a guest that never ends).
    let vm = Vm::start(&[
        "-bios",
        "none",
        "-serial",
        "none",
        "-S",
        "-gdb",
        "tcp:127.0.0.1:0",
    ]);
    let mut q = vm.qmp();
    let port = vm.gdb_port();
    let mut g = Rsp::connect(port);
    g.packet("QStartNoAckMode");
    assert_eq!(
        q.status(),
        "prelaunch",
        "gdb attaching to a VM that is not live changes nothing"
    );
    // A breakpoint where the reset ROM jumps to; continue to it.
    let entry = 0x8000_0000u64;
    assert_eq!(g.packet(&format!("Z0,{entry:x},2")), "OK");
    g.send("vCont;c");
    let stop = g.recv();
    assert!(stop.starts_with("T05"), "{stop}");
    assert_eq!(q.status(), "debug");
    assert_eq!(q.take_events(), ["RESUME", "STOP"]);
    // QMP cont resumes the VM that gdb stopped (gdb is not told); QMP stop is then
    // reported to gdb when it waits: resume gdb first.
    assert_eq!(g.packet(&format!("z0,{entry:x},2")), "OK");
    g.send("vCont;c");
    std::thread::sleep(Duration::from_millis(50));
    q.ok("stop", json!({}));
    let stop = g.recv();
    assert!(
        stop.starts_with("T02"),
        "paused is reported to gdb as SIGINT: {stop}"
    );
    assert_eq!(q.status(), "paused");
    // A gdb single step: RESUME then STOP, state debug.
    q.take_events();
    g.send("vCont;s:1");
    let stop = g.recv();
    assert!(stop.starts_with("T05"), "{stop}");
    assert_eq!(q.status(), "debug");
    assert_eq!(q.take_events(), ["RESUME", "STOP"]);
    q.ok("cont", json!({}));
    assert_eq!(q.status(), "running");
}

#[test]
fn garbage_many_clients_and_a_client_that_never_reads() {
    let vm = empty_machine(&[]);
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", vm.pid()))
            .unwrap()
            .count()
    };
    let mut steady = vm.qmp();
    let base_fds = fds();
    // Clients that connect, send garbage or half messages, and drop.
    let mut seed: u64 = 0x1234_5678;
    for i in 0..200 {
        let mut s = UnixStream::connect(vm.sock()).unwrap();
        let mut junk = vec![0u8; (i % 37) * 13 + 1];
        for b in junk.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let alphabet = b"{}[]:,\"'\\ aez019-.\n\xff\xfe\x00";
            *b = alphabet[(seed % alphabet.len() as u64) as usize];
        }
        let _ = s.write_all(&junk);
        if i % 3 == 0 {
            let _ = s.write_all(b"{\"execute\":\"qmp_capabilities\"}{\"execute\":");
        }
        drop(s);
    }
    assert_eq!(
        steady.status(),
        "running",
        "the server survived the garbage"
    );
    // A client that sends many requests with big replies and never reads.
    let mut hog = UnixStream::connect(vm.sock()).unwrap();
    hog.write_all(b"{\"execute\":\"qmp_capabilities\"}\n")
        .unwrap();
    hog.set_nonblocking(true).unwrap();
    let req = b"{\"execute\":\"query-qmp-schema\"}\n".repeat(2000);
    let mut sent = 0;
    let t = Instant::now();
    while sent < req.len() && t.elapsed() < Duration::from_secs(5) {
        match hog.write(&req[sent..]) {
            Ok(n) => sent += n,
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    // The guest and the other client are not held up.
    let t = Instant::now();
    for _ in 0..20 {
        assert_eq!(steady.status(), "running");
    }
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "replies were slow: {:?}",
        t.elapsed()
    );
    let rss = std::fs::read_to_string(format!("/proc/{}/status", vm.pid()))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .map(|k| k.parse::<u64>().unwrap())
        })
        .unwrap();
    assert!(
        rss < 512 * 1024,
        "RSS {rss} KiB: unsent output is not bounded"
    );
    drop(hog);
    // Every dropped client's descriptor was released.
    let t = Instant::now();
    while fds() > base_fds && t.elapsed() < Duration::from_secs(5) {
        let _ = steady.status();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(fds(), base_fds, "descriptors leaked");
}

#[test]
fn gdb_on_a_chardev() {
    let vm = Vm::start(&[
        "-bios",
        "none",
        "-serial",
        "none",
        "-S",
        "-chardev",
        "socket,id=g0,host=127.0.0.1,port=0,server=on,wait=off",
        "-gdb",
        "chardev:g0",
    ]);
    let port = vm.gdb_port();
    let mut g = Rsp::connect(port);
    let r = g.packet("?");
    assert!(r.starts_with('T') || r.starts_with('S'), "{r}");
}

#[test]
fn wait_on_holds_the_vm_until_a_client_connects() {
    let dir = tmpdir("wait");
    let sock = dir.join("q.sock");
    let out = dir.join("console.txt");
    let demo = common::guest("demo/demo.elf");
    let args: Vec<String> = [
        "-M",
        "virt",
        "-bios",
        "none",
        "-kernel",
        &demo,
        "-serial",
        &format!("file:{}", out.display()),
        "-qmp",
        &format!("unix:{},server=on", sock.display()),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut vm = Vm::spawn(&args, dir, &[sock]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap_or_default(),
        "",
        "the guest ran before a QMP client connected"
    );
    let _c = vm.client();
    assert_eq!(vm.wait(30), 0);
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("all 9 checks passed"));
}

/// Whether `path` is an ELF64 RISC-V core with `harts` NT_PRSTATUS notes (readelf).
fn assert_riscv_core(path: &std::path::Path, harts: usize) {
    let head = std::fs::read(path).unwrap();
    assert!(
        head.len() > 64,
        "{} is {} bytes",
        path.display(),
        head.len()
    );
    assert_eq!(&head[..4], b"\x7fELF");
    assert_eq!(head[4], 2, "ELFCLASS64");
    assert_eq!(u16::from_le_bytes([head[16], head[17]]), 4, "ET_CORE");
    assert_eq!(u16::from_le_bytes([head[18], head[19]]), 243, "EM_RISCV");
    let out = Command::new("readelf")
        .args(["-h", "-n"])
        .arg(path)
        .output()
        .expect("readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CORE (Core file)"), "{text}");
    assert_eq!(text.matches("NT_PRSTATUS").count(), harts, "{text}");
}

/// A new empty file in `dir`, open for writing.
fn out_file(dir: &std::path::Path, name: &str) -> std::fs::File {
    std::fs::File::create(dir.join(name)).unwrap()
}

fn generic(desc: &str) -> (String, String) {
    ("GenericError".into(), desc.into())
}

#[test]
fn getfd_closefd_and_dump_into_a_passed_descriptor() {
    use std::os::fd::AsRawFd;
    let vm = empty_machine(&["-S", "-smp", "2"]);
    let dir = vm.dir.clone();
    let mut c = vm.qmp();
    let getfd = |name: &str| json!({"execute": "getfd", "arguments": {"fdname": name}});
    let closefd = |name: &str| json!({"execute": "closefd", "arguments": {"fdname": name}});
    let dump = |proto: &str, detach: bool| {
        json!({"execute": "dump-guest-memory", "arguments": {
            "paging": false, "protocol": proto, "format": "elf", "detach": detach}})
    };
    // No descriptor came with the request (QEMU's texts throughout: monitor/fds.c).
    assert_eq!(
        c.err(getfd("core")),
        generic("No file descriptor supplied via SCM_RIGHTS")
    );
    assert_eq!(
        c.err(json!({"execute": "getfd"})),
        generic("Parameter 'fdname' is missing")
    );
    // A name starting with a digit is refused, and the descriptor it came with closed.
    let f = out_file(&dir, "digit");
    let r = c.cmd_with_fds(getfd("1core"), &[f.as_raw_fd()]);
    assert_eq!(
        r["error"]["desc"],
        "Parameter 'fdname' expects a name not starting with a digit"
    );
    assert_eq!(
        c.err(getfd("core")),
        generic("No file descriptor supplied via SCM_RIGHTS"),
        "the refused descriptor was consumed"
    );
    // Named, then replaced by a second descriptor under the same name: the dump goes to
    // the second; the first is closed unwritten.
    let first = out_file(&dir, "first");
    let second = out_file(&dir, "core");
    assert_eq!(
        c.cmd_with_fds(getfd("core"), &[first.as_raw_fd()]),
        json!({"return": {}})
    );
    assert_eq!(
        c.cmd_with_fds(getfd("core"), &[second.as_raw_fd()]),
        json!({"return": {}})
    );
    drop((first, second));
    // A detached dump into it: DUMP_COMPLETED, and query-dump says completed.
    assert_eq!(c.cmd(dump("fd:core", true)), json!({"return": {}}));
    let ev = c.wait_event("DUMP_COMPLETED");
    assert_eq!(ev["data"]["result"]["status"], "completed", "{ev}");
    assert!(ev["data"].get("error").is_none(), "{ev}");
    let q = c.ok("query-dump", json!({}));
    assert_eq!(q["status"], "completed");
    assert_eq!(q["completed"], q["total"]);
    assert_riscv_core(&dir.join("core"), 2);
    assert_eq!(std::fs::metadata(dir.join("first")).unwrap().len(), 0);
    // The dump took the descriptor: the name is gone.
    assert_eq!(
        c.err(dump("fd:core", false)),
        generic("File descriptor named 'core' has not been found")
    );
    assert_eq!(
        c.err(closefd("core")),
        generic("File descriptor named 'core' not found")
    );
    // A descriptor sent with an earlier request waits for the next getfd; closefd
    // releases a name.
    let f = out_file(&dir, "later");
    let r = c.cmd_with_fds(json!({"execute": "query-status"}), &[f.as_raw_fd()]);
    assert_eq!(r["return"]["status"], "prelaunch");
    assert_eq!(c.ok("getfd", json!({"fdname": "later"})), json!({}));
    assert_eq!(c.ok("closefd", json!({"fdname": "later"})), json!({}));
    assert_eq!(
        c.err(closefd("later")),
        generic("File descriptor named 'later' not found")
    );
    // A non-detached dump into a descriptor; the file offset is respected.
    use std::io::Write;
    let mut f = out_file(&dir, "offset");
    f.write_all(b"prefix").unwrap();
    assert_eq!(
        c.cmd_with_fds(getfd("off"), &[f.as_raw_fd()]),
        json!({"return": {}})
    );
    assert_eq!(c.cmd(dump("fd:off", false)), json!({"return": {}}));
    let bytes = std::fs::read(dir.join("offset")).unwrap();
    assert_eq!(&bytes[..6], b"prefix");
    assert_eq!(&bytes[6..10], b"\x7fELF");
    // Names belong to the connection: another client does not see them.
    assert_eq!(
        c.cmd_with_fds(getfd("mine"), &[f.as_raw_fd()]),
        json!({"return": {}})
    );
    let mut other = vm.qmp();
    assert_eq!(
        other.err(closefd("mine")),
        generic("File descriptor named 'mine' not found")
    );
    // HMP runs in a monitor of its own, without descriptors (as QEMU's
    // human-monitor-command does).
    let hmp =
        |c: &mut Client, line: &str| c.ok("human-monitor-command", json!({"command-line": line}));
    assert_eq!(
        hmp(&mut c, "getfd x"),
        "Error: No file descriptor supplied via SCM_RIGHTS\r\n"
    );
    assert_eq!(
        hmp(&mut c, "closefd mine"),
        "Error: File descriptor named 'mine' not found\r\n"
    );
    assert_eq!(
        hmp(&mut c, "getfd"),
        "getfd: string expected\r\nTry \"help getfd\" for more information\r\n"
    );
    assert_eq!(c.ok("closefd", json!({"fdname": "mine"})), json!({}));
}

#[test]
fn getfd_over_tcp_has_no_descriptor() {
    let vm = empty_machine(&["-S", "-qmp", "tcp:127.0.0.1:0,server=on,wait=off"]);
    let port = qmp_tcp_port(&vm);
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    let mut ask = |req: &str| {
        w.write_all(req.as_bytes()).unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        serde_json::from_str::<serde_json::Value>(&line).unwrap()
    };
    assert!(ask("").is_object(), "greeting");
    assert_eq!(
        ask("{\"execute\":\"qmp_capabilities\"}\n"),
        json!({"return": {}})
    );
    assert_eq!(
        ask("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"x\"}}\n"),
        json!({"error": {"class": "GenericError",
                         "desc": "No file descriptor supplied via SCM_RIGHTS"}})
    );
    assert_eq!(
        ask("{\"execute\":\"dump-guest-memory\",\"arguments\":{\"paging\":false,\"protocol\":\"fd:x\"}}\n"),
        json!({"error": {"class": "GenericError",
                         "desc": "File descriptor named 'x' has not been found"}})
    );
}

#[test]
fn passed_descriptors_are_closed_and_never_leak() {
    use std::os::fd::AsRawFd;
    let vm = empty_machine(&["-S"]);
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", vm.pid()))
            .unwrap()
            .count()
    };
    // Whatever a first connection sets up once is there before the baseline.
    drop(vm.qmp());
    let t = Instant::now();
    let mut base = fds();
    while t.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(50));
        base = base.min(fds());
    }
    let null = std::fs::File::open("/dev/null").unwrap();
    let n = |k: usize| vec![null.as_raw_fd(); k];
    let mut c = vm.qmp();
    let conn = base + 1;
    assert_eq!(fds(), conn);
    let status = json!({"execute": "query-status"});
    // Three arrive; getfd keeps the first and closes the others.
    c.cmd_with_fds(status.clone(), &n(3));
    assert_eq!(fds(), conn + 3);
    c.ok("getfd", json!({"fdname": "a"}));
    assert_eq!(fds(), conn + 1);
    // A later batch replaces (closes) an unclaimed one.
    c.cmd_with_fds(status.clone(), &n(2));
    c.cmd_with_fds(status.clone(), &n(2));
    assert_eq!(fds(), conn + 1 + 2);
    // getfd with its own descriptor: the pending two are closed, and so is the old `a`.
    c.cmd_with_fds(
        json!({"execute": "getfd", "arguments": {"fdname": "a"}}),
        &n(1),
    );
    assert_eq!(fds(), conn + 1);
    // More than a read takes (16): the kernel drops the rest; none is lost open.
    c.cmd_with_fds(status.clone(), &n(40));
    assert_eq!(fds(), conn + 1 + 16);
    c.ok("getfd", json!({"fdname": "b"}));
    assert_eq!(fds(), conn + 2);
    // A failed dump still consumes its descriptor (as QEMU's does): a socket is not
    // seekable, so kdump-raw refuses it.
    let (sock, _peer) = UnixStream::pair().unwrap();
    c.cmd_with_fds(
        json!({"execute": "getfd", "arguments": {"fdname": "s"}}),
        &[sock.as_raw_fd()],
    );
    assert_eq!(fds(), conn + 3);
    let r = c.cmd(json!({"execute": "dump-guest-memory", "arguments": {
        "paging": false, "protocol": "fd:s", "format": "kdump-raw-zlib"}}));
    assert_eq!(
        r["error"]["desc"], "kdump-raw formats require a seekable file",
        "{r}"
    );
    assert_eq!(fds(), conn + 2);
    // Pending and named descriptors go with the connection.
    c.cmd_with_fds(status.clone(), &n(5));
    assert_eq!(fds(), conn + 2 + 5);
    drop(c);
    let t = Instant::now();
    while fds() > base && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(fds(), base, "descriptors leaked");
}

/// The port of the machine's TCP QMP listener, from its stderr.
fn qmp_tcp_port(vm: &Vm) -> u16 {
    let t = Instant::now();
    loop {
        let e = vm.stderr();
        if let Some(l) = e
            .lines()
            .find(|l| l.contains("QMP server listening on tcp:"))
        {
            return l.rsplit(':').next().unwrap().trim().parse::<u16>().unwrap();
        }
        assert!(t.elapsed() < Duration::from_secs(5), "{e}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
