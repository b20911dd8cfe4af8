//! Control and status registers.
//!
//! Access checks ([`Hart::csr_check`]: privilege, read-only, counter enables, TVM, FS)
//! are kept apart from semantics ([`Hart::csr_read_raw`], [`Hart::csr_write_raw`]), so the
//! debugger can read and write CSRs through the same semantics without permission checks
//! or traps.

use super::mstatus as ms;
use super::trap::{irq, Trap};
use super::{Hart, PRV_M, PRV_S, PRV_U};

/// CSR numbers.
pub mod addr {
    pub const FFLAGS: u16 = 0x001;
    pub const FRM: u16 = 0x002;
    pub const FCSR: u16 = 0x003;
    pub const CYCLE: u16 = 0xc00;
    pub const TIME: u16 = 0xc01;
    pub const INSTRET: u16 = 0xc02;
    pub const HPMCOUNTER3: u16 = 0xc03;
    pub const HPMCOUNTER31: u16 = 0xc1f;
    pub const SSTATUS: u16 = 0x100;
    pub const SIE: u16 = 0x104;
    pub const STVEC: u16 = 0x105;
    pub const SCOUNTEREN: u16 = 0x106;
    pub const SENVCFG: u16 = 0x10a;
    pub const SSCRATCH: u16 = 0x140;
    pub const SEPC: u16 = 0x141;
    pub const SCAUSE: u16 = 0x142;
    pub const STVAL: u16 = 0x143;
    pub const SIP: u16 = 0x144;
    /// Sstc's supervisor timer compare.
    pub const STIMECMP: u16 = 0x14d;
    pub const SATP: u16 = 0x180;
    pub const MVENDORID: u16 = 0xf11;
    pub const MARCHID: u16 = 0xf12;
    pub const MIMPID: u16 = 0xf13;
    pub const MHARTID: u16 = 0xf14;
    pub const MCONFIGPTR: u16 = 0xf15;
    pub const MSTATUS: u16 = 0x300;
    pub const MISA: u16 = 0x301;
    pub const MEDELEG: u16 = 0x302;
    pub const MIDELEG: u16 = 0x303;
    pub const MIE: u16 = 0x304;
    pub const MTVEC: u16 = 0x305;
    pub const MCOUNTEREN: u16 = 0x306;
    pub const MENVCFG: u16 = 0x30a;
    pub const MCOUNTINHIBIT: u16 = 0x320;
    pub const MHPMEVENT3: u16 = 0x323;
    pub const MHPMEVENT31: u16 = 0x33f;
    pub const MSCRATCH: u16 = 0x340;
    pub const MEPC: u16 = 0x341;
    pub const MCAUSE: u16 = 0x342;
    pub const MTVAL: u16 = 0x343;
    pub const MIP: u16 = 0x344;
    pub const MTINST: u16 = 0x34a;
    pub const PMPCFG0: u16 = 0x3a0;
    pub const PMPCFG15: u16 = 0x3af;
    pub const PMPADDR0: u16 = 0x3b0;
    pub const PMPADDR63: u16 = 0x3ef;
    pub const MSECCFG: u16 = 0x747;
    pub const TSELECT: u16 = 0x7a0;
    pub const TDATA1: u16 = 0x7a1;
    pub const TDATA2: u16 = 0x7a2;
    pub const TDATA3: u16 = 0x7a3;
    pub const TINFO: u16 = 0x7a4;
    pub const MCYCLE: u16 = 0xb00;
    pub const MINSTRET: u16 = 0xb02;
    pub const MHPMCOUNTER3: u16 = 0xb03;
    pub const MHPMCOUNTER31: u16 = 0xb1f;
}

/// Number of PMP entries implemented (as QEMU 7.2).
pub const PMP_ENTRIES: usize = 16;

/// misa: MXL=2 (64-bit), extensions A C D F I M S U.
pub const MISA_VALUE: u64 = (2 << 62)
    | (1 << 0)
    | (1 << 2)
    | (1 << 3)
    | (1 << 5)
    | (1 << 8)
    | (1 << 12)
    | (1 << 18)
    | (1 << 20);

