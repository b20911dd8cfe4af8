//! The F and D extensions: RV64F/RV64D arithmetic, conversions, comparisons and moves.
//!
//! FP loads and stores (`flw`/`fld`/`fsw`/`fsd`) are memory operations and live in the
//! executor; everything under the major opcodes MADD, MSUB, NMSUB, NMADD and OP-FP is
//! decoded by [`decode`] into an [`FpOp`] and carried out by [`execute`].
//!
//! # Exactness
//!
//! Arithmetic goes through Berkeley SoftFloat 3 (`softfloat-wrapper`, built with the
//! RISC-V specialisation): results are correctly rounded in all five rounding modes, any
//! NaN result is the canonical NaN (`0x7fc00000` / `0x7ff8000000000000`), tininess is
//! detected after rounding, and out-of-range conversions to integers saturate as the
//! RISC-V spec's table says (NaN converts to the largest positive value). Host floats
//! are never used: they get NaN payloads, flags and rounding modes wrong.
//!
//! The operations whose results are fully specified bit manipulations — sign injection,
//! moves, `fclass`, `fmin`/`fmax` — are done on the bits here.
//!
//! # SoftFloat's global state
//!
//! SoftFloat keeps the rounding mode and the accrued exception flags in C globals. The
//! `softfloat-sys` build declares them `_Thread_local`, so each host thread has its own.
//! Every operation here runs inside [`softfloat`], which clears the flags, runs the
//! operation (each wrapper call sets the rounding mode it is given first) and then reads
//! the flags back; a hart is interpreted on one thread, one instruction at a time, so
//! nothing can run between those steps.
//!
//! # Register file conventions
//!
//! `Hart::f` holds raw 64-bit patterns. A single-precision operand is read through the
//! NaN-boxing check: unless the upper 32 bits are all ones, the value is the canonical
//! NaN. A single-precision result is written boxed (`0xffff_ffff_0000_0000 | bits`).
//! The transfer instruction `fmv.x.w` reads the low 32 bits unchecked, as the spec
//! requires.
//!
//! # Rounding modes
//!
//! Instructions with a rounding-mode field ([`FpOp::uses_rm`]) take it from funct3:
//! 0–4 are static (RNE, RTZ, RDN, RUP, RMM), 7 selects `frm`. The reserved values 5 and
//! 6 are rejected by [`decode`]; a dynamic mode with `frm` ≥ 5 is an illegal instruction
//! when executed. The conversions that can never round (`fcvt.d.s`, `fcvt.d.w`,
//! `fcvt.d.wu`) still have the field and check it, as Spike and QEMU do.
//!
//! # State updates
//!
//! Accrued flags are OR-ed into `fflags`. `mstatus.FS` becomes Dirty whenever an `f`
//! register is written or `fflags` gains a flag; an instruction that writes only an
//! integer register and raises nothing (say `feq.s` on ordinary numbers) leaves FS alone.
//! When an instruction traps, no state has been changed.

use softfloat_wrapper::{ExceptionFlags, Float, RoundingMode, F32, F64};

use super::decode::Insn;
use super::trap::Trap;
use super::Hart;

/// Floating-point operations. `S` is single precision (F), `D` double precision (D).
///
/// Operands are in [`Insn`]: `rd`, `rs1`, `rs2`, `rs3` (fused multiply-add only) and
/// `rm` (the rounding-mode field, meaningful only where [`FpOp::uses_rm`] holds).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FpOp {
    /// Not a floating-point operation (the value in non-FP [`Insn`]s).
    Invalid,
    /// rd = rs1 × rs2 + rs3, one rounding.
    FmaddS,
    /// rd = rs1 × rs2 − rs3, one rounding.
    FmsubS,
    /// rd = −(rs1 × rs2) + rs3, one rounding.
    FnmsubS,
    /// rd = −(rs1 × rs2) − rs3, one rounding.
    FnmaddS,
    FmaddD,
    FmsubD,
    FnmsubD,
    FnmaddD,
    FaddS,
    FsubS,
    FmulS,
    FdivS,
    FsqrtS,
    FaddD,
    FsubD,
    FmulD,
    FdivD,
    FsqrtD,
    FsgnjS,
    FsgnjnS,
    FsgnjxS,
    FsgnjD,
    FsgnjnD,
    FsgnjxD,
    FminS,
    FmaxS,
    FminD,
    FmaxD,
    /// Double to single (rounds).
    FcvtSD,
    /// Single to double (exact).
    FcvtDS,
    FeqS,
    FltS,
    FleS,
    FeqD,
    FltD,
    FleD,
    FclassS,
    FclassD,
    FcvtWS,
    FcvtWuS,
    FcvtLS,
    FcvtLuS,
    FcvtWD,
    FcvtWuD,
    FcvtLD,
    FcvtLuD,
    FcvtSW,
    FcvtSWu,
    FcvtSL,
    FcvtSLu,
    FcvtDW,
    FcvtDWu,
    FcvtDL,
    FcvtDLu,
    FmvXW,
    FmvWX,
    FmvXD,
    FmvDX,
}

impl FpOp {
    /// True when funct3 of the instruction is a rounding mode (rather than part of the
    /// opcode, as for sign injection, min/max, comparisons, `fclass` and moves).
    pub fn uses_rm(self) -> bool {
        use FpOp::*;
        !matches!(
            self,
            Invalid
                | FsgnjS
                | FsgnjnS
                | FsgnjxS
                | FsgnjD
                | FsgnjnD
                | FsgnjxD
                | FminS
                | FmaxS
                | FminD
                | FmaxD
                | FeqS
                | FltS
                | FleS
                | FeqD
                | FltD
                | FleD
                | FclassS
                | FclassD
                | FmvXW
                | FmvWX
                | FmvXD
                | FmvDX
        )
    }

    /// The assembler mnemonic.
    pub fn mnemonic(self) -> &'static str {
        use FpOp::*;
        match self {
            Invalid => "invalid",
            FmaddS => "fmadd.s",
            FmsubS => "fmsub.s",
            FnmsubS => "fnmsub.s",
            FnmaddS => "fnmadd.s",
            FmaddD => "fmadd.d",
            FmsubD => "fmsub.d",
            FnmsubD => "fnmsub.d",
            FnmaddD => "fnmadd.d",
            FaddS => "fadd.s",
            FsubS => "fsub.s",
            FmulS => "fmul.s",
            FdivS => "fdiv.s",
            FsqrtS => "fsqrt.s",
            FaddD => "fadd.d",
            FsubD => "fsub.d",
            FmulD => "fmul.d",
            FdivD => "fdiv.d",
            FsqrtD => "fsqrt.d",
            FsgnjS => "fsgnj.s",
            FsgnjnS => "fsgnjn.s",
            FsgnjxS => "fsgnjx.s",
            FsgnjD => "fsgnj.d",
            FsgnjnD => "fsgnjn.d",
            FsgnjxD => "fsgnjx.d",
            FminS => "fmin.s",
            FmaxS => "fmax.s",
            FminD => "fmin.d",
            FmaxD => "fmax.d",
            FcvtSD => "fcvt.s.d",
            FcvtDS => "fcvt.d.s",
            FeqS => "feq.s",
            FltS => "flt.s",
            FleS => "fle.s",
            FeqD => "feq.d",
            FltD => "flt.d",
            FleD => "fle.d",
            FclassS => "fclass.s",
            FclassD => "fclass.d",
            FcvtWS => "fcvt.w.s",
            FcvtWuS => "fcvt.wu.s",
            FcvtLS => "fcvt.l.s",
            FcvtLuS => "fcvt.lu.s",
            FcvtWD => "fcvt.w.d",
            FcvtWuD => "fcvt.wu.d",
            FcvtLD => "fcvt.l.d",
            FcvtLuD => "fcvt.lu.d",
            FcvtSW => "fcvt.s.w",
            FcvtSWu => "fcvt.s.wu",
            FcvtSL => "fcvt.s.l",
            FcvtSLu => "fcvt.s.lu",
            FcvtDW => "fcvt.d.w",
            FcvtDWu => "fcvt.d.wu",
            FcvtDL => "fcvt.d.l",
            FcvtDLu => "fcvt.d.lu",
            FmvXW => "fmv.x.w",
            FmvWX => "fmv.w.x",
            FmvXD => "fmv.x.d",
            FmvDX => "fmv.d.x",
        }
    }
}

/// Decodes an instruction of the major opcodes 0x43, 0x47, 0x4b, 0x4f (fused
/// multiply-add) and 0x53 (OP-FP). `None` means an illegal instruction: another opcode,
/// a format other than S or D, a reserved funct3 or rs2, or the reserved rounding modes
/// 5 and 6.
pub fn decode(raw: u32) -> Option<FpOp> {
    use FpOp::*;
    let rs2 = (raw >> 20) & 0x1f;
    let f3 = (raw >> 12) & 7;
    let f7 = raw >> 25;
    let op = match raw & 0x7f {
        0x43 | 0x47 | 0x4b | 0x4f => {
            // R4-type: bits 26..25 are the format, 0 = S, 1 = D (2 = H, 3 = Q: absent).
            let double = match f7 & 3 {
                0 => false,
                1 => true,
                _ => return None,
            };
            match (raw & 0x7f, double) {
                (0x43, false) => FmaddS,
                (0x47, false) => FmsubS,
                (0x4b, false) => FnmsubS,
                (0x4f, false) => FnmaddS,
                (0x43, true) => FmaddD,
                (0x47, true) => FmsubD,
                (0x4b, true) => FnmsubD,
                _ => FnmaddD,
            }
        }
        0x53 => match (f7, f3, rs2) {
            (0x00, _, _) => FaddS,
            (0x01, _, _) => FaddD,
            (0x04, _, _) => FsubS,
            (0x05, _, _) => FsubD,
            (0x08, _, _) => FmulS,
            (0x09, _, _) => FmulD,
            (0x0c, _, _) => FdivS,
            (0x0d, _, _) => FdivD,
            (0x2c, _, 0) => FsqrtS,
            (0x2d, _, 0) => FsqrtD,
            (0x10, 0, _) => FsgnjS,
            (0x10, 1, _) => FsgnjnS,
            (0x10, 2, _) => FsgnjxS,
            (0x11, 0, _) => FsgnjD,
            (0x11, 1, _) => FsgnjnD,
            (0x11, 2, _) => FsgnjxD,
            (0x14, 0, _) => FminS,
            (0x14, 1, _) => FmaxS,
            (0x15, 0, _) => FminD,
            (0x15, 1, _) => FmaxD,
            (0x20, _, 1) => FcvtSD,
            (0x21, _, 0) => FcvtDS,
            (0x50, 2, _) => FeqS,
            (0x50, 1, _) => FltS,
            (0x50, 0, _) => FleS,
            (0x51, 2, _) => FeqD,
            (0x51, 1, _) => FltD,
            (0x51, 0, _) => FleD,
            (0x60, _, 0) => FcvtWS,
            (0x60, _, 1) => FcvtWuS,
            (0x60, _, 2) => FcvtLS,
            (0x60, _, 3) => FcvtLuS,
            (0x61, _, 0) => FcvtWD,
            (0x61, _, 1) => FcvtWuD,
            (0x61, _, 2) => FcvtLD,
            (0x61, _, 3) => FcvtLuD,
            (0x68, _, 0) => FcvtSW,
            (0x68, _, 1) => FcvtSWu,
            (0x68, _, 2) => FcvtSL,
            (0x68, _, 3) => FcvtSLu,
            (0x69, _, 0) => FcvtDW,
            (0x69, _, 1) => FcvtDWu,
            (0x69, _, 2) => FcvtDL,
            (0x69, _, 3) => FcvtDLu,
            (0x70, 0, 0) => FmvXW,
            (0x70, 1, 0) => FclassS,
            (0x71, 0, 0) => FmvXD,
            (0x71, 1, 0) => FclassD,
            (0x78, 0, 0) => FmvWX,
            (0x79, 0, 0) => FmvDX,
            _ => return None,
        },
        _ => return None,
    };
    if op.uses_rm() && (f3 == 5 || f3 == 6) {
        return None;
    }
    Some(op)
}

