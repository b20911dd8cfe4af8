/* fp.S - F and D extensions: rounding modes (static and dynamic), fflags,
 * NaN-boxing, canonical NaNs, fmin/fmax, compares, conversions with
 * saturation, fclass, fused multiply-add, sign injection, moves, and
 * mstatus.FS (Off -> illegal instruction with mtval = instruction bits,
 * Initial -> Dirty after an FP write). */
#define TEST_NAME "fp"
#include "test.h"

#define BOX 0xffffffff00000000
/* single-precision constants */
#define S_ONE    0x3f800000
#define S_MONE   0xbf800000
#define S_TWO    0x40000000
#define S_MTWO   0xc0000000
#define S_THREE  0x40400000
#define S_FOUR   0x40800000
#define S_HALF   0x3f000000
#define S_PINF   0x7f800000
#define S_NINF   0xff800000
#define S_QNAN   0x7fc00000
#define S_SNAN   0x7f800001
#define S_PZERO  0x00000000
#define S_NZERO  0x80000000
#define S_MAX    0x7f7fffff
/* double-precision constants */
#define D_ONE    0x3ff0000000000000
#define D_MONE   0xbff0000000000000
#define D_TWO    0x4000000000000000
#define D_THREE  0x4008000000000000
#define D_PINF   0x7ff0000000000000
#define D_NINF   0xfff0000000000000
#define D_QNAN   0x7ff8000000000000
#define D_SNAN   0x7ff0000000000001
#define D_MAX    0x7fefffffffffffff

#define NV 0x10
#define DZ 0x08
#define OF 0x04
#define UF 0x02
#define NX 0x01

/* binary single op with a rounding mode: result must be exp (NaN-boxed) */
.macro FOPS op, a, b, exp, flags, rm=dyn
    li      t0, \a
    fmv.w.x fa1, t0
    li      t0, \b
    fmv.w.x fa2, t0
    csrw    fflags, zero
    \op     fa0, fa1, fa2, \rm
    fmv.x.d a0, fa0
    CHECK   a0, (BOX | \exp)
    csrr    a0, fflags
    CHECK   a0, \flags
.endm
/* binary single op without rounding mode (fmin/fmax/fsgnj*) */
.macro FOPS_NR op, a, b, exp, flags
    li      t0, \a
    fmv.w.x fa1, t0
    li      t0, \b
    fmv.w.x fa2, t0
    csrw    fflags, zero
    \op     fa0, fa1, fa2
    fmv.x.d a0, fa0
    CHECK   a0, (BOX | \exp)
    csrr    a0, fflags
    CHECK   a0, \flags
.endm
.macro FOPD op, a, b, exp, flags, rm=dyn
    li      t0, \a
    fmv.d.x fa1, t0
    li      t0, \b
    fmv.d.x fa2, t0
    csrw    fflags, zero
    \op     fa0, fa1, fa2, \rm
    fmv.x.d a0, fa0
    CHECK   a0, \exp
    csrr    a0, fflags
    CHECK   a0, \flags
.endm
.macro FOPD_NR op, a, b, exp, flags
    li      t0, \a
    fmv.d.x fa1, t0
    li      t0, \b
    fmv.d.x fa2, t0
    csrw    fflags, zero
    \op     fa0, fa1, fa2
    fmv.x.d a0, fa0
    CHECK   a0, \exp
    csrr    a0, fflags
    CHECK   a0, \flags
.endm
/* comparisons: integer result */
.macro FCMPS op, a, b, exp, flags
    li      t0, \a
    fmv.w.x fa1, t0
    li      t0, \b
    fmv.w.x fa2, t0
    csrw    fflags, zero
    \op     a0, fa1, fa2
    CHECK   a0, \exp
    csrr    a0, fflags
    CHECK   a0, \flags
.endm
.macro FCMPD op, a, b, exp, flags
    li      t0, \a
    fmv.d.x fa1, t0
    li      t0, \b
    fmv.d.x fa2, t0
    csrw    fflags, zero
    \op     a0, fa1, fa2
    CHECK   a0, \exp
    csrr    a0, fflags
    CHECK   a0, \flags
.endm
/* FP -> integer conversions (fmt = s or d) */
.macro FCVT_FI fmt, op, a, exp, flags, rm=dyn
    li      t0, \a
.ifc \fmt, s
    fmv.w.x fa1, t0
.else
    fmv.d.x fa1, t0
.endif
    csrw    fflags, zero
    \op     a0, fa1, \rm
    CHECK   a0, \exp
    csrr    a0, fflags
    CHECK   a0, \flags
.endm
/* integer -> FP or FP -> FP conversions / unary ops; exp is the full
 * 64-bit register content */
.macro FCVT_XF op, a, exp, flags, rm
    li      a1, \a
    csrw    fflags, zero
.ifb \rm
    \op     fa0, a1
