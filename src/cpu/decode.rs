//! Instruction decoding: raw bits to [`Insn`], once.
//!
//! Compressed instructions are expanded here into the same operations as their 32-bit
//! forms (with `len == 2`), so the executor has a single implementation of each.
//! Floating-point arithmetic is decoded by [`super::fpu::decode`] into [`FpOp`].

use super::fpu::{self, FpOp};

/// Operations. One variant per distinct semantic; operands live in [`Insn`].
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Slot not decoded yet (decoded-page cache only).
    Undecoded,
    /// A debugger breakpoint sits on this slot; the real instruction is kept aside.
    Breakpoint,
    /// Not a valid instruction; `raw` goes to mtval.
    Illegal,
    Lui,
    Auipc,
    Jal,
    Jalr,
    Beq,
    Bne,
    Blt,
    Bge,
    Bltu,
    Bgeu,
    /// Block form only: the end of a block that does not end in a control transfer;
    /// execution goes on at the page offset in `imm` (see [`Insn::at`]).
    Goto,
    /// Block form only: a JAL whose target the block goes on at (same page); it only
    /// writes the link register.
    JalIn,
    /// An operation whose only effect is writing rd, with rd = x0 (the NOP and HINT
    /// encodings): does nothing. Decoding produces it so that the operations that only
    /// write rd never see x0 as their destination.
    Nop,
    Lb,
    Lh,
    Lw,
    Ld,
    Lbu,
    Lhu,
    Lwu,
    Sb,
    Sh,
    Sw,
    Sd,
    Addi,
    Slti,
    Sltiu,
    Xori,
    Ori,
    Andi,
    Slli,
    Srli,
    Srai,
    Add,
    Sub,
    Sll,
    Slt,
    Sltu,
    Xor,
    Srl,
    Sra,
    Or,
    And,
    Addiw,
    Slliw,
    Srliw,
    Sraiw,
    Addw,
    Subw,
    Sllw,
    Srlw,
    Sraw,
    Fence,
    FenceI,
    Ecall,
    Ebreak,
    Csrrw,
    Csrrs,
    Csrrc,
    Csrrwi,
    Csrrsi,
    Csrrci,
    Mret,
    Sret,
    Wfi,
    SfenceVma,
    Mul,
    Mulh,
    Mulhsu,
    Mulhu,
    Div,
    Divu,
    Rem,
    Remu,
    Mulw,
    Divw,
    Divuw,
    Remw,
    Remuw,
    LrW,
    ScW,
    AmoSwapW,
    AmoAddW,
    AmoXorW,
    AmoAndW,
    AmoOrW,
    AmoMinW,
    AmoMaxW,
    AmoMinuW,
    AmoMaxuW,
    LrD,
    ScD,
    AmoSwapD,
    AmoAddD,
    AmoXorD,
    AmoAndD,
    AmoOrD,
    AmoMinD,
    AmoMaxD,
    AmoMinuD,
    AmoMaxuD,
    Flw,
    Fld,
    Fsw,
    Fsd,
    /// Floating-point arithmetic, conversion or move: see `Insn::fp`.
    Fp,
    // Zba
    AddUw,
    Sh1add,
    Sh2add,
    Sh3add,
    Sh1addUw,
    Sh2addUw,
    Sh3addUw,
    SlliUw,
    // Zbb
    Andn,
    Orn,
    Xnor,
    Clz,
    Clzw,
    Ctz,
    Ctzw,
    Cpop,
    Cpopw,
    Max,
    Maxu,
    Min,
    Minu,
    SextB,
    SextH,
    ZextH,
    Rol,
    Rolw,
    Ror,
    Rori,
    Roriw,
    Rorw,
    OrcB,
    Rev8,
    // Zbs
    Bclr,
    Bclri,
    Bext,
    Bexti,
    Binv,
    Binvi,
    Bset,
    Bseti,
}

impl Op {
    /// How many operations there are: discriminants run from 0 to `COUNT - 1`.
    pub const COUNT: usize = Op::Bseti as usize + 1;