const MSTATUS_WMASK: u64 = ms::SIE
    | ms::MIE
    | ms::SPIE
    | ms::MPIE
    | ms::SPP
    | ms::MPP
    | ms::FS
    | ms::MPRV
    | ms::SUM
    | ms::MXR
    | ms::TVM
    | ms::TW
    | ms::TSR;
const SSTATUS_RMASK: u64 = ms::SIE
    | ms::SPIE
    | ms::UBE
    | ms::SPP
    | ms::VS
    | ms::FS
    | ms::XS
    | ms::SUM
    | ms::MXR
    | ms::UXL
    | ms::SD;
const SSTATUS_WMASK: u64 = ms::SIE | ms::SPIE | ms::SPP | ms::FS | ms::SUM | ms::MXR;
/// Interrupts S-mode can be delegated.
pub const S_INTERRUPTS: u64 = (1 << irq::SSI) | (1 << irq::STI) | (1 << irq::SEI);
const M_INTERRUPTS: u64 = (1 << irq::MSI) | (1 << irq::MTI) | (1 << irq::MEI);
/// Exceptions that medeleg can delegate (all but ecall from M).
const DELEGABLE_EXCEPTIONS: u64 = 0xb3ff;
/// mip bits software may write in M-mode (STIP only while Sstc is off, see
/// [`MENVCFG_STCE`]).
const MIP_WMASK: u64 = S_INTERRUPTS;
/// menvcfg.STCE: Sstc on. stimecmp then drives mip.STIP, which software can no longer
/// write, and S-mode may access stimecmp (when mcounteren.TM allows).
pub const MENVCFG_STCE: u64 = 1 << 63;
/// menvcfg's writable bits: FIOM and STCE.
const MENVCFG_WMASK: u64 = 1 | MENVCFG_STCE;
/// mcounteren.TM (and scounteren.TM): the time counter, and under Sstc stimecmp.
const COUNTEREN_TM: u64 = 1 << (addr::TIME - addr::CYCLE);

/// The CSR storage of one hart.
#[derive(Clone, Debug)]
pub struct Csrs {
    pub mstatus: u64,
    pub medeleg: u64,
    pub mideleg: u64,
    pub mie: u64,
    /// Software-writable pending bits (SSIP, STIP, SEIP). Hardware bits live in `Hart::mip_hw`.
    pub mip: u64,
    pub mtvec: u64,
    pub mcounteren: u64,
    pub menvcfg: u64,
    pub mcountinhibit: u64,
    pub mscratch: u64,
    pub mepc: u64,
    pub mcause: u64,
    pub mtval: u64,
    pub stvec: u64,
    pub scounteren: u64,
    pub senvcfg: u64,
    pub sscratch: u64,
    pub sepc: u64,
    pub scause: u64,
    pub stval: u64,
    pub satp: u64,
    /// Sstc: the hart's supervisor timer interrupt is pending while `time >= stimecmp`
    /// and menvcfg.STCE is set (see `Machine::update_interrupts`).
    pub stimecmp: u64,
    pub pmpcfg: [u8; PMP_ENTRIES],
    pub pmpaddr: [u64; PMP_ENTRIES],
    pub mseccfg: u64,
    pub mhartid: u64,
}

impl Csrs {
    /// Is Sstc on (menvcfg.STCE)?
    #[inline]
    pub fn sstc(&self) -> bool {
        self.menvcfg & MENVCFG_STCE != 0
    }

    /// The tick at which stimecmp makes STIP pending, while Sstc is on.
    #[inline]
    pub fn stimer(&self) -> Option<u64> {
        self.sstc().then_some(self.stimecmp)
    }

