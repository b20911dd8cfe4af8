/* priv.S - privileged architecture (M/S/U):
 * misa/mhartid, CSR instruction semantics, illegal instructions (32- and
 * 16-bit) with mtval, ecall from M/S/U, access faults, mret/sret and mode
 * checks, exception and interrupt delegation, sstatus/sie/sip views,
 * unimplemented / read-only / privileged CSR accesses, counter enables,
 * TVM/TW/TSR, vectored mtvec with CLINT timer and software interrupts, WFI,
 * interrupt priority, Sstc (stimecmp, menvcfg.STCE), and PMP (NAPOT, TOR,
 * lock, MPRV). */
#define TEST_NAME "priv"
#include "test.h"

#define MISA_REQUIRED 0x14112d      /* A C D F I M S U */

/* switch from M-mode to mode (0 = U, 1 = S) at label */
.macro GOTO mode, label
    li      t0, MSTATUS_MPP
    csrc    mstatus, t0
.if \mode == 1
    li      t0, MSTATUS_MPP_S
    csrs    mstatus, t0
.endif
    la      t0, \label
    csrw    mepc, t0
    mret
.endm

/* from S/U: arrange for the next trap (handled in M) to resume in M-mode at
 * label, then execute insn to trap */
.macro TRAP_TO_M label, insn:vararg
    la      t6, \label
    la      t5, trap_recover
    sd      t6, 0(t5)
    li      t6, 1
    la      t5, trap_to_m
    sd      t6, 0(t5)
    \insn
    j       .                   /* not reached */
.endm
.macro ECALL_TO_M label
    TRAP_TO_M \label, ecall
.endm
/* illegal instruction in S and U */
.macro BACK_TO_M label
    TRAP_TO_M \label, csrr t6, mstatus
.endm

/* privilege mode of the last M-mode trap (mstatus.MPP at trap time) */
.macro CHECK_TRAP_MODE mode
    la      t5, trap_status
    ld      t5, 0(t5)
    srli    t5, t5, 11
    andi    t5, t5, 3
    CHECK   t5, \mode
.endm

/* wait (bounded by 0.5 s of mtime) until the 64-bit word at sym != reg */
.macro WAIT_CHANGE sym, reg
    li      t0, CLINT_MTIME
    ld      t1, 0(t0)
    li      t2, 5000000
    add     t1, t1, t2
9995:
    la      t2, \sym
    ld      t2, 0(t2)
    bne     t2, \reg, 9994f
    ld      t2, 0(t0)
    bltu    t2, t1, 9995b
    FAILCHECK                   /* timed out */
9994:
.endm

    .text
    .globl main
main:
    csrw    mie, zero
    li      t0, CLINT_MTIMECMP
    li      t1, -1
    sd      t1, 0(t0)
    li      t0, CLINT_MSIP
    sw      zero, 0(t0)

/* ------------------------------------------------------------------ */
    GROUP "misa, mhartid, mstatus XLEN fields"
    csrr    a0, misa
    srli    a1, a0, 62
    CHECK   a1, 2                           /* MXL = 64 */
    li      t0, MISA_REQUIRED
    and     a1, a0, t0
    CHECK   a1, MISA_REQUIRED
    csrr    a0, mhartid
    CHECK   a0, 0
    csrr    a0, mstatus
    srli    a0, a0, 32
    andi    a0, a0, 0xf
    CHECK   a0, 0xa                         /* SXL = UXL = 2 */

/* ------------------------------------------------------------------ */
    GROUP "CSR instructions"
    csrr    s0, mscratch                    /* holds the trap stack: restore! */
    li      t0, 0x0123456789abcdef
    csrw    mscratch, t0
    li      t1, 0xfedcba9876543210
    csrrw   a0, mscratch, t1
    CHECK   a0, 0x0123456789abcdef
    csrr    a0, mscratch
    CHECK   a0, 0xfedcba9876543210
    li      t1, 0xff
    csrrs   a0, mscratch, t1
    CHECK   a0, 0xfedcba9876543210
    csrr    a0, mscratch
    CHECK   a0, 0xfedcba98765432ff
    li      t1, 0xf000000000000f0f
    csrrc   a0, mscratch, t1
    csrr    a0, mscratch
    CHECK   a0, 0x0edcba98765430f0
    csrrwi  a0, mscratch, 0x1f
    CHECK   a0, 0x0edcba98765430f0
    csrrsi  a0, mscratch, 0x0
    CHECK   a0, 0x1f
    csrrci  a0, mscratch, 0x5
    CHECK   a0, 0x1f
    csrrsi  a0, mscratch, 0x10
    CHECK   a0, 0x1a
    csrr    a0, mscratch
    CHECK   a0, 0x1a
    csrw    mscratch, s0
    csrr    s0, sscratch
    li      t0, -2
    csrrw   a0, sscratch, t0
    csrr    a0, sscratch
    CHECK   a0, -2
    csrw    sscratch, s0
    /* reading a read-only CSR without a write is fine */
    csrrs   a0, mhartid, zero
    CHECK   a0, 0
    csrrsi  a0, mhartid, 0
    CHECK   a0, 0
    csrrc   a0, mvendorid, zero
    /* mepc[0] is always zero (QEMU 7.2 deviation: keeps bit 0 when read) */
    li      t0, 0x80000003
    csrw    mepc, t0
    csrr    a0, mepc
    CHECKQ  a0, 0x80000002, 0x80000003

