//! Disassembly through capstone, for traces and the debugger.

use capstone::prelude::*;
use std::cell::RefCell;

thread_local! {
    static CS: RefCell<Option<Capstone>> = const { RefCell::new(None) };
}

fn with_cs<R>(f: impl FnOnce(&Capstone) -> R) -> Option<R> {
    CS.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Capstone::new()
                .riscv()
                .mode(arch::riscv::ArchMode::RiscV64)
                .extra_mode([arch::riscv::ArchExtraMode::RiscVC].into_iter())
                .build()
                .ok();
        }
        c.as_ref().map(f)
    })
}

/// Disassembles the instruction `raw` (of `len` bytes) at `pc` as "mnemonic operands".
pub fn one(pc: u64, raw: u32, len: u8) -> String {
    let bytes = raw.to_le_bytes();
    let bytes = &bytes[..len as usize];
    with_cs(|cs| match cs.disasm_count(bytes, pc, 1) {
        Ok(insns) => match insns.iter().next() {
            Some(i) => format!(
                "{:<8} {}",
                i.mnemonic().unwrap_or("?"),
                i.op_str().unwrap_or("")
            )
            .trim_end()
            .to_string(),
            None => format!(".insn {raw:#x}"),
        },
        Err(_) => format!(".insn {raw:#x}"),
    })
    .unwrap_or_else(|| format!(".insn {raw:#x}"))
}

/// Disassembles a byte buffer starting at `pc`: (address, length, text) per instruction.
pub fn many(pc: u64, bytes: &[u8], max: usize) -> Vec<(u64, usize, String)> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while out.len() < max && off + 2 <= bytes.len() {
        let lo = u16::from_le_bytes([bytes[off], bytes[off + 1]]);
        let len = crate::cpu::decode::insn_len(lo) as usize;
        if off + len > bytes.len() {
            break;
        }
        let mut raw = [0u8; 4];
        raw[..len].copy_from_slice(&bytes[off..off + len]);
        let raw = u32::from_le_bytes(raw);
        out.push((pc + off as u64, len, one(pc + off as u64, raw, len as u8)));
        off += len;
    }
    out
}
