//! The RV64GC hart: architectural state and the interpreter loop.
//!
//! - [`decode`] turns instruction bits into a [`decode::Insn`] once; the executor
//!   ([`exec`]), traces and the debugger all use that decoded form.
//! - [`csr`] separates CSR permission checks from CSR semantics.
//! - [`mmu`] holds the software TLBs and the Sv39/48/57 page-table walker.
//! - [`fpu`] implements F and D exactly, with Berkeley SoftFloat.
//! - [`trap`] defines causes; every trap enters through [`Hart::take_trap`].

pub mod csr;
pub mod decode;
pub mod exec;
pub mod fpu;
pub mod icache;
pub mod mmu;
pub mod trap;

use csr::Csrs;
use mmu::Mmu;

/// Privilege levels, encoded as in mstatus.MPP.
pub const PRV_U: u8 = 0;
pub const PRV_S: u8 = 1;
pub const PRV_M: u8 = 3;

/// mstatus bits used throughout the core.
pub mod mstatus {
    pub const SIE: u64 = 1 << 1;
    pub const MIE: u64 = 1 << 3;
    pub const SPIE: u64 = 1 << 5;
    pub const UBE: u64 = 1 << 6;
    pub const MPIE: u64 = 1 << 7;
    pub const SPP: u64 = 1 << 8;
    pub const VS: u64 = 3 << 9;
    pub const MPP_SHIFT: u32 = 11;
    pub const MPP: u64 = 3 << 11;
    pub const FS_SHIFT: u32 = 13;
    pub const FS: u64 = 3 << 13;
    pub const XS: u64 = 3 << 15;
    pub const MPRV: u64 = 1 << 17;
    pub const SUM: u64 = 1 << 18;
    pub const MXR: u64 = 1 << 19;
    pub const TVM: u64 = 1 << 20;
    pub const TW: u64 = 1 << 21;
    pub const TSR: u64 = 1 << 22;
    pub const UXL: u64 = 3 << 32;
    pub const SXL: u64 = 3 << 34;
    pub const SBE: u64 = 1 << 36;
    pub const MBE: u64 = 1 << 37;
    pub const SD: u64 = 1 << 63;
}

/// Why a hart is not executing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HartState {
    /// Executing instructions.
    Running,
    /// Waiting in WFI for an interrupt.
    Wfi,
}

/// One RISC-V hart.
pub struct Hart {
    /// Hart index (mhartid).
    pub id: usize,
    pub x: [u64; 32],
    pub pc: u64,
    /// FP registers as raw bits; single-precision values are NaN-boxed.
    pub f: [u64; 32],
    /// Accrued exception flags (fflags), 5 bits.
    pub fflags: u32,
    /// Dynamic rounding mode (frm), 3 bits.
    pub frm: u32,
    /// Current privilege level (PRV_U, PRV_S or PRV_M).
    pub prv: u8,
    pub csr: Csrs,
    /// Interrupt-pending bits driven by hardware (MSIP, MTIP, MEIP, SEIP, STIP by Sstc).
    pub mip_hw: u64,
    /// Instructions retired.
    pub instret: u64,
    pub state: HartState,
    /// LR/SC reservation: the physical address reserved, if any.
    pub reservation: Option<u64>,
    /// The value loaded by the LR that made the reservation.
    pub reservation_value: u64,
    pub mmu: Mmu,
    /// Steps left in the current run (see [`Hart::retired`]).
    pub budget: u64,
    /// Length of the current run in steps.
    pub run_len: u64,
    /// Machine time (steps) at the start of the current run.
    pub run_start: u64,
    /// Debugger: do not take interrupts (single-stepping with interrupts masked).
    pub debug_noirq: bool,
    /// Debugger: this hart stays stopped while the others run (scheduler locking).
    pub debug_frozen: bool,
    /// Set when the hart changed its translation (satp write, SFENCE.VMA): the machine
    /// re-arms breakpoints through the new mappings. The run ends at such an
    /// instruction anyway, so this costs nothing on the hot path.
    pub remapped: bool,
    /// The flight recorder (`--flight-recorder N`): the last instructions this hart
    /// executed. When on, the hart runs one instruction per loop (the tracing path).
    pub flight: Option<Box<Flight>>,
    /// The last exception (pc, cause, budget left) and how many came in a row at the same
    /// pc with the same cause and nothing executed in between (a trap loop).
    pub trap_repeat: (u64, u64, u64, u32),
    /// Set when the hart entered a trap loop; the event loop reports it once.
    pub trap_loop: bool,
    /// How the last block left by an exception or a stop: what happened, the
    /// instruction, and its pc (written by the threaded handlers, see `exec.rs`).
    pub(crate) block_exit: (trap::Trap, decode::Insn, u64),
    /// The decoded page `run_page` executes from, for the handlers that go on to the
    /// next block of that page themselves. Set and used only while `run_page` runs.
    pub(crate) chain: exec::Chain,
}

