//! Kernel symbols for panic detection: from an ELF's symbol table (a `vmlinux` from
//! Debian's `-dbg` package, or the `-kernel` ELF itself) or a `System.map`.
//!
//! haltpoint traps each panic function (by default `__crash_kexec` when the kernel has it,
//! else `panic`; `--panic-symbols` to change the list) with the same native breakpoints gdb uses, so a kernel without pvpanic still
//! raises GUEST_PANICKED and the panic action.
//!
//! Where the trap goes: when the symbol file has the function's code (an ELF vmlinux),
//! right after its prologue, once it has saved `ra` and pointed `s0` at its frame, as
//! gdb's `break FUNCTION` does; else on its first instruction. A stop after the prologue
//! gives frame-pointer unwinders (crash's `bt`) the function's own frame: stopped on the
//! first instruction, `s0` is still the caller's frame and the caller drops out of the
//! backtrace.

use std::collections::BTreeMap;

/// Symbol name → address.
pub type Symbols = BTreeMap<String, u64>;

/// The candidates for the default panic function, in order of preference (their code is
/// read from an ELF `--symbols` so either can be trapped after its prologue).
pub const DEFAULT_PANIC_SYMBOLS: &str = "__crash_kexec,panic";

/// The default panic function for these symbols: `__crash_kexec` when the kernel has one
/// (`CONFIG_CRASH_DUMP`, as Debian's): `panic` calls it after printing its message and
/// backtrace, which is what the crash utility needs for `sys` (PANIC) and `bt` (the
/// panicking task); else `panic` itself.
pub fn default_panic_symbol(syms: &Symbols) -> &'static str {
    if syms.contains_key("__crash_kexec") {
        "__crash_kexec"
    } else {
        "panic"
    }
}

/// The first bytes of functions' code, by address (what [`prologue_end`] needs).
pub type Code = BTreeMap<u64, Vec<u8>>;

/// How many bytes of a function [`load`] keeps for the prologue search.
const CODE_BYTES: usize = 64;

/// Reads symbols from an ELF file or a System.map, and from an ELF the first bytes of
/// the functions named in `code_for` (comma separated), where the file has them.
pub fn load(path: &str, code_for: &str) -> Result<(Symbols, Code), String> {
    let data = std::fs::read(path).map_err(|e| format!("--symbols {path}: {e}"))?;
    if data.starts_with(b"\x7fELF") {
        let elf = goblin::elf::Elf::parse(&data)
            .map_err(|e| format!("--symbols {path}: not a usable ELF: {e}"))?;
        let mut out = Symbols::new();
        for s in elf.syms.iter() {
            if s.st_value == 0 || s.st_type() != goblin::elf::sym::STT_FUNC {
                continue;
            }
            if let Some(n) = elf.strtab.get_at(s.st_name) {
                out.entry(n.to_string()).or_insert(s.st_value);
            }
        }
        if out.is_empty() {
            return Err(format!("--symbols {path}: the ELF has no function symbols"));
        }
        let mut code = Code::new();
        for n in names(code_for) {
            let Some(&a) = out.get(n) else { continue };
            // The section with file contents (SHT_PROGBITS) that holds the address.
            let bytes = elf.section_headers.iter().find_map(|sh| {
                let inside = sh.sh_type == goblin::elf::section_header::SHT_PROGBITS
                    && a >= sh.sh_addr
                    && a - sh.sh_addr < sh.sh_size;
                if !inside {
                    return None;
                }
                let start = (sh.sh_offset + (a - sh.sh_addr)) as usize;
                let end = (sh.sh_offset + sh.sh_size) as usize;
                data.get(start..end.min(start + CODE_BYTES).min(data.len()))
            });
            if let Some(b) = bytes {
                code.insert(a, b.to_vec());
            }
        }
        return Ok((out, code));
    }
    parse_system_map(&String::from_utf8_lossy(&data))
        .map(|s| (s, Code::new()))
        .ok_or_else(|| format!("--symbols {path}: neither an ELF nor a System.map"))
}

fn names(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|n| !n.is_empty())
}