/* ------------------------------------------------------------------ */
    GROUP "illegal instructions"
    EXPECT_TRAP CAUSE_ILLEGAL, .word 0x00007003     /* LOAD funct3=7 (reserved on RV64) */
    CHECK_TVAL 0x00007003
    EXPECT_TRAP CAUSE_ILLEGAL, .2byte 0x0000        /* defined illegal 16-bit */
    .2byte  0x0001                                  /* c.nop: must not leak into mtval */
    CHECK_TVAL 0
    EXPECT_TRAP CAUSE_ILLEGAL, .2byte 0x8002        /* c.jr x0: reserved */
    .2byte  0x0001
    CHECK_TVAL 0x8002
    EXPECT_TRAP CAUSE_ILLEGAL, .2byte 0x4002        /* c.lwsp x0: reserved */
    .2byte  0x0001
    CHECK_TVAL 0x4002
    EXPECT_TRAP CAUSE_ILLEGAL, .word 0x30200073 + 0x00100000   /* mret with rs2 != 0: not mret */
    CHECK_TVAL 0x30300073
    EXPECT_TRAP CAUSE_ILLEGAL, .word 0x7c002573     /* csrr a0, 0x7c0 (custom, unimplemented) */
    CHECK_TVAL 0x7c002573
    EXPECT_TRAP CAUSE_ILLEGAL, .word 0x8ff02573     /* csrr a0, 0x8ff (unimplemented) */
    CHECK_TVAL 0x8ff02573
    EXPECT_TRAP CAUSE_ILLEGAL, .word 0xf1401073     /* csrw mhartid, zero */
    CHECK_TVAL 0xf1401073
    EXPECT_TRAP CAUSE_ILLEGAL, .word 0xc0051573     /* csrrw a0, cycle, a0 */
    CHECK_TVAL 0xc0051573
    li      a1, 0
#ifndef QEMU_QUIRKS
    /* csrrs with rs1 != x0 holding zero still "writes" the CSR.
     * QEMU 7.2 deviation: no trap (it only looks at the value of rs1). */
    EXPECT_TRAP CAUSE_ILLEGAL, .word 0xf145a573     /* csrrs a0, mhartid, a1 */
    CHECK_TVAL 0xf145a573
#else
    .set    check_num, check_num + 4
#endif
    EXPECT_TRAP CAUSE_ILLEGAL, csrrwi a0, mimpid, 0
    EXPECT_TRAP CAUSE_ILLEGAL, csrrw a0, time, zero

/* ------------------------------------------------------------------ */
    GROUP "ecall from M, S, U"
    EXPECT_TRAP CAUSE_ECALL_M, ecall
    CHECK_TVAL 0
    CHECK_TRAP_MODE 3
    GOTO 1, 1f
1:  ECALL_TO_M 2f
2:  CHECKMEM trap_cause, CAUSE_ECALL_S
    CHECK_TRAP_MODE 1
    CHECK_TVAL 0
    GOTO 0, 1f
1:  la      s1, ecall_u_site
    la      t6, 2f
    la      t5, trap_recover
    sd      t6, 0(t5)
    li      t6, 1
    la      t5, trap_to_m
    sd      t6, 0(t5)
ecall_u_site:
    ecall
2:  CHECKMEM trap_cause, CAUSE_ECALL_U
    CHECKMEM_ADDR trap_epc, ecall_u_site
    CHECK_TRAP_MODE 0
    csrr    a0, mstatus                     /* back in M: M CSRs accessible */

/* ------------------------------------------------------------------ */
    GROUP "mret/sret and privilege checks"
    /* S-mode: S CSRs ok, M CSRs and mret illegal */
    GOTO 1, 1f
1:  csrr    a0, sstatus
    csrr    a0, sscratch
    EXPECT_TRAP CAUSE_ILLEGAL, csrr a0, mstatus
    CHECK_TVAL 0x30002573
    CHECK_TRAP_MODE 1
    EXPECT_TRAP CAUSE_ILLEGAL, mret
    CHECK_TVAL 0x30200073
    BACK_TO_M 2f
2:  CHECKMEM trap_cause, CAUSE_ILLEGAL
    /* U-mode: S and M CSRs, sret, mret illegal */
    GOTO 0, 1f
1:  EXPECT_TRAP CAUSE_ILLEGAL, csrr a0, sstatus
    CHECK_TVAL 0x10002573
    CHECK_TRAP_MODE 0
    EXPECT_TRAP CAUSE_ILLEGAL, csrr a0, sscratch
    CHECK_TVAL 0x14002573
    EXPECT_TRAP CAUSE_ILLEGAL, csrr a0, mscratch
    EXPECT_TRAP CAUSE_ILLEGAL, sret
    CHECK_TVAL 0x10200073
    EXPECT_TRAP CAUSE_ILLEGAL, mret
    BACK_TO_M 2f
2:  CHECK_TRAP_MODE 0
    /* mret: MIE = MPIE, MPIE = 1, MPP = U (least privileged) */
    li      t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE
    csrc    mstatus, t0
    li      t0, MSTATUS_MPP_M | MSTATUS_MPIE
    csrs    mstatus, t0
    la      t0, 1f
    csrw    mepc, t0
    mret
1:  csrr    a0, mstatus
    li      t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE
    and     a0, a0, t0
    CHECK   a0, MSTATUS_MPIE | MSTATUS_MIE
    csrci   mstatus, MSTATUS_MIE
    /* mret to S clears MPRV */
    li      t0, MSTATUS_MPRV
    csrs    mstatus, t0
    GOTO 1, 1f