.else
    \op     fa0, a1, \rm
.endif
    fmv.x.d a0, fa0
    CHECK   a0, \exp
    csrr    a0, fflags
    CHECK   a0, \flags
.endm
.macro FUN op, a, exp, flags, rm
    li      t0, \a
    fmv.d.x fa1, t0                 /* a is the full 64-bit register value */
    csrw    fflags, zero
.ifb \rm
    \op     fa0, fa1
.else
    \op     fa0, fa1, \rm
.endif
    fmv.x.d a0, fa0
    CHECK   a0, \exp
    csrr    a0, fflags
    CHECK   a0, \flags
.endm
.macro FCLASS fmt, a, exp
    li      t0, \a
    fmv.d.x fa1, t0
    fclass.\fmt a0, fa1
    CHECK   a0, \exp
.endm
/* fused multiply-add family, single: op rd = f(a, b, c) */
.macro FMAS op, a, b, c, exp, flags, rm=dyn
    li      t0, \a
    fmv.w.x fa1, t0
    li      t0, \b
    fmv.w.x fa2, t0
    li      t0, \c
    fmv.w.x fa3, t0
    csrw    fflags, zero
    \op     fa0, fa1, fa2, fa3, \rm
    fmv.x.d a0, fa0
    CHECK   a0, (BOX | \exp)
    csrr    a0, fflags
    CHECK   a0, \flags
.endm
.macro FMAD op, a, b, c, exp, flags, rm=dyn
    li      t0, \a
    fmv.d.x fa1, t0
    li      t0, \b
    fmv.d.x fa2, t0
    li      t0, \c
    fmv.d.x fa3, t0
    csrw    fflags, zero
    \op     fa0, fa1, fa2, fa3, \rm
    fmv.x.d a0, fa0
    CHECK   a0, \exp
    csrr    a0, fflags
    CHECK   a0, \flags
.endm

    .text
    .globl main
main:
    csrw    fcsr, zero

/* ------------------------------------------------------------------ */
    GROUP "rounding modes (static rm)"
    /* 1 + 2^-24: exactly half an ulp above 1.0 */
    FOPS fadd.s, S_ONE, 0x33800000, S_ONE,      NX, rne
    FOPS fadd.s, S_ONE, 0x33800000, S_ONE,      NX, rtz
    FOPS fadd.s, S_ONE, 0x33800000, S_ONE,      NX, rdn
    FOPS fadd.s, S_ONE, 0x33800000, 0x3f800001, NX, rup
    FOPS fadd.s, S_ONE, 0x33800000, 0x3f800001, NX, rmm
    /* -1 - 2^-24 */
    FOPS fadd.s, S_MONE, 0xb3800000, S_MONE,     NX, rne
    FOPS fadd.s, S_MONE, 0xb3800000, S_MONE,     NX, rtz
    FOPS fadd.s, S_MONE, 0xb3800000, 0xbf800001, NX, rdn
    FOPS fadd.s, S_MONE, 0xb3800000, S_MONE,     NX, rup
    FOPS fadd.s, S_MONE, 0xb3800000, 0xbf800001, NX, rmm
    /* 1 + 1.5 ulp: tie between an odd and an even neighbour */
    FOPS fadd.s, S_ONE, 0x34400000, 0x3f800002, NX, rne
    FOPS fadd.s, S_ONE, 0x34400000, 0x3f800001, NX, rtz
    FOPS fadd.s, S_ONE, 0x34400000, 0x3f800002, NX, rmm
    /* 1 + 0.75 ulp and 1 + 0.25 ulp */
    FOPS fadd.s, S_ONE, 0x33c00000, 0x3f800001, NX, rne
    FOPS fadd.s, S_ONE, 0x33c00000, S_ONE,      NX, rdn
    FOPS fadd.s, S_ONE, 0x33000000, S_ONE,      NX, rmm
    FOPS fadd.s, S_ONE, 0x33000000, 0x3f800001, NX, rup
    /* 1/3 and -1/3 */
    FOPS fdiv.s, S_ONE, S_THREE, 0x3eaaaaab, NX, rne
    FOPS fdiv.s, S_ONE, S_THREE, 0x3eaaaaaa, NX, rtz
    FOPS fdiv.s, S_ONE, S_THREE, 0x3eaaaaaa, NX, rdn
    FOPS fdiv.s, S_ONE, S_THREE, 0x3eaaaaab, NX, rup
    FOPS fdiv.s, S_ONE, S_THREE, 0x3eaaaaab, NX, rmm
    FOPS fdiv.s, S_MONE, S_THREE, 0xbeaaaaab, NX, rdn
    FOPS fdiv.s, S_MONE, S_THREE, 0xbeaaaaaa, NX, rup
    FOPD fdiv.d, D_ONE, D_THREE, 0x3fd5555555555555, NX, rne
    FOPD fdiv.d, D_ONE, D_THREE, 0x3fd5555555555555, NX, rtz
    FOPD fdiv.d, D_ONE, D_THREE, 0x3fd5555555555555, NX, rdn
    FOPD fdiv.d, D_ONE, D_THREE, 0x3fd5555555555556, NX, rup
    FOPD fdiv.d, D_ONE, D_THREE, 0x3fd5555555555555, NX, rmm
    /* 1 + 2^-53 (half ulp) in double */
    FOPD fadd.d, D_ONE, 0x3ca0000000000000, D_ONE,              NX, rne
    FOPD fadd.d, D_ONE, 0x3ca0000000000000, 0x3ff0000000000001, NX, rmm
    FOPD fadd.d, D_ONE, 0x3ca0000000000000, 0x3ff0000000000001, NX, rup
    FOPD fadd.d, D_ONE, 0x3ca0000000000000, D_ONE,              NX, rtz
    /* exact results raise no flags */
    FOPS fmul.s, 0x3fc00000, 0x40200000, 0x40700000, 0, rne   /* 1.5*2.5 = 3.75 */
    FOPD fsub.d, 0x4014000000000000, 0x3fe0000000000000, 0x4012000000000000, 0, rne
    FUN  fsqrt.s, (BOX | S_FOUR), (BOX | S_TWO), 0, rne
    FUN  fsqrt.s, (BOX | S_TWO), (BOX | 0x3fb504f3), NX, rne
    FUN  fsqrt.d, D_TWO, 0x3ff6a09e667f3bcd, NX, rne
    FUN  fsqrt.d, D_TWO, 0x3ff6a09e667f3bcc, NX, rdn

