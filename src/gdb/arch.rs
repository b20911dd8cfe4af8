//! Our own `gdbstub` [`Arch`] for RV64GC.
//!
//! `gdbstub_arch`'s `Riscv64` is integer-only, and GDB refuses an lp64d binary against
//! a target without FP registers ("bfd requires flen 8, but target has flen 0"). This
//! architecture describes, in one target description:
//!
//! | feature | registers | GDB regnums |
//! |---|---|---|
//! | `org.gnu.gdb.riscv.cpu` | x0..x31, pc | 0..32 |
//! | `org.gnu.gdb.riscv.fpu` | f0..f31 (64-bit), fflags, frm, fcsr | 33..64, 66, 67, 68 |
//! | `org.gnu.gdb.riscv.virtual` | priv | 4161 |
//! | `org.gnu.gdb.riscv.csr` | every other implemented CSR | 65 + CSR number |
//!
//! The register list is defined once, by [`reg_of`] and the CSR table in `cpu::csr`;
//! the `g` packet carries x0..x31 and pc, GDB fetches the rest with `p`.

use crate::cpu::csr::{self, addr};
use crate::machine::debug::Reg;
use gdbstub::arch::{Arch, RegId, Registers};
use std::fmt::Write;
use std::num::NonZeroUsize;
use std::sync::OnceLock;

/// GDB's regnum of the first CSR (`regnum = CSR_BASE + csr`).
pub const CSR_BASE: usize = 65;
/// GDB's regnum of the virtual `priv` register.
pub const PRIV_REGNUM: usize = 4161;

/// ABI names GDB's own target descriptions use.
const XNAMES: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
];
const FNAMES: [&str; 32] = [
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
];

/// The machine register behind GDB regnum `n`, with its size in bytes.
pub fn reg_of(n: usize) -> Option<(Reg, usize)> {
    Some(match n {
        0..=31 => (Reg::X(n as u8), 8),
        32 => (Reg::Pc, 8),
        33..=64 => (Reg::F((n - 33) as u8), 8),
        PRIV_REGNUM => (Reg::Priv, 8),
        _ => {
            let c = u16::try_from(n.checked_sub(CSR_BASE)?).ok()?;
            if c > 0xfff || !csr::implemented(c) {
                return None;
            }
            let size = if matches!(c, addr::FFLAGS | addr::FRM | addr::FCSR) {
                4
            } else {
                8
            };
            (Reg::Csr(c), size)
        }
    })
}

/// The target description XML (built once).
pub fn target_xml() -> &'static str {
    static XML: OnceLock<String> = OnceLock::new();
    XML.get_or_init(|| {
        let mut s = String::new();
        s.push_str("<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n<architecture>riscv:rv64</architecture>\n<osabi>none</osabi>\n");
        s.push_str("<feature name=\"org.gnu.gdb.riscv.cpu\">\n");
        for (i, n) in XNAMES.iter().enumerate() {
            let ty = match i {
                1 => "code_ptr",
                2 | 3 | 8 => "data_ptr",
                _ => "int",
            };
            let _ = writeln!(s, "<reg name=\"{n}\" bitsize=\"64\" type=\"{ty}\" regnum=\"{i}\"/>");
        }
        s.push_str("<reg name=\"pc\" bitsize=\"64\" type=\"code_ptr\" regnum=\"32\"/>\n</feature>\n");
        s.push_str("<feature name=\"org.gnu.gdb.riscv.fpu\">\n<union id=\"riscv_double\"><field name=\"float\" type=\"ieee_single\"/><field name=\"double\" type=\"ieee_double\"/></union>\n");
        for (i, n) in FNAMES.iter().enumerate() {
            let _ = writeln!(
                s,
                "<reg name=\"{n}\" bitsize=\"64\" type=\"riscv_double\" regnum=\"{}\"/>",
                33 + i
            );
        }
        for (c, n) in [(addr::FFLAGS, "fflags"), (addr::FRM, "frm"), (addr::FCSR, "fcsr")] {
            let _ = writeln!(
                s,
                "<reg name=\"{n}\" bitsize=\"32\" type=\"int\" regnum=\"{}\"/>",
                CSR_BASE + c as usize
            );
        }
        s.push_str("</feature>\n<feature name=\"org.gnu.gdb.riscv.virtual\">\n");
        let _ = writeln!(
            s,
            "<reg name=\"priv\" bitsize=\"64\" type=\"int\" regnum=\"{PRIV_REGNUM}\"/>"
        );
        s.push_str("</feature>\n<feature name=\"org.gnu.gdb.riscv.csr\">\n");
        for c in 0..=0xfffu16 {
            if matches!(c, addr::FFLAGS | addr::FRM | addr::FCSR) || !csr::implemented(c) {
                continue;
            }
            if let Some(n) = csr::name(c) {
                let _ = writeln!(
                    s,
                    "<reg name=\"{n}\" bitsize=\"64\" type=\"int\" regnum=\"{}\" group=\"csr\"/>",
                    CSR_BASE + c as usize
                );
            }
        }
        s.push_str("</feature>\n</target>\n");
        s
    })
}