    pub fn new(hartid: usize) -> Csrs {
        Csrs {
            // UXL = SXL = 2 (64-bit).
            mstatus: (2 << 32) | (2 << 34),
            medeleg: 0,
            mideleg: 0,
            mie: 0,
            mip: 0,
            mtvec: 0,
            mcounteren: 0,
            menvcfg: 0,
            mcountinhibit: 0,
            mscratch: 0,
            mepc: 0,
            mcause: 0,
            mtval: 0,
            stvec: 0,
            scounteren: 0,
            senvcfg: 0,
            sscratch: 0,
            sepc: 0,
            scause: 0,
            stval: 0,
            satp: 0,
            stimecmp: 0,
            pmpcfg: [0; PMP_ENTRIES],
            pmpaddr: [0; PMP_ENTRIES],
            mseccfg: 0,
            mhartid: hartid as u64,
        }
    }
}

/// The operation of a CSR instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsrOp {
    Write(u64),
    Set(u64),
    Clear(u64),
}

/// What a CSR write changed, so the interpreter knows what to refresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteEffect {
    /// Nothing beyond the register itself.
    None,
    /// Interrupt enables or pending bits changed: re-check interrupts.
    Interrupts,
    /// Translation or protection changed: flush TLBs (and re-check interrupts).
    Translation,
    /// What drives STIP changed (stimecmp, menvcfg.STCE): the machine recomputes
    /// pending bits and timer deadlines before the hart goes on.
    Timer,
}

/// Is `csr` one of the CSRs this hart implements?
pub fn implemented(csr: u16) -> bool {
    use addr::*;
    matches!(
        csr,
        FFLAGS
            | FRM
            | FCSR
            | CYCLE
            | TIME
            | INSTRET
            | HPMCOUNTER3..=HPMCOUNTER31
            | SSTATUS
            | SIE
            | STVEC
            | SCOUNTEREN
            | SENVCFG
            | SSCRATCH
            | SEPC
            | SCAUSE
            | STVAL
            | SIP
            | STIMECMP
            | SATP
            | MVENDORID
            | MARCHID
            | MIMPID
            | MHARTID
            | MCONFIGPTR
            | MSTATUS
            | MISA
            | MEDELEG
            | MIDELEG
            | MIE
            | MTVEC
            | MCOUNTEREN
            | MENVCFG
            | MCOUNTINHIBIT
            | MHPMEVENT3..=MHPMEVENT31
            | MSCRATCH
            | MEPC
            | MCAUSE
            | MTVAL
            | MIP
            | MTINST
            | PMPADDR0..=PMPADDR63
            | MSECCFG
            | TSELECT..=TINFO
            | MCYCLE
            | MINSTRET
            | MHPMCOUNTER3..=MHPMCOUNTER31
    ) || (matches!(csr, PMPCFG0..=PMPCFG15) && csr & 1 == 0)
}

/// GDB's names for the CSRs we implement, in register-number order (regnum = 65 + csr).
pub fn name(csr: u16) -> Option<String> {
    use addr::*;
    let n = match csr {
        FFLAGS => "fflags",
        FRM => "frm",
        FCSR => "fcsr",
        CYCLE => "cycle",
        TIME => "time",
        INSTRET => "instret",
        HPMCOUNTER3..=HPMCOUNTER31 => return Some(format!("hpmcounter{}", csr - 0xc00)),
        SSTATUS => "sstatus",
        SIE => "sie",
        STVEC => "stvec",
        SCOUNTEREN => "scounteren",
        SENVCFG => "senvcfg",
        SSCRATCH => "sscratch",
        SEPC => "sepc",
        SCAUSE => "scause",
        STVAL => "stval",
        SIP => "sip",
        STIMECMP => "stimecmp",
        SATP => "satp",
        MVENDORID => "mvendorid",
        MARCHID => "marchid",
        MIMPID => "mimpid",
        MHARTID => "mhartid",
        MCONFIGPTR => "mconfigptr",
        MSTATUS => "mstatus",
        MISA => "misa",
        MEDELEG => "medeleg",
        MIDELEG => "mideleg",
        MIE => "mie",
        MTVEC => "mtvec",
        MCOUNTEREN => "mcounteren",
        MENVCFG => "menvcfg",
        MCOUNTINHIBIT => "mcountinhibit",
        MHPMEVENT3..=MHPMEVENT31 => return Some(format!("mhpmevent{}", csr - 0x320)),
        MSCRATCH => "mscratch",
        MEPC => "mepc",
        MCAUSE => "mcause",
        MTVAL => "mtval",
        MIP => "mip",
        MTINST => "mtinst",
        PMPCFG0..=PMPCFG15 => return Some(format!("pmpcfg{}", csr - PMPCFG0)),
        PMPADDR0..=PMPADDR63 => return Some(format!("pmpaddr{}", csr - PMPADDR0)),
        MSECCFG => "mseccfg",
        TSELECT => "tselect",
        TDATA1 => "tdata1",
        TDATA2 => "tdata2",
        TDATA3 => "tdata3",
        TINFO => "tinfo",
        MCYCLE => "mcycle",
        MINSTRET => "minstret",
        MHPMCOUNTER3..=MHPMCOUNTER31 => return Some(format!("mhpmcounter{}", csr - 0xb00)),
        _ => return None,
    };
    Some(n.to_string())
}