1:  ECALL_TO_M 2f
2:  la      t5, trap_status
    ld      t5, 0(t5)
    li      t0, MSTATUS_MPRV
    and     t5, t5, t0
    /* QEMU 7.2 deviation: mret to a mode below M leaves MPRV set */
    CHECKQ  t5, 0, MSTATUS_MPRV
    li      t0, MSTATUS_MPRV
    csrc    mstatus, t0
    /* sret: SIE = SPIE, SPIE = 1, SPP = U; sret from S to U */
    GOTO 1, 1f
1:  li      t0, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE
    csrc    sstatus, t0
    li      t0, MSTATUS_SPIE
    csrs    sstatus, t0
    la      t0, 2f
    csrw    sepc, t0
    sret
2:  EXPECT_TRAP CAUSE_ILLEGAL, csrr a0, sstatus     /* now in U */
    CHECK_TRAP_MODE 0
    BACK_TO_M 3f
3:  csrr    a0, mstatus
    li      t0, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE
    and     a0, a0, t0
    CHECK   a0, MSTATUS_SPIE | MSTATUS_SIE
    csrci   mstatus, MSTATUS_SIE

/* ------------------------------------------------------------------ */
    GROUP "access faults"
    EXPECT_TRAP CAUSE_LOAD_ACCESS, ld a0, 0(zero)
    CHECK_TVAL 0
    EXPECT_TRAP CAUSE_LOAD_ACCESS, lw a0, 16(zero)
    CHECK_TVAL 16
    EXPECT_TRAP CAUSE_STORE_ACCESS, sd a0, 24(zero)
    CHECK_TVAL 24
    EXPECT_TRAP CAUSE_STORE_ACCESS, sb a0, 0x7ff(zero)
    CHECK_TVAL 0x7ff
    /* instruction fetch from an unmapped address */
    la      t6, 1f
    la      t5, trap_recover
    sd      t6, 0(t5)
    li      t0, 0x100
    jalr    ra, 0(t0)
    FAILCHECK
1:  CHECKMEM trap_cause, CAUSE_FETCH_ACCESS
    CHECKMEM trap_epc, 0x100
    CHECK_TVAL 0x100

/* ------------------------------------------------------------------ */
    GROUP "exception delegation (medeleg)"
    li      t0, 1 << CAUSE_ECALL_U
    csrw    medeleg, t0
    csrr    a0, medeleg
    CHECK   a0, 1 << CAUSE_ECALL_U
    la      t0, trap_count
    ld      s2, 0(t0)
    GOTO 1, 1f
1:  /* S-mode: sret to U; the U ecall is handled by strap_entry in S */
    li      t0, MSTATUS_SPP
    csrc    sstatus, t0
    la      t0, 2f
    csrw    sepc, t0
    la      t0, 3f
    la      t1, strap_recover
    sd      t0, 0(t1)
    sret
2:
deleg_ecall_site:
    ecall                                   /* U -> S */
    FAILCHECK
3:  /* back in U after sret from the S handler */
    EXPECT_TRAP CAUSE_ILLEGAL, csrr a0, sstatus     /* still U, goes to M */
    BACK_TO_M 4f
4:  CHECKMEM strap_cause, CAUSE_ECALL_U
    CHECKMEM_ADDR strap_epc, deleg_ecall_site
    CHECKMEM strap_tval, 0
    la      t5, strap_status
    ld      t5, 0(t5)
    andi    t5, t5, MSTATUS_SPP
    CHECK   t5, 0                           /* SPP = U */
    csrr    a0, scause
    CHECK   a0, CAUSE_ECALL_U
    la      t0, trap_count                  /* the delegated ecall did not go to M */
    ld      a0, 0(t0)
    sub     a0, a0, s2
    CHECK   a0, 2                           /* only the two illegal instructions in U */
    csrw    medeleg, zero
    /* ecall from U without delegation goes to M */
    GOTO 0, 1f
1:  ECALL_TO_M 2f
2:  CHECKMEM trap_cause, CAUSE_ECALL_U

/* ------------------------------------------------------------------ */
    GROUP "interrupt delegation (mideleg, SSIP)"
    csrci   mstatus, MSTATUS_SIE
    li      t0, MIP_SSIP
    csrw    mideleg, t0
    csrw    mie, t0                         /* SSIE */
    csrs    mip, t0                         /* make SSIP pending */
    csrr    a0, mip
    andi    a0, a0, MIP_SSIP
    CHECK   a0, MIP_SSIP
    GOTO 1, 1f
1:  la      t0, s_ssi_handler
    csrw    stvec, t0
    la      t0, s_irq_count
    ld      s2, 0(t0)
    CHECK   s2, 0                           /* masked while sstatus.SIE = 0 */
    csrsi   sstatus, MSTATUS_SIE            /* interrupt is taken here */
    WAIT_CHANGE s_irq_count, s2
    csrci   sstatus, MSTATUS_SIE
    la      t0, strap_entry
    csrw    stvec, t0
    ECALL_TO_M 2f
2:  CHECKMEM s_irq_cause, CAUSE_INTR | 1
    CHECKMEM s_irq_count, 1
    la      t5, s_irq_status
    ld      t5, 0(t5)
    andi    t5, t5, MSTATUS_SPP
    CHECK   t5, MSTATUS_SPP                 /* interrupted S-mode */
    csrr    a0, mip
    andi    a0, a0, MIP_SSIP
    CHECK   a0, 0                           /* handler cleared sip.SSIP */
    csrw    mie, zero
    csrw    mideleg, zero

