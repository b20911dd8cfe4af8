//! `monitor` commands (gdb's `qRcmd`), on the machine's debug API.
//!
//! Switches that gdb has no packet for live here: physical-memory mode (QEMU's
//! `Qqemu.PhyMemMode`, which gdbstub cannot pass through) and whether single-steps take
//! interrupts (QEMU's `Qqemu.sstep`).

use super::target::Emu;
use crate::cpu::trap::Access;
use crate::machine::debug::Reg;
use crate::machine::Machine;
use gdbstub::target::ext::monitor_cmd::{ConsoleOutput, MonitorCmd};
use std::fmt::Write;

/// One line per command: usage, description. Also the `help` text.
pub const COMMANDS: &[(&str, &str)] = &[
    ("help", "list the monitor commands"),
    (
        "info registers",
        "integer registers, pc and privilege of every hart",
    ),
    (
        "info vmcoreinfo",
        "the guest's vmcoreinfo note (etc/vmcoreinfo): phys_base and every KEY=VALUE",
    ),
    (
        "walk ADDR",
        "page-table walk of ADDR for the current hart, each level's PTE",
    ),
    (
        "x/Ni ADDR",
        "disassemble N instructions at ADDR (ADDR may be $pc)",
    ),
    (
        "phys on|off",
        "gdb memory accesses use physical addresses (on) or the hart's translation",
    ),
    (
        "step-irq on|off",
        "whether single-steps may take pending interrupts (default off)",
    ),
    ("stop", "pause the machine"),
    (
        "cont",
        "resume the machine (gdb still believes it is stopped)",
    ),
    (
        "system_reset",
        "reset the machine (harts, devices, memory images)",
    ),
    (
        "dump-guest-memory",
        "[-p] [-z|-l|-s] [-R] FILE [BEGIN LENGTH]: write an ELF core or kdump file",
    ),
];