/// A ring of the last executed instructions: (pc, raw bits, length, privilege).
#[derive(Clone, Debug)]
pub struct Flight {
    ring: Vec<(u64, u32, u8, u8)>,
    next: usize,
    full: bool,
}

impl Flight {
    pub fn new(n: usize) -> Flight {
        Flight {
            ring: vec![(0, 0, 0, 0); n.max(1)],
            next: 0,
            full: false,
        }
    }

    #[inline]
    pub fn record(&mut self, pc: u64, raw: u32, len: u8, prv: u8) {
        self.ring[self.next] = (pc, raw, len, prv);
        self.next += 1;
        if self.next == self.ring.len() {
            self.next = 0;
            self.full = true;
        }
    }

    /// Oldest first.
    pub fn entries(&self) -> Vec<(u64, u32, u8, u8)> {
        let mut v = Vec::new();
        if self.full {
            v.extend_from_slice(&self.ring[self.next..]);
        }
        v.extend_from_slice(&self.ring[..self.next]);
        v
    }
}

impl Hart {
    pub fn new(id: usize) -> Hart {
        let mut h = Hart {
            id,
            x: [0; 32],
            pc: 0x1000,
            f: [0; 32],
            fflags: 0,
            frm: 0,
            prv: PRV_M,
            csr: Csrs::new(id),
            mip_hw: 0,
            instret: 0,
            state: HartState::Running,
            reservation: None,
            reservation_value: 0,
            mmu: Mmu::new(),
            budget: 0,
            run_len: 0,
            run_start: 0,
            debug_noirq: false,
            debug_frozen: false,
            remapped: false,
            flight: None,
            trap_repeat: (0, 0, 0, 0),
            trap_loop: false,
            block_exit: (trap::Trap::new(0, 0), decode::Insn::UNDECODED, 0),
            chain: exec::Chain::NONE,
        };
        h.reset(0x1000);
        h
    }

    /// Power-on reset: M-mode at `pc`, CSRs at their reset values.
    pub fn reset(&mut self, pc: u64) {
        self.x = [0; 32];
        self.f = [0; 32];
        self.fflags = 0;
        self.frm = 0;
        self.pc = pc;
        self.prv = PRV_M;
        self.csr = Csrs::new(self.id);
        self.mip_hw = 0;
        self.state = HartState::Running;
        self.reservation = None;
        self.mmu.flush_all();
        self.mmu.pmp.clear();
        self.update_tlb_sets();
    }

    /// True when mstatus.FS is not Off (FP instructions are legal).
    #[inline]
    pub fn fs_enabled(&self) -> bool {
        self.csr.mstatus & mstatus::FS != 0
    }

    /// Marks the FP state dirty (mstatus.FS = Dirty).
    #[inline]
    pub fn set_fs_dirty(&mut self) {
        self.csr.mstatus |= mstatus::FS;
    }

    /// Writes integer register `rd` (writes to x0 are discarded).
    #[inline(always)]
    pub fn set_x(&mut self, rd: u8, v: u64) {
        self.x[(rd & 31) as usize] = v;
        self.x[0] = 0;
    }
}