/* ------------------------------------------------------------------ */
    GROUP "sstatus is a view of mstatus"
    csrr    s0, mstatus
    li      t0, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_FS | MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP_S
    csrs    mstatus, t0
    csrr    a0, sstatus
    li      t0, ~MSTATUS_UXL
    and     a1, a0, t0
    CHECK   a1, MSTATUS_SD | MSTATUS_MXR | MSTATUS_SUM | MSTATUS_FS | MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE
    srli    a1, a0, 32
    andi    a1, a1, 3
    CHECK   a1, 2                           /* UXL */
    li      t0, MSTATUS_FS
    csrw    sstatus, t0                     /* clears SIE/SPIE/SPP/SUM/MXR only */
    csrr    a0, mstatus
    li      t0, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP
    and     a0, a0, t0
    CHECK   a0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP_S
    csrci   mstatus, MSTATUS_MIE
    li      t0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_FS
    csrw    sstatus, t0                     /* M bits are not writable through sstatus */
    csrr    a0, mstatus
    li      t0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP
    and     a0, a0, t0
    CHECK   a0, MSTATUS_MPIE | MSTATUS_MPP_S
    csrw    mstatus, s0

/* ------------------------------------------------------------------ */
    GROUP "sie/sip are views of mie/mip through mideleg"
    li      t0, MIP_SSIP | MIP_STIP | MIP_SEIP
    csrw    mideleg, t0
    csrr    a0, mideleg
    CHECK   a0, MIP_SSIP | MIP_STIP | MIP_SEIP
    li      t0, 0xaaa
    csrw    mie, t0
    csrr    a0, sie
    CHECK   a0, 0x222
    csrw    mie, zero
    li      t0, -1
    csrw    sie, t0
    csrr    a0, mie
    CHECK   a0, 0x222
    csrw    mideleg, zero
    csrr    a0, sie
    CHECK   a0, 0
    csrw    mie, zero
    li      t0, MIP_SSIP
    csrw    mideleg, t0
    csrs    mip, t0
    csrr    a0, sip
    CHECK   a0, MIP_SSIP
    csrw    mideleg, zero
    csrr    a0, sip
    CHECK   a0, 0
    csrr    a0, mip
    andi    a0, a0, MIP_SSIP
    CHECK   a0, MIP_SSIP
    li      t0, MIP_SSIP | MIP_STIP
    csrw    mideleg, t0
    csrc    sip, t0                         /* clears SSIP */
    csrr    a0, mip
    andi    a0, a0, MIP_SSIP
    CHECK   a0, 0
    li      t0, MIP_MTIP | MIP_MSIP | MIP_STIP
    csrs    sip, t0                         /* STIP and M bits not writable via sip */
    csrr    a0, mip
    CHECK   a0, 0
    li      t0, MIP_MTIP
    csrs    mip, t0                         /* MTIP is read-only in mip */
    csrr    a0, mip
    CHECK   a0, 0
    csrw    mideleg, zero

/* ------------------------------------------------------------------ */
    GROUP "counters and counter enables"
    rdcycle a0
    rdinstret a1
    rdtime  a2
    csrr    a0, mcycle
    csrr    a1, minstret
    li      t0, 100
1:  addi    t0, t0, -1
    bnez    t0, 1b
    csrr    a2, minstret
    sltu    a3, a1, a2
    CHECK   a3, 1                           /* instret advanced */
#ifndef QEMU_QUIRKS
    /* QEMU 7.2 deviation: without -icount its counters follow host time. */
    csrr    a0, minstret                    /* a read counts the instructions before it */
    csrr    a1, minstret
    sub     a1, a1, a0
    CHECK   a1, 1
    csrwi   minstret, 0                     /* a write is what the next one reads: */
    csrr    a0, minstret                    /* the writer's own increment is suppressed */
    CHECK   a0, 0
    li      t0, 1000
    csrw    mcycle, t0
    nop
    csrr    a0, mcycle
    CHECK   a0, 1001
    csrw    minstret, t0                    /* the user view follows */
    rdinstret a0
    CHECK   a0, 1000
#else
    .set    check_num, check_num + 4
#endif
    rdtime  s2
    li      t0, CLINT_MTIME
    ld      s3, 0(t0)
    rdtime  s4
    sltu    a0, s3, s2
    CHECK   a0, 0                           /* time <= mtime */
    sltu    a0, s4, s3
    CHECK   a0, 0                           /* mtime <= time */
    li      t0, 20000
1:  addi    t0, t0, -1
    bnez    t0, 1b
    li      t0, CLINT_MTIME
    ld      t1, 0(t0)
    addi    t1, t1, 2
2:  ld      t2, 0(t0)                       /* wait at least 2 ticks */
    bltu    t2, t1, 2b
    rdtime  s5
    sltu    a0, s4, s5
    CHECK   a0, 1                           /* time advanced */
    /* mcounteren = 0: S-mode counter reads are illegal */
    csrw    mcounteren, zero
    csrw    scounteren, zero
    GOTO 1, 1f
1:  EXPECT_TRAP CAUSE_ILLEGAL, rdcycle a0
    CHECK_TVAL 0xc0002573
    EXPECT_TRAP CAUSE_ILLEGAL, rdtime a0
    CHECK_TVAL 0xc0102573
    EXPECT_TRAP CAUSE_ILLEGAL, rdinstret a0
    CHECK_TVAL 0xc0202573
    BACK_TO_M 2f