/// The offset, in `code` (a RISC-V function's first bytes), of the first instruction
/// after its prologue: after both the store of `ra` to the stack (`sd ra, N(sp)`, or
/// `c.sdsp`) and the frame pointer's setup (`addi s0, sp, N`, `c.addi4spn s0, sp, N` or
/// `c.mv s0, sp`), whichever comes last. None when a jump, branch or system instruction
/// comes first (the stop then belongs on the first instruction, which always runs), or
/// the bytes end.
pub fn prologue_end(code: &[u8]) -> Option<u64> {
    let (mut ra_saved, mut fp_set) = (false, false);
    let mut at = 0usize;
    while at + 2 <= code.len() {
        let lo = u16::from_le_bytes([code[at], code[at + 1]]) as u32;
        let len = if lo & 3 == 3 { 4 } else { 2 };
        if at + len > code.len() {
            return None;
        }
        if len == 2 {
            let (quadrant, funct3) = (lo & 3, lo >> 13);
            let rd = (lo >> 7) & 31;
            let rs2 = (lo >> 2) & 31;
            match (quadrant, funct3) {
                // c.addi4spn rd', sp, nzuimm with rd' = s0 (x8).
                (0, 0) if (lo >> 2) & 7 == 0 && lo >> 5 != 0 => fp_set = true,
                // c.j, c.beqz, c.bnez.
                (1, 5..=7) => return None,
                // c.sdsp ra.
                (2, 7) if rs2 == 1 => ra_saved = true,
                (2, 4) => {
                    let bit12 = (lo >> 12) & 1;
                    match (bit12, rd, rs2) {
                        // c.jr, c.jalr, c.ebreak.
                        (_, _, 0) => return None,
                        // c.mv s0, sp.
                        (0, 8, 2) => fp_set = true,
                        _ => {}
                    }
                }
                _ => {}
            }
        } else {
            let w = u32::from_le_bytes([code[at], code[at + 1], code[at + 2], code[at + 3]]);
            let (opcode, rd, funct3) = (w & 0x7f, (w >> 7) & 31, (w >> 12) & 7);
            let (rs1, rs2) = ((w >> 15) & 31, (w >> 20) & 31);
            match opcode {
                // Branches, jal, jalr, system (ecall, ebreak, CSRs).
                0x63 | 0x6f | 0x67 | 0x73 => return None,
                // addi s0, sp, imm
                0x13 if funct3 == 0 && rd == 8 && rs1 == 2 => fp_set = true,
                // sd ra, imm(sp)
                0x23 if funct3 == 3 && rs1 == 2 && rs2 == 1 => ra_saved = true,
                _ => {}
            }
        }
        at += len;
        if ra_saved && fp_set {
            return Some(at as u64);
        }
    }
    None
}

