//! A subset of QEMU's human monitor (HMP), reached through QMP's
//! `human-monitor-command`. Output lines end in `\r\n` as QEMU's do; errors are text in
//! the answer, as in QEMU.
//!
//! Differences from QEMU: `x`/`xp` do not remember the last format and size (each
//! command starts from `/1xw`), and `x/i` disassembles with capstone, whose spelling
//! differs from QEMU's disassembler.

use super::commands::{self, Ctx};
use crate::machine::debug::Reg;
use serde_json::Map;
use std::fmt::Write;

const HELP: &[(&str, &str)] = &[
    (
        "closefd closefd name",
        "close a file descriptor previously passed via SCM rights",
    ),
    ("cont|c", "resume emulation"),
    (
        "getfd getfd name",
        "receive a file descriptor via SCM rights and assign it a name",
    ),
    ("help|? [cmd]", "show the help"),
    ("info status", "show the current VM status (running|paused)"),
    (
        "info registers [-a]",
        "show the cpu registers (-a: all harts)",
    ),
    ("info cpus", "show infos for each CPU"),
    (
        "info qtree-lite",
        "show the board's devices and their addresses",
    ),
    ("stop", "stop emulation"),
    ("system_reset", "reset the system"),
    (
        "x /fmt addr",
        "virtual memory dump starting at 'addr' (fmt: count, x|d|u|o|c|i, b|h|w|g)",
    ),
    ("xp /fmt addr", "physical memory dump starting at 'addr'"),
];

/// Runs one HMP command line for hart `cpu` and returns its output.
pub fn run(c: &mut Ctx<'_>, cpu: usize, line: &str) -> String {
    let line = line.trim();
    let (cmd, rest) = match line.split_once(char::is_whitespace) {
        Some((a, b)) => (a, b.trim()),
        None => (line, ""),
    };
    let out = match cmd {
        "" => String::new(),
        "help" | "?" => help(),
        "info" => info(c, cpu, rest, line),
        "stop" | "s" => run_qmp(c, commands::stop),
        "cont" | "c" => run_qmp(c, commands::cont),
        "system_reset" => run_qmp(c, commands::system_reset),
        "x" => memory_dump(c, cpu, rest, false),
        "dump-guest-memory" => match crate::dump::hmp::parse(rest) {
            Ok(args) => match commands::start_dump(c, &args) {
                Ok(()) if args.detach => String::new(),
                Ok(()) => format!(
                    "dump: {} bytes written to {}\n",
                    c.dump.completed,
                    args.protocol.trim_start_matches("file:")
                ),
                Err(e) => format!("Error: {}\n", e.desc),
            },
            Err(e) => format!("Error: {e}\n"),
        },
        "xp" => memory_dump(c, cpu, rest, true),
        "getfd" => fd_command(c, "getfd", rest, commands::getfd),
        "closefd" => fd_command(c, "closefd", rest, commands::closefd),
        _ => format!("unknown command: '{line}'\n"),
    };
    out.replace('\n', "\r\n")
}

fn run_qmp(c: &mut Ctx<'_>, f: commands::Handler) -> String {
    match f(c, &Map::new()) {
        Ok(_) => String::new(),
        Err(e) => format!("Error: {}\n", e.desc),
    }
}

/// `getfd NAME` / `closefd NAME`. Through `human-monitor-command` they act on the
/// temporary monitor that runs the line, which has received no descriptor: `getfd`
/// always fails and `closefd` finds nothing, as in QEMU.
fn fd_command(c: &mut Ctx<'_>, name: &str, rest: &str, f: commands::Handler) -> String {
    let mut words = rest.split_whitespace();
    let err = match (words.next(), words.next()) {
        (None, _) => "string expected",
        (Some(_), Some(_)) => "extraneous characters at the end of line",
        (Some(fdname), None) => {
            let mut a = Map::new();
            a.insert("fdname".into(), fdname.into());
            return match f(c, &a) {
                Ok(_) => String::new(),
                Err(e) => format!("Error: {}\n", e.desc),
            };
        }
    };
    format!("{name}: {err}\nTry \"help {name}\" for more information\n")
}

fn help() -> String {
    let mut s = String::new();
    for (u, d) in HELP {
        let _ = writeln!(s, "{u} -- {d}");
    }
    s
}