2:  li      t0, 2                           /* TM only */
    csrw    mcounteren, t0
    csrr    a0, mcounteren
    CHECK   a0, 2
    GOTO 1, 1f
1:  rdtime  a0
    EXPECT_TRAP CAUSE_ILLEGAL, rdcycle a0
    EXPECT_TRAP CAUSE_ILLEGAL, rdinstret a0
    BACK_TO_M 2f
2:  li      t0, 7
    csrw    mcounteren, t0
    GOTO 1, 1f
1:  rdcycle a0
    rdtime  a0
    rdinstret a0
    csrw    scounteren, zero                /* U-mode: needs scounteren too */
    li      t0, MSTATUS_SPP
    csrc    sstatus, t0
    la      t0, 2f
    csrw    sepc, t0
    sret
2:  EXPECT_TRAP CAUSE_ILLEGAL, rdcycle a0
    EXPECT_TRAP CAUSE_ILLEGAL, rdtime a0
    EXPECT_TRAP CAUSE_ILLEGAL, rdinstret a0
    BACK_TO_M 3f
3:  li      t0, 7
    csrw    scounteren, t0
    GOTO 0, 1f
1:  rdcycle a0
    rdtime  a0
    rdinstret a0
    BACK_TO_M 2f
2:  csrw    mcounteren, zero                /* mcounteren also gates U-mode */
    GOTO 0, 1f
1:  EXPECT_TRAP CAUSE_ILLEGAL, rdtime a0
    BACK_TO_M 2f
2:  csrw    scounteren, zero

/* ------------------------------------------------------------------ */
    GROUP "trigger CSRs: present, with no triggers"
#ifndef QEMU_QUIRKS
    /* QEMU 7.2 deviation: it implements two triggers. */
    li      t0, 5
    csrw    tselect, t0                     /* tselect is hard-wired to 0 */
    csrr    a0, tselect
    CHECK   a0, 0
    li      t0, (2 << 60) | (1 << 6) | (1 << 2)  /* mcontrol: M-mode execute */
    csrw    tdata1, t0
    csrr    a0, tdata1                      /* type 0: no trigger at this tselect */
    CHECK   a0, 0
    la      t0, 1f
    csrw    tdata2, t0
    csrr    a0, tdata2
    CHECK   a0, 0
    csrr    a0, tdata3
    CHECK   a0, 0
    csrr    a0, tinfo                       /* only type 0 exists */
    CHECK   a0, 1
1:  nop                                     /* and nothing fires */
    GOTO 1, 1f
1:  EXPECT_TRAP CAUSE_ILLEGAL, csrr a0, tselect  /* M-mode registers */
    CHECK_TVAL 0x7a002573
    BACK_TO_M 2f
2:
#else
    .set    check_num, check_num + 9
#endif

/* ------------------------------------------------------------------ */
    GROUP "mstatus.TVM, TW, TSR"
    li      t0, MSTATUS_TVM
    csrs    mstatus, t0
    GOTO 1, 1f
1:  EXPECT_TRAP CAUSE_ILLEGAL, csrr a0, satp
    CHECK_TVAL 0x18002573
    EXPECT_TRAP CAUSE_ILLEGAL, sfence.vma
    CHECK_TVAL 0x12000073
    EXPECT_TRAP CAUSE_ILLEGAL, csrw satp, zero
    BACK_TO_M 2f
2:  li      t0, MSTATUS_TVM
    csrc    mstatus, t0
    GOTO 1, 1f
1:  csrr    a0, satp                        /* allowed with TVM = 0 */
    sfence.vma
    ECALL_TO_M 2f
2:  li      t0, MSTATUS_TW
    csrs    mstatus, t0
    GOTO 1, 1f
1:  EXPECT_TRAP CAUSE_ILLEGAL, wfi
    CHECK_TVAL 0x10500073
    BACK_TO_M 2f
2:  li      t0, MSTATUS_TW
    csrc    mstatus, t0
    /* U-mode wfi traps (the spec allows it to complete within a bounded
     * time instead; QEMU and haltpoint trap) */
    GOTO 0, 1f
1:  EXPECT_TRAP CAUSE_ILLEGAL, wfi
    BACK_TO_M 2f
2:  li      t0, MSTATUS_TSR
    csrs    mstatus, t0
    GOTO 1, 1f
1:  la      t0, 2f
    csrw    sepc, t0
    EXPECT_TRAP CAUSE_ILLEGAL, sret
    CHECK_TVAL 0x10200073
    BACK_TO_M 2f
2:  li      t0, MSTATUS_TSR
    csrc    mstatus, t0

