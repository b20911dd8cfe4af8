//! Exceptions and interrupt causes.
//!
//! A synchronous exception travels as a [`Trap`] value through `Result`, out of the
//! instruction that raised it, to the single trap-entry path in [`super::Hart::take_trap`].

/// Exception cause codes (mcause with the interrupt bit clear).
pub mod cause {
    pub const INSN_MISALIGNED: u64 = 0;
    pub const INSN_ACCESS: u64 = 1;
    pub const ILLEGAL_INSN: u64 = 2;
    pub const BREAKPOINT: u64 = 3;
    pub const LOAD_MISALIGNED: u64 = 4;
    pub const LOAD_ACCESS: u64 = 5;
    pub const STORE_MISALIGNED: u64 = 6;
    pub const STORE_ACCESS: u64 = 7;
    pub const ECALL_U: u64 = 8;
    pub const ECALL_S: u64 = 9;
    pub const ECALL_M: u64 = 11;
    pub const INSN_PAGE: u64 = 12;
    pub const LOAD_PAGE: u64 = 13;
    pub const STORE_PAGE: u64 = 15;
}

/// Interrupt numbers (bit positions in mip/mie).
pub mod irq {
    pub const SSI: u64 = 1;
    pub const MSI: u64 = 3;
    pub const STI: u64 = 5;
    pub const MTI: u64 = 7;
    pub const SEI: u64 = 9;
    pub const MEI: u64 = 11;
    pub const LCOFI: u64 = 13;
}

pub const INTERRUPT_BIT: u64 = 1 << 63;

/// A synchronous exception: cause code and the value for xtval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trap {
    pub cause: u64,
    pub tval: u64,
}

impl Trap {
    #[inline]
    pub const fn new(cause: u64, tval: u64) -> Trap {
        Trap { cause, tval }
    }
    #[inline]
    pub const fn illegal(raw: u32) -> Trap {
        Trap::new(cause::ILLEGAL_INSN, raw as u64)
    }
}

/// The kind of memory access, for translation, PMP and fault causes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Fetch = 0,
    Load = 1,
    Store = 2,
}

impl Access {
    pub const fn page_fault(self) -> u64 {
        match self {
            Access::Fetch => cause::INSN_PAGE,
            Access::Load => cause::LOAD_PAGE,
            Access::Store => cause::STORE_PAGE,
        }
    }
    pub const fn access_fault(self) -> u64 {
        match self {
            Access::Fetch => cause::INSN_ACCESS,
            Access::Load => cause::LOAD_ACCESS,
            Access::Store => cause::STORE_ACCESS,
        }
    }
    pub const fn misaligned(self) -> u64 {
        match self {
            Access::Fetch => cause::INSN_MISALIGNED,
            Access::Load => cause::LOAD_MISALIGNED,
            Access::Store => cause::STORE_MISALIGNED,
        }
    }
}

/// Human-readable name of an mcause/scause value.
pub fn cause_name(mcause: u64) -> &'static str {
    if mcause & INTERRUPT_BIT != 0 {
        match mcause & !INTERRUPT_BIT {
            1 => "supervisor software interrupt",
            3 => "machine software interrupt",
            5 => "supervisor timer interrupt",
            7 => "machine timer interrupt",
            9 => "supervisor external interrupt",
            11 => "machine external interrupt",
            13 => "counter overflow interrupt",
            _ => "reserved interrupt",
        }
    } else {
        match mcause {
            0 => "instruction address misaligned",
            1 => "instruction access fault",
            2 => "illegal instruction",
            3 => "breakpoint",
            4 => "load address misaligned",
            5 => "load access fault",
            6 => "store/AMO address misaligned",
            7 => "store/AMO access fault",
            8 => "environment call from U-mode",
            9 => "environment call from S-mode",
            11 => "environment call from M-mode",
            12 => "instruction page fault",
            13 => "load page fault",
            15 => "store/AMO page fault",
            _ => "reserved exception",
        }
    }
}