/// Executes a decoded FP instruction on `h`.
///
/// Fails with an illegal-instruction trap (tval = the instruction bits) when
/// `mstatus.FS` is Off or the effective rounding mode is invalid; nothing is changed then.
pub fn execute(h: &mut Hart, insn: Insn) -> Result<(), Trap> {
    let insn = &insn;
    use FpOp::*;
    if !h.fs_enabled() {
        return Err(Trap::illegal(insn.raw()));
    }
    // Evaluated here, but only the operations with a rounding mode apply `?` to it.
    let rm = rounding_mode(insn.rm(), h.frm).ok_or(Trap::illegal(insn.raw()));
    match insn.fp() {
        Invalid => return Err(Trap::illegal(insn.raw())),

        FmaddS => fp3::<F32>(h, insn, rm?, |a, b, c, m| a.fused_mul_add(b, c, m)),
        FmsubS => fp3::<F32>(h, insn, rm?, |a, b, c, m| a.fused_mul_add(b, c.neg(), m)),
        FnmsubS => fp3::<F32>(h, insn, rm?, |a, b, c, m| a.neg().fused_mul_add(b, c, m)),
        FnmaddS => fp3::<F32>(h, insn, rm?, |a, b, c, m| {
            a.neg().fused_mul_add(b, c.neg(), m)
        }),
        FmaddD => fp3::<F64>(h, insn, rm?, |a, b, c, m| a.fused_mul_add(b, c, m)),
        FmsubD => fp3::<F64>(h, insn, rm?, |a, b, c, m| a.fused_mul_add(b, c.neg(), m)),
        FnmsubD => fp3::<F64>(h, insn, rm?, |a, b, c, m| a.neg().fused_mul_add(b, c, m)),
        FnmaddD => fp3::<F64>(h, insn, rm?, |a, b, c, m| {
            a.neg().fused_mul_add(b, c.neg(), m)
        }),

        FaddS => fp2::<F32>(h, insn, rm?, |a, b, m| a.add(b, m)),
        FsubS => fp2::<F32>(h, insn, rm?, |a, b, m| a.sub(b, m)),
        FmulS => fp2::<F32>(h, insn, rm?, |a, b, m| a.mul(b, m)),
        FdivS => fp2::<F32>(h, insn, rm?, |a, b, m| a.div(b, m)),
        FsqrtS => fp1::<F32>(h, insn, rm?, |a, m| a.sqrt(m)),
        FaddD => fp2::<F64>(h, insn, rm?, |a, b, m| a.add(b, m)),
        FsubD => fp2::<F64>(h, insn, rm?, |a, b, m| a.sub(b, m)),
        FmulD => fp2::<F64>(h, insn, rm?, |a, b, m| a.mul(b, m)),
        FdivD => fp2::<F64>(h, insn, rm?, |a, b, m| a.div(b, m)),
        FsqrtD => fp1::<F64>(h, insn, rm?, |a, m| a.sqrt(m)),

        FsgnjS => sgnj::<F32>(h, insn, |_, b| b),
        FsgnjnS => sgnj::<F32>(h, insn, |_, b| !b),
        FsgnjxS => sgnj::<F32>(h, insn, |a, b| a ^ b),
        FsgnjD => sgnj::<F64>(h, insn, |_, b| b),
        FsgnjnD => sgnj::<F64>(h, insn, |_, b| !b),
        FsgnjxD => sgnj::<F64>(h, insn, |a, b| a ^ b),

        FminS => min_max::<F32>(h, insn, false),
        FmaxS => min_max::<F32>(h, insn, true),
        FminD => min_max::<F64>(h, insn, false),
        FmaxD => min_max::<F64>(h, insn, true),

        FcvtSD => {
            let m = rm?;
            let a = F64::read(h, insn.rs1());
            let (v, fl) = softfloat(|| a.to_f32(m));
            write_f(h, insn.rd(), v, fl);
        }
        FcvtDS => {
            let m = rm?;
            let a = F32::read(h, insn.rs1());
            let (v, fl) = softfloat(|| a.to_f64(m));
            write_f(h, insn.rd(), v, fl);
        }

        FeqS => compare::<F32>(h, insn, |a, b| a.eq(b)),
        FltS => compare::<F32>(h, insn, |a, b| a.lt(b)),
        FleS => compare::<F32>(h, insn, |a, b| a.le(b)),
        FeqD => compare::<F64>(h, insn, |a, b| a.eq(b)),
        FltD => compare::<F64>(h, insn, |a, b| a.lt(b)),
        FleD => compare::<F64>(h, insn, |a, b| a.le(b)),

        FclassS => {
            let v = classify(F32::read(h, insn.rs1()));
            h.set_x(insn.rd(), v);
        }
        FclassD => {
            let v = classify(F64::read(h, insn.rs1()));
            h.set_x(insn.rd(), v);
        }

        // 32-bit results are sign-extended, the unsigned ones included.
        FcvtWS => to_int::<F32>(h, insn, rm?, |a, m| a.to_i32(m, true) as i64 as u64),
        FcvtWuS => to_int::<F32>(h, insn, rm?, |a, m| a.to_u32(m, true) as i32 as i64 as u64),
        FcvtLS => to_int::<F32>(h, insn, rm?, |a, m| a.to_i64(m, true) as u64),
        FcvtLuS => to_int::<F32>(h, insn, rm?, |a, m| a.to_u64(m, true)),
        FcvtWD => to_int::<F64>(h, insn, rm?, |a, m| a.to_i32(m, true) as i64 as u64),
        FcvtWuD => to_int::<F64>(h, insn, rm?, |a, m| a.to_u32(m, true) as i32 as i64 as u64),
        FcvtLD => to_int::<F64>(h, insn, rm?, |a, m| a.to_i64(m, true) as u64),
        FcvtLuD => to_int::<F64>(h, insn, rm?, |a, m| a.to_u64(m, true)),

        // 32-bit sources are the low 32 bits of rs1.
        FcvtSW => from_int::<F32>(h, insn, rm?, |x, m| F32::from_i32(x as i32, m)),
        FcvtSWu => from_int::<F32>(h, insn, rm?, |x, m| F32::from_u32(x as u32, m)),
        FcvtSL => from_int::<F32>(h, insn, rm?, |x, m| F32::from_i64(x as i64, m)),
        FcvtSLu => from_int::<F32>(h, insn, rm?, F32::from_u64),
        FcvtDW => from_int::<F64>(h, insn, rm?, |x, m| F64::from_i32(x as i32, m)),
        FcvtDWu => from_int::<F64>(h, insn, rm?, |x, m| F64::from_u32(x as u32, m)),
        FcvtDL => from_int::<F64>(h, insn, rm?, |x, m| F64::from_i64(x as i64, m)),
        FcvtDLu => from_int::<F64>(h, insn, rm?, F64::from_u64),

        // Transfers: bits move unchanged; fmv.x.w takes the low half without the
        // NaN-boxing check and sign-extends it.
        FmvXW => {
            let v = h.f[insn.rs1() as usize] as u32 as i32 as i64 as u64;
            h.set_x(insn.rd(), v);
        }
        FmvWX => {
            let v = F32::from_bits(h.x[insn.rs1() as usize] as u32);
            write_f(h, insn.rd(), v, 0);
        }
        FmvXD => {
            let v = h.f[insn.rs1() as usize];
            h.set_x(insn.rd(), v);
        }
        FmvDX => {
            let v = F64::from_bits(h.x[insn.rs1() as usize]);
            write_f(h, insn.rd(), v, 0);
        }
    }
    Ok(())
}

/// The rounding mode for funct3 `rm` (7 = dynamic, from `frm`); `None` if reserved.
fn rounding_mode(rm: u8, frm: u32) -> Option<RoundingMode> {
    let mode = if rm == 7 { frm } else { rm as u32 };
    Some(match mode {
        0 => RoundingMode::TiesToEven,
        1 => RoundingMode::TowardZero,
        2 => RoundingMode::TowardNegative,
        3 => RoundingMode::TowardPositive,
        4 => RoundingMode::TiesToAway,
        _ => return None,
    })
}

/// fflags bits.
const NV: u32 = 16;
const DZ: u32 = 8;
const OF: u32 = 4;
const UF: u32 = 2;
const NX: u32 = 1;

/// Runs `f` with SoftFloat's exception flags cleared and returns its result together
/// with the flags it raised, in fflags layout. See the module docs on global state.
fn softfloat<R>(f: impl FnOnce() -> R) -> (R, u32) {
    ExceptionFlags::default().set();
    let r = f();
    let mut raised = ExceptionFlags::default();
    raised.get();
    let mut fl = 0;
    for (set, bit) in [
        (raised.is_invalid(), NV),
        (raised.is_infinite(), DZ),
        (raised.is_overflow(), OF),
        (raised.is_underflow(), UF),
        (raised.is_inexact(), NX),
    ] {
        if set {
            fl |= bit;
        }
    }
    (r, fl)
}

/// A floating-point format as held in the `f` registers.
trait FReg: Float + Copy {
    /// The sign bit, in the format's own width.
    const SIGN: u64;
    /// The quiet bit of a NaN (the top fraction bit).
    const QUIET: u64;
    /// Reads `f[r]` as an operand (single precision: with the NaN-boxing check).
    fn read(h: &Hart, r: u8) -> Self;
    /// The register image of a result (single precision: NaN-boxed).
    fn boxed(self) -> u64;
    /// The value's bits, zero-extended.
    fn bits(self) -> u64;
    /// The value with these bits (truncated to the format's width).
    fn with_bits(b: u64) -> Self;
}

impl FReg for F32 {
    const SIGN: u64 = 1 << 31;
    const QUIET: u64 = 1 << 22;
    fn read(h: &Hart, r: u8) -> F32 {
        let v = h.f[r as usize];
        if v >> 32 == 0xffff_ffff {
            F32::from_bits(v as u32)
        } else {
            F32::from_bits(0x7fc0_0000)
        }
    }
    fn boxed(self) -> u64 {
        0xffff_ffff_0000_0000 | self.to_bits() as u64
    }
    fn bits(self) -> u64 {
        self.to_bits() as u64
    }
    fn with_bits(b: u64) -> F32 {
        F32::from_bits(b as u32)
    }
}