/* ------------------------------------------------------------------ */
    GROUP "vectored mtvec, timer and software interrupts"
    la      t0, vec_table
    ori     t0, t0, 1
    csrw    mtvec, t0
    csrr    a0, mtvec
    CHECKR  a0, t0
    /* exceptions still go to BASE */
    EXPECT_TRAP CAUSE_ECALL_M, ecall
    /* timer interrupt -> BASE + 4*7 */
    li      t0, CLINT_MTIME
    ld      t1, 0(t0)
    addi    t1, t1, 1000                    /* 100 us */
    li      t0, CLINT_MTIMECMP
    sd      t1, 0(t0)
    li      t0, MIP_MTIP
    csrw    mie, t0
    la      t0, irq_count
    ld      s2, 0(t0)
    csrsi   mstatus, MSTATUS_MIE
    WAIT_CHANGE irq_count, s2
    csrci   mstatus, MSTATUS_MIE
    CHECKMEM irq_cause, CAUSE_INTR | 7
    CHECKMEM irq_vec, 7
    CHECKMEM irq_count, 1
    csrr    a0, mip
    andi    a0, a0, MIP_MTIP
    CHECK   a0, 0                           /* handler wrote mtimecmp = -1 */
    /* software interrupt: msip -> mip.MSIP -> BASE + 4*3 */
    csrw    mie, zero
    li      t0, CLINT_MSIP
    li      t1, 1
    sw      t1, 0(t0)
    lw      a0, 0(t0)
    CHECK   a0, 1
    csrr    a0, mip
    andi    a0, a0, MIP_MSIP
    CHECK   a0, MIP_MSIP
    li      t0, MIP_MSIP
    csrw    mie, t0
    la      t0, irq_count
    ld      s2, 0(t0)
    csrsi   mstatus, MSTATUS_MIE
    WAIT_CHANGE irq_count, s2
    csrci   mstatus, MSTATUS_MIE
    CHECKMEM irq_cause, CAUSE_INTR | 3
    CHECKMEM irq_vec, 3
    csrr    a0, mip
    andi    a0, a0, MIP_MSIP
    CHECK   a0, 0
    /* priority: MSI before MTI when both are pending */
    la      t0, irq_log_idx
    sd      zero, 0(t0)
    li      t0, CLINT_MSIP
    li      t1, 1
    sw      t1, 0(t0)
    li      t0, CLINT_MTIMECMP
    sd      zero, 0(t0)                     /* MTIP pending right away */
    li      t0, MIP_MSIP | MIP_MTIP
    csrw    mie, t0
    csrr    a0, mip
    andi    a0, a0, MIP_MSIP | MIP_MTIP
    CHECK   a0, MIP_MSIP | MIP_MTIP
    csrsi   mstatus, MSTATUS_MIE
    nop
    nop
    csrci   mstatus, MSTATUS_MIE
    CHECKMEM irq_log_idx, 2
    CHECKMEM irq_log, CAUSE_INTR | 3
    CHECKMEM irq_log + 8, CAUSE_INTR | 7

/* ------------------------------------------------------------------ */
    GROUP "wfi"
    /* MIE = 0: wfi wakes up on a pending enabled interrupt, no trap taken */
    li      t0, MIP_MTIP
    csrw    mie, t0
    la      t0, irq_count
    ld      s2, 0(t0)
    li      t0, CLINT_MTIME
    ld      t1, 0(t0)
    addi    t1, t1, 2000
    li      t0, CLINT_MTIMECMP
    sd      t1, 0(t0)
    li      s3, 0
1:  wfi
    addi    s3, s3, 1
    csrr    a0, mip
    andi    a0, a0, MIP_MTIP
    beqz    a0, 1b
    CHECK   a0, MIP_MTIP
    la      t0, irq_count
    ld      a0, 0(t0)
    CHECKR  a0, s2                          /* no trap */
    li      t0, CLINT_MTIMECMP
    li      t1, -1
    sd      t1, 0(t0)
    csrr    a0, mip
    andi    a0, a0, MIP_MTIP
    CHECK   a0, 0                           /* MTIP follows mtimecmp */
    /* MIE = 1: the interrupt is taken with mepc = wfi + 4 */
    li      t0, CLINT_MTIME
    ld      t1, 0(t0)
    addi    t1, t1, 2000
    li      t0, CLINT_MTIMECMP
    sd      t1, 0(t0)
    la      t0, irq_count
    ld      s2, 0(t0)
    csrsi   mstatus, MSTATUS_MIE
wfi_site:
    wfi
    j       1f
1:  la      t0, irq_count                   /* in case of an early wake-up */
    ld      t0, 0(t0)
    beq     t0, s2, wfi_site
    csrci   mstatus, MSTATUS_MIE
    la      t5, irq_epc
    ld      t5, 0(t5)
    la      t6, wfi_site
    sub     t5, t5, t6
    CHECK   t5, 4
    /* an M-mode interrupt is taken in U-mode even with mstatus.MIE = 0 */
    li      t0, CLINT_MSIP
    li      t1, 1
    sw      t1, 0(t0)
    li      t0, MIP_MSIP
    csrw    mie, t0
    la      t0, irq_count
    ld      s2, 0(t0)
    li      t0, MSTATUS_MPIE
    csrc    mstatus, t0
    GOTO 0, 1f
1:  nop
    nop
    BACK_TO_M 2f
2:  la      t0, irq_count
    ld      a0, 0(t0)
    sub     a0, a0, s2
    CHECK   a0, 1
    CHECKMEM irq_cause, CAUSE_INTR | 3
    la      t5, irq_status
    ld      t5, 0(t5)
    srli    t5, t5, 11
    andi    t5, t5, 3
    CHECK   t5, 0                           /* interrupted U-mode */
    csrw    mie, zero
    la      t0, trap_entry
    csrw    mtvec, t0