    /// The operation with discriminant `v`, or [`Op::Illegal`] past the last one.
    #[inline(always)]
    pub const fn from_u8(v: u8) -> Op {
        if (v as usize) < Op::COUNT {
            // SAFETY: `Op` is `repr(u8)` with discriminants 0..COUNT (no explicit
            // values), and `v` is below COUNT.
            unsafe { std::mem::transmute::<u8, Op>(v) }
        } else {
            Op::Illegal
        }
    }
}

/// The fields of a decoded instruction, as the decoder builds them. (`repr(C)`: the
/// interpreter loads each field straight from a block entry, see [`Insn`].)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Fields {
    pub op: Op,
    pub rd: u8,
    pub rs1: u8,
    pub rs2: u8,
    pub rs3: u8,
    /// Rounding mode field (funct3) for FP operations.
    pub rm: u8,
    /// Length in bytes: 2 or 4.
    pub len: u8,
    pub fp: FpOp,
    /// Immediate (sign-extended), CSR number for Zicsr, shift amount for shifts.
    pub imm: i32,
    /// The original instruction bits (16-bit forms in the low half).
    pub raw: u32,
}

impl Fields {
    pub const UNDECODED: Fields = Fields {
        op: Op::Undecoded,
        rd: 0,
        rs1: 0,
        rs2: 0,
        rs3: 0,
        rm: 0,
        len: 4,
        fp: FpOp::Invalid,
        imm: 0,
        raw: 0,
    };

    fn new(op: Op, raw: u32, len: u8) -> Fields {
        Fields {
            op,
            len,
            raw,
            ..Fields::UNDECODED
        }
    }

    fn r(op: Op, raw: u32, rd: u32, rs1: u32, rs2: u32, imm: i32) -> Fields {
        Fields {
            op,
            rd: rd as u8,
            rs1: rs1 as u8,
            rs2: rs2 as u8,
            imm,
            raw,
            len: 4,
            ..Fields::UNDECODED
        }
    }

    fn c(mut self) -> Fields {
        self.len = 2;
        self
    }

    /// Packs the fields into an [`Insn`].
    pub const fn pack(&self) -> Insn {
        Insn(Fields {
            rd: self.rd & 31,
            rs1: self.rs1 & 31,
            rs2: self.rs2 & 31,
            rs3: self.rs3 & 31,
            ..*self
        })
    }
}

/// A decoded instruction, as the interpreter reads it from a block: [`Fields`] whose
/// register numbers are below 32 by construction (the field is private and
/// [`Fields::pack`] masks them), so they index the register file without a mask or
/// bounds check. Each field has its own bytes, so an operation loads only the fields
/// it uses, each with one host load straight from the block.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub struct Insn(Fields);

/// Tells the compiler that a register field of an [`Insn`] is below 32, so that indexing
/// the 32-entry register file with it needs neither a mask nor a bounds check: one host
/// load per operand in the interpreter's handlers. Measured against masking (min of 9
/// interleaved runs): mem bench 0.78 s -> 0.64 s; Linux boot 4.07 s -> 4.04 s.
///
/// # Safety
/// `r` must be a register field of an `Insn`. Those fields are private and only
/// [`Fields::pack`] sets them, masking each to 5 bits.
#[inline(always)]
unsafe fn reg_below_32(r: u8) -> u8 {
    // SAFETY: the caller's contract.
    unsafe { std::hint::assert_unchecked(r < 32) };
    r
}

impl Insn {
    pub const UNDECODED: Insn = Fields::UNDECODED.pack();
    /// A debugger breakpoint slot: leaves the hot loop without executing.
    pub const BREAKPOINT: Insn = Fields {
        op: Op::Breakpoint,
        ..Fields::UNDECODED
    }
    .pack();