impl FReg for F64 {
    const SIGN: u64 = 1 << 63;
    const QUIET: u64 = 1 << 51;
    fn read(h: &Hart, r: u8) -> F64 {
        F64::from_bits(h.f[r as usize])
    }
    fn boxed(self) -> u64 {
        self.to_bits()
    }
    fn bits(self) -> u64 {
        self.to_bits()
    }
    fn with_bits(b: u64) -> F64 {
        F64::from_bits(b)
    }
}

/// Writes an FP result and accrues `flags`; FS becomes Dirty.
fn write_f<T: FReg>(h: &mut Hart, rd: u8, v: T, flags: u32) {
    h.f[rd as usize] = v.boxed();
    h.fflags |= flags;
    h.set_fs_dirty();
}

/// Writes an integer result and accrues `flags` (FS becomes Dirty if there are any).
fn write_x(h: &mut Hart, rd: u8, v: u64, flags: u32) {
    h.set_x(rd, v);
    if flags != 0 {
        h.fflags |= flags;
        h.set_fs_dirty();
    }
}

fn fp1<T: FReg>(h: &mut Hart, insn: &Insn, m: RoundingMode, f: impl FnOnce(T, RoundingMode) -> T) {
    let a = T::read(h, insn.rs1());
    let (v, fl) = softfloat(|| f(a, m));
    write_f(h, insn.rd(), v, fl);
}

fn fp2<T: FReg>(
    h: &mut Hart,
    insn: &Insn,
    m: RoundingMode,
    f: impl FnOnce(T, T, RoundingMode) -> T,
) {
    let (a, b) = (T::read(h, insn.rs1()), T::read(h, insn.rs2()));
    let (v, fl) = softfloat(|| f(a, b, m));
    write_f(h, insn.rd(), v, fl);
}

fn fp3<T: FReg>(
    h: &mut Hart,
    insn: &Insn,
    m: RoundingMode,
    f: impl FnOnce(T, T, T, RoundingMode) -> T,
) {
    let (a, b, c) = (
        T::read(h, insn.rs1()),
        T::read(h, insn.rs2()),
        T::read(h, insn.rs3()),
    );
    let (v, fl) = softfloat(|| f(a, b, c, m));
    write_f(h, insn.rd(), v, fl);
}

/// Sign injection: rd = rs1's magnitude with the sign `sign(rs1's sign, rs2's sign)`
/// (signs as bools, true = negative). NaNs are not canonicalised; no flags.
fn sgnj<T: FReg>(h: &mut Hart, insn: &Insn, sign: impl FnOnce(bool, bool) -> bool) {
    let (a, b) = (T::read(h, insn.rs1()).bits(), T::read(h, insn.rs2()).bits());
    let s = sign(a & T::SIGN != 0, b & T::SIGN != 0);
    let v = (a & !T::SIGN) | if s { T::SIGN } else { 0 };
    write_f(h, insn.rd(), T::with_bits(v), 0);
}

/// fmin/fmax (RISC-V ISA 2.2 and later: IEEE 754-2019 minimumNumber/maximumNumber):
/// a NaN operand is ignored in favour of the other one, two NaNs give the canonical NaN,
/// −0 is less than +0, and a signaling NaN operand raises NV.
fn min_max<T: FReg>(h: &mut Hart, insn: &Insn, max: bool) {
    let (a, b) = (T::read(h, insn.rs1()), T::read(h, insn.rs2()));
    let fl = if is_snan(a) || is_snan(b) { NV } else { 0 };
    let v = match (a.is_nan(), b.is_nan()) {
        (true, true) => T::quiet_nan(),
        (true, false) => b,
        (false, true) => a,
        (false, false) => {
            let (ka, kb) = (order_key(a), order_key(b));
            if ka == kb {
                // Equal values; only ±0 have different bits. OR picks a negative sign,
                // AND a positive one.
                if max {
                    T::with_bits(a.bits() & b.bits())
                } else {
                    T::with_bits(a.bits() | b.bits())
                }
            } else if (ka < kb) != max {
                a
            } else {
                b
            }
        }
    };
    write_f(h, insn.rd(), v, fl);
}

/// A key that orders non-NaN values by numeric value (both zeros map to 0).
fn order_key<T: FReg>(v: T) -> i128 {
    let mag = (v.bits() & !T::SIGN) as i128;
    if v.bits() & T::SIGN != 0 {
        -mag
    } else {
        mag
    }
}

/// True for a signaling NaN (exponent all ones, quiet bit clear, fraction nonzero).
fn is_snan<T: FReg>(v: T) -> bool {
    v.is_nan() && v.bits() & T::QUIET == 0
}

fn compare<T: FReg>(h: &mut Hart, insn: &Insn, f: impl FnOnce(T, T) -> bool) {
    let (a, b) = (T::read(h, insn.rs1()), T::read(h, insn.rs2()));
    let (v, fl) = softfloat(|| f(a, b));
    write_x(h, insn.rd(), v as u64, fl);
}

/// The fclass mask: exactly one of bits 0..=9 set.
fn classify<T: FReg>(v: T) -> u64 {
    let bit = if v.is_negative_infinity() {
        0
    } else if v.is_negative_normal() {
        1
    } else if v.is_negative_subnormal() {
        2
    } else if v.is_negative_zero() {
        3
    } else if v.is_positive_zero() {
        4
    } else if v.is_positive_subnormal() {
        5
    } else if v.is_positive_normal() {
        6
    } else if v.is_positive_infinity() {
        7
    } else if is_snan(v) {
        8
    } else {
        9
    };
    1 << bit
}

fn to_int<T: FReg>(
    h: &mut Hart,
    insn: &Insn,
    m: RoundingMode,
    f: impl FnOnce(T, RoundingMode) -> u64,
) {
    let a = T::read(h, insn.rs1());
    let (v, fl) = softfloat(|| f(a, m));
    write_x(h, insn.rd(), v, fl);
}

fn from_int<T: FReg>(
    h: &mut Hart,
    insn: &Insn,
    m: RoundingMode,
    f: impl FnOnce(u64, RoundingMode) -> T,
) {
    let x = h.x[insn.rs1() as usize];
    let (v, fl) = softfloat(|| f(x, m));
    write_f(h, insn.rd(), v, fl);
}

#[cfg(test)]
mod tests {
    //! Expected values come from IEEE 754 reasoning about the exact results (cross-checked
    //! with exact rational arithmetic), not from running SoftFloat.
    use super::*;
    use crate::cpu::decode::{decode as decode_insn, Op};
    use crate::cpu::trap::cause;

    const RNE: u32 = 0;
    const RTZ: u32 = 1;
    const RDN: u32 = 2;
    const RUP: u32 = 3;
    const RMM: u32 = 4;
    const DYN: u32 = 7;
    const MODES: [u32; 5] = [RNE, RTZ, RDN, RUP, RMM];

    // funct7 values of OP-FP (S; the D form is one more).
    const FADD: u32 = 0x00;
    const FSUB: u32 = 0x04;
    const FMUL: u32 = 0x08;
    const FDIV: u32 = 0x0c;
    const FSQRT: u32 = 0x2c;
    const FSGNJ: u32 = 0x10;
    const FMINMAX: u32 = 0x14;
    const FCVT_S_D: u32 = 0x20;
    const FCVT_D_S: u32 = 0x21;
    const FCMP: u32 = 0x50;
    const FCVT_TO_INT: u32 = 0x60;
    const FCVT_FROM_INT: u32 = 0x68;
    const FMV_X_CLASS: u32 = 0x70;
    const FMV_F: u32 = 0x78;
    const S: u32 = 0;
    const D: u32 = 1;

    // Integer conversion selectors (rs2 field).
    const W: u32 = 0;
    const WU: u32 = 1;
    const L: u32 = 2;
    const LU: u32 = 3;

    const QNAN_S: u32 = 0x7fc0_0000;
    const QNAN_D: u64 = 0x7ff8_0000_0000_0000;
    const SNAN_S: u32 = 0x7f80_0001;
    const SNAN_D: u64 = 0x7ff0_0000_0000_0001;
    const ONE_S: u32 = 0x3f80_0000;
    const TWO_S: u32 = 0x4000_0000;
    const THREE_S: u32 = 0x4040_0000;
    const HALF_S: u32 = 0x3f00_0000;
    const INF_S: u32 = 0x7f80_0000;
    const MAX_S: u32 = 0x7f7f_ffff;
    const ONE_D: u64 = 0x3ff0_0000_0000_0000;
    const TWO_D: u64 = 0x4000_0000_0000_0000;
    const THREE_D: u64 = 0x4008_0000_0000_0000;
    const HALF_D: u64 = 0x3fe0_0000_0000_0000;
    const INF_D: u64 = 0x7ff0_0000_0000_0000;
    const NEG: u64 = 1 << 63;
    const NEG_S: u32 = 1 << 31;

    const FS_INITIAL: u64 = 1 << 13;
    const FS_DIRTY: u64 = 3 << 13;

    /// A hart with mstatus.FS = Initial.
    fn hart() -> Hart {
        let mut h = Hart::new(0);
        h.csr.mstatus |= FS_INITIAL;
        h
    }

    /// NaN-boxes a single-precision pattern.
    fn bx(bits: u32) -> u64 {
        0xffff_ffff_0000_0000 | bits as u64
    }