/* ------------------------------------------------------------------ */
    GROUP "dynamic rounding mode (frm)"
    csrwi   frm, 3                          /* RUP */
    FOPS fdiv.s, S_ONE, S_THREE, 0x3eaaaaab, NX
    csrwi   frm, 2                          /* RDN */
    FOPS fdiv.s, S_ONE, S_THREE, 0x3eaaaaaa, NX
    FOPD fdiv.d, D_ONE, D_THREE, 0x3fd5555555555555, NX
    csrwi   frm, 1                          /* RTZ */
    FOPS fdiv.s, S_MONE, S_THREE, 0xbeaaaaaa, NX
    csrwi   frm, 4                          /* RMM */
    FOPS fadd.s, S_ONE, 0x33800000, 0x3f800001, NX
    FOPS fadd.s, S_ONE, 0x33800000, S_ONE, NX, rne  /* static rm overrides frm */
    csrwi   frm, 0                          /* RNE */
    FOPS fadd.s, S_ONE, 0x33800000, S_ONE, NX
    /* fcsr = frm << 5 | fflags */
    li      t0, 0xfff
    csrw    fcsr, t0
    csrr    a0, fcsr
    CHECK   a0, 0xff
    csrr    a0, frm
    CHECK   a0, 7
    csrr    a0, fflags
    CHECK   a0, 0x1f
    li      t0, 0x2
    fsrm    a0, t0                          /* swap: returns the old frm */
    CHECK   a0, 7
    frrm    a0
    CHECK   a0, 2
    fsflags a0, zero
    CHECK   a0, 0x1f
    csrr    a0, fcsr
    CHECK   a0, 0x40
    csrwi   fcsr, 0
    /* invalid frm (5, 6, 7) + dynamic rm -> illegal instruction */
    csrwi   frm, 5
    EXPECT_TRAP CAUSE_ILLEGAL, .word 0x00c5f553   /* fadd.s fa0, fa1, fa2, dyn */
    CHECK_TVAL 0x00c5f553
    csrwi   frm, 7
    EXPECT_TRAP CAUSE_ILLEGAL, fmul.d fa0, fa1, fa2
    fmul.d  fa0, fa1, fa2, rne              /* a static rm is fine */
    csrwi   frm, 0
    /* reserved static rm 5 and 6 -> illegal instruction */
    EXPECT_TRAP CAUSE_ILLEGAL, .word 0x00c5d553   /* fadd.s fa0, fa1, fa2, rm=5 */
    CHECK_TVAL 0x00c5d553
    EXPECT_TRAP CAUSE_ILLEGAL, .word 0x02c5e553   /* fadd.d fa0, fa1, fa2, rm=6 */
    CHECK_TVAL 0x02c5e553