    #[inline(always)]
    pub fn op(&self) -> Op {
        self.0.op
    }
    /// Destination register, below 32.
    #[inline(always)]
    pub fn rd(&self) -> u8 {
        // SAFETY: see `reg_below_32`.
        unsafe { reg_below_32(self.0.rd) }
    }
    /// First source register, below 32.
    #[inline(always)]
    pub fn rs1(&self) -> u8 {
        // SAFETY: see `reg_below_32`.
        unsafe { reg_below_32(self.0.rs1) }
    }
    /// Second source register, below 32.
    #[inline(always)]
    pub fn rs2(&self) -> u8 {
        // SAFETY: see `reg_below_32`.
        unsafe { reg_below_32(self.0.rs2) }
    }
    /// Third source register (fused multiply-add), below 32.
    #[inline(always)]
    pub fn rs3(&self) -> u8 {
        // SAFETY: see `reg_below_32`.
        unsafe { reg_below_32(self.0.rs3) }
    }
    #[inline(always)]
    pub fn rm(&self) -> u8 {
        self.0.rm
    }
    /// Length in bytes: 2 or 4.
    #[inline(always)]
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u8 {
        self.0.len
    }
    #[inline(always)]
    pub fn fp(&self) -> FpOp {
        self.0.fp
    }
    #[inline(always)]
    pub fn imm(&self) -> i32 {
        self.0.imm
    }
    #[inline(always)]
    pub fn raw(&self) -> u32 {
        self.0.raw
    }
    /// The end of a block that falls through to page offset `off` (see [`Op::Goto`]).
    pub const fn goto(off: u32) -> Insn {
        Fields {
            op: Op::Goto,
            imm: off as i32,
            ..Fields::UNDECODED
        }
        .pack()
    }

    /// The *block form* of this instruction at page offset `off`, which is what the
    /// interpreter executes: pc-relative operands become page-relative, so no operation
    /// needs its own pc. `imm` of AUIPC, JAL and the branches gains `off` (the target is
    /// the page base plus `imm`), and JAL and JALR keep `off + len` (the link value,
    /// page-relative) in place of their raw bits, which neither needs: with C, no jump
    /// can trap.
    #[inline]
    pub fn at(self, off: u32) -> Insn {
        let f = self.0;
        let imm = f.imm.wrapping_add(off as i32);
        let next = off + f.len as u32;
        Insn(match f.op {
            Op::Auipc | Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => {
                Fields { imm, ..f }
            }
            Op::Jal => Fields {
                imm,
                raw: next,
                ..f
            },
            Op::Jalr => Fields { raw: next, ..f },
            _ => f,
        })
    }

    /// The same operands with another operation.
    pub const fn with_op(self, op: Op) -> Insn {
        Insn(Fields { op, ..self.0 })
    }

    /// The same operands with another immediate (for a branch in block form: its
    /// page-relative target).
    pub const fn with_imm(self, imm: i32) -> Insn {
        Insn(Fields { imm, ..self.0 })
    }

    /// All fields, for code off the hot path.
    pub fn fields(&self) -> Fields {
        self.0
    }
}

impl std::fmt::Debug for Insn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.fields().fmt(f)
    }
}

/// Instruction length from the low 16 bits: 2 for compressed, else 4.
#[inline]
pub fn insn_len(low16: u16) -> u8 {
    if low16 & 3 == 3 {
        4
    } else {
        2
    }
}

#[inline]
fn bits(x: u32, hi: u32, lo: u32) -> u32 {
    (x >> lo) & ((1u32 << (hi - lo + 1)) - 1)
}

#[inline]
fn sext(x: u32, width: u32) -> i32 {
    let s = 32 - width;
    ((x << s) as i32) >> s
}

/// Decodes one instruction. `raw` holds 32 bits, or 16 in the low half when compressed.
pub fn decode(raw: u32) -> Insn {
    let mut f = if raw & 3 != 3 {
        decode_compressed(raw & 0xffff)
    } else {
        decode32(raw)
    };
    if f.rd == 0 && only_writes_rd(f.op) {
        f.op = Op::Nop;
    }
    f.pack()
}

