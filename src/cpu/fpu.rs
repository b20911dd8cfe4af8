//! F and D extensions (placeholder; being written).
use super::decode::Insn;
use super::trap::Trap;
use super::Hart;

#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FpOp {
    Invalid,
}

pub fn decode(_raw: u32) -> Option<FpOp> {
    None
}

pub fn execute(_h: &mut Hart, insn: &Insn) -> Result<(), Trap> {
    Err(Trap::illegal(insn.raw))
}