/* ------------------------------------------------------------------ */
    GROUP "Sstc: stimecmp and menvcfg.STCE"
    csrw    mie, zero
    csrw    mcounteren, zero
    csrw    CSR_MENVCFG, zero
    /* M-mode may always access stimecmp */
    li      t0, 0x123456789
    csrw    CSR_STIMECMP, t0
    csrr    a0, CSR_STIMECMP
    CHECKR  a0, t0
    li      t0, MENVCFG_STCE
    csrs    CSR_MENVCFG, t0
    csrr    a0, CSR_MENVCFG
    and     a0, a0, t0
    CHECKR  a0, t0                          /* STCE is writable */
    /* with STCE set, STIP is (time >= stimecmp), and software cannot set it */
    csrw    CSR_STIMECMP, zero
    csrr    a0, mip
    andi    a0, a0, MIP_STIP
    CHECK   a0, MIP_STIP
    li      t0, -1
    csrw    CSR_STIMECMP, t0
    csrr    a0, mip
    andi    a0, a0, MIP_STIP
    CHECK   a0, 0
    li      t0, MIP_STIP
    csrs    mip, t0
    csrr    a0, mip
    andi    a0, a0, MIP_STIP
    CHECK   a0, 0
    /* below M, stimecmp needs both STCE and mcounteren.TM */
    csrw    CSR_MENVCFG, zero
    li      t0, MCOUNTEREN_TM
    csrw    mcounteren, t0
    GOTO 1, 1f
1:  EXPECT_TRAP CAUSE_ILLEGAL, csrr a0, CSR_STIMECMP
    BACK_TO_M 2f
2:  li      t0, MENVCFG_STCE
    csrw    CSR_MENVCFG, t0
    csrw    mcounteren, zero
    GOTO 1, 1f
1:  EXPECT_TRAP CAUSE_ILLEGAL, csrr a0, CSR_STIMECMP
    BACK_TO_M 2f
2:  li      t0, MCOUNTEREN_TM
    csrw    mcounteren, t0
    /* a supervisor timer interrupt from stimecmp, delegated and taken in S */
    li      t0, MIP_STIP
    csrw    mideleg, t0
    csrw    mie, t0                         /* STIE */
    GOTO 1, 1f
1:  la      t0, s_sti_handler
    csrw    stvec, t0
    la      t0, s_irq_count
    ld      s2, 0(t0)
    rdtime  t1
    addi    t1, t1, 1000                    /* 100 us */
    csrw    CSR_STIMECMP, t1
    csrr    a0, CSR_STIMECMP
    CHECKR  a0, t1                          /* S-mode access allowed now */
    csrsi   sstatus, MSTATUS_SIE
    WAIT_CHANGE s_irq_count, s2
    csrci   sstatus, MSTATUS_SIE
    la      t0, strap_entry
    csrw    stvec, t0
    ECALL_TO_M 2f
2:  CHECKMEM s_irq_cause, CAUSE_INTR | 5
    CHECKMEM s_irq_count, 2
    csrr    a0, mip
    andi    a0, a0, MIP_STIP
    CHECK   a0, 0                           /* the handler set stimecmp = -1 */
    csrw    mie, zero
    csrw    mideleg, zero
    csrw    mcounteren, zero
    csrw    CSR_MENVCFG, zero

/* ------------------------------------------------------------------ */
    GROUP "PMP"
    la      s2, pmp_page_a
    la      s3, pmp_page_b
    srli    t0, s2, 2
    ori     t0, t0, 0x1ff                   /* NAPOT 4 KiB */
    csrw    pmpaddr0, t0
    csrr    a0, pmpaddr0
    CHECKR  a0, t0
    srli    t0, s3, 2
    csrw    pmpaddr1, t0                    /* TOR base (entry 1 OFF) */
    li      t1, 4096
    add     t0, s3, t1
    srli    t0, t0, 2
    csrw    pmpaddr2, t0                    /* TOR top */
    li      t0, -1
    csrw    pmpaddr3, t0
    li      t0, 0x1f090018                  /* e3 NAPOT RWX, e2 TOR R, e1 OFF, e0 NAPOT --- */
    csrw    pmpcfg0, t0
    csrr    a0, pmpcfg0
    CHECK   a0, 0x1f090018
    li      t0, 0x5a5a
    sd      t0, 0(s3)
    /* S-mode */
    GOTO 1, 1f
1:  EXPECT_TRAP CAUSE_LOAD_ACCESS, ld a0, 0(s2)
    CHECK_TVAL_REG s2
    EXPECT_TRAP CAUSE_STORE_ACCESS, sd a0, 8(s2)
    addi    t0, s2, 8
    CHECK_TVAL_REG t0
    ld      a0, 0(s3)                       /* page B: read-only */
    CHECK   a0, 0x5a5a
    EXPECT_TRAP CAUSE_STORE_ACCESS, sw a0, 16(s3)
    addi    t0, s3, 16
    CHECK_TVAL_REG t0
    la      t6, 2f                          /* no X on page B */
    la      t5, trap_recover
    sd      t6, 0(t5)
    jalr    ra, 0(s3)
    FAILCHECK
2:  CHECKMEM trap_cause, CAUSE_FETCH_ACCESS
    CHECK_TVAL_REG s3
    BACK_TO_M 3f
    /* U-mode */
3:  GOTO 0, 1f
1:  EXPECT_TRAP CAUSE_LOAD_ACCESS, lb a0, 100(s2)
    ld      a0, 0(s3)
    CHECK   a0, 0x5a5a
    BACK_TO_M 2f
    /* M-mode is not affected by unlocked entries ... */