/// Whether the only effect of `op` is writing integer register rd (so with rd = x0 it
/// does nothing). The interpreter stores such an operation's result without keeping
/// x0 zero, relying on [`decode`] to have made it [`Op::Nop`] when rd is x0.
pub fn only_writes_rd(op: Op) -> bool {
    use Op::*;
    matches!(
        op,
        Lui | Auipc
            | JalIn
            | Addi
            | Slti
            | Sltiu
            | Xori
            | Ori
            | Andi
            | Slli
            | Srli
            | Srai
            | Add
            | Sub
            | Sll
            | Slt
            | Sltu
            | Xor
            | Srl
            | Sra
            | Or
            | And
            | Addiw
            | Slliw
            | Srliw
            | Sraiw
            | Addw
            | Subw
            | Sllw
            | Srlw
            | Sraw
            | Mul
            | Mulh
            | Mulhsu
            | Mulhu
            | Div
            | Divu
            | Rem
            | Remu
            | Mulw
            | Divw
            | Divuw
            | Remw
            | Remuw
            | AddUw
            | Sh1add
            | Sh2add
            | Sh3add
            | Sh1addUw
            | Sh2addUw
            | Sh3addUw
            | SlliUw
            | Andn
            | Orn
            | Xnor
            | Clz
            | Clzw
            | Ctz
            | Ctzw
            | Cpop
            | Cpopw
            | Max
            | Maxu
            | Min
            | Minu
            | SextB
            | SextH
            | ZextH
            | Rol
            | Rolw
            | Ror
            | Rori
            | Roriw
            | Rorw
            | OrcB
            | Rev8
            | Bclr
            | Bclri
            | Bext
            | Bexti
            | Binv
            | Binvi
            | Bset
            | Bseti
    )
}