    fn opfp(funct7: u32, rs2: u32, rs1: u32, rm: u32, rd: u32) -> u32 {
        (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | 0x53
    }

    fn r4(opcode: u32, fmt: u32, rs3: u32, rs2: u32, rs1: u32, rm: u32, rd: u32) -> u32 {
        (rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | opcode
    }

    fn run(h: &mut Hart, raw: u32) -> Result<(), Trap> {
        let insn = decode_insn(raw);
        assert_eq!(
            insn.op(),
            Op::Fp,
            "{raw:#010x} should decode as an FP operation"
        );
        execute(h, insn)
    }

    /// f1 = op(f2, f3) with `fmt` added to funct7; returns (f1, fflags).
    fn bin(funct7: u32, fmt: u32, a: u64, b: u64, rm: u32) -> (u64, u32) {
        let mut h = hart();
        h.f[2] = a;
        h.f[3] = b;
        run(&mut h, opfp(funct7 + fmt, 3, 2, rm, 1)).unwrap();
        (h.f[1], h.fflags)
    }

    fn bin_s(funct7: u32, a: u32, b: u32, rm: u32) -> (u64, u32) {
        bin(funct7, S, bx(a), bx(b), rm)
    }

    /// f1 = op(f2) where rs2 selects a variant; returns (f1, fflags).
    fn un(funct7: u32, rs2: u32, a: u64, rm: u32) -> (u64, u32) {
        let mut h = hart();
        h.f[2] = a;
        run(&mut h, opfp(funct7, rs2, 2, rm, 1)).unwrap();
        (h.f[1], h.fflags)
    }

    /// x10 = op(f2); returns (x10, fflags).
    fn to_x(funct7: u32, rs2: u32, a: u64, rm: u32) -> (u64, u32) {
        let mut h = hart();
        h.f[2] = a;
        h.x[10] = 0x5555;
        run(&mut h, opfp(funct7, rs2, 2, rm, 10)).unwrap();
        (h.x[10], h.fflags)
    }

    /// x10 = cmp(f2, f3) with funct3 `f3`; returns (x10, fflags).
    fn cmp(fmt: u32, f3: u32, a: u64, b: u64) -> (u64, u32) {
        let mut h = hart();
        h.f[2] = a;
        h.f[3] = b;
        h.x[10] = 0x5555;
        run(&mut h, opfp(FCMP + fmt, 3, 2, f3, 10)).unwrap();
        (h.x[10], h.fflags)
    }

    /// f1 = op(x11); returns (f1, fflags).
    fn from_x(funct7: u32, rs2: u32, x: u64, rm: u32) -> (u64, u32) {
        let mut h = hart();
        h.x[11] = x;
        run(&mut h, opfp(funct7, rs2, 11, rm, 1)).unwrap();
        (h.f[1], h.fflags)
    }

    /// f1 = fused op (opcode 0x43/47/4b/4f) of f2, f3, f4; returns (f1, fflags).
    fn fma(opcode: u32, fmt: u32, a: u64, b: u64, c: u64, rm: u32) -> (u64, u32) {
        let mut h = hart();
        h.f[2] = a;
        h.f[3] = b;
        h.f[4] = c;
        run(&mut h, r4(opcode, fmt, 4, 3, 2, rm, 1)).unwrap();
        (h.f[1], h.fflags)
    }

    /// Checks `f(rm)` against `want[i]` for the five static modes, in order RNE, RTZ,
    /// RDN, RUP, RMM.
    fn modes(what: &str, want: [(u64, u32); 5], f: impl Fn(u32) -> (u64, u32)) {
        for (rm, w) in MODES.into_iter().zip(want) {
            let got = f(rm);
            assert_eq!(
                got, w,
                "{what} in rm={rm}: got ({:#x}, flags {:#x}), want ({:#x}, flags {:#x})",
                got.0, got.1, w.0, w.1
            );
        }
    }

    /// The same flags in all modes, with results given per mode.
    fn per_mode(v: [u64; 5], fl: u32) -> [(u64, u32); 5] {
        v.map(|v| (v, fl))
    }

    #[test]
    fn decodes_every_encoding_the_assembler_produces() {
        // Words from riscv64-unknown-elf-as -march=rv64gc, mnemonics from objdump.
        let table: &[(u32, &str, u8, u8, u8, u8, u8)] = &[
            // raw, mnemonic, rd, rs1, rs2, rs3, rm
            (0x203100c3, "fmadd.s", 1, 2, 3, 4, 0),
            (0x203110c7, "fmsub.s", 1, 2, 3, 4, 1),
            (0x203120cb, "fnmsub.s", 1, 2, 3, 4, 2),
            (0x203130cf, "fnmadd.s", 1, 2, 3, 4, 3),
            (0x223140c3, "fmadd.d", 1, 2, 3, 4, 4),
            (0x223170c7, "fmsub.d", 1, 2, 3, 4, 7),
            (0x223170cb, "fnmsub.d", 1, 2, 3, 4, 7),
            (0x223170cf, "fnmadd.d", 1, 2, 3, 4, 7),
            (0x007372d3, "fadd.s", 5, 6, 7, 0, 7),
            (0x087372d3, "fsub.s", 5, 6, 7, 1, 7),
            (0x107372d3, "fmul.s", 5, 6, 7, 2, 7),
            (0x187372d3, "fdiv.s", 5, 6, 7, 3, 7),
            (0x580372d3, "fsqrt.s", 5, 6, 0, 11, 7),
            (0x027372d3, "fadd.d", 5, 6, 7, 0, 7),
            (0x0a7372d3, "fsub.d", 5, 6, 7, 1, 7),
            (0x127372d3, "fmul.d", 5, 6, 7, 2, 7),
            (0x1a7372d3, "fdiv.d", 5, 6, 7, 3, 7),
            (0x5a0372d3, "fsqrt.d", 5, 6, 0, 11, 7),
            (0x20a48453, "fsgnj.s", 8, 9, 10, 4, 0),
            (0x20a49453, "fsgnjn.s", 8, 9, 10, 4, 1),
            (0x20a4a453, "fsgnjx.s", 8, 9, 10, 4, 2),
            (0x22a48453, "fsgnj.d", 8, 9, 10, 4, 0),
            (0x22a49453, "fsgnjn.d", 8, 9, 10, 4, 1),
            (0x22a4a453, "fsgnjx.d", 8, 9, 10, 4, 2),
            (0x28a48453, "fmin.s", 8, 9, 10, 5, 0),
            (0x28a49453, "fmax.s", 8, 9, 10, 5, 1),
            (0x2aa48453, "fmin.d", 8, 9, 10, 5, 0),
            (0x2aa49453, "fmax.d", 8, 9, 10, 5, 1),
            (0x401675d3, "fcvt.s.d", 11, 12, 1, 8, 7),
            (0x420605d3, "fcvt.d.s", 11, 12, 0, 8, 0),
            (0xa0e6a553, "feq.s", 10, 13, 14, 20, 2),
            (0xa0e69553, "flt.s", 10, 13, 14, 20, 1),
            (0xa0e68553, "fle.s", 10, 13, 14, 20, 0),
            (0xa2e6a553, "feq.d", 10, 13, 14, 20, 2),
            (0xa2e69553, "flt.d", 10, 13, 14, 20, 1),
            (0xa2e68553, "fle.d", 10, 13, 14, 20, 0),
            (0xe00795d3, "fclass.s", 11, 15, 0, 28, 1),
            (0xe20795d3, "fclass.d", 11, 15, 0, 28, 1),
            (0xc0081653, "fcvt.w.s", 12, 16, 0, 24, 1),
            (0xc0181653, "fcvt.wu.s", 12, 16, 1, 24, 1),
            (0xc0281653, "fcvt.l.s", 12, 16, 2, 24, 1),
            (0xc0381653, "fcvt.lu.s", 12, 16, 3, 24, 1),
            (0xc2081653, "fcvt.w.d", 12, 16, 0, 24, 1),
            (0xc2181653, "fcvt.wu.d", 12, 16, 1, 24, 1),
            (0xc2281653, "fcvt.l.d", 12, 16, 2, 24, 1),
            (0xc2381653, "fcvt.lu.d", 12, 16, 3, 24, 1),
            (0xd006f8d3, "fcvt.s.w", 17, 13, 0, 26, 7),
            (0xd016f8d3, "fcvt.s.wu", 17, 13, 1, 26, 7),
            (0xd026f8d3, "fcvt.s.l", 17, 13, 2, 26, 7),
            (0xd036f8d3, "fcvt.s.lu", 17, 13, 3, 26, 7),
            (0xd20688d3, "fcvt.d.w", 17, 13, 0, 26, 0),
            (0xd21688d3, "fcvt.d.wu", 17, 13, 1, 26, 0),
            (0xd226f8d3, "fcvt.d.l", 17, 13, 2, 26, 7),
            (0xd236f8d3, "fcvt.d.lu", 17, 13, 3, 26, 7),
            (0xe0090753, "fmv.x.w", 14, 18, 0, 28, 0),
            (0xf0070953, "fmv.w.x", 18, 14, 0, 30, 0),
            (0xe2090753, "fmv.x.d", 14, 18, 0, 28, 0),
            (0xf2070953, "fmv.d.x", 18, 14, 0, 30, 0),
        ];
        for &(raw, name, rd, rs1, rs2, rs3, rm) in table {
            let i = decode_insn(raw);
            assert_eq!(i.op(), Op::Fp, "{name}");
            assert_eq!(i.fp().mnemonic(), name, "{raw:#010x}");
            assert_eq!(
                (i.rd(), i.rs1(), i.rs2(), i.rs3(), i.rm()),
                (rd, rs1, rs2, rs3, rm),
                "{name}"
            );
            assert_eq!(decode(raw), Some(i.fp()));
        }
    }

    #[test]
    fn rejects_reserved_encodings() {
        let reserved = [
            opfp(FADD + 2, 3, 2, RNE, 1),         // fadd.h (Zfh absent)
            opfp(FADD + 3, 3, 2, RNE, 1),         // fadd.q
            r4(0x43, 2, 4, 3, 2, RNE, 1),         // fmadd.h
            r4(0x4f, 3, 4, 3, 2, RNE, 1),         // fnmadd.q
            opfp(FSQRT, 1, 2, RNE, 1),            // fsqrt.s with rs2 != 0
            opfp(FSQRT + D, 2, 2, RNE, 1),        // fsqrt.d with rs2 != 0
            opfp(FSGNJ, 3, 2, 3, 1),              // fsgnj funct3 3
            opfp(FSGNJ + D, 3, 2, 7, 1),          // fsgnj.d funct3 7
            opfp(FMINMAX, 3, 2, 2, 1),            // fmin/fmax funct3 2 (fminm in Zfa)
            opfp(FCMP, 3, 2, 3, 10),              // compare funct3 3
            opfp(FCMP + D, 3, 2, 4, 10),          // compare funct3 4 (fltq in Zfa)
            opfp(FMV_X_CLASS, 1, 2, 1, 10),       // fclass.s with rs2 != 0
            opfp(FMV_X_CLASS, 0, 2, 2, 10),       // funct3 2
            opfp(FMV_X_CLASS + D, 1, 2, 0, 10),   // fmv.x.d with rs2 != 0 (fmvh in Zfa)
            opfp(FMV_F, 1, 2, 0, 1),              // fmv.w.x with rs2 != 0 (fli in Zfa)
            opfp(FMV_F, 0, 2, 1, 1),              // fmv.w.x with funct3 1
            opfp(FMV_F + D, 0, 2, 7, 1),          // fmv.d.x with funct3 7
            opfp(FCVT_S_D, 0, 2, RNE, 1),         // fcvt.s.s
            opfp(FCVT_S_D, 4, 2, RNE, 1),         // fround.s (Zfa)
            opfp(FCVT_D_S, 1, 2, RNE, 1),         // fcvt.d.d
            opfp(FCVT_D_S, 2, 2, RNE, 1),         // fcvt.d.h
            opfp(FCVT_TO_INT, 4, 2, RNE, 10),     // no such integer type
            opfp(FCVT_TO_INT + D, 8, 2, RTZ, 10), // fcvtmod.w.d (Zfa)
            opfp(FCVT_FROM_INT, 5, 2, RNE, 1),    // no such integer type
            opfp(0x7c, 0, 2, RNE, 1),             // unassigned funct7
            // Reserved rounding modes 5 and 6 on instructions that have one.
            opfp(FADD, 3, 2, 5, 1),
            opfp(FDIV + D, 3, 2, 6, 1),
            opfp(FSQRT, 0, 2, 5, 1),
            opfp(FCVT_TO_INT, W, 2, 6, 10),
            opfp(FCVT_FROM_INT + D, L, 2, 5, 1),
            opfp(FCVT_D_S, 0, 2, 5, 1),
            r4(0x47, 0, 4, 3, 2, 5, 1),
            r4(0x4b, 1, 4, 3, 2, 6, 1),
        ];
        for raw in reserved {
            assert_eq!(decode(raw), None, "{raw:#010x}");
            assert_eq!(decode_insn(raw).op(), Op::Illegal, "{raw:#010x}");
        }
        // Other major opcodes are not ours.
        assert_eq!(decode(0x0000_0013), None);
    }

    #[test]
    fn one_third_in_every_rounding_mode() {
        modes(
            "fdiv.s 1/3",
            per_mode(
                [0x3eaaaaab, 0x3eaaaaaa, 0x3eaaaaaa, 0x3eaaaaab, 0x3eaaaaab].map(bx),
                NX,
            ),
            |rm| bin_s(FDIV, ONE_S, THREE_S, rm),
        );
        modes(
            "fdiv.s -1/3",
            per_mode(
                [0xbeaaaaab, 0xbeaaaaaa, 0xbeaaaaab, 0xbeaaaaaa, 0xbeaaaaab].map(bx),
                NX,
            ),
            |rm| bin_s(FDIV, ONE_S | NEG_S, THREE_S, rm),
        );
        // In double precision the first discarded bit is 0: only RUP rounds up.
        modes(
            "fdiv.d 1/3",
            per_mode(
                [
                    0x3fd5555555555555,
                    0x3fd5555555555555,
                    0x3fd5555555555555,
                    0x3fd5555555555556,
                    0x3fd5555555555555,
                ],
                NX,
            ),
            |rm| bin(FDIV, D, ONE_D, THREE_D, rm),
        );
        modes(
            "fdiv.d -1/3",
            per_mode(
                [
                    0xbfd5555555555555,
                    0xbfd5555555555555,
                    0xbfd5555555555556,
                    0xbfd5555555555555,
                    0xbfd5555555555555,
                ],
                NX,
            ),
            |rm| bin(FDIV, D, ONE_D | NEG, THREE_D, rm),
        );
    }

    #[test]
    fn exact_results_raise_nothing() {
        assert_eq!(bin_s(FADD, ONE_S, TWO_S, RNE), (bx(THREE_S), 0));
        assert_eq!(bin_s(FSUB, ONE_S, THREE_S, RDN), (bx(TWO_S | NEG_S), 0));
        assert_eq!(bin_s(FMUL, TWO_S, HALF_S, RUP), (bx(ONE_S), 0));
        assert_eq!(bin(FADD, D, ONE_D, TWO_D, RTZ), (THREE_D, 0));
        assert_eq!(
            bin(FMUL, D, THREE_D, HALF_D, RMM),
            (0x3ff8_0000_0000_0000, 0)
        );
        // x − x is +0 except in RDN, where it is −0.
        assert_eq!(bin_s(FSUB, THREE_S, THREE_S, RNE), (bx(0), 0));
        assert_eq!(bin_s(FSUB, THREE_S, THREE_S, RDN), (bx(NEG_S), 0));
        assert_eq!(bin(FSUB, D, THREE_D, THREE_D, RDN), (NEG, 0));
        assert_eq!(bin(FSUB, D, THREE_D, THREE_D, RUP), (0, 0));
    }

    #[test]
    fn overflow_depends_on_rounding_mode() {
        let inf = bx(INF_S);
        let max = bx(MAX_S);
        modes(
            "fmul.s max*2",
            per_mode([inf, max, max, inf, inf], OF | NX),
            |rm| bin_s(FMUL, MAX_S, TWO_S, rm),
        );
        let (ninf, nmax) = (bx(INF_S | NEG_S), bx(MAX_S | NEG_S));
        modes(
            "fmul.s -max*2",
            per_mode([ninf, nmax, ninf, nmax, ninf], OF | NX),
            |rm| bin_s(FMUL, MAX_S | NEG_S, TWO_S, rm),
        );
        let maxd = 0x7fef_ffff_ffff_ffff;
        modes(
            "fadd.d max+max",
            per_mode([INF_D, maxd, maxd, INF_D, INF_D], OF | NX),
            |rm| bin(FADD, D, maxd, maxd, rm),
        );
    }

    #[test]
    fn underflow_and_subnormals() {
        // 2^-149 × 0.5 = 2^-150: a tie between 0 and the smallest subnormal.
        modes(
            "fmul.s minsub/2",
            [
                (bx(0), UF | NX),
                (bx(0), UF | NX),
                (bx(0), UF | NX),
                (bx(1), UF | NX),
                (bx(1), UF | NX),
            ],
            |rm| bin_s(FMUL, 1, HALF_S, rm),
        );
        modes(
            "fmul.s -minsub/2",
            [
                (bx(NEG_S), UF | NX),
                (bx(NEG_S), UF | NX),
                (bx(NEG_S | 1), UF | NX),
                (bx(NEG_S), UF | NX),
                (bx(NEG_S | 1), UF | NX),
            ],
            |rm| bin_s(FMUL, NEG_S | 1, HALF_S, rm),
        );
        modes(
            "fmul.d minsub/2",
            [
                (0, UF | NX),
                (0, UF | NX),
                (0, UF | NX),
                (1, UF | NX),
                (1, UF | NX),
            ],
            |rm| bin(FMUL, D, 1, HALF_D, rm),
        );
        // An exact subnormal result is not an underflow (UF needs inexactness).
        modes(
            "fmul.s minnorm/2",
            per_mode([bx(0x0040_0000); 5], 0),
            |rm| bin_s(FMUL, 0x0080_0000, HALF_S, rm),
        );
        // (1 − 2^-23) × 2^-126 (1 + 2^-23) = 2^-126 (1 − 2^-46): just below the smallest
        // normal. Rounded to 24 bits with an unbounded exponent it is 2^-126 in RNE, RUP
        // and RMM, so it is not tiny after rounding: NX only. In RTZ and RDN it stays
        // below 2^-126: tiny and inexact, so UF, and the result is the largest subnormal.
        modes(
            "tininess after rounding",
            [
                (bx(0x0080_0000), NX),
                (bx(0x007f_ffff), UF | NX),
                (bx(0x007f_ffff), UF | NX),
                (bx(0x0080_0000), NX),
                (bx(0x0080_0000), NX),
            ],
            |rm| bin_s(FMUL, 0x3f7f_fffe, 0x0080_0001, rm),
        );
        // Subnormal operands are not flushed.
        assert_eq!(bin_s(FADD, 1, 1, RNE), (bx(2), 0));
        assert_eq!(
            bin(FADD, D, 1, 0x000f_ffff_ffff_ffff, RNE),
            (0x0010_0000_0000_0000, 0)
        );
    }

    #[test]
    fn nan_operands_and_invalid_operations() {
        let cs = bx(QNAN_S);
        // A signaling NaN raises NV; any NaN result is canonical.
        assert_eq!(bin_s(FADD, SNAN_S, ONE_S, RNE), (cs, NV));
        assert_eq!(bin_s(FMUL, ONE_S, SNAN_S | NEG_S, RNE), (cs, NV));
        assert_eq!(bin(FADD, D, SNAN_D, ONE_D, RNE), (QNAN_D, NV));
        // Quiet NaNs propagate quietly, payload and sign dropped.
        assert_eq!(bin_s(FADD, 0x7fc1_2345, ONE_S, RNE), (cs, 0));
        assert_eq!(bin_s(FSUB, ONE_S, 0xffc0_0000, RNE), (cs, 0));
        assert_eq!(bin(FDIV, D, 0xfff8_0000_dead_beef, ONE_D, RNE), (QNAN_D, 0));
        // ∞ − ∞, 0 × ∞, 0/0, ∞/∞.
        assert_eq!(bin_s(FSUB, INF_S, INF_S, RNE), (cs, NV));
        assert_eq!(bin_s(FADD, INF_S, INF_S | NEG_S, RNE), (cs, NV));
        assert_eq!(bin_s(FMUL, 0, INF_S, RNE), (cs, NV));
        assert_eq!(bin_s(FDIV, 0, 0, RNE), (cs, NV));
        assert_eq!(bin(FDIV, D, NEG, 0, RNE), (QNAN_D, NV));
        assert_eq!(bin(FDIV, D, INF_D, INF_D, RNE), (QNAN_D, NV));
        // Division by zero: exact infinity with DZ, sign by the usual rule.
        assert_eq!(bin_s(FDIV, ONE_S, 0, RNE), (bx(INF_S), DZ));
        assert_eq!(bin_s(FDIV, ONE_S | NEG_S, 0, RTZ), (bx(INF_S | NEG_S), DZ));
        assert_eq!(bin(FDIV, D, ONE_D, NEG, RNE), (INF_D | NEG, DZ));
        // ∞/0 is an exact infinity, not a division by zero.
        assert_eq!(bin_s(FDIV, INF_S, 0, RNE), (bx(INF_S), 0));
    }

    #[test]
    fn square_root() {
        let cs = bx(QNAN_S);
        assert_eq!(un(FSQRT, 0, bx(ONE_S | NEG_S), RNE), (cs, NV));
        assert_eq!(un(FSQRT + D, 0, ONE_D | NEG, RNE), (QNAN_D, NV));
        assert_eq!(un(FSQRT + D, 0, INF_D | NEG, RNE), (QNAN_D, NV));
        assert_eq!(un(FSQRT, 0, bx(NEG_S), RNE), (bx(NEG_S), 0));
        assert_eq!(un(FSQRT + D, 0, NEG, RDN), (NEG, 0));
        assert_eq!(un(FSQRT, 0, bx(INF_S), RNE), (bx(INF_S), 0));
        assert_eq!(un(FSQRT, 0, bx(0x4080_0000), RNE), (bx(TWO_S), 0)); // √4
        assert_eq!(un(FSQRT, 0, bx(SNAN_S), RNE), (cs, NV));
        // √2 in each mode.
        modes(
            "fsqrt.s 2",
            per_mode(
                [0x3fb504f3, 0x3fb504f3, 0x3fb504f3, 0x3fb504f4, 0x3fb504f3].map(bx),
                NX,
            ),
            |rm| un(FSQRT, 0, bx(TWO_S), rm),
        );
        modes(
            "fsqrt.d 2",
            per_mode(
                [
                    0x3ff6a09e667f3bcd,
                    0x3ff6a09e667f3bcc,
                    0x3ff6a09e667f3bcc,
                    0x3ff6a09e667f3bcd,
                    0x3ff6a09e667f3bcd,
                ],
                NX,
            ),
            |rm| un(FSQRT + D, 0, TWO_D, rm),
        );
    }

    #[test]
    fn fused_multiply_add() {
        let (a, b, c) = (bx(TWO_S), bx(THREE_S), bx(ONE_S));
        // 2×3+1, 2×3−1, −(2×3)+1, −(2×3)−1.
        assert_eq!(fma(0x43, S, a, b, c, RNE), (bx(0x40e0_0000), 0));
        assert_eq!(fma(0x47, S, a, b, c, RNE), (bx(0x40a0_0000), 0));
        assert_eq!(fma(0x4b, S, a, b, c, RNE), (bx(0xc0a0_0000), 0));
        assert_eq!(fma(0x4f, S, a, b, c, RNE), (bx(0xc0e0_0000), 0));
        assert_eq!(
            fma(0x43, D, TWO_D, THREE_D, ONE_D, RNE),
            (0x401c_0000_0000_0000, 0)
        );
        assert_eq!(
            fma(0x47, D, TWO_D, THREE_D, ONE_D, RNE),
            (0x4014_0000_0000_0000, 0)
        );
        assert_eq!(
            fma(0x4b, D, TWO_D, THREE_D, ONE_D, RNE),
            (0xc014_0000_0000_0000, 0)
        );
        assert_eq!(
            fma(0x4f, D, TWO_D, THREE_D, ONE_D, RNE),
            (0xc01c_0000_0000_0000, 0)
        );
        // One rounding: (1 + 2^-23)(1 − 2^-24) − 1 = 2^-24 − 2^-47 exactly; rounding the
        // product first would give 0.
        assert_eq!(
            fma(0x47, S, bx(0x3f80_0001), bx(0x3f7f_ffff), c, RNE),
            (bx(0x337f_fffe), 0)
        );
        // ∞ × 0 is invalid even when the addend is a quiet NaN.
        let cs = bx(QNAN_S);
        assert_eq!(fma(0x43, S, bx(INF_S), bx(0), cs, RNE), (cs, NV));
        assert_eq!(
            fma(0x4f, S, bx(0), bx(INF_S | NEG_S), bx(0x7fc0_0001), RNE),
            (cs, NV)
        );
        assert_eq!(fma(0x43, D, 0, INF_D, QNAN_D, RNE), (QNAN_D, NV));
        assert_eq!(fma(0x43, D, INF_D, 0, ONE_D, RNE), (QNAN_D, NV));
        // A quiet NaN addend with an ordinary product is quiet.
        assert_eq!(fma(0x43, S, a, b, cs, RNE), (cs, 0));
        // A signaling NaN anywhere raises NV.
        assert_eq!(fma(0x4b, S, a, b, bx(SNAN_S), RNE), (cs, NV));
        assert_eq!(fma(0x47, D, SNAN_D, TWO_D, ONE_D, RNE), (QNAN_D, NV));
        // ∞ × 2 − ∞ is invalid; ∞ × 2 + ∞ is ∞.
        assert_eq!(fma(0x47, D, INF_D, TWO_D, INF_D, RNE), (QNAN_D, NV));
        assert_eq!(fma(0x43, D, INF_D, TWO_D, INF_D, RNE), (INF_D, 0));
        // Signs of exact zeros: 1×(+0) + (−0) is +0, but −0 in RDN; fnmadd gives
        // −(1×0) − 0 = −0.
        assert_eq!(fma(0x43, D, ONE_D, 0, NEG, RNE), (0, 0));
        assert_eq!(fma(0x43, D, ONE_D, 0, NEG, RDN), (NEG, 0));
        assert_eq!(fma(0x4f, S, c, bx(0), bx(0), RNE), (bx(NEG_S), 0));
        assert_eq!(fma(0x4b, S, c, bx(0), bx(0), RNE), (bx(0), 0));
        // Rounding of a fused result: 1 × 1 + 2^-24 is a tie.
        modes(
            "fmadd.s 1+2^-24",
            per_mode([ONE_S, ONE_S, ONE_S, 0x3f80_0001, 0x3f80_0001].map(bx), NX),
            |rm| fma(0x43, S, c, c, bx(0x3380_0000), rm),
        );
        // Overflow and underflow through the fused path.
        assert_eq!(
            fma(0x43, S, bx(MAX_S), bx(TWO_S), bx(ONE_S), RTZ),
            (bx(MAX_S), OF | NX)
        );
        assert_eq!(
            fma(0x43, S, bx(1), bx(HALF_S), bx(0), RUP),
            (bx(1), UF | NX)
        );
    }

    #[test]
    fn sign_injection_keeps_nans_and_raises_nothing() {
        let f = |f3, a, b| bin(FSGNJ, S, a, b, f3);
        let fd = |f3, a, b| bin(FSGNJ, D, a, b, f3);
        assert_eq!(f(0, bx(ONE_S), bx(NEG_S)), (bx(ONE_S | NEG_S), 0));
        assert_eq!(f(1, bx(ONE_S), bx(NEG_S)), (bx(ONE_S), 0));
        assert_eq!(f(2, bx(ONE_S | NEG_S), bx(NEG_S)), (bx(ONE_S), 0));
        assert_eq!(f(2, bx(ONE_S | NEG_S), bx(0)), (bx(ONE_S | NEG_S), 0));
        // NaN payloads, signaling ones included, pass through untouched and quietly.
        assert_eq!(f(1, bx(SNAN_S), bx(SNAN_S)), (bx(SNAN_S | NEG_S), 0));
        assert_eq!(f(0, bx(0x7fc1_2345), bx(0)), (bx(0x7fc1_2345), 0));
        assert_eq!(fd(0, SNAN_D, NEG), (SNAN_D | NEG, 0));
        assert_eq!(fd(1, ONE_D, ONE_D), (ONE_D | NEG, 0));
        assert_eq!(fd(2, ONE_D | NEG, ONE_D | NEG), (ONE_D, 0));
        // fsgnj.s with rs1 == rs2 is fmv.s; fsgnjn.s is fneg.s, fsgnjx.s is fabs.s.
        let mut h = hart();
        h.f[2] = bx(0xc0a0_0000); // −5
        run(&mut h, opfp(FSGNJ, 2, 2, 0, 1)).unwrap();
        run(&mut h, opfp(FSGNJ, 2, 2, 1, 3)).unwrap();
        run(&mut h, opfp(FSGNJ, 2, 2, 2, 4)).unwrap();
        assert_eq!(
            (h.f[1], h.f[3], h.f[4]),
            (bx(0xc0a0_0000), bx(0x40a0_0000), bx(0x40a0_0000))
        );
        assert_eq!(h.fflags, 0);
    }

    #[test]
    fn min_and_max() {
        let min = |a: u32, b: u32| bin(FMINMAX, S, bx(a), bx(b), 0);
        let max = |a: u32, b: u32| bin(FMINMAX, S, bx(a), bx(b), 1);
        let cs = bx(QNAN_S);
        assert_eq!(min(ONE_S, TWO_S), (bx(ONE_S), 0));
        assert_eq!(max(ONE_S, TWO_S), (bx(TWO_S), 0));
        assert_eq!(min(ONE_S | NEG_S, 1), (bx(ONE_S | NEG_S), 0));
        assert_eq!(max(INF_S | NEG_S, THREE_S), (bx(THREE_S), 0));
        assert_eq!(min(INF_S, MAX_S), (bx(MAX_S), 0));
        // −0 < +0, in either operand order.
        assert_eq!(min(NEG_S, 0), (bx(NEG_S), 0));
        assert_eq!(min(0, NEG_S), (bx(NEG_S), 0));
        assert_eq!(max(NEG_S, 0), (bx(0), 0));
        assert_eq!(max(0, NEG_S), (bx(0), 0));
        // A NaN operand is ignored; a signaling one raises NV.
        assert_eq!(min(QNAN_S, ONE_S), (bx(ONE_S), 0));
        assert_eq!(max(TWO_S, 0xffc0_0000), (bx(TWO_S), 0));
        assert_eq!(min(SNAN_S, ONE_S), (bx(ONE_S), NV));
        assert_eq!(max(ONE_S, SNAN_S), (bx(ONE_S), NV));
        // Two NaNs give the canonical NaN.
        assert_eq!(min(0x7fc1_2345, 0xffc0_0001), (cs, 0));
        assert_eq!(max(SNAN_S, QNAN_S), (cs, NV));
        // Double precision.
        let mind = |a, b| bin(FMINMAX, D, a, b, 0);
        let maxd = |a, b| bin(FMINMAX, D, a, b, 1);
        assert_eq!(mind(NEG, 0), (NEG, 0));
        assert_eq!(maxd(NEG, 0), (0, 0));
        assert_eq!(mind(THREE_D, TWO_D | NEG), (TWO_D | NEG, 0));
        assert_eq!(maxd(THREE_D, TWO_D | NEG), (THREE_D, 0));
        assert_eq!(maxd(QNAN_D, ONE_D | NEG), (ONE_D | NEG, 0));
        assert_eq!(mind(SNAN_D, SNAN_D), (QNAN_D, NV));
        // Subnormals order correctly against zero and each other.
        assert_eq!(mind(1, 0), (0, 0));
        assert_eq!(maxd(1 | NEG, 2 | NEG), (1 | NEG, 0));
    }

    #[test]
    fn comparisons() {
        let (feq, flt, fle) = (2, 1, 0);
        let s = |f3, a: u32, b: u32| cmp(S, f3, bx(a), bx(b));
        assert_eq!(s(feq, ONE_S, ONE_S), (1, 0));
        assert_eq!(s(feq, ONE_S, TWO_S), (0, 0));
        assert_eq!(s(flt, ONE_S, TWO_S), (1, 0));
        assert_eq!(s(flt, TWO_S, ONE_S), (0, 0));
        assert_eq!(s(fle, TWO_S, TWO_S), (1, 0));
        assert_eq!(s(flt, INF_S | NEG_S, MAX_S | NEG_S), (1, 0));
        // −0 = +0.
        assert_eq!(s(feq, NEG_S, 0), (1, 0));
        assert_eq!(s(flt, NEG_S, 0), (0, 0));
        assert_eq!(s(fle, 0, NEG_S), (1, 0));
        // feq is quiet: NV only for a signaling NaN.
        assert_eq!(s(feq, QNAN_S, QNAN_S), (0, 0));
        assert_eq!(s(feq, ONE_S, SNAN_S), (0, NV));
        // flt and fle signal on any NaN.
        assert_eq!(s(flt, QNAN_S, ONE_S), (0, NV));
        assert_eq!(s(fle, ONE_S, QNAN_S), (0, NV));
        assert_eq!(s(fle, SNAN_S, SNAN_S), (0, NV));
        // Double precision.
        assert_eq!(cmp(D, feq, NEG, 0), (1, 0));
        assert_eq!(cmp(D, flt, ONE_D | NEG, 1), (1, 0));
        assert_eq!(cmp(D, fle, THREE_D, TWO_D), (0, 0));
        assert_eq!(cmp(D, feq, QNAN_D, ONE_D), (0, 0));
        assert_eq!(cmp(D, feq, SNAN_D, ONE_D), (0, NV));
        assert_eq!(cmp(D, flt, ONE_D, QNAN_D), (0, NV));
        // An improperly boxed single is a (quiet) NaN.
        assert_eq!(cmp(S, feq, ONE_S as u64, ONE_S as u64), (0, 0));
        assert_eq!(cmp(S, fle, ONE_S as u64, bx(ONE_S)), (0, NV));
        // rd = x0: the result is discarded, the flag still accrues.
        let mut h = hart();
        h.f[2] = bx(QNAN_S);
        run(&mut h, opfp(FCMP, 2, 2, flt, 0)).unwrap();
        assert_eq!((h.x[0], h.fflags), (0, NV));
    }

    #[test]
    fn classify_every_class() {
        let cls_s = |v: u64| to_x(FMV_X_CLASS, 0, v, 1);
        let cls_d = |v: u64| to_x(FMV_X_CLASS + D, 0, v, 1);
        let singles: [(u32, u64); 10] = [
            (INF_S | NEG_S, 1 << 0),
            (ONE_S | NEG_S, 1 << 1),
            (NEG_S | 0x0040_0000, 1 << 2),
            (NEG_S, 1 << 3),
            (0, 1 << 4),
            (1, 1 << 5),
            (MAX_S, 1 << 6),
            (INF_S, 1 << 7),
            (SNAN_S, 1 << 8),
            (QNAN_S, 1 << 9),
        ];
        for (v, want) in singles {
            assert_eq!(cls_s(bx(v)), (want, 0), "fclass.s {v:#x}");
        }
        let doubles: [(u64, u64); 10] = [
            (INF_D | NEG, 1 << 0),
            (0x0010_0000_0000_0000 | NEG, 1 << 1),
            (0x000f_ffff_ffff_ffff | NEG, 1 << 2),
            (NEG, 1 << 3),
            (0, 1 << 4),
            (1, 1 << 5),
            (ONE_D, 1 << 6),
            (INF_D, 1 << 7),
            (0x7ff7_ffff_ffff_ffff, 1 << 8),
            (0x7fff_ffff_ffff_ffff, 1 << 9),
        ];
        for (v, want) in doubles {
            assert_eq!(cls_d(v), (want, 0), "fclass.d {v:#x}");
        }
        // Negative NaNs are NaNs; signaling-ness does not depend on the sign.
        assert_eq!(cls_s(bx(SNAN_S | NEG_S)), (1 << 8, 0));
        assert_eq!(cls_d(QNAN_D | NEG), (1 << 9, 0));
        // An improperly boxed single reads as the canonical quiet NaN.
        assert_eq!(cls_s(ONE_S as u64), (1 << 9, 0));
        assert_eq!(cls_s(0xffff_fffe_0000_0000), (1 << 9, 0));
    }

    #[test]
    fn float_to_int_saturates_as_the_spec_table_says() {
        let w = |v: u32, rm| to_x(FCVT_TO_INT, W, bx(v), rm);
        let min32 = i32::MIN as i64 as u64;
        let max32 = i32::MAX as u64;
        // NaN of either sign and +∞ give the largest value; −∞ the smallest.
        assert_eq!(w(QNAN_S, RNE), (max32, NV));
        assert_eq!(w(QNAN_S | NEG_S, RNE), (max32, NV));
        assert_eq!(w(SNAN_S, RTZ), (max32, NV));
        assert_eq!(w(INF_S, RNE), (max32, NV));
        assert_eq!(w(INF_S | NEG_S, RNE), (min32, NV));
        // 2^31 is out of range; −2^31 is not; the next single below it is.
        assert_eq!(w(0x4f00_0000, RTZ), (max32, NV));
        assert_eq!(w(0xcf00_0000, RNE), (min32, 0));
        assert_eq!(w(0xcf00_0001, RUP), (min32, NV));
        // 1.5 and −1.5 in each mode; 32-bit results are sign-extended.
        modes("fcvt.w.s 1.5", per_mode([2, 1, 1, 2, 2], NX), |rm| {
            w(0x3fc0_0000, rm)
        });
        let m1 = u64::MAX; // −1
        let m2 = -2i64 as u64;
        modes("fcvt.w.s -1.5", per_mode([m2, m1, m2, m1, m2], NX), |rm| {
            w(0xbfc0_0000, rm)
        });
        modes("fcvt.w.s 2.5", per_mode([2, 2, 2, 3, 3], NX), |rm| {
            w(0x4020_0000, rm)
        });
        assert_eq!(w(NEG_S, RNE), (0, 0));
        assert_eq!(w(1, RUP), (1, NX));
        assert_eq!(w(1 | NEG_S, RDN), (m1, NX));

        let wd = |v: u64, rm| to_x(FCVT_TO_INT + D, W, v, rm);
        // −2^31 − 1 is out of range, inexactness or not.
        assert_eq!(wd(0xc1e0_0000_0020_0000, RNE), (min32, NV));
        // 2^31 − 0.5: rounds up out of range in RNE, RUP, RMM (NV alone, no NX).
        modes(
            "fcvt.w.d 2147483647.5",
            [
                (max32, NV),
                (max32, NX),
                (max32, NX),
                (max32, NV),
                (max32, NV),
            ],
            |rm| wd(0x41df_ffff_ffe0_0000, rm),
        );
        // −2^31 − 0.5: the tie goes to the even −2^31 in RNE, away in RMM.
        modes(
            "fcvt.w.d -2147483648.5",
            [
                (min32, NX),
                (min32, NX),
                (min32, NV),
                (min32, NX),
                (min32, NV),
            ],
            |rm| wd(0xc1e0_0000_0010_0000, rm),
        );

        // Unsigned 32-bit: results are sign-extended from bit 31 too.
        let wu = |v: u32, rm| to_x(FCVT_TO_INT, WU, bx(v), rm);
        assert_eq!(wu(0x4f32_d05e, RNE), (0xffff_ffff_b2d0_5e00, 0)); // 3e9
        assert_eq!(wu(QNAN_S, RNE), (u64::MAX, NV));
        assert_eq!(wu(INF_S, RNE), (u64::MAX, NV));
        assert_eq!(wu(0x4f80_0000, RNE), (u64::MAX, NV)); // 2^32
        assert_eq!(wu(INF_S | NEG_S, RNE), (0, NV));
        assert_eq!(wu(ONE_S | NEG_S, RTZ), (0, NV));
        assert_eq!(wu(NEG_S, RNE), (0, 0));
        // −0.9 rounds to −0 (fine, NX) in RTZ and RUP, to −1 (invalid) otherwise.
        modes(
            "fcvt.wu.d -0.9",
            [(0, NV), (0, NX), (0, NV), (0, NX), (0, NV)],
            |rm| to_x(FCVT_TO_INT + D, WU, 0xbfec_cccc_cccc_cccd, rm),
        );
        // −0.5: RNE ties to even (−0), RMM away (−1).
        assert_eq!(to_x(FCVT_TO_INT + D, WU, HALF_D | NEG, RNE), (0, NX));
        assert_eq!(to_x(FCVT_TO_INT + D, WU, HALF_D | NEG, RMM), (0, NV));

        // 64-bit.
        let l = |v: u64, rm| to_x(FCVT_TO_INT + D, L, v, rm);
        assert_eq!(l(QNAN_D | NEG, RNE), (i64::MAX as u64, NV));
        assert_eq!(l(INF_D | NEG, RNE), (i64::MIN as u64, NV));
        assert_eq!(l(0x43e0_0000_0000_0000, RNE), (i64::MAX as u64, NV)); // 2^63
        assert_eq!(l(0xc3e0_0000_0000_0000, RNE), (i64::MIN as u64, 0)); // −2^63
        assert_eq!(l(0x43df_ffff_ffff_ffff, RNE), (0x7fff_ffff_ffff_fc00, 0));
        assert_eq!(
            to_x(FCVT_TO_INT, L, bx(0xc020_0000), RNE),
            (-2i64 as u64, NX)
        ); // −2.5
        assert_eq!(
            to_x(FCVT_TO_INT, L, bx(0xc020_0000), RMM),
            (-3i64 as u64, NX)
        );
        assert_eq!(
            to_x(FCVT_TO_INT, L, bx(0x5f00_0000), RNE),
            (i64::MAX as u64, NV)
        ); // 2^63
        let lu = |v: u64, rm| to_x(FCVT_TO_INT + D, LU, v, rm);
        assert_eq!(lu(ONE_D | NEG, RNE), (0, NV));
        assert_eq!(lu(QNAN_D, RNE), (u64::MAX, NV));
        assert_eq!(lu(0x43f0_0000_0000_0000, RNE), (u64::MAX, NV)); // 2^64
        assert_eq!(lu(0x43ef_ffff_ffff_ffff, RNE), (18446744073709549568, 0));
        assert_eq!(lu(NEG, RNE), (0, 0));
        assert_eq!(to_x(FCVT_TO_INT, LU, bx(HALF_S | NEG_S), RUP), (0, NX));
        assert_eq!(to_x(FCVT_TO_INT, LU, bx(HALF_S | NEG_S), RDN), (0, NV));
        assert_eq!(to_x(FCVT_TO_INT, LU, bx(0x5f80_0000), RNE), (u64::MAX, NV)); // 2^64

        // rd = x0: nothing written, flags still accrue.
        let mut h = hart();
        h.f[2] = bx(QNAN_S);
        run(&mut h, opfp(FCVT_TO_INT, W, 2, RNE, 0)).unwrap();
        assert_eq!((h.x[0], h.fflags), (0, NV));
    }

    #[test]
    fn int_to_float() {
        // 2^24 + 1 needs 25 bits: a tie.
        modes(
            "fcvt.s.w 2^24+1",
            per_mode(
                [
                    0x4b80_0000,
                    0x4b80_0000,
                    0x4b80_0000,
                    0x4b80_0001,
                    0x4b80_0001,
                ]
                .map(bx),
                NX,
            ),
            |rm| from_x(FCVT_FROM_INT, W, 16_777_217, rm),
        );
        // 32-bit sources use the low 32 bits of rs1 only.
        assert_eq!(
            from_x(FCVT_FROM_INT, W, 0x1234_5678_ffff_ffff, RNE),
            (bx(0xbf80_0000), 0)
        );
        assert_eq!(
            from_x(FCVT_FROM_INT, W, 0x8000_0000, RNE),
            (bx(0xcf00_0000), 0)
        );
        modes(
            "fcvt.s.wu 2^32-1",
            per_mode(
                [
                    0x4f80_0000,
                    0x4f7f_ffff,
                    0x4f7f_ffff,
                    0x4f80_0000,
                    0x4f80_0000,
                ]
                .map(bx),
                NX,
            ),
            |rm| from_x(FCVT_FROM_INT, WU, 0xdead_beef_ffff_ffff, rm),
        );
        assert_eq!(
            from_x(FCVT_FROM_INT, L, u64::MAX, RNE),
            (bx(0xbf80_0000), 0)
        );
        assert_eq!(
            from_x(FCVT_FROM_INT, LU, u64::MAX, RNE),
            (bx(0x5f80_0000), NX)
        );
        assert_eq!(
            from_x(FCVT_FROM_INT, LU, u64::MAX, RTZ),
            (bx(0x5f7f_ffff), NX)
        );
        assert_eq!(from_x(FCVT_FROM_INT, L, 0, RDN), (bx(0), 0)); // +0 even in RDN
                                                                  // Double precision.
        assert_eq!(
            from_x(FCVT_FROM_INT + D, W, 0xffff_ffff, RNE),
            (ONE_D | NEG, 0)
        );
        assert_eq!(
            from_x(FCVT_FROM_INT + D, WU, 0xffff_ffff, RNE),
            (0x41ef_ffff_ffe0_0000, 0)
        );
        assert_eq!(
            from_x(FCVT_FROM_INT + D, L, i64::MIN as u64, RNE),
            (0xc3e0_0000_0000_0000, 0)
        );
        modes(
            "fcvt.d.lu 2^64-1",
            per_mode(
                [
                    0x43f0_0000_0000_0000,
                    0x43ef_ffff_ffff_ffff,
                    0x43ef_ffff_ffff_ffff,
                    0x43f0_0000_0000_0000,
                    0x43f0_0000_0000_0000,
                ],
                NX,
            ),
            |rm| from_x(FCVT_FROM_INT + D, LU, u64::MAX, rm),
        );
        // 2^53 + 1 as a signed 64-bit value, negative: a tie.
        modes(
            "fcvt.d.l -(2^53+1)",
            per_mode(
                [
                    0xc340_0000_0000_0000,
                    0xc340_0000_0000_0000,
                    0xc340_0000_0000_0001,
                    0xc340_0000_0000_0000,
                    0xc340_0000_0000_0001,
                ],
                NX,
            ),
            |rm| from_x(FCVT_FROM_INT + D, L, (-(1i64 << 53) - 1) as u64, rm),
        );
    }

    #[test]
    fn float_to_float() {
        modes(
            "fcvt.s.d 1/3",
            per_mode(
                [0x3eaaaaab, 0x3eaaaaaa, 0x3eaaaaaa, 0x3eaaaaab, 0x3eaaaaab].map(bx),
                NX,
            ),
            |rm| un(FCVT_S_D, 1, 0x3fd5_5555_5555_5555, rm),
        );
        let (inf, max) = (bx(INF_S), bx(MAX_S));
        modes(
            "fcvt.s.d 1e300",
            per_mode([inf, max, max, inf, inf], OF | NX),
            |rm| un(FCVT_S_D, 1, 0x7e37_e43c_8800_759c, rm),
        );
        // 2^-150: half the smallest subnormal single.
        modes(
            "fcvt.s.d 2^-150",
            [
                (bx(0), UF | NX),
                (bx(0), UF | NX),
                (bx(0), UF | NX),
                (bx(1), UF | NX),
                (bx(1), UF | NX),
            ],
            |rm| un(FCVT_S_D, 1, 0x3690_0000_0000_0000, rm),
        );
        // 2^-149 is exactly the smallest subnormal.
        assert_eq!(un(FCVT_S_D, 1, 0x36a0_0000_0000_0000, RNE), (bx(1), 0));
        assert_eq!(un(FCVT_S_D, 1, INF_D | NEG, RNE), (bx(INF_S | NEG_S), 0));
        assert_eq!(un(FCVT_S_D, 1, NEG, RUP), (bx(NEG_S), 0));
        assert_eq!(un(FCVT_S_D, 1, SNAN_D, RNE), (bx(QNAN_S), NV));
        assert_eq!(un(FCVT_S_D, 1, 0xfff8_0000_0000_1234, RNE), (bx(QNAN_S), 0));
        // Single to double is exact; NaNs become the canonical double NaN.
        assert_eq!(un(FCVT_D_S, 0, bx(1), RNE), (0x36a0_0000_0000_0000, 0));
        assert_eq!(
            un(FCVT_D_S, 0, bx(MAX_S | NEG_S), RNE),
            (0xc7ef_ffff_e000_0000, 0)
        );
        assert_eq!(un(FCVT_D_S, 0, bx(SNAN_S), RNE), (QNAN_D, NV));
        assert_eq!(un(FCVT_D_S, 0, bx(0xffc0_1234), RNE), (QNAN_D, 0));
        // An improperly boxed single is the canonical NaN: quiet, no NV.
        assert_eq!(un(FCVT_D_S, 0, SNAN_S as u64, RNE), (QNAN_D, 0));
    }

    #[test]
    fn nan_boxing() {
        let cs = bx(QNAN_S);
        // Results are boxed.
        assert_eq!(bin_s(FADD, ONE_S, ONE_S, RNE), (bx(TWO_S), 0));
        // Operands whose upper half is not all ones read as the canonical quiet NaN.
        assert_eq!(bin(FADD, S, ONE_S as u64, bx(ONE_S), RNE), (cs, 0));
        assert_eq!(bin(FADD, S, bx(ONE_S), 0x7fff_ffff_3f80_0000, RNE), (cs, 0));
        // Even a boxed-looking double (an ordinary double value) is not a single.
        assert_eq!(bin(FMUL, S, ONE_D, ONE_D, RNE), (cs, 0));
        // Sign injection works on the canonical NaN, not on the raw bits.
        assert_eq!(
            bin(FSGNJ, S, ONE_S as u64, bx(NEG_S), 0),
            (bx(QNAN_S | NEG_S), 0)
        );
        assert_eq!(
            bin(FSGNJ, S, bx(ONE_S), NEG_S as u64, 1),
            (bx(ONE_S | NEG_S), 0)
        );
        // fmin treats it as a NaN: the other operand wins.
        assert_eq!(bin(FMINMAX, S, 0, bx(THREE_S), 0), (bx(THREE_S), 0));
        // Double operations read all 64 bits; a boxed single is a negative NaN.
        assert_eq!(bin(FADD, D, bx(ONE_S), ONE_D, RNE), (QNAN_D, 0));
        // fma reads rs3 through the check too.
        assert_eq!(
            fma(0x43, S, bx(ONE_S), bx(ONE_S), ONE_S as u64, RNE),
            (cs, 0)
        );

        // Transfers: fmv.x.w takes the low 32 bits unchecked and sign-extends.
        let mut h = hart();
        h.f[2] = 0x1234_5678_8000_0001;
        h.f[3] = bx(0x4000_0000);
        run(&mut h, opfp(FMV_X_CLASS, 0, 2, 0, 10)).unwrap();
        run(&mut h, opfp(FMV_X_CLASS, 0, 3, 0, 11)).unwrap();
        assert_eq!((h.x[10], h.x[11]), (0xffff_ffff_8000_0001, 0x4000_0000));
        // fmv.w.x boxes the low 32 bits, keeping a signaling NaN as is.
        h.x[12] = 0xdead_beef_7f80_0001;
        run(&mut h, opfp(FMV_F, 0, 12, 0, 4)).unwrap();
        assert_eq!(h.f[4], bx(SNAN_S));
        // fmv.x.d / fmv.d.x move all 64 bits.
        h.x[13] = SNAN_D;
        run(&mut h, opfp(FMV_F + D, 0, 13, 0, 5)).unwrap();
        run(&mut h, opfp(FMV_X_CLASS + D, 0, 2, 0, 14)).unwrap();
        assert_eq!((h.f[5], h.x[14]), (SNAN_D, 0x1234_5678_8000_0001));
        // fmv.x.* to x0 is discarded.
        run(&mut h, opfp(FMV_X_CLASS + D, 0, 2, 0, 0)).unwrap();
        assert_eq!(h.x[0], 0);
        assert_eq!(h.fflags, 0);
    }

    #[test]
    fn dynamic_rounding_mode() {
        let div = opfp(FDIV, 3, 2, DYN, 1);
        for (frm, want) in [
            (0, 0x3eaaaaab),
            (1, 0x3eaaaaaa),
            (2, 0x3eaaaaaa),
            (3, 0x3eaaaaab),
            (4, 0x3eaaaaab),
        ] {
            let mut h = hart();
            h.frm = frm;
            h.f[2] = bx(ONE_S);
            h.f[3] = bx(THREE_S);
            run(&mut h, div).unwrap();
            assert_eq!((h.f[1], h.fflags), (bx(want), NX), "frm={frm}");
        }
        // A static mode overrides frm.
        let mut h = hart();
        h.frm = 3;
        h.f[2] = bx(ONE_S);
        h.f[3] = bx(THREE_S);
        run(&mut h, opfp(FDIV, 3, 2, RTZ, 1)).unwrap();
        assert_eq!(h.f[1], bx(0x3eaaaaaa));
    }

    #[test]
    fn invalid_dynamic_rounding_mode_is_illegal() {
        let ops = [
            opfp(FADD, 3, 2, DYN, 1),
            opfp(FSQRT + D, 0, 2, DYN, 1),
            r4(0x43, 0, 4, 3, 2, DYN, 1),
            opfp(FCVT_TO_INT, W, 2, DYN, 10),
            opfp(FCVT_FROM_INT + D, L, 11, DYN, 1),
            // Conversions that never round still have (and check) the field.
            opfp(FCVT_D_S, 0, 2, DYN, 1),
            opfp(FCVT_FROM_INT + D, W, 11, DYN, 1),
        ];
        for frm in [5, 6, 7] {
            for raw in ops {
                let mut h = hart();
                h.frm = frm;
                h.f[2] = bx(QNAN_S);
                h.f[3] = bx(SNAN_S);
                h.x[10] = 7;
                let before = (h.f, h.x, h.fflags, h.csr.mstatus);
                let err = run(&mut h, raw).unwrap_err();
                assert_eq!((err.cause, err.tval), (cause::ILLEGAL_INSN, raw as u64));
                assert_eq!(before, (h.f, h.x, h.fflags, h.csr.mstatus), "{raw:#010x}");
            }
        }
        // Instructions without a rounding mode ignore frm.
        let mut h = hart();
        h.frm = 5;
        h.f[2] = bx(ONE_S);
        run(&mut h, opfp(FSGNJ, 2, 2, 1, 1)).unwrap();
        run(&mut h, opfp(FCMP, 2, 2, 2, 10)).unwrap();
        assert_eq!((h.f[1], h.x[10]), (bx(ONE_S | NEG_S), 1));
    }

    #[test]
    fn fs_off_makes_every_fp_instruction_illegal() {
        let ops = [
            opfp(FADD, 3, 2, RNE, 1),
            opfp(FSGNJ, 3, 2, 0, 1),
            opfp(FCMP, 3, 2, 2, 10),
            opfp(FMV_X_CLASS, 0, 2, 0, 10),
            opfp(FMV_X_CLASS, 0, 2, 1, 10),
            opfp(FMV_F + D, 0, 11, 0, 1),
            r4(0x4f, 1, 4, 3, 2, RNE, 1),
        ];
        for raw in ops {
            let mut h = Hart::new(0);
            h.csr.mstatus &= !FS_DIRTY;
            h.f[2] = bx(SNAN_S);
            h.x[11] = 1;
            let err = run(&mut h, raw).unwrap_err();
            assert_eq!((err.cause, err.tval), (cause::ILLEGAL_INSN, raw as u64));
            assert_eq!((h.f[1], h.x[10], h.fflags), (0, 0, 0));
            assert_eq!(h.csr.mstatus & FS_DIRTY, 0);
        }
    }

    #[test]
    fn flags_accrue_and_fs_becomes_dirty() {
        let mut h = hart();
        h.f[2] = bx(ONE_S);
        h.f[3] = bx(0);
        // An ordinary compare writes no FP state: FS stays Initial.
        run(&mut h, opfp(FCMP, 3, 2, 2, 10)).unwrap();
        assert_eq!((h.x[10], h.csr.mstatus & FS_DIRTY), (0, FS_INITIAL));
        // Division by zero: DZ, and FS Dirty.
        run(&mut h, opfp(FDIV, 3, 2, RNE, 1)).unwrap();
        assert_eq!((h.fflags, h.csr.mstatus & FS_DIRTY), (DZ, FS_DIRTY));
        // Flags accumulate; nothing clears them.
        h.f[4] = bx(THREE_S);
        run(&mut h, opfp(FDIV, 4, 2, RNE, 5)).unwrap();
        assert_eq!(h.fflags, DZ | NX);
        run(&mut h, opfp(FADD, 2, 2, RNE, 5)).unwrap();
        assert_eq!(h.fflags, DZ | NX);
        // A compare that raises a flag dirties the state.
        let mut h = hart();
        h.f[2] = bx(QNAN_S);
        run(&mut h, opfp(FCMP, 2, 2, 1, 10)).unwrap();
        assert_eq!((h.fflags, h.csr.mstatus & FS_DIRTY), (NV, FS_DIRTY));
        // A move into an f register dirties the state without flags.
        let mut h = hart();
        run(&mut h, opfp(FMV_F, 0, 0, 0, 1)).unwrap();
        assert_eq!(
            (h.f[1], h.fflags, h.csr.mstatus & FS_DIRTY),
            (bx(0), 0, FS_DIRTY)
        );
    }
}