impl Hart {
    /// Checks that the current privilege may access `csr` (write when `write`).
    pub fn csr_check(&self, csr: u16, write: bool, raw: u32) -> Result<(), Trap> {
        let ill = Trap::illegal(raw);
        if !implemented(csr) {
            return Err(ill);
        }
        let min_prv = ((csr >> 8) & 3) as u8;
        if self.prv < min_prv || (write && (csr >> 10) & 3 == 3) {
            return Err(ill);
        }
        match csr {
            addr::FFLAGS | addr::FRM | addr::FCSR if !self.fs_enabled() => return Err(ill),
            addr::SATP if self.prv == PRV_S && self.csr.mstatus & ms::TVM != 0 => return Err(ill),
            // Below M, stimecmp needs Sstc on (menvcfg.STCE) and mcounteren.TM.
            addr::STIMECMP
                if self.prv < PRV_M
                    && (!self.csr.sstc() || self.csr.mcounteren & COUNTEREN_TM == 0) =>
            {
                return Err(ill)
            }
            addr::CYCLE..=addr::HPMCOUNTER31 => {
                let bit = 1u64 << (csr - addr::CYCLE);
                if (self.prv < PRV_M && self.csr.mcounteren & bit == 0)
                    || (self.prv == PRV_U && self.csr.scounteren & bit == 0)
                {
                    return Err(ill);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Effective mip: software bits plus hardware-driven bits.
    #[inline]
    pub fn mip(&self) -> u64 {
        self.csr.mip | self.mip_hw
    }

    /// Reads a CSR's value without permission checks or side effects.
    pub fn csr_read_raw(&self, csr: u16, time: u64) -> Option<u64> {
        use addr::*;
        let c = &self.csr;
        Some(match csr {
            FFLAGS => self.fflags as u64,
            FRM => self.frm as u64,
            FCSR => ((self.frm << 5) | self.fflags) as u64,
            CYCLE | INSTRET | MCYCLE | MINSTRET => self.retired(),
            TIME => time,
            HPMCOUNTER3..=HPMCOUNTER31
            | MHPMCOUNTER3..=MHPMCOUNTER31
            | MHPMEVENT3..=MHPMEVENT31 => 0,
            SSTATUS => self.mstatus_read() & SSTATUS_RMASK,
            SIE => c.mie & c.mideleg,
            STVEC => c.stvec,
            SCOUNTEREN => c.scounteren,
            SENVCFG => c.senvcfg,
            SSCRATCH => c.sscratch,
            SEPC => c.sepc,
            SCAUSE => c.scause,
            STVAL => c.stval,
            SIP => self.mip() & c.mideleg,
            STIMECMP => c.stimecmp,
            SATP => c.satp,
            MVENDORID | MARCHID | MIMPID | MCONFIGPTR => 0,
            MHARTID => c.mhartid,
            MSTATUS => self.mstatus_read(),
            MISA => MISA_VALUE,
            MEDELEG => c.medeleg,
            MIDELEG => c.mideleg,
            MIE => c.mie,
            MTVEC => c.mtvec,
            MCOUNTEREN => c.mcounteren,
            MENVCFG => c.menvcfg,
            MCOUNTINHIBIT => c.mcountinhibit,
            MSCRATCH => c.mscratch,
            MEPC => c.mepc,
            MCAUSE => c.mcause,
            MTVAL => c.mtval,
            MIP => self.mip(),
            MTINST => 0,
            PMPCFG0..=PMPCFG15 => {
                let first = ((csr - PMPCFG0) as usize) * 4;
                (0..8).fold(0u64, |acc, i| {
                    let v = c.pmpcfg.get(first + i).copied().unwrap_or(0) as u64;
                    acc | (v << (8 * i))
                })
            }
            PMPADDR0..=PMPADDR63 => c
                .pmpaddr
                .get((csr - PMPADDR0) as usize)
                .copied()
                .unwrap_or(0),
            MSECCFG => c.mseccfg,
            // Sdtrig's registers with no triggers: tselect is hard-wired to 0, tdata1
            // says type 0 ("no trigger at this tselect"), tinfo says only type 0 exists.
            // Writes are ignored. (A guest that probes for triggers finds none instead of
            // an illegal instruction, as the ISA tests expect; gdb's breakpoints are
            // haltpoint's own and need no triggers.)
            TSELECT..=TDATA3 => 0,
            TINFO => 1,
            _ => return None,
        })
    }

    fn mstatus_read(&self) -> u64 {
        let m = self.csr.mstatus;
        let dirty = (m & ms::FS) == ms::FS || (m & ms::XS) == ms::XS || (m & ms::VS) == ms::VS;
        if dirty {
            m | ms::SD
        } else {
            m & !ms::SD
        }
    }

    fn mstatus_write(&mut self, v: u64, mask: u64) {
        let mut v = (self.csr.mstatus & !mask) | (v & mask);
        // MPP is WARL: the reserved value 2 keeps the previous mode.
        if (v & ms::MPP) >> ms::MPP_SHIFT == 2 {
            v = (v & !ms::MPP) | (self.csr.mstatus & ms::MPP);
        }
        self.csr.mstatus = v & !ms::SD;
    }

    /// Writes a CSR's value without permission checks (WARL rules still apply).
    pub fn csr_write_raw(&mut self, csr: u16, v: u64) -> WriteEffect {
        use addr::*;
        let c = &mut self.csr;
        match csr {
            FFLAGS => {
                self.fflags = (v & 0x1f) as u32;
                self.set_fs_dirty();
            }
            FRM => {
                self.frm = (v & 7) as u32;
                self.set_fs_dirty();
            }
            FCSR => {
                self.fflags = (v & 0x1f) as u32;
                self.frm = ((v >> 5) & 7) as u32;
                self.set_fs_dirty();
            }
            MCYCLE | MINSTRET => self.set_retired(v),
            MHPMCOUNTER3..=MHPMCOUNTER31 | MHPMEVENT3..=MHPMEVENT31 => {}
            SSTATUS => {
                let old = self.csr.mstatus;
                self.mstatus_write(v, SSTATUS_WMASK);
                return self.mstatus_effect(old);
            }
            SIE => {
                c.mie = (c.mie & !c.mideleg) | (v & c.mideleg);
                return WriteEffect::Interrupts;
            }
            STVEC if v & 3 < 2 => c.stvec = v,
            SCOUNTEREN => c.scounteren = v & 0xffff_ffff,
            SENVCFG => c.senvcfg = v & 1,
            SSCRATCH => c.sscratch = v,
            SEPC => c.sepc = v & !1,
            SCAUSE => c.scause = v,
            STVAL => c.stval = v,
            SIP => {
                let mask = c.mideleg & (1 << irq::SSI);
                c.mip = (c.mip & !mask) | (v & mask);
                return WriteEffect::Interrupts;
            }
            STIMECMP => {
                c.stimecmp = v;
                return WriteEffect::Timer;
            }
            SATP => {
                let mode = v >> 60;
                if matches!(mode, 0 | 8 | 9 | 10) {
                    // ASID is 16 bits; PPN 44 bits.
                    c.satp = v & 0xf000_ffff_ffff_ffff;
                }
                return WriteEffect::Translation;
            }
            MSTATUS => {
                let old = self.csr.mstatus;
                self.mstatus_write(v, MSTATUS_WMASK);
                return self.mstatus_effect(old);
            }
            MISA => {}
            MEDELEG => c.medeleg = v & DELEGABLE_EXCEPTIONS,
            MIDELEG => {
                c.mideleg = v & S_INTERRUPTS;
                return WriteEffect::Interrupts;
            }
            MIE => {
                c.mie = v & (S_INTERRUPTS | M_INTERRUPTS);
                return WriteEffect::Interrupts;
            }
            MTVEC if v & 3 < 2 => c.mtvec = v,
            MCOUNTEREN => c.mcounteren = v & 0xffff_ffff,
            MENVCFG => {
                c.menvcfg = v & MENVCFG_WMASK;
                if c.sstc() {
                    // STIP now follows stimecmp alone.
                    c.mip &= !(1 << irq::STI);
                }
                return WriteEffect::Timer;
            }
            MCOUNTINHIBIT => c.mcountinhibit = v & 0xffff_fffd,
            MSCRATCH => c.mscratch = v,
            MEPC => c.mepc = v & !1,
            MCAUSE => c.mcause = v,
            MTVAL => c.mtval = v,
            MIP => {
                let mut mask = MIP_WMASK;
                if c.sstc() {
                    mask &= !(1 << irq::STI);
                }
                c.mip = (c.mip & !mask) | (v & mask);
                return WriteEffect::Interrupts;
            }
            MTINST => {}
            PMPCFG0..=PMPCFG15 => {
                let first = ((csr - PMPCFG0) as usize) * 4;
                for i in 0..8 {
                    let Some(&old) = self.csr.pmpcfg.get(first + i) else {
                        break;
                    };
                    if self.pmp_locked(first + i) {
                        continue;
                    }
                    let mut b = (v >> (8 * i)) as u8 & 0x9f;
                    // W without R is reserved unless Smepmp's MML is set.
                    if b & 3 == 2 && self.csr.mseccfg & 1 == 0 {
                        b = old;
                    }
                    self.csr.pmpcfg[first + i] = b;
                }
                return WriteEffect::Translation;
            }
            PMPADDR0..=PMPADDR63 => {
                let i = (csr - PMPADDR0) as usize;
                if i < PMP_ENTRIES && !self.pmp_locked(i) && !self.pmp_tor_locked(i) {
                    self.csr.pmpaddr[i] = v & ((1 << 54) - 1);
                }
                return WriteEffect::Translation;
            }
            MSECCFG => {
                // Smepmp: MML and MMWP are sticky; RLB may change only while it is set or
                // while no PMP entry is locked.
                let old = self.csr.mseccfg;
                let any_locked = self.csr.pmpcfg.iter().any(|b| b & 0x80 != 0);
                let rlb = if old & 4 != 0 || !any_locked {
                    v & 4
                } else {
                    old & 4
                };
                self.csr.mseccfg = (old & 3) | (v & 3) | rlb;
                return WriteEffect::Translation;
            }
            _ => {}
        }
        WriteEffect::None
    }

    /// What an mstatus change requires. SUM and the privilege-related bits only select
    /// another TLB set; MXR and MPRV/MPP (when MPRV is set) change what entries mean.
    fn mstatus_effect(&self, old: u64) -> WriteEffect {
        let new = self.csr.mstatus;
        let changed = old ^ new;
        let mprv_mpp = (new | old) & ms::MPRV != 0 && changed & ms::MPP != 0;
        if changed & (ms::MXR | ms::MPRV) != 0 || mprv_mpp {
            WriteEffect::Translation
        } else {
            WriteEffect::Interrupts
        }
    }

    fn pmp_locked(&self, i: usize) -> bool {
        self.csr.pmpcfg[i] & 0x80 != 0 && self.csr.mseccfg & 4 == 0
    }

    /// pmpaddr[i] is also locked when entry i+1 is a locked TOR entry.
    fn pmp_tor_locked(&self, i: usize) -> bool {
        i + 1 < PMP_ENTRIES && self.pmp_locked(i + 1) && (self.csr.pmpcfg[i + 1] >> 3) & 3 == 1
    }

    /// Instructions retired (also the cycle count: one instruction per cycle).
    #[inline]
    pub fn retired(&self) -> u64 {
        self.instret.wrapping_add(self.run_len - self.budget)
    }

    fn set_retired(&mut self, v: u64) {
        // The write is the instruction's result; it counts from the next instruction.
        self.instret = v.wrapping_sub(self.run_len - self.budget);
    }

    /// A CSR instruction: check, read, write. Returns the old value and the write effect.
    ///
    /// `op` is the new value for csrrw, or the mask to set or clear. `writes` says whether
    /// the instruction writes at all: csrrs/csrrc with rs1 = x0 (or uimm = 0) do not, even
    /// on a read-only CSR, while any other rs1 does, even when its value is 0.
    pub fn csr_op(
        &mut self,
        csr: u16,
        op: CsrOp,
        writes: bool,
        raw: u32,
        time: u64,
    ) -> Result<(u64, WriteEffect), Trap> {
        self.csr_check(csr, writes, raw)?;
        let mut old = self.csr_read_raw(csr, time).ok_or(Trap::illegal(raw))?;
        if matches!(
            csr,
            addr::CYCLE | addr::INSTRET | addr::MCYCLE | addr::MINSTRET
        ) {
            // An instruction reads the count of the instructions before it; the budget
            // already counts this one. (A write sets the value the next one reads.)
            old = old.wrapping_sub(1);
        }
        if !writes {
            return Ok((old, WriteEffect::None));
        }
        // A read-modify-write of mip works on the software-writable SEIP bit, not on
        // the value OR-ed with the PLIC's signal (else csrs mip would latch SEIP on).
        let base = if csr == addr::MIP {
            let seip = 1 << irq::SEI;
            (old & !seip) | (self.csr.mip & seip)
        } else {
            old
        };
        let new = match op {
            CsrOp::Write(v) => v,
            CsrOp::Set(m) => base | m,
            CsrOp::Clear(m) => base & !m,
        };
        Ok((old, self.csr_write_raw(csr, new)))
    }

    /// The privilege that loads and stores use (mstatus.MPRV applies MPP in M-mode).
    #[inline]
    pub fn data_prv(&self) -> u8 {
        if self.prv == PRV_M && self.csr.mstatus & ms::MPRV != 0 {
            ((self.csr.mstatus & ms::MPP) >> ms::MPP_SHIFT) as u8
        } else {
            self.prv
        }
    }

    /// Highest-priority pending and enabled interrupt, as its number.
    pub fn pending_interrupt(&self) -> Option<u64> {
        let pending = self.mip() & self.csr.mie;
        if pending == 0 {
            return None;
        }
        let m_enabled = self.prv < PRV_M || self.csr.mstatus & ms::MIE != 0;
        let s_enabled = self.prv < PRV_S || (self.prv == PRV_S && self.csr.mstatus & ms::SIE != 0);
        let m_pending = pending & !self.csr.mideleg;
        let s_pending = pending & self.csr.mideleg;
        let pick = |bits: u64| -> Option<u64> {
            [
                irq::MEI,
                irq::MSI,
                irq::MTI,
                irq::SEI,
                irq::SSI,
                irq::STI,
                irq::LCOFI,
            ]
            .into_iter()
            .find(|&i| bits & (1 << i) != 0)
        };
        if m_enabled && m_pending != 0 {
            return pick(m_pending);
        }
        if s_enabled && s_pending != 0 && self.prv <= PRV_S {
            return pick(s_pending);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrs_mip_does_not_latch_external_seip() {
        let mut h = Hart::new(0);
        h.mip_hw = 1 << irq::SEI; // the PLIC drives SEIP
        let (old, _) = h
            .csr_op(addr::MIP, CsrOp::Set(1 << irq::STI), true, 0, 0)
            .unwrap();
        assert_eq!(
            old & (1 << irq::SEI),
            1 << irq::SEI,
            "reads include the signal"
        );
        h.mip_hw = 0; // the PLIC drops it
        assert_eq!(
            h.mip(),
            1 << irq::STI,
            "SEIP must follow the PLIC, STIP was set"
        );
    }

    #[test]
    fn read_only_csr_write_attempt_traps_even_with_zero() {
        let mut h = Hart::new(0);
        // csrrs a0, mhartid, a1 with a1 = 0: still a write attempt.
        assert!(h
            .csr_op(addr::MHARTID, CsrOp::Set(0), true, 0xf145a573, 0)
            .is_err());
        // csrrs a0, mhartid, zero: a plain read.
        assert_eq!(
            h.csr_op(addr::MHARTID, CsrOp::Set(0), false, 0, 0)
                .unwrap()
                .0,
            0
        );
    }

    #[test]
    fn counters_gated_by_counteren() {
        let mut h = Hart::new(0);
        h.prv = crate::cpu::PRV_U;
        assert!(h.csr_check(addr::TIME, false, 0).is_err());
        h.csr.mcounteren = 2;
        assert!(h.csr_check(addr::TIME, false, 0).is_err());
        h.csr.scounteren = 2;
        assert!(h.csr_check(addr::TIME, false, 0).is_ok());
    }

    #[test]
    fn stimecmp_below_m_needs_stce_and_tm() {
        let mut h = Hart::new(0);
        assert!(
            h.csr_check(addr::STIMECMP, true, 0).is_ok(),
            "M-mode always"
        );
        h.prv = crate::cpu::PRV_S;
        assert!(h.csr_check(addr::STIMECMP, true, 0).is_err(), "STCE off");
        h.csr_write_raw(addr::MENVCFG, MENVCFG_STCE);
        assert!(h.csr_check(addr::STIMECMP, true, 0).is_err(), "TM off");
        h.csr.mcounteren = 2;
        assert!(h.csr_check(addr::STIMECMP, true, 0).is_ok());
        h.prv = crate::cpu::PRV_U;
        assert!(h.csr_check(addr::STIMECMP, false, 0).is_err(), "never U");
    }

    #[test]
    fn stce_takes_stip_from_software() {
        let mut h = Hart::new(0);
        // Sstc off: M-mode software owns STIP (OpenSBI's path without Sstc).
        h.csr_op(addr::MIP, CsrOp::Set(1 << irq::STI), true, 0, 0)
            .unwrap();
        assert_eq!(h.mip(), 1 << irq::STI);
        // Sstc on: the software bit is gone and writes cannot set it again.
        let e = h.csr_write_raw(addr::MENVCFG, MENVCFG_STCE | 1);
        assert_eq!(e, WriteEffect::Timer);
        assert_eq!(h.csr.menvcfg, MENVCFG_STCE | 1);
        assert_eq!(h.mip(), 0);
        h.csr_op(
            addr::MIP,
            CsrOp::Set(1 << irq::STI | 1 << irq::SSI),
            true,
            0,
            0,
        )
        .unwrap();
        assert_eq!(h.mip(), 1 << irq::SSI, "STIP is read-only under Sstc");
        // Other menvcfg bits stay zero.
        h.csr_write_raw(addr::MENVCFG, u64::MAX);
        assert_eq!(h.csr.menvcfg, MENVCFG_STCE | 1);
        assert_eq!(h.csr_write_raw(addr::STIMECMP, 1234), WriteEffect::Timer);
        assert_eq!(h.csr_read_raw(addr::STIMECMP, 0), Some(1234));
    }
}