fn decode32(raw: u32) -> Fields {
    use Op::*;
    let rd = bits(raw, 11, 7);
    let rs1 = bits(raw, 19, 15);
    let rs2 = bits(raw, 24, 20);
    let f3 = bits(raw, 14, 12);
    let f7 = bits(raw, 31, 25);
    let i_imm = (raw as i32) >> 20;
    let s_imm = ((raw as i32 >> 25) << 5) | bits(raw, 11, 7) as i32;
    let b_imm = sext(
        (bits(raw, 31, 31) << 12)
            | (bits(raw, 7, 7) << 11)
            | (bits(raw, 30, 25) << 5)
            | (bits(raw, 11, 8) << 1),
        13,
    );
    let u_imm = (raw & 0xffff_f000) as i32;
    let j_imm = sext(
        (bits(raw, 31, 31) << 20)
            | (bits(raw, 19, 12) << 12)
            | (bits(raw, 20, 20) << 11)
            | (bits(raw, 30, 21) << 1),
        21,
    );
    let ill = Fields::new(Illegal, raw, 4);
    let r = |op| Fields::r(op, raw, rd, rs1, rs2, 0);
    let i = |op| Fields::r(op, raw, rd, rs1, 0, i_imm);
    match raw & 0x7f {
        0x37 => Fields::r(Lui, raw, rd, 0, 0, u_imm),
        0x17 => Fields::r(Auipc, raw, rd, 0, 0, u_imm),
        0x6f => Fields::r(Jal, raw, rd, 0, 0, j_imm),
        0x67 if f3 == 0 => i(Jalr),
        0x63 => {
            let op = match f3 {
                0 => Beq,
                1 => Bne,
                4 => Blt,
                5 => Bge,
                6 => Bltu,
                7 => Bgeu,
                _ => return ill,
            };
            Fields::r(op, raw, 0, rs1, rs2, b_imm)
        }
        0x03 => {
            let op = match f3 {
                0 => Lb,
                1 => Lh,
                2 => Lw,
                3 => Ld,
                4 => Lbu,
                5 => Lhu,
                6 => Lwu,
                _ => return ill,
            };
            i(op)
        }
        0x23 => {
            let op = match f3 {
                0 => Sb,
                1 => Sh,
                2 => Sw,
                3 => Sd,
                _ => return ill,
            };
            Fields::r(op, raw, 0, rs1, rs2, s_imm)
        }
        0x13 => {
            let shamt = bits(raw, 25, 20) as i32;
            let f6 = bits(raw, 31, 26);
            let op = match f3 {
                0 => Addi,
                2 => Slti,
                3 => Sltiu,
                4 => Xori,
                6 => Ori,
                7 => Andi,
                1 => {
                    let op = match (f6, rs2) {
                        (0x00, _) => Slli,
                        (0x12, _) => Bclri,
                        (0x1a, _) => Binvi,
                        (0x0a, _) => Bseti,
                        (0x18, 0) => Clz,
                        (0x18, 1) => Ctz,
                        (0x18, 2) => Cpop,
                        (0x18, 4) => SextB,
                        (0x18, 5) => SextH,
                        _ => return ill,
                    };
                    return Fields::r(op, raw, rd, rs1, 0, shamt);
                }
                5 => {
                    let op = match f6 {
                        0x00 => Srli,
                        0x10 => Srai,
                        0x12 => Bexti,
                        0x18 => Rori,
                        0x1a if bits(raw, 25, 20) == 0x38 => Rev8,
                        0x0a if bits(raw, 25, 20) == 0x07 => OrcB,
                        _ => return ill,
                    };
                    return Fields::r(op, raw, rd, rs1, 0, shamt);
                }
                _ => return ill,
            };
            i(op)
        }
        0x1b => {
            let shamt = rs2 as i32;
            match (f3, f7) {
                (0, _) => i(Addiw),
                (1, 0x00) => Fields::r(Slliw, raw, rd, rs1, 0, shamt),
                (1, 0x30) => match rs2 {
                    0 => Fields::r(Clzw, raw, rd, rs1, 0, 0),
                    1 => Fields::r(Ctzw, raw, rd, rs1, 0, 0),
                    2 => Fields::r(Cpopw, raw, rd, rs1, 0, 0),
                    _ => ill,
                },
                (1, f) if f >> 1 == 0x02 => {
                    // slli.uw: shamt is 6 bits (funct6 = 0b000010).
                    Fields::r(SlliUw, raw, rd, rs1, 0, bits(raw, 25, 20) as i32)
                }
                (5, 0x00) => Fields::r(Srliw, raw, rd, rs1, 0, shamt),
                (5, 0x20) => Fields::r(Sraiw, raw, rd, rs1, 0, shamt),
                (5, 0x30) => Fields::r(Roriw, raw, rd, rs1, 0, shamt),
                _ => ill,
            }
        }
        0x33 => {
            let op = match (f7, f3) {
                (0x00, 0) => Add,
                (0x20, 0) => Sub,
                (0x00, 1) => Sll,
                (0x00, 2) => Slt,
                (0x00, 3) => Sltu,
                (0x00, 4) => Xor,
                (0x00, 5) => Srl,
                (0x20, 5) => Sra,
                (0x00, 6) => Or,
                (0x00, 7) => And,
                (0x01, 0) => Mul,
                (0x01, 1) => Mulh,
                (0x01, 2) => Mulhsu,
                (0x01, 3) => Mulhu,
                (0x01, 4) => Div,
                (0x01, 5) => Divu,
                (0x01, 6) => Rem,
                (0x01, 7) => Remu,
                (0x10, 2) => Sh1add,
                (0x10, 4) => Sh2add,
                (0x10, 6) => Sh3add,
                (0x20, 7) => Andn,
                (0x20, 6) => Orn,
                (0x20, 4) => Xnor,
                (0x05, 6) => Max,
                (0x05, 7) => Maxu,
                (0x05, 4) => Min,
                (0x05, 5) => Minu,
                (0x30, 1) => Rol,
                (0x30, 5) => Ror,
                (0x24, 1) => Bclr,
                (0x24, 5) => Bext,
                (0x34, 1) => Binv,
                (0x14, 1) => Bset,
                _ => return ill,
            };
            r(op)
        }
        0x3b => {
            let op = match (f7, f3) {
                (0x00, 0) => Addw,
                (0x20, 0) => Subw,
                (0x00, 1) => Sllw,
                (0x00, 5) => Srlw,
                (0x20, 5) => Sraw,
                (0x01, 0) => Mulw,
                (0x01, 4) => Divw,
                (0x01, 5) => Divuw,
                (0x01, 6) => Remw,
                (0x01, 7) => Remuw,
                (0x04, 0) => AddUw,
                (0x04, 4) if rs2 == 0 => ZextH,
                (0x10, 2) => Sh1addUw,
                (0x10, 4) => Sh2addUw,
                (0x10, 6) => Sh3addUw,
                (0x30, 1) => Rolw,
                (0x30, 5) => Rorw,
                _ => return ill,
            };
            r(op)
        }
        0x0f => match f3 {
            0 => Fields::new(Fence, raw, 4),
            1 => Fields::new(FenceI, raw, 4),
            _ => ill,
        },
        0x73 => {
            let csr = bits(raw, 31, 20) as i32;
            match f3 {
                0 => match raw {
                    0x0000_0073 => Fields::new(Ecall, raw, 4),
                    0x0010_0073 => Fields::new(Ebreak, raw, 4),
                    0x3020_0073 => Fields::new(Mret, raw, 4),
                    0x1020_0073 => Fields::new(Sret, raw, 4),
                    0x1050_0073 => Fields::new(Wfi, raw, 4),
                    _ if f7 == 0x09 && rd == 0 => Fields::r(SfenceVma, raw, 0, rs1, rs2, 0),
                    _ => ill,
                },
                1 => Fields::r(Csrrw, raw, rd, rs1, 0, csr),
                2 => Fields::r(Csrrs, raw, rd, rs1, 0, csr),
                3 => Fields::r(Csrrc, raw, rd, rs1, 0, csr),
                5 => Fields::r(Csrrwi, raw, rd, rs1, 0, csr),
                6 => Fields::r(Csrrsi, raw, rd, rs1, 0, csr),
                7 => Fields::r(Csrrci, raw, rd, rs1, 0, csr),
                _ => ill,
            }
        }
        0x2f => {
            let f5 = bits(raw, 31, 27);
            let op = match (f3, f5) {
                (2, 0x02) if rs2 == 0 => LrW,
                (2, 0x03) => ScW,
                (2, 0x01) => AmoSwapW,
                (2, 0x00) => AmoAddW,
                (2, 0x04) => AmoXorW,
                (2, 0x0c) => AmoAndW,
                (2, 0x08) => AmoOrW,
                (2, 0x10) => AmoMinW,
                (2, 0x14) => AmoMaxW,
                (2, 0x18) => AmoMinuW,
                (2, 0x1c) => AmoMaxuW,
                (3, 0x02) if rs2 == 0 => LrD,
                (3, 0x03) => ScD,
                (3, 0x01) => AmoSwapD,
                (3, 0x00) => AmoAddD,
                (3, 0x04) => AmoXorD,
                (3, 0x0c) => AmoAndD,
                (3, 0x08) => AmoOrD,
                (3, 0x10) => AmoMinD,
                (3, 0x14) => AmoMaxD,
                (3, 0x18) => AmoMinuD,
                (3, 0x1c) => AmoMaxuD,
                _ => return ill,
            };
            r(op)
        }
        0x07 => match f3 {
            2 => i(Flw),
            3 => i(Fld),
            _ => ill,
        },
        0x27 => match f3 {
            2 => Fields::r(Fsw, raw, 0, rs1, rs2, s_imm),
            3 => Fields::r(Fsd, raw, 0, rs1, rs2, s_imm),
            _ => ill,
        },
        0x43 | 0x47 | 0x4b | 0x4f | 0x53 => match fpu::decode(raw) {
            Some(fp) => Fields {
                op: Fp,
                rd: rd as u8,
                rs1: rs1 as u8,
                rs2: rs2 as u8,
                rs3: bits(raw, 31, 27) as u8,
                rm: f3 as u8,
                len: 4,
                fp,
                imm: 0,
                raw,
            },
            None => ill,
        },
        _ => ill,
    }
}