/// Parses `ADDRESS TYPE NAME` lines; None when no line has that shape.
pub fn parse_system_map(text: &str) -> Option<Symbols> {
    let mut out = Symbols::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(a), Some(t), Some(n)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(a, 16) else {
            continue;
        };
        if t.len() == 1 && matches!(t, "T" | "t" | "W" | "w") && addr != 0 {
            out.entry(n.to_string()).or_insert(addr);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The panic traps for `list` (comma separated) found in `syms`, and the names that
/// were not found. A trap goes after the function's prologue when `code` has its first
/// bytes and [`prologue_end`] finds the end, else on its first instruction.
pub fn panic_traps(
    syms: &Symbols,
    list: &str,
    code: &Code,
) -> (BTreeMap<u64, String>, Vec<String>) {
    let mut traps = BTreeMap::new();
    let mut missing = Vec::new();
    for n in names(list) {
        match syms.get(n) {
            Some(&a) => {
                let skip = code.get(&a).and_then(|c| prologue_end(c)).unwrap_or(0);
                traps.insert(a + skip, n.to_string());
            }
            None => missing.push(n.to_string()),
        }
    }
    (traps, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_prefers_crash_kexec() {
        let mut m = Symbols::new();
        m.insert("panic".into(), 0x1000);
        assert_eq!(default_panic_symbol(&m), "panic");
        m.insert("__crash_kexec".into(), 0x2000);
        assert_eq!(default_panic_symbol(&m), "__crash_kexec");
    }

    #[test]
    fn system_map() {
        let m = parse_system_map(
            "ffffffff80000000 T _start\nffffffff80a0b0c0 T panic\nffffffff81000000 D data\n\
             0000000000000000 A zero\ngarbage line\n",
        )
        .unwrap();
        assert_eq!(m.get("panic"), Some(&0xffffffff80a0b0c0));
        assert!(!m.contains_key("data"), "data symbols are not code");
        let (t, missing) = panic_traps(&m, "panic, vpanic", &Code::new());
        assert_eq!(
            t.get(&0xffffffff80a0b0c0).map(String::as_str),
            Some("panic")
        );
        assert_eq!(missing, ["vpanic"]);
        // Debian's stub System.map has nothing usable.
        assert!(parse_system_map(
            "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n"
        )
        .is_none());
    }

    /// Debian 6.12.107's `__crash_kexec`: four c.nop (ftrace), c.addi16sp sp, -336,
    /// c.sdsp s0, c.sdsp ra, c.addi4spn s0, sp, 336, then the body.
    const CRASH_KEXEC: [u8; 24] = [
        0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x4d, 0x71, 0xa2, 0xe2, 0x86, 0xe6, 0x80,
        0x0a, 0x83, 0x37, 0x82, 0x57, 0x23, 0x3c, 0xf4, 0xfc,
    ];
    /// Debian 6.12.107's `panic`: the frame pointer is set (+14) before `ra` is saved
    /// (+18): the stop goes after the later one.
    const PANIC: [u8; 32] = [
        0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x75, 0x71, 0xa2, 0xe0, 0x26, 0xfc, 0x80,
        0x08, 0x4a, 0xf8, 0x86, 0xe4, 0x4e, 0xf4, 0x52, 0xf0, 0x56, 0xec, 0x5a, 0xe8, 0x17, 0xe3,
        0x35, 0x01,
    ];

    #[test]
    fn prologue_end_of_real_kernel_functions() {
        assert_eq!(prologue_end(&CRASH_KEXEC), Some(16));
        assert_eq!(prologue_end(&PANIC), Some(20));
        // The same prologues in 32-bit encodings: addi sp, sp, -32; sd ra, 24(sp);
        // sd s0, 16(sp); addi s0, sp, 32.
        let wide: Vec<u8> = [0xfe010113u32, 0x00113c23, 0x00813823, 0x02010413]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        assert_eq!(prologue_end(&wide), Some(16));
        // c.mv s0, sp counts as the frame pointer's setup.
        assert_eq!(prologue_end(&[0x06, 0xe4, 0x0a, 0x84, 0x01, 0x00]), Some(4));
    }

    #[test]
    fn no_prologue_means_the_first_instruction() {
        // tests/guests/panic_sym.S: la a0, msg (auipc, addi); call uart_puts (auipc, jalr).
        let call: Vec<u8> = [0x00000517u32, 0x00050513, 0x00000097, 0x000080e7]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        assert_eq!(prologue_end(&call), None);
        // A leaf: c.addi16sp; c.sdsp s0; c.addi4spn s0; ret (no ra saved).
        assert_eq!(
            prologue_end(&[0x41, 0x11, 0x22, 0xe4, 0x00, 0x08, 0x82, 0x80]),
            None
        );
        // ra saved, then a branch before the frame pointer: entry.
        assert_eq!(prologue_end(&[0x06, 0xe4, 0x01, 0xc1, 0x00, 0x08]), None);
        // Cut short in the middle of a 32-bit instruction, or empty.
        assert_eq!(prologue_end(&CRASH_KEXEC[..15]), None);
        assert_eq!(prologue_end(&[]), None);
        // The traps themselves: after the prologue with code, at the symbol without.
        let syms: Symbols = [("panic".to_string(), 0x1000u64)].into_iter().collect();
        let code: Code = [(0x1000u64, PANIC.to_vec())].into_iter().collect();
        let (t, _) = panic_traps(&syms, "panic", &code);
        assert_eq!(t.keys().copied().collect::<Vec<_>>(), [0x1014]);
        let (t, _) = panic_traps(&syms, "panic", &Code::new());
        assert_eq!(t.keys().copied().collect::<Vec<_>>(), [0x1000]);
    }
}