fn info(c: &mut Ctx<'_>, cpu: usize, what: &str, line: &str) -> String {
    let (sub, arg) = match what.split_once(char::is_whitespace) {
        Some((a, b)) => (a, b.trim()),
        None => (what, ""),
    };
    match sub {
        "status" => {
            let st = c.m.vm.state();
            if c.m.vm.is_running() {
                "VM status: running\n".into()
            } else if st == crate::runstate::RunState::Paused {
                "VM status: paused\n".into()
            } else {
                format!("VM status: paused ({})\n", st.name())
            }
        }
        "registers" => {
            let harts: Vec<usize> = if arg == "-a" {
                (0..c.m.harts.len()).collect()
            } else {
                vec![cpu]
            };
            let mut s = String::new();
            for h in harts {
                registers(c.m, h, &mut s);
            }
            s
        }
        "cpus" => {
            let mut s = String::new();
            for h in 0..c.m.harts.len() {
                let _ = writeln!(
                    s,
                    "{} CPU #{h}: thread_id={}",
                    if h == cpu { '*' } else { ' ' },
                    c.info.thread_id
                );
            }
            s
        }
        "qtree-lite" => c.m.bus.describe(),
        "dump" => {
            let r = c.dump.result();
            let mut s = format!("Status: {}\n", r["status"].as_str().unwrap_or("none"));
            if c.dump.status == "active" && c.dump.total > 0 {
                let pct = 100.0 * c.dump.completed as f64 / c.dump.total as f64;
                let _ = writeln!(s, "Finished: {pct:.2} %");
            }
            s
        }
        "" => "info: missing subcommand\n".into(),
        _ => format!("unknown command: '{line}'\n"),
    }
}

const CSRS: &[(&str, u16)] = &[
    ("mhartid", 0xf14),
    ("mstatus", 0x300),
    ("mip", 0x344),
    ("mie", 0x304),
    ("mideleg", 0x303),
    ("medeleg", 0x302),
    ("mtvec", 0x305),
    ("stvec", 0x105),
    ("mepc", 0x341),
    ("sepc", 0x141),
    ("mcause", 0x342),
    ("scause", 0x142),
    ("mtval", 0x343),
    ("stval", 0x143),
    ("mscratch", 0x340),
    ("sscratch", 0x140),
    ("satp", 0x180),
];

const ABI: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
];

const FABI: [&str; 32] = [
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
];

/// QEMU's `info registers` layout for one hart (no hypervisor registers: haltpoint has
/// no H extension), plus the privilege level.
fn registers(m: &crate::machine::Machine, h: usize, s: &mut String) {
    let Some(hart) = m.harts.get(h) else {
        return;
    };
    let _ = write!(s, "\nCPU#{h}\n");
    let _ = writeln!(
        s,
        " priv     {}",
        crate::machine::Machine::prv_name(hart.prv)
    );
    let _ = writeln!(s, " pc       {:016x}", hart.pc);
    for (name, csr) in CSRS {
        let v = m.debug_reg_read(h, Reg::Csr(*csr)).unwrap_or(0);
        let _ = writeln!(s, " {name:<8} {v:016x}");
    }
    for row in 0..8 {
        for col in 0..4 {
            let i = row * 4 + col;
            let n = format!("x{i}/{}", ABI[i]);
            let _ = write!(s, " {n:<8} {:016x}", hart.x[i]);
        }
        s.push('\n');
    }
    for row in 0..8 {
        for col in 0..4 {
            let i = row * 4 + col;
            let n = format!("f{i}/{}", FABI[i]);
            let _ = write!(s, " {n:<8} {:016x}", hart.f[i]);
        }
        s.push('\n');
    }
}

/// Parses an HMP address expression: a number (0x hex, 0 octal, decimal) or `$reg`.
fn expr(c: &Ctx<'_>, cpu: usize, s: &str) -> Result<u64, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("unexpected end of expression".into());
    }
    if let Some(r) = s.strip_prefix('$') {
        let reg = match r {
            "pc" => Some(Reg::Pc),
            _ => ABI
                .iter()
                .position(|a| *a == r)
                .or_else(|| r.strip_prefix('x').and_then(|n| n.parse::<usize>().ok()))
                .filter(|&i| i < 32)
                .map(|i| Reg::X(i as u8)),
        };
        return reg
            .and_then(|r| c.m.debug_reg_read(cpu, r))
            .ok_or_else(|| "unknown register".to_string());
    }
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if let Some(bad) = digits.chars().find(|ch| !ch.is_digit(radix)) {
        return Err(format!("invalid char '{bad}' in expression"));
    }
    u64::from_str_radix(digits, radix).map_err(|_| "number too large".to_string())
}