fn decode_compressed(raw: u32) -> Fields {
    use Op::*;
    let ill = Fields::new(Illegal, raw, 2);
    let f3 = bits(raw, 15, 13);
    let rd = bits(raw, 11, 7);
    let rs2 = bits(raw, 6, 2);
    let rdp = bits(raw, 4, 2) + 8;
    let rs1p = bits(raw, 9, 7) + 8;
    let ci_imm = sext((bits(raw, 12, 12) << 5) | bits(raw, 6, 2), 6);
    let r = |op, rd, rs1, rs2, imm| Fields::r(op, raw, rd, rs1, rs2, imm).c();
    match (raw & 3, f3) {
        (0, 0) => {
            // c.addi4spn
            let imm = (bits(raw, 10, 7) << 6)
                | (bits(raw, 12, 11) << 4)
                | (bits(raw, 5, 5) << 3)
                | (bits(raw, 6, 6) << 2);
            if imm == 0 {
                return ill;
            }
            r(Addi, rdp, 2, 0, imm as i32)
        }
        (0, 1) => {
            let imm = (bits(raw, 12, 10) << 3) | (bits(raw, 6, 5) << 6);
            r(Fld, rdp, rs1p, 0, imm as i32)
        }
        (0, 2) => {
            let imm = (bits(raw, 12, 10) << 3) | (bits(raw, 6, 6) << 2) | (bits(raw, 5, 5) << 6);
            r(Lw, rdp, rs1p, 0, imm as i32)
        }
        (0, 3) => {
            let imm = (bits(raw, 12, 10) << 3) | (bits(raw, 6, 5) << 6);
            r(Ld, rdp, rs1p, 0, imm as i32)
        }
        (0, 5) => {
            let imm = (bits(raw, 12, 10) << 3) | (bits(raw, 6, 5) << 6);
            r(Fsd, 0, rs1p, rdp, imm as i32)
        }
        (0, 6) => {
            let imm = (bits(raw, 12, 10) << 3) | (bits(raw, 6, 6) << 2) | (bits(raw, 5, 5) << 6);
            r(Sw, 0, rs1p, rdp, imm as i32)
        }
        (0, 7) => {
            let imm = (bits(raw, 12, 10) << 3) | (bits(raw, 6, 5) << 6);
            r(Sd, 0, rs1p, rdp, imm as i32)
        }
        (1, 0) => r(Addi, rd, rd, 0, ci_imm), // c.addi / c.nop
        (1, 1) => {
            if rd == 0 {
                return ill;
            }
            r(Addiw, rd, rd, 0, ci_imm)
        }
        (1, 2) => r(Addi, rd, 0, 0, ci_imm), // c.li
        (1, 3) => {
            if rd == 2 {
                let imm = sext(
                    (bits(raw, 12, 12) << 9)
                        | (bits(raw, 4, 3) << 7)
                        | (bits(raw, 5, 5) << 6)
                        | (bits(raw, 2, 2) << 5)
                        | (bits(raw, 6, 6) << 4),
                    10,
                );
                if imm == 0 {
                    return ill;
                }
                r(Addi, 2, 2, 0, imm)
            } else {
                if ci_imm == 0 {
                    return ill;
                }
                r(Lui, rd, 0, 0, ci_imm << 12)
            }
        }
        (1, 4) => {
            let shamt = ((bits(raw, 12, 12) << 5) | bits(raw, 6, 2)) as i32;
            match bits(raw, 11, 10) {
                0 => r(Srli, rs1p, rs1p, 0, shamt),
                1 => r(Srai, rs1p, rs1p, 0, shamt),
                2 => r(Andi, rs1p, rs1p, 0, ci_imm),
                _ => {
                    let op = match (bits(raw, 12, 12), bits(raw, 6, 5)) {
                        (0, 0) => Sub,
                        (0, 1) => Xor,
                        (0, 2) => Or,
                        (0, 3) => And,
                        (1, 0) => Subw,
                        (1, 1) => Addw,
                        _ => return ill,
                    };
                    r(op, rs1p, rs1p, rdp, 0)
                }
            }
        }
        (1, 5) => r(Jal, 0, 0, 0, cj_imm(raw)),
        (1, 6) => r(Beq, 0, rs1p, 0, cb_imm(raw)),
        (1, 7) => r(Bne, 0, rs1p, 0, cb_imm(raw)),
        (2, 0) => {
            let shamt = ((bits(raw, 12, 12) << 5) | bits(raw, 6, 2)) as i32;
            r(Slli, rd, rd, 0, shamt)
        }
        (2, 1) => {
            let imm = (bits(raw, 12, 12) << 5) | (bits(raw, 6, 5) << 3) | (bits(raw, 4, 2) << 6);
            r(Fld, rd, 2, 0, imm as i32)
        }
        (2, 2) => {
            if rd == 0 {
                return ill;
            }
            let imm = (bits(raw, 12, 12) << 5) | (bits(raw, 6, 4) << 2) | (bits(raw, 3, 2) << 6);
            r(Lw, rd, 2, 0, imm as i32)
        }
        (2, 3) => {
            if rd == 0 {
                return ill;
            }
            let imm = (bits(raw, 12, 12) << 5) | (bits(raw, 6, 5) << 3) | (bits(raw, 4, 2) << 6);
            r(Ld, rd, 2, 0, imm as i32)
        }
        (2, 4) => match (bits(raw, 12, 12), rd, rs2) {
            (0, 0, 0) => ill,
            (0, _, 0) => r(Jalr, 0, rd, 0, 0),
            (0, _, _) => r(Add, rd, 0, rs2, 0), // c.mv
            (1, 0, 0) => Fields::new(Ebreak, raw, 2),
            (1, _, 0) => r(Jalr, 1, rd, 0, 0),
            (1, _, _) => r(Add, rd, rd, rs2, 0),
            _ => ill,
        },
        (2, 5) => {
            let imm = (bits(raw, 12, 10) << 3) | (bits(raw, 9, 7) << 6);
            r(Fsd, 0, 2, rs2, imm as i32)
        }
        (2, 6) => {
            let imm = (bits(raw, 12, 9) << 2) | (bits(raw, 8, 7) << 6);
            r(Sw, 0, 2, rs2, imm as i32)
        }
        (2, 7) => {
            let imm = (bits(raw, 12, 10) << 3) | (bits(raw, 9, 7) << 6);
            r(Sd, 0, 2, rs2, imm as i32)
        }
        _ => ill,
    }
}