/* ------------------------------------------------------------------ */
    GROUP "fflags"
    FOPS fdiv.s, S_ONE, S_THREE, 0x3eaaaaab, NX, rne
    FUN  fsqrt.s, (BOX | S_MONE), (BOX | S_QNAN), NV, rne
    FUN  fsqrt.d, D_MONE, D_QNAN, NV, rne
    FUN  fsqrt.s, (BOX | S_NZERO), (BOX | S_NZERO), 0, rne    /* sqrt(-0) = -0 */
    FOPS fdiv.s, S_ONE, S_PZERO, S_PINF, DZ, rne
    FOPS fdiv.s, S_MONE, S_PZERO, S_NINF, DZ, rne
    FOPD fdiv.d, D_ONE, 0x8000000000000000, D_NINF, DZ, rne
    FOPS fmul.s, S_MAX, S_TWO, S_PINF, (OF | NX), rne
    FOPS fmul.s, S_MAX, S_TWO, S_MAX, (OF | NX), rtz
    FOPS fmul.s, S_MAX, S_TWO, S_MAX, (OF | NX), rdn
    FOPD fmul.d, D_MAX, D_TWO, D_PINF, (OF | NX), rne
    FOPD fadd.d, D_MAX, D_MAX, D_PINF, (OF | NX), rmm
    /* underflow: 2^-149 * 0.5 is a tie between 0 and 2^-149 */
    FOPS fmul.s, 0x00000001, S_HALF, 0x00000000, (UF | NX), rne
    FOPS fmul.s, 0x00000001, S_HALF, 0x00000001, (UF | NX), rup
    /* an exact subnormal result does not raise UF */
    FOPS fmul.s, 0x00800000, S_HALF, 0x00400000, 0, rne
    /* tininess is detected after rounding: (2^-126 - 2^-149) * (1 + 2^-23)
     * = 2^-126 - 2^-172 rounds to 2^-126 (normal): NX only */
    FOPS fmul.s, 0x007fffff, 0x3f800001, 0x00800000, NX, rne
    /* double underflow */
    FOPD fmul.d, 0x0000000000000001, 0x3fe0000000000000, 0, (UF | NX), rne
    /* flags accumulate until cleared */
    csrw    fflags, zero
    li      t0, S_ONE
    fmv.w.x fa1, t0
    li      t0, S_THREE
    fmv.w.x fa2, t0
    fdiv.s  fa0, fa1, fa2
    fmv.w.x fa2, zero
    fdiv.s  fa0, fa1, fa2
    csrr    a0, fflags
    CHECK   a0, (DZ | NX)
    csrrci  a0, fflags, NX                  /* clear just NX */
    CHECK   a0, (DZ | NX)
    csrr    a0, fflags
    CHECK   a0, DZ
    csrw    fflags, zero

/* ------------------------------------------------------------------ */
    GROUP "NaN boxing"
    la      s0, fdata
    flw     fa1, 0(s0)                      /* 0x40490fdb (pi) */
    fmv.x.d a0, fa1
    CHECK   a0, 0xffffffff40490fdb
    li      t0, 0xdeadbeef12345678
    fmv.w.x fa1, t0                         /* only the low word moves */
    fmv.x.d a0, fa1
    CHECK   a0, 0xffffffff12345678
    /* improperly boxed single (upper bits not all ones) -> canonical NaN */
    li      t0, 0x0000000040000000
    fmv.d.x fa2, t0
    csrw    fflags, zero
    fadd.s  fa3, fa2, fa2
    fmv.x.d a0, fa3
    CHECK   a0, 0xffffffff7fc00000
    csrr    a0, fflags
    CHECK   a0, 0
    fsgnj.s fa3, fa2, fa2
    fmv.x.d a0, fa3
    CHECK   a0, 0xffffffff7fc00000
    fcvt.d.s fa3, fa2
    fmv.x.d a0, fa3
    CHECK   a0, D_QNAN
    fclass.s a0, fa2
    CHECK   a0, 0x200
    feq.s   a0, fa2, fa2
    CHECK   a0, 0
    /* transfers (fmv.x.w, fsw) use the low 32 bits regardless of boxing */
    fmv.x.w a0, fa2
    CHECK   a0, 0x40000000
    li      t0, 0x00000001c0000000
    fmv.d.x fa2, t0
    fmv.x.w a0, fa2
    CHECK   a0, 0xffffffffc0000000
    fsw     fa2, 8(s0)
    lwu     a0, 8(s0)
    CHECK   a0, 0xc0000000
    /* one zero bit in the upper half is enough to break the boxing */
    li      t0, 0xfffffffe3f800000
    fmv.d.x fa2, t0
    fadd.s  fa3, fa2, fa2
    fmv.x.d a0, fa3
    CHECK   a0, 0xffffffff7fc00000
    /* loads/stores/moves keep NaN payloads */
    fld     fa1, 16(s0)                     /* 0x7ff0000000000001 (sNaN) */
    fsd     fa1, 24(s0)
    ld      a0, 24(s0)
    CHECK   a0, D_SNAN
    fmv.x.d a0, fa1
    CHECK   a0, D_SNAN
    csrr    a0, fflags
    CHECK   a0, 0