/// How many registers the `g` packet carries (regnums 0..G_REGS).
pub const G_REGS: usize = 33;

/// The registers of the `g` packet: x0..x31 and pc.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rv64Regs {
    pub x: [u64; 32],
    pub pc: u64,
}

impl Registers for Rv64Regs {
    type ProgramCounter = u64;

    fn pc(&self) -> u64 {
        self.pc
    }

    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        for v in self.x.iter().chain(std::iter::once(&self.pc)) {
            for b in v.to_le_bytes() {
                write_byte(Some(b));
            }
        }
    }

    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        if bytes.len() < G_REGS * 8 {
            return Err(());
        }
        let mut words = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()));
        for x in self.x.iter_mut() {
            *x = words.next().ok_or(())?;
        }
        self.pc = words.next().ok_or(())?;
        Ok(())
    }
}

/// A register id: the GDB regnum, checked against [`reg_of`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rv64RegId(pub usize);

impl RegId for Rv64RegId {
    fn from_raw_id(id: usize) -> Option<(Self, Option<NonZeroUsize>)> {
        let (_, size) = reg_of(id)?;
        Some((Rv64RegId(id), NonZeroUsize::new(size)))
    }

    fn to_raw_id(&self) -> Option<usize> {
        Some(self.0)
    }
}

/// RV64GC with FP registers, CSRs and the privilege level.
pub enum Rv64 {}

impl Arch for Rv64 {
    type Usize = u64;
    type Registers = Rv64Regs;
    type BreakpointKind = usize;
    type RegId = Rv64RegId;

    fn target_description_xml() -> Option<&'static str> {
        Some(target_xml())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regnums() {
        assert_eq!(reg_of(0), Some((Reg::X(0), 8)));
        assert_eq!(reg_of(32), Some((Reg::Pc, 8)));
        assert_eq!(reg_of(34), Some((Reg::F(1), 8)));
        assert_eq!(reg_of(66), Some((Reg::Csr(addr::FFLAGS), 4)));
        assert_eq!(reg_of(65 + 0x300), Some((Reg::Csr(addr::MSTATUS), 8)));
        assert_eq!(reg_of(PRIV_REGNUM), Some((Reg::Priv, 8)));
        assert_eq!(reg_of(65 + 0x7c0), None);
        assert_eq!(reg_of(usize::MAX), None);
    }

    #[test]
    fn xml_has_features() {
        let x = target_xml();
        for f in ["riscv.cpu", "riscv.fpu", "riscv.virtual", "riscv.csr"] {
            assert!(x.contains(f), "{f}");
        }
        assert!(x.contains("name=\"mstatus\" bitsize=\"64\" type=\"int\" regnum=\"833\""));
        assert_eq!(x.matches("name=\"fflags\"").count(), 1);
        // After <architecture>, before the features (gdb-target.dtd's order).
        assert!(x.contains("</architecture>\n<osabi>none</osabi>\n<feature"));
    }
}