fn parse_num(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn on_off(arg: &str) -> Option<bool> {
    match arg.trim() {
        "on" | "1" => Some(true),
        "off" | "0" => Some(false),
        _ => None,
    }
}

/// An address argument: a number, or `$pc`/`pc`.
fn parse_addr(m: &Machine, h: usize, s: &str) -> Option<u64> {
    match s.trim() {
        "$pc" | "pc" => m.debug_reg_read(h, Reg::Pc),
        other => parse_num(other),
    }
}

/// Runs one monitor command for hart `h`; returns its output text.
pub fn run(emu: &mut Emu, cmd: &str) -> String {
    let mut out = String::new();
    let h = emu.cur;
    let cmd = cmd.trim();
    let (word, rest) = cmd.split_once(char::is_whitespace).unwrap_or((cmd, ""));
    let rest = rest.trim();
    match word {
        "help" | "" => {
            for (u, d) in COMMANDS {
                let _ = writeln!(out, "{u:<18}{d}");
            }
        }
        "info" if rest == "registers" => {
            for hart in &emu.m.harts {
                let _ = writeln!(
                    out,
                    "hart {} ({}-mode) pc {:#018x}",
                    hart.id,
                    Machine::prv_name(hart.prv),
                    hart.pc
                );
                for (i, v) in hart.x.iter().enumerate() {
                    let _ = write!(out, "x{i:<2} {v:#018x}");
                    out.push_str(if i % 4 == 3 { "\n" } else { "  " });
                }
            }
        }
        "info" if rest == "vmcoreinfo" => vmcoreinfo(&emu.m, &mut out),
        "walk" => match parse_addr(&emu.m, h, rest) {
            None => out.push_str("usage: walk ADDR\n"),
            Some(va) => walk(&emu.m, h, va, &mut out),
        },
        w if w.starts_with("x/") => {
            let n = w[2..]
                .trim_end_matches('i')
                .parse::<usize>()
                .unwrap_or(1)
                .min(1000);
            match parse_addr(&emu.m, h, rest) {
                None => out.push_str("usage: x/Ni ADDR\n"),
                Some(a) => {
                    let mut buf = vec![0u8; n * 4];
                    let got = emu.m.debug_mem_read(h, a, &mut buf);
                    let list = crate::disasm::many(a, &buf[..got], n);
                    if list.is_empty() {
                        let _ = writeln!(out, "Cannot access memory at {a:#x}");
                    }
                    for (pc, _, text) in list {
                        let _ = writeln!(out, "{pc:#018x}:  {text}");
                    }
                }
            }
        }
        "phys" => match on_off(rest) {
            Some(v) => {
                emu.m.debug.phys = v;
                let _ = writeln!(out, "physical memory mode {}", if v { "on" } else { "off" });
            }
            None => {
                let _ = writeln!(
                    out,
                    "physical memory mode is {}",
                    if emu.m.debug.phys { "on" } else { "off" }
                );
            }
        },
        "step-irq" => match on_off(rest) {
            Some(v) => {
                emu.m.debug.step_irq = v;
                let _ = writeln!(
                    out,
                    "interrupts while stepping {}",
                    if v { "on" } else { "off" }
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "interrupts while stepping are {}",
                    if emu.m.debug.step_irq { "on" } else { "off" }
                );
            }
        },
        "stop" => {
            emu.m.vm_stop(crate::runstate::RunState::Paused);
            out.push_str("stopped\n");
        }
        "cont" => {
            if let Some(o) = emu.m.vm_start() {
                let _ = writeln!(out, "stopped at once: {o:?}");
                emu.m.vm_stop(crate::runstate::RunState::Debug);
            } else if emu.m.running() {
                out.push_str("running\n");
            } else {
                let _ = writeln!(out, "cannot continue in state {}", emu.m.vm.state().name());
            }
        }
        "dump-guest-memory" => out.push_str(&crate::dump::hmp::run(&emu.m, rest)),
        "system_reset" => {
            emu.m
                .vm
                .emit_reset(crate::runstate::ShutdownCause::HostQmpSystemReset);
            emu.m.system_reset();
            out.push_str("reset\n");
        }
        _ => {
            let _ = writeln!(out, "unknown command '{cmd}'; try 'monitor help'");
        }
    }
    out
}

/// `info vmcoreinfo`: the registration and the parsed note, or why there is none.
fn vmcoreinfo(m: &Machine, out: &mut String) {
    if !m.has_vmcoreinfo() {
        out.push_str("vmcoreinfo: the device is off (-machine virt,vmcoreinfo=off)\n");
        return;
    }
    let Some(reg) = m.vmcoreinfo_reg() else {
        out.push_str("vmcoreinfo: the guest has not registered a note\n");
        return;
    };
    let _ = writeln!(
        out,
        "vmcoreinfo: guest_format {} size {} paddr {:#x}",
        reg.guest_format, reg.size, reg.paddr
    );
    match m.vmcoreinfo() {
        Ok(Some(note)) => {
            let _ = writeln!(
                out,
                "note: {} bytes, descriptor {} bytes",
                note.note.len(),
                note.desc_size()
            );
            match note.phys_base {
                Some(b) => {
                    let _ = writeln!(out, "phys_base: {b:#x}");
                }
                None => out.push_str("phys_base: unknown (no NUMBER(phys_ram_base))\n"),
            }
            for (k, v) in &note.keys {
                let _ = writeln!(out, "{k}={v}");
            }
        }
        Ok(None) => out.push_str("vmcoreinfo: the guest has not registered a note\n"),
        Err(w) => {
            let _ = writeln!(out, "vmcoreinfo: the note cannot be used: {w}");
        }
    }
}

fn walk(m: &Machine, h: usize, va: u64, out: &mut String) {
    let Some(hart) = m.harts.get(h) else {
        return;
    };
    let prv = hart.data_prv();
    let mut steps = Vec::new();
    let r = hart.walk(&m.bus.ram, va, Access::Load, prv, Some(&mut steps));
    let _ = writeln!(
        out,
        "hart {} {}-mode satp {:#018x} va {va:#x}",
        hart.id,
        Machine::prv_name(prv),
        hart.csr.satp
    );
    for s in &steps {
        let flags: String = "VRWXUGAD"
            .chars()
            .enumerate()
            .map(|(i, c)| if s.pte >> i & 1 != 0 { c } else { '-' })
            .collect();
        let _ = writeln!(
            out,
            "  level {}: pte @ {:#x} = {:#018x} [{flags}] ppn {:#x}",
            s.level,
            s.pte_addr,
            s.pte,
            (s.pte >> 10) & ((1 << 44) - 1)
        );
    }
    match r {
        Ok(w) if w.leaf.is_none() => {
            let _ = writeln!(out, "  no translation: pa {:#x}", w.pa);
        }
        Ok(w) => {
            let _ = writeln!(out, "  pa {:#x}", w.pa);
        }
        Err(t) => {
            let _ = writeln!(out, "  fault: {}", crate::cpu::trap::cause_name(t.cause));
        }
    }
}

impl MonitorCmd for Emu {
    fn handle_monitor_cmd(
        &mut self,
        cmd: &[u8],
        mut out: ConsoleOutput<'_>,
    ) -> Result<(), &'static str> {
        let text = run(self, &String::from_utf8_lossy(cmd));
        out.write_raw(text.as_bytes());
        Ok(())
    }
}