/* ------------------------------------------------------------------ */
    GROUP "canonical NaN"
    FOPS fdiv.s, S_PZERO, S_PZERO, S_QNAN, NV, rne
    FOPD fsub.d, D_PINF, D_PINF, D_QNAN, NV, rne
    FOPS fmul.s, S_PINF, S_PZERO, S_QNAN, NV, rne
    FOPS fadd.s, S_SNAN, S_ONE, S_QNAN, NV, rne       /* payload not propagated */
    FOPS fadd.s, 0x7fc12345, S_ONE, S_QNAN, 0, rne    /* quiet NaN: no NV */
    FOPS fadd.s, 0xffc00000, S_ONE, S_QNAN, 0, rne    /* sign dropped */
    FOPD fmul.d, 0x7ff8000000012345, D_ONE, D_QNAN, 0, rne
    FOPD fadd.d, D_SNAN, D_ONE, D_QNAN, NV, rne
    FUN  fcvt.s.d, 0x7ff8000000012345, (BOX | S_QNAN), 0, rne
    FUN  fcvt.d.s, (BOX | S_SNAN), D_QNAN, NV

/* ------------------------------------------------------------------ */
    GROUP "fmin/fmax"
    FOPS_NR fmin.s, S_NZERO, S_PZERO, S_NZERO, 0
    FOPS_NR fmin.s, S_PZERO, S_NZERO, S_NZERO, 0
    FOPS_NR fmax.s, S_NZERO, S_PZERO, S_PZERO, 0
    FOPS_NR fmax.s, S_PZERO, S_NZERO, S_PZERO, 0
    FOPS_NR fmin.s, S_QNAN, S_ONE, S_ONE, 0
    FOPS_NR fmax.s, S_ONE, S_QNAN, S_ONE, 0
    FOPS_NR fmin.s, S_QNAN, S_QNAN, S_QNAN, 0
    FOPS_NR fmin.s, S_SNAN, S_ONE, S_ONE, NV
    FOPS_NR fmax.s, S_MONE, S_SNAN, S_MONE, NV
    FOPS_NR fmin.s, S_MONE, S_TWO, S_MONE, 0
    FOPS_NR fmax.s, S_NINF, S_MTWO, S_MTWO, 0
    FOPD_NR fmin.d, 0x8000000000000000, 0, 0x8000000000000000, 0
    FOPD_NR fmax.d, 0x8000000000000000, 0, 0, 0
    FOPD_NR fmax.d, D_SNAN, D_SNAN, D_QNAN, NV
    FOPD_NR fmin.d, 0x7ff8000000012345, D_MONE, D_MONE, 0
    FOPD_NR fmax.d, D_MONE, D_TWO, D_TWO, 0

/* ------------------------------------------------------------------ */
    GROUP "compares"
    FCMPS feq.s, S_ONE, S_ONE, 1, 0
    FCMPS flt.s, S_ONE, S_TWO, 1, 0
    FCMPS fle.s, S_TWO, S_TWO, 1, 0
    FCMPS flt.s, S_TWO, S_ONE, 0, 0
    FCMPS feq.s, S_NZERO, S_PZERO, 1, 0
    FCMPS flt.s, S_NZERO, S_PZERO, 0, 0
    FCMPS fle.s, S_PZERO, S_NZERO, 1, 0
    FCMPS feq.s, S_QNAN, S_ONE, 0, 0        /* quiet compare */
    FCMPS feq.s, S_QNAN, S_QNAN, 0, 0
    FCMPS feq.s, S_SNAN, S_ONE, 0, NV
    FCMPS flt.s, S_QNAN, S_ONE, 0, NV       /* signaling compares */
    FCMPS fle.s, S_ONE, S_QNAN, 0, NV
    FCMPS flt.s, S_NINF, S_MAX, 1, 0
    FCMPD feq.d, D_ONE, D_ONE, 1, 0
    FCMPD flt.d, D_MONE, D_ONE, 1, 0
    FCMPD fle.d, D_ONE, D_MONE, 0, 0
    FCMPD feq.d, D_QNAN, D_QNAN, 0, 0
    FCMPD feq.d, D_SNAN, D_ONE, 0, NV
    FCMPD fle.d, D_QNAN, D_ONE, 0, NV
    FCMPD flt.d, D_ONE, D_SNAN, 0, NV