fn memory_dump(c: &mut Ctx<'_>, cpu: usize, args: &str, phys: bool) -> String {
    let name = if phys { "xp" } else { "x" };
    let usage = |e: String| format!("{e}\nTry \"help {name}\" for more information\n");
    let (fmt, addr) = match args.strip_prefix('/') {
        Some(r) => match r.split_once(char::is_whitespace) {
            Some((f, a)) => (f, a),
            None => (r, ""),
        },
        None => ("", args),
    };
    let mut count: u64 = 0;
    let mut format = 'x';
    let mut size: usize = 4;
    for ch in fmt.chars() {
        match ch {
            '0'..='9' => count = count * 10 + ch.to_digit(10).unwrap_or(0) as u64,
            'x' | 'd' | 'u' | 'o' | 'c' | 'i' => format = ch,
            'b' => size = 1,
            'h' => size = 2,
            'w' => size = 4,
            'g' => size = 8,
            _ => return usage(format!("invalid char in format: '{ch}'")),
        }
    }
    let count = count.max(1);
    let addr = match expr(c, cpu, addr) {
        Ok(a) => a,
        Err(e) => return usage(e),
    };
    let m = &*c.m;
    let read = |a: u64, buf: &mut [u8]| -> bool {
        if phys {
            m.phys_read(a, buf);
            true
        } else {
            m.debug_mem_read_virt(cpu, a, buf) == buf.len()
        }
    };
    let mut out = String::new();
    if format == 'i' {
        let mut a = addr;
        for _ in 0..count {
            let mut raw = [0u8; 4];
            if !read(a, &mut raw[..2]) {
                let _ = writeln!(out, "0x{a:016x}: Cannot access memory");
                break;
            }
            let len = if raw[0] & 3 == 3 { 4 } else { 2 };
            if len == 4 && !read(a + 2, &mut raw[2..]) {
                let _ = writeln!(out, "0x{a:016x}: Cannot access memory");
                break;
            }
            let word = u32::from_le_bytes(raw);
            let bytes = if len == 4 {
                format!("{word:08x}")
            } else {
                format!("{:04x}", word & 0xffff)
            };
            let text = crate::disasm::one(a, word, len as u8);
            let _ = writeln!(out, "0x{a:016x}:  {bytes:<16}  {text}");
            a += len;
        }
        return out;
    }
    // QEMU computes the length before `c` forces byte size.
    let mut len = size as u64 * count;
    if format == 'c' {
        size = 1;
    }
    let line_size: u64 = if size == 1 { 8 } else { 16 };
    let digits = match format {
        'o' => (size * 8).div_ceil(3),
        'x' => size * 2,
        'u' | 'd' => (size * 8 * 10).div_ceil(33),
        _ => 0,
    };
    let mut a = addr;
    while len > 0 {
        let _ = write!(out, "{a:016x}:");
        let l = len.min(line_size) as usize;
        let mut buf = vec![0u8; l];
        if !read(a, &mut buf) {
            out.push_str(" Cannot access memory\n");
            break;
        }
        let mut i = 0;
        while i + size <= l {
            let mut v: u64 = 0;
            for (k, b) in buf[i..i + size].iter().enumerate() {
                v |= (*b as u64) << (8 * k);
            }
            out.push(' ');
            let _ = match format {
                'o' if v == 0 => write!(out, "{:>digits$}", "0"),
                'o' => write!(out, "{:>digits$}", format!("0{v:o}")),
                'x' => write!(out, "0x{v:0digits$x}"),
                'u' => write!(out, "{v:>digits$}"),
                'd' => write!(out, "{:>digits$}", v as i64),
                'c' => write!(out, "{}", printc(v as u8)),
                _ => Ok(()),
            };
            i += size;
        }
        out.push('\n');
        a += l as u64;
        len -= l as u64;
    }
    out
}

fn printc(b: u8) -> String {
    match b {
        b'\'' => "'\\''".into(),
        b'\\' => "'\\\\'".into(),
        b'\n' => "'\\n'".into(),
        b'\r' => "'\\r'".into(),
        0x20..=0x7e => format!("'{}'", b as char),
        _ => format!("'\\x{b:02x}'"),
    }
}