2:  ld      a0, 0(s2)
    sd      a0, 8(s2)
    sd      a0, 16(s3)
    /* ... unless MPRV = 1 with MPP = S */
    li      t0, MSTATUS_MPP
    csrc    mstatus, t0
    li      t0, MSTATUS_MPRV | MSTATUS_MPP_S
    csrs    mstatus, t0
    EXPECT_TRAP CAUSE_LOAD_ACCESS, ld a0, 0(s2)
    li      t0, MSTATUS_MPRV
    csrc    mstatus, t0
    /* locked entry 0 applies to M-mode too and can no longer be changed */
    li      t0, 0x1f090098
    csrw    pmpcfg0, t0
    EXPECT_TRAP CAUSE_LOAD_ACCESS, ld a0, 0(s2)
    CHECK_TVAL_REG s2
    EXPECT_TRAP CAUSE_STORE_ACCESS, sd a0, 0(s2)
    csrr    s4, pmpaddr0
    csrw    pmpaddr0, zero
    csrr    a0, pmpaddr0
    CHECKR  a0, s4
    li      t0, 0x1f090000
    csrw    pmpcfg0, t0
    csrr    a0, pmpcfg0
    CHECK   a0, 0x1f090098
    ld      a0, 0(s3)                       /* other entries still work */
    CHECK   a0, 0x5a5a

    TEST_DONE

/* ------------------------------------------------------------------ */
/* vector table: BASE + 4 * cause */
    .option push
    .option norvc
    .balign 256
vec_table:
    j       trap_entry                      /* 0: exceptions */
    j       bad_vector
    j       bad_vector
    j       msi_handler                     /* 3 */
    j       bad_vector
    j       bad_vector
    j       bad_vector
    j       mti_handler                     /* 7 */
    j       bad_vector
    j       bad_vector
    j       bad_vector
    j       bad_vector
    j       bad_vector
    j       bad_vector
    j       bad_vector
    j       bad_vector
    .option pop

bad_vector:
    la      a0, str_badvec
    call    uart_puts
    csrr    a0, mcause
    call    uart_puthex
    li      a0, 255
    tail    fail

msi_handler:
    csrrw   sp, mscratch, sp
    addi    sp, sp, -32
    sd      t0, 0(sp)
    sd      t1, 8(sp)
    sd      t2, 16(sp)
    li      t0, CLINT_MSIP
    sw      zero, 0(t0)
    li      t2, 3
    j       irq_common
mti_handler:
    csrrw   sp, mscratch, sp
    addi    sp, sp, -32
    sd      t0, 0(sp)
    sd      t1, 8(sp)
    sd      t2, 16(sp)
    li      t0, CLINT_MTIMECMP
    li      t1, -1
    sd      t1, 0(t0)
    li      t2, 7
irq_common:
    la      t0, irq_vec
    sd      t2, 0(t0)
    la      t0, irq_count
    ld      t1, 0(t0)
    addi    t1, t1, 1
    sd      t1, 0(t0)
    la      t0, irq_cause
    csrr    t1, mcause
    sd      t1, 0(t0)
    la      t0, irq_log_idx
    ld      t2, 0(t0)
    addi    t1, t2, 1
    sd      t1, 0(t0)
    andi    t2, t2, 3
    slli    t2, t2, 3
    la      t0, irq_log
    add     t0, t0, t2
    csrr    t1, mcause
    sd      t1, 0(t0)
    la      t0, irq_epc
    csrr    t1, mepc
    sd      t1, 0(t0)
    la      t0, irq_status
    csrr    t1, mstatus
    sd      t1, 0(t0)
    ld      t0, 0(sp)
    ld      t1, 8(sp)
    ld      t2, 16(sp)
    addi    sp, sp, 32
    csrrw   sp, mscratch, sp
    mret

/* S-mode handler for the delegated supervisor software interrupt */
    .balign 4
/* the supervisor timer: stimecmp = -1 ends the request, then as below */
    .balign 4
s_sti_handler:
    csrrw   sp, sscratch, sp
    addi    sp, sp, -16
    sd      t0, 0(sp)
    sd      t1, 8(sp)
    li      t0, -1
    csrw    CSR_STIMECMP, t0
    j       s_irq_record
    .balign 4                               /* stvec needs 4-byte alignment */
s_ssi_handler:
    csrrw   sp, sscratch, sp
    addi    sp, sp, -16
    sd      t0, 0(sp)
    sd      t1, 8(sp)
    csrci   sip, MIP_SSIP
s_irq_record:
    la      t1, s_irq_cause
    csrr    t0, scause
    sd      t0, 0(t1)
    la      t1, s_irq_status
    csrr    t0, sstatus
    sd      t0, 0(t1)
    la      t1, s_irq_count
    ld      t0, 0(t1)
    addi    t0, t0, 1
    sd      t0, 0(t1)
    ld      t0, 0(sp)
    ld      t1, 8(sp)
    addi    sp, sp, 16
    csrrw   sp, sscratch, sp
    sret

    .section .rodata
str_badvec: .asciz "\n*** interrupt at unexpected vector, mcause="

    .section .bss
    .balign 8
irq_count:      .dword 0
irq_cause:      .dword 0
irq_vec:        .dword 0
irq_epc:        .dword 0
irq_status:     .dword 0
irq_log_idx:    .dword 0
irq_log:        .dword 0, 0, 0, 0
s_irq_count:    .dword 0
s_irq_cause:    .dword 0
s_irq_status:   .dword 0
    .balign 4096
pmp_page_a:     .fill 512, 8, 0
pmp_page_b:     .fill 512, 8, 0