/* ------------------------------------------------------------------ */
    GROUP "fp -> int conversions"
    FCVT_FI s, fcvt.w.s, 0x40200000, 2, NX, rne          /* 2.5 */
    FCVT_FI s, fcvt.w.s, 0x40200000, 2, NX, rtz
    FCVT_FI s, fcvt.w.s, 0x40200000, 2, NX, rdn
    FCVT_FI s, fcvt.w.s, 0x40200000, 3, NX, rup
    FCVT_FI s, fcvt.w.s, 0x40200000, 3, NX, rmm
    FCVT_FI s, fcvt.w.s, 0xc0200000, -2, NX, rne         /* -2.5 */
    FCVT_FI s, fcvt.w.s, 0xc0200000, -2, NX, rtz
    FCVT_FI s, fcvt.w.s, 0xc0200000, -3, NX, rdn
    FCVT_FI s, fcvt.w.s, 0xc0200000, -2, NX, rup
    FCVT_FI s, fcvt.w.s, 0xc0200000, -3, NX, rmm
    FCVT_FI s, fcvt.w.s, 0x40600000, 4, NX, rne          /* 3.5 -> 4 */
    FCVT_FI s, fcvt.w.s, S_MONE, -1, 0, rtz
    FCVT_FI s, fcvt.w.s, S_QNAN, 0x7fffffff, NV, rtz
    FCVT_FI s, fcvt.w.s, S_PINF, 0x7fffffff, NV, rtz
    FCVT_FI s, fcvt.w.s, S_NINF, 0xffffffff80000000, NV, rtz
    FCVT_FI s, fcvt.w.s, 0x4f32d05e, 0x7fffffff, NV, rtz          /* 3e9 */
    FCVT_FI s, fcvt.w.s, 0xcf32d05e, 0xffffffff80000000, NV, rtz  /* -3e9 */
    FCVT_FI s, fcvt.w.s, 0xcf000000, 0xffffffff80000000, 0, rtz   /* -2^31 exact */
    FCVT_FI s, fcvt.wu.s, 0x4f32d05e, 0xffffffffb2d05e00, 0, rtz  /* W result sign-extended */
    FCVT_FI s, fcvt.wu.s, S_MONE, 0, NV, rtz
    FCVT_FI s, fcvt.wu.s, 0xbf000000, 0, NX, rtz         /* -0.5 -> -0 -> 0: only NX */
    FCVT_FI s, fcvt.wu.s, 0x4fa00000, 0xffffffffffffffff, NV, rtz /* 5e9-ish */
    FCVT_FI s, fcvt.wu.s, S_QNAN, 0xffffffffffffffff, NV, rtz
    FCVT_FI s, fcvt.wu.s, S_NINF, 0, NV, rtz
    FCVT_FI s, fcvt.l.s, 0x53800000, 0x10000000000, 0, rtz        /* 2^40 */
    FCVT_FI s, fcvt.lu.s, S_PINF, 0xffffffffffffffff, NV, rtz
    FCVT_FI d, fcvt.l.d, 0x43e158e460913d00, 0x7fffffffffffffff, NV, rtz  /* 1e19 */
    FCVT_FI d, fcvt.l.d, 0xc3e0000000000000, 0x8000000000000000, 0, rtz   /* -2^63 */
    FCVT_FI d, fcvt.l.d, D_NINF, 0x8000000000000000, NV, rtz
    FCVT_FI d, fcvt.l.d, D_QNAN, 0x7fffffffffffffff, NV, rtz
    FCVT_FI d, fcvt.l.d, 0xc004000000000000, -3, NX, rdn  /* -2.5 */
    FCVT_FI d, fcvt.lu.d, D_MONE, 0, NV, rtz
    FCVT_FI d, fcvt.lu.d, 0x43f0000000000000, 0xffffffffffffffff, NV, rtz /* 2^64 */
    FCVT_FI d, fcvt.lu.d, 0x43efffffffffffff, 0xfffffffffffff800, 0, rtz
    FCVT_FI d, fcvt.lu.d, D_QNAN, 0xffffffffffffffff, NV, rtz
    FCVT_FI d, fcvt.w.d, 0x41dfffffffc00000, 0x7fffffff, 0, rtz   /* 2^31 - 1 */
    FCVT_FI d, fcvt.w.d, 0x41e0000000000000, 0x7fffffff, NV, rtz  /* 2^31 */
    FCVT_FI d, fcvt.wu.d, 0x41efffffffe00000, 0xffffffffffffffff, 0, rtz /* 2^32 - 1 */
    FCVT_FI d, fcvt.wu.d, 0xc000000000000000, 0, NV, rtz