fn cj_imm(raw: u32) -> i32 {
    sext(
        (bits(raw, 12, 12) << 11)
            | (bits(raw, 11, 11) << 4)
            | (bits(raw, 10, 9) << 8)
            | (bits(raw, 8, 8) << 10)
            | (bits(raw, 7, 7) << 6)
            | (bits(raw, 6, 6) << 7)
            | (bits(raw, 5, 3) << 1)
            | (bits(raw, 2, 2) << 5),
        12,
    )
}

fn cb_imm(raw: u32) -> i32 {
    sext(
        (bits(raw, 12, 12) << 8)
            | (bits(raw, 11, 10) << 3)
            | (bits(raw, 6, 5) << 6)
            | (bits(raw, 4, 3) << 1)
            | (bits(raw, 2, 2) << 5),
        9,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_basic_forms() {
        // addi a0, a0, -1
        let i = decode(0xfff50513).fields();
        assert_eq!((i.op, i.rd, i.rs1, i.imm, i.len), (Op::Addi, 10, 10, -1, 4));
        // c.addi a0, -1 = 0x157d
        let c = decode(0x157d).fields();
        assert_eq!((c.op, c.rd, c.rs1, c.imm, c.len), (Op::Addi, 10, 10, -1, 2));
        // c.j -2 (0xbffd)
        let j = decode(0xbffd).fields();
        assert_eq!((j.op, j.imm), (Op::Jal, -2));
        // beq a0, a1, -8: 0xfeb50ce3
        let b = decode(0xfeb50ce3).fields();
        assert_eq!((b.op, b.rs1, b.rs2, b.imm), (Op::Beq, 10, 11, -8));
        // 0 is an illegal compressed instruction.
        assert_eq!(decode(0).op(), Op::Illegal);
        // csrrw zero, mscratch, a0 = 0x34051073
        let c = decode(0x34051073).fields();
        assert_eq!((c.op, c.imm, c.rs1), (Op::Csrrw, 0x340, 10));
        // sh1add a0,a1,a2 = 0x20c5a533
        assert_eq!(decode(0x20c5a533).op(), Op::Sh1add);
        // rev8 a0,a1 = 0x6b85d513
        assert_eq!(decode(0x6b85d513).op(), Op::Rev8);
    }
}