/* ------------------------------------------------------------------ */
    GROUP "int -> fp and fp -> fp conversions"
    FCVT_XF fcvt.s.w, -1, (BOX | S_MONE), 0, rne
    FCVT_XF fcvt.s.w, 0x12345678ffffffff, (BOX | S_MONE), 0, rne  /* low word only */
    FCVT_XF fcvt.s.wu, 0xffffffff, (BOX | 0x4f800000), NX, rne    /* 2^32 */
    FCVT_XF fcvt.s.wu, 0xffffffff, (BOX | 0x4f7fffff), NX, rtz
    FCVT_XF fcvt.s.l, 0x8000000000000000, (BOX | 0xdf000000), 0, rne
    FCVT_XF fcvt.s.lu, 0x8000000000000000, (BOX | 0x5f000000), 0, rne
    FCVT_XF fcvt.s.w, 16777217, (BOX | 0x4b800000), NX, rne      /* 2^24 + 1 */
    FCVT_XF fcvt.s.w, 16777217, (BOX | 0x4b800001), NX, rup
    FCVT_XF fcvt.d.l, 0x20000000000001, 0x4340000000000000, NX, rne   /* 2^53 + 1 */
    FCVT_XF fcvt.d.l, 0x20000000000001, 0x4340000000000001, NX, rup
    FCVT_XF fcvt.d.lu, -1, 0x43f0000000000000, NX, rne
    FCVT_XF fcvt.d.l, -1, D_MONE, 0, rne
    FCVT_XF fcvt.d.w, 0x12345678ffffffff, D_MONE, 0
    FCVT_XF fcvt.d.wu, 0x80000000, 0x41e0000000000000, 0
    FCVT_XF fcvt.d.wu, 0xffffffff80000000, 0x41e0000000000000, 0
    FUN  fcvt.s.d, 0x3fd5555555555555, (BOX | 0x3eaaaaab), NX, rne
    FUN  fcvt.s.d, 0x3fd5555555555555, (BOX | 0x3eaaaaaa), NX, rtz
    FUN  fcvt.s.d, D_MAX, (BOX | S_PINF), (OF | NX), rne
    FUN  fcvt.s.d, D_MAX, (BOX | S_MAX), (OF | NX), rtz
    FUN  fcvt.s.d, 0x8000000000000000, (BOX | S_NZERO), 0, rne
    FUN  fcvt.d.s, (BOX | 0x3eaaaaab), 0x3fd5555560000000, 0
    FUN  fcvt.d.s, (BOX | 0x00000001), 0x36a0000000000000, 0 /* subnormal -> normal */
    FUN  fcvt.d.s, (BOX | S_NINF), D_NINF, 0

/* ------------------------------------------------------------------ */
    GROUP "fclass"
    FCLASS s, (BOX | S_NINF), 0x001
    FCLASS s, (BOX | S_MONE), 0x002
    FCLASS s, (BOX | 0x80000001), 0x004
    FCLASS s, (BOX | S_NZERO), 0x008
    FCLASS s, (BOX | S_PZERO), 0x010
    FCLASS s, (BOX | 0x00000001), 0x020
    FCLASS s, (BOX | S_ONE), 0x040
    FCLASS s, (BOX | S_PINF), 0x080
    FCLASS s, (BOX | S_SNAN), 0x100
    FCLASS s, (BOX | S_QNAN), 0x200
    FCLASS s, (BOX | 0xffffffff), 0x200
    FCLASS d, D_NINF, 0x001
    FCLASS d, 0x800fffffffffffff, 0x004
    FCLASS d, 0x8000000000000000, 0x008
    FCLASS d, 0x0000000000000001, 0x020
    FCLASS d, D_MAX, 0x040
    FCLASS d, D_PINF, 0x080
    FCLASS d, D_SNAN, 0x100
    FCLASS d, D_QNAN, 0x200

/* ------------------------------------------------------------------ */
    GROUP "fused multiply-add"
    FMAS fmadd.s,  S_TWO, S_THREE, S_FOUR, 0x41200000, 0      /* 10 */
    FMAS fmsub.s,  S_TWO, S_THREE, S_FOUR, S_TWO, 0           /* 2 */
    FMAS fnmsub.s, S_TWO, S_THREE, S_FOUR, S_MTWO, 0          /* -2 */
    FMAS fnmadd.s, S_TWO, S_THREE, S_FOUR, 0xc1200000, 0      /* -10 */
    FMAS fnmadd.s, S_ONE, S_PZERO, S_PZERO, S_NZERO, 0, rne
    FMAS fmsub.s,  S_ONE, S_PZERO, S_PZERO, S_PZERO, 0, rne
    FMAS fmsub.s,  S_ONE, S_PZERO, S_PZERO, S_NZERO, 0, rdn
    FMAS fmadd.s,  S_ONE, S_ONE, 0x33800000, 0x3f800001, NX, rup
    FMAS fmadd.s,  S_PINF, S_PZERO, S_QNAN, S_QNAN, NV        /* inf*0 + qNaN: NV */
    FMAS fmadd.s,  S_QNAN, S_ONE, S_ONE, S_QNAN, 0
    FMAS fmadd.s,  S_PINF, S_ONE, S_NINF, S_QNAN, NV          /* inf - inf */
    /* single rounding: (1+2^-30)^2 - (1+2^-29) = 2^-60 exactly */
    FMAD fmadd.d,  0x3ff0000000400000, 0x3ff0000000400000, 0xbff0000000800000, 0x3c30000000000000, 0
    FMAD fmsub.d,  0x3ff0000000400000, 0x3ff0000000400000, 0x3ff0000000800000, 0x3c30000000000000, 0
    FMAD fnmadd.d, 0x3ff0000000400000, 0x3ff0000000400000, 0xbff0000000800000, 0xbc30000000000000, 0
    FMAD fnmsub.d, D_TWO, D_THREE, D_ONE, 0xc014000000000000, 0     /* -(6) + 1 = -5 */
    /* the same computed with separate fmul + fadd loses the 2^-60 */
    li      t0, 0x3ff0000000400000
    fmv.d.x fa1, t0
    li      t0, 0xbff0000000800000
    fmv.d.x fa3, t0
    fmul.d  fa0, fa1, fa1
    fadd.d  fa0, fa0, fa3
    fmv.x.d a0, fa0
    CHECK   a0, 0

/* ------------------------------------------------------------------ */
    GROUP "sign injection and moves"
    FOPS_NR fsgnj.s,  S_ONE, S_MTWO, S_MONE, 0
    FOPS_NR fsgnjn.s, S_ONE, S_MTWO, S_ONE, 0
    FOPS_NR fsgnjx.s, S_MONE, S_MTWO, S_ONE, 0
    FOPS_NR fsgnjx.s, S_ONE, S_MTWO, S_MONE, 0
    FOPS_NR fsgnjn.s, S_SNAN, S_SNAN, 0xff800001, 0     /* no canonicalisation, no NV */
    FOPS_NR fsgnj.s,  S_QNAN, S_NINF, 0xffc00000, 0
    FOPD_NR fsgnj.d,  D_ONE, 0x8000000000000000, D_MONE, 0
    FOPD_NR fsgnjn.d, D_MONE, D_MONE, D_ONE, 0
    FOPD_NR fsgnjx.d, D_MONE, D_MONE, D_ONE, 0
    FOPD_NR fsgnjn.d, D_SNAN, D_SNAN, 0xfff0000000000001, 0
    li      t0, S_NZERO
    fmv.w.x fa0, t0
    fmv.x.w a0, fa0                         /* sign-extended */
    CHECK   a0, 0xffffffff80000000
    fneg.s  fa1, fa0
    fmv.x.w a0, fa1
    CHECK   a0, 0
    li      t0, S_MTWO
    fmv.w.x fa0, t0
    fabs.s  fa1, fa0
    fmv.x.d a0, fa1
    CHECK   a0, (BOX | S_TWO)
    li      t0, 0x123456789abcdef0
    fmv.d.x fa0, t0
    fmv.d   fa1, fa0
    fmv.x.d a0, fa1
    CHECK   a0, 0x123456789abcdef0
    fneg.d  fa1, fa0
    fmv.x.d a0, fa1
    CHECK   a0, 0x923456789abcdef0

/* ------------------------------------------------------------------ */
    GROUP "mstatus.FS"
    li      t0, MSTATUS_FS
    csrc    mstatus, t0
    li      t0, MSTATUS_FS_INIT
    csrs    mstatus, t0
    csrr    a0, mstatus
    srli    a0, a0, 13
    andi    a0, a0, 3
    CHECK   a0, 1                           /* Initial */
    fadd.s  fa0, fa1, fa2
    csrr    a0, mstatus
    srli    a1, a0, 13
    andi    a1, a1, 3
    CHECK   a1, 3                           /* Dirty after an FP write */
    srli    a1, a0, 63
    CHECK   a1, 1                           /* SD */
    li      t0, MSTATUS_FS
    csrc    mstatus, t0                     /* FS = Off */
    csrr    a0, mstatus
    srli    a1, a0, 63
    CHECK   a1, 0                           /* SD clear */
    EXPECT_TRAP CAUSE_ILLEGAL, .word 0x00c5f553     /* fadd.s fa0, fa1, fa2 */
    CHECK_TVAL 0x00c5f553
    EXPECT_TRAP CAUSE_ILLEGAL, .word 0x00012507     /* flw fa0, 0(sp) */
    CHECK_TVAL 0x00012507
    EXPECT_TRAP CAUSE_ILLEGAL, .word 0x00302573     /* csrr a0, fcsr */
    CHECK_TVAL 0x00302573
    EXPECT_TRAP CAUSE_ILLEGAL, .word 0xe0058553     /* fmv.x.w a0, fa1 */
    CHECK_TVAL 0xe0058553
    mv      s0, sp
    .option push
    .option rvc
    EXPECT_TRAP CAUSE_ILLEGAL, .2byte 0x2008        /* c.fld fa0, 0(s0) */
    c.nop                                           /* upper half must not leak */
    .option pop
    CHECK_TVAL 0x2008
    li      t0, MSTATUS_FS_INIT
    csrs    mstatus, t0
    fadd.s  fa0, fa1, fa2                   /* works again */

    TEST_DONE

    .section .data
    .balign 8
fdata:
    .word   0x40490fdb, 0
    .dword  0
    .dword  0x7ff0000000000001
    .dword  0
