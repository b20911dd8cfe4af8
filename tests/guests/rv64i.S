/* rv64i.S - every RV64I instruction with edge cases.
 * All code is assembled with .option norvc so each instruction is 32 bits
 * (jal/jalr link values are pc+4). */
#define TEST_NAME "rv64i"
#include "test.h"

    .option norvc
    .text
    .globl main
main:
/* ------------------------------------------------------------------ */
    GROUP "add/sub/addi and W forms"
    li      a1, 5
    li      a2, 7
    add     a0, a1, a2
    CHECK   a0, 12
    sub     a0, a1, a2
    CHECK   a0, -2
    li      a1, 0x7fffffffffffffff
    li      a2, 1
    add     a0, a1, a2
    CHECK   a0, 0x8000000000000000          /* wraps */
    sub     a0, zero, a2
    CHECK   a0, 0xffffffffffffffff
    li      a1, 0
    addi    a0, a1, -2048
    CHECK   a0, 0xfffffffffffff800
    addi    a0, a1, 2047
    CHECK   a0, 2047
    li      a1, 0x7fffffff
    addiw   a0, a1, 1
    CHECK   a0, 0xffffffff80000000          /* 32-bit overflow, sign-extended */
    li      a1, 0xffffffff00000005
    addiw   a0, a1, 0                       /* sext.w */
    CHECK   a0, 5
    li      a1, 0x00000000fffffffe
    addiw   a0, a1, 0
    CHECK   a0, 0xfffffffffffffffe
    addiw   a0, a1, 3                       /* 0xfffffffe + 3 = 0x1_00000001 -> 1 */
    CHECK   a0, 1
    li      a1, 0x123456789abcdef0
    li      a2, 0x0fedcba987654321
    addw    a0, a1, a2                      /* 0x9abcdef0 + 0x87654321 = 0x1_22222211 */
    CHECK   a0, 0x22222211
    add     a0, a1, a2
    CHECK   a0, 0x2222222222222211
    li      a1, 0x7fffffff
    li      a2, 1
    addw    a0, a1, a2
    CHECK   a0, 0xffffffff80000000
    subw    a0, zero, a2
    CHECK   a0, 0xffffffffffffffff
    li      a1, 0xffffffff80000000
    subw    a0, a1, a2                      /* INT32_MIN - 1 wraps */
    CHECK   a0, 0x7fffffff
    li      a1, 0x100000000
    subw    a0, a1, zero                    /* low word 0 */
    CHECK   a0, 0
    sub     a0, a1, a2
    CHECK   a0, 0xffffffff

/* ------------------------------------------------------------------ */
    GROUP "lui/auipc"
    lui     a0, 0x80000
    CHECK   a0, 0xffffffff80000000
    lui     a0, 0x7ffff
    CHECK   a0, 0x7ffff000
    lui     a0, 0xfffff
    CHECK   a0, 0xfffffffffffff000
    lui     a0, 0
    CHECK   a0, 0
auipc0:
    auipc   a0, 0
    la      t0, auipc0_abs
    ld      t0, 0(t0)
    CHECKR  a0, t0
auipc1:
    auipc   a0, 1
    la      t0, auipc1_abs
    ld      t0, 0(t0)
    li      t1, 0x1000
    add     t0, t0, t1
    CHECKR  a0, t0
auipc2:
    auipc   a0, 0xfffff                     /* pc - 4096 */
    la      t0, auipc2_abs
    ld      t0, 0(t0)
    li      t1, -0x1000
    add     t0, t0, t1
    CHECKR  a0, t0

/* ------------------------------------------------------------------ */
    GROUP "logic and compares"
    li      a1, 0xff00ff00ff00ff00
    li      a2, 0x0ff00ff00ff00ff0
    and     a0, a1, a2
    CHECK   a0, 0x0f000f000f000f00
    or      a0, a1, a2
    CHECK   a0, 0xfff0fff0fff0fff0
    xor     a0, a1, a2
    CHECK   a0, 0xf0f0f0f0f0f0f0f0
    andi    a0, a1, -1                      /* imm sign-extended to all ones */
    CHECK   a0, 0xff00ff00ff00ff00
    andi    a0, a1, 0x7f0
    CHECK   a0, 0x700
    ori     a0, a2, -2048
    CHECK   a0, 0xfffffffffffff800 | 0xff0
    xori    a0, a1, -1                      /* not */
    CHECK   a0, 0x00ff00ff00ff00ff
    xori    a0, a2, 0x0f0
    CHECK   a0, 0x0ff00ff00ff00f00
    li      a1, -1
    li      a2, 1
    slt     a0, a1, a2
    CHECK   a0, 1                           /* -1 < 1 signed */
    sltu    a0, a1, a2
    CHECK   a0, 0                           /* 0xff..ff > 1 unsigned */
    slt     a0, a2, a1
    CHECK   a0, 0
    sltu    a0, a2, a1
    CHECK   a0, 1
    slt     a0, a2, a2
    CHECK   a0, 0
    li      a1, -5
    slti    a0, a1, -4
    CHECK   a0, 1
    slti    a0, a1, -5
    CHECK   a0, 0
    li      a1, 5
    sltiu   a0, a1, -1                      /* 5 < 0xff..ff unsigned */
    CHECK   a0, 1
    sltiu   a0, a1, 5
    CHECK   a0, 0
    sltiu   a0, zero, 1                     /* seqz */
    CHECK   a0, 1
    sltu    a0, zero, a1                    /* snez */
    CHECK   a0, 1
    li      a1, 0x8000000000000000
    slti    a0, a1, 0
    CHECK   a0, 1
    sltiu   a0, a1, 0
    CHECK   a0, 0

/* ------------------------------------------------------------------ */
    GROUP "shifts"
    li      a1, 1
    li      a2, 63
    sll     a0, a1, a2
    CHECK   a0, 0x8000000000000000
    li      a1, 0x8000000000000000
    srl     a0, a1, a2
    CHECK   a0, 1
    sra     a0, a1, a2
    CHECK   a0, 0xffffffffffffffff
    li      a2, 65                          /* only the low 6 bits count */
    li      a1, 3
    sll     a0, a1, a2
    CHECK   a0, 6
    li      a1, 0x8000000000000000
    srl     a0, a1, a2
    CHECK   a0, 0x4000000000000000
    sra     a0, a1, a2
    CHECK   a0, 0xc000000000000000
    li      a2, 64
    sll     a0, a1, a2                      /* shift by 0 */
    CHECK   a0, 0x8000000000000000
    li      a1, 0x0123456789abcdef
    slli    a0, a1, 63
    CHECK   a0, 0x8000000000000000
    slli    a0, a1, 0
    CHECK   a0, 0x0123456789abcdef
    slli    a0, a1, 4
    CHECK   a0, 0x123456789abcdef0
    srli    a0, a1, 60
    CHECK   a0, 0
    srli    a0, a1, 4
    CHECK   a0, 0x00123456789abcde
    li      a1, 0xfedcba9876543210
    srai    a0, a1, 4
    CHECK   a0, 0xffedcba987654321
    srai    a0, a1, 63
    CHECK   a0, -1
    srli    a0, a1, 63
    CHECK   a0, 1
    /* W shifts */
    li      a1, 1
    li      a2, 31
    sllw    a0, a1, a2
    CHECK   a0, 0xffffffff80000000
    li      a2, 33                          /* low 5 bits: 1 */
    sllw    a0, a1, a2
    CHECK   a0, 2
    li      a1, 0xffffffff80000000
    li      a2, 31
    srlw    a0, a1, a2
    CHECK   a0, 1
    sraw    a0, a1, a2
    CHECK   a0, -1
    li      a1, 0x0000000080000000
    srlw    a0, a1, zero                    /* shift 0 still sign-extends */
    CHECK   a0, 0xffffffff80000000
    li      a2, 4
    sraw    a0, a1, a2
    CHECK   a0, 0xfffffffff8000000
    srlw    a0, a1, a2
    CHECK   a0, 0x08000000
    li      a1, 1
    slliw   a0, a1, 31
    CHECK   a0, 0xffffffff80000000
    li      a1, 0x00000000ffffffff
    slliw   a0, a1, 0
    CHECK   a0, -1
    li      a1, -1
    srliw   a0, a1, 1
    CHECK   a0, 0x7fffffff
    srliw   a0, a1, 0
    CHECK   a0, -1
    li      a1, 0x0000000080000000
    sraiw   a0, a1, 4
    CHECK   a0, 0xfffffffff8000000
    sraiw   a0, a1, 31
    CHECK   a0, -1
    li      a1, 0x1234567800000010
    srliw   a0, a1, 4                       /* upper 32 bits ignored */
    CHECK   a0, 1
    li      a1, 0x00000000f0000000
    srliw   a0, a1, 31
    CHECK   a0, 1
    li      a1, 0x7fffffff00000000
    sraiw   a0, a1, 1
    CHECK   a0, 0

/* ------------------------------------------------------------------ */
    GROUP "branches"
    li      a1, -1
    li      a2, 1
    li      a3, -1
    BTAKEN    beq, a1, a3
    BNOTTAKEN beq, a1, a2
    BTAKEN    bne, a1, a2
    BNOTTAKEN bne, a1, a3
    BTAKEN    blt, a1, a2                   /* -1 < 1 */
    BNOTTAKEN blt, a2, a1
    BNOTTAKEN blt, a1, a3                   /* equal */
    BTAKEN    bge, a2, a1
    BTAKEN    bge, a1, a3                   /* equal */
    BNOTTAKEN bge, a1, a2
    BTAKEN    bltu, a2, a1                  /* 1 < 0xff..ff */
    BNOTTAKEN bltu, a1, a2
    BNOTTAKEN bltu, a1, a3
    BTAKEN    bgeu, a1, a2
    BTAKEN    bgeu, a1, a3
    BNOTTAKEN bgeu, a2, a1
    BTAKEN    beq, zero, zero
    BNOTTAKEN blt, zero, zero
    li      a1, 0x8000000000000000
    li      a2, 0x7fffffffffffffff
    BTAKEN    blt, a1, a2
    BTAKEN    bltu, a2, a1
    /* backward branch: count down loop */
    li      a0, 0
    li      a1, 10
1:  addi    a0, a0, 3
    addi    a1, a1, -1
    bnez    a1, 1b
    CHECK   a0, 30
    /* branch to a far target (> 2 KiB away) */
    li      a0, 1
    beq     zero, zero, far_target
far_back:
    CHECK   a0, 2

/* ------------------------------------------------------------------ */
    GROUP "jal/jalr"
jal_site:
    jal     a0, jal_target
    FAILCHECK
jal_target:
    la      t0, jal_site
    addi    t0, t0, 4
    CHECKR  a0, t0                          /* link = pc + 4 */
    jal     zero, 1f                        /* j */
    FAILCHECK
1:
    la      t0, jalr_target
jalr_site:
    jalr    a0, 0(t0)
    FAILCHECK
jalr_target:
    la      t0, jalr_site
    addi    t0, t0, 4
    CHECKR  a0, t0
    la      t0, jalr_target2
    addi    t0, t0, -8
jalr_site2:
    jalr    a1, 8(t0)                       /* positive offset */
    FAILCHECK
jalr_target2:
    la      t0, jalr_site2
    addi    t0, t0, 4
    CHECKR  a1, t0
    la      t0, jalr_target3
    addi    t0, t0, 100
    jalr    a1, -100(t0)                    /* negative offset */
    FAILCHECK
jalr_target3:
    la      t0, jalr_target4
    addi    t0, t0, 1                       /* bit 0 is cleared by jalr */
jalr_site4:
    jalr    a1, 0(t0)
    FAILCHECK
jalr_target4:
    la      t0, jalr_site4
    addi    t0, t0, 4
    CHECKR  a1, t0
    la      t0, jalr_target5
    addi    t0, t0, -1
    jalr    zero, 1(t0)                     /* target = t0 + 1 = jalr_target5 exactly */
    FAILCHECK
jalr_target5:
    la      a1, jalr_target6
jalr_site6:
    jalr    a1, 0(a1)                       /* rd == rs1: target uses old value */
    FAILCHECK
jalr_target6:
    la      t0, jalr_site6
    addi    t0, t0, 4
    CHECKR  a1, t0
    /* call / ret */
    li      a0, 0
    call    leaf_add5
    CHECK   a0, 5

/* ------------------------------------------------------------------ */
    GROUP "loads"
    la      s0, ld_data                     /* 8899aabbccddeeff 7766554433221100 */
    lb      a0, 0(s0)
    CHECK   a0, 0xffffffffffffffff
    lbu     a0, 0(s0)
    CHECK   a0, 0xff
    lb      a0, 9(s0)
    CHECK   a0, 0x11
    lbu     a0, 7(s0)
    CHECK   a0, 0x88
    lb      a0, 7(s0)
    CHECK   a0, 0xffffffffffffff88
    lh      a0, 0(s0)
    CHECK   a0, 0xffffffffffffeeff
    lhu     a0, 0(s0)
    CHECK   a0, 0xeeff
    lh      a0, 6(s0)
    CHECK   a0, 0xffffffffffff8899
    lh      a0, 14(s0)
    CHECK   a0, 0x7766
    lw      a0, 0(s0)
    CHECK   a0, 0xffffffffccddeeff
    lwu     a0, 0(s0)
    CHECK   a0, 0xccddeeff
    lw      a0, 4(s0)
    CHECK   a0, 0xffffffff8899aabb
    lw      a0, 8(s0)
    CHECK   a0, 0x33221100
    lwu     a0, 12(s0)
    CHECK   a0, 0x77665544
    ld      a0, 0(s0)
    CHECK   a0, 0x8899aabbccddeeff
    ld      a0, 8(s0)
    CHECK   a0, 0x7766554433221100
    addi    s1, s0, 16
    ld      a0, -16(s1)                     /* negative offset */
    CHECK   a0, 0x8899aabbccddeeff
    lbu     a0, -1(s1)
    CHECK   a0, 0x77
    lw      zero, 0(s0)                     /* load to x0 is discarded */
    mv      a0, zero
    CHECK   a0, 0
    addi    zero, zero, 5
    mv      a0, zero
    CHECK   a0, 0

/* ------------------------------------------------------------------ */
    GROUP "stores"
    la      s0, st_data
    li      a1, -1
    sd      a1, 0(s0)
    sd      a1, 8(s0)
    li      a1, 0xabcdef12                  /* only the low byte is stored */
    sb      a1, 3(s0)
    ld      a0, 0(s0)
    CHECK   a0, 0xffffffff12ffffff
    li      a1, 0x13579bdf3456
    sh      a1, 4(s0)
    ld      a0, 0(s0)
    CHECK   a0, 0xffff345612ffffff
    li      a1, 0x1122334455667788
    sw      a1, 8(s0)
    ld      a0, 8(s0)
    CHECK   a0, 0xffffffff55667788
    sd      a1, 0(s0)
    ld      a0, 0(s0)
    CHECK   a0, 0x1122334455667788
    addi    s1, s0, 16
    sb      zero, -16(s1)
    lbu     a0, 0(s0)
    CHECK   a0, 0
    ld      a0, 0(s0)
    CHECK   a0, 0x1122334455667700

/* ------------------------------------------------------------------ */
    GROUP "misaligned load/store"
    la      s0, ld_data                     /* ff ee dd cc bb aa 99 88 00 11 22 33 ... */
    lw      a0, 1(s0)
    CHECK   a0, 0xffffffffbbccddee
    lwu     a0, 1(s0)
    CHECK   a0, 0xbbccddee
    lh      a0, 7(s0)
    CHECK   a0, 0x0088
    lhu     a0, 1(s0)
    CHECK   a0, 0xddee
    lh      a0, 5(s0)
    CHECK   a0, 0xffffffffffff99aa
    ld      a0, 3(s0)
    CHECK   a0, 0x2211008899aabbcc
    lw      a0, 6(s0)
    CHECK   a0, 0x11008899
    la      s0, st_data
    sd      zero, 0(s0)
    sd      zero, 8(s0)
    li      a1, 0x0102030405060708
    sd      a1, 3(s0)
    ld      a0, 0(s0)
    CHECK   a0, 0x0405060708000000
    ld      a0, 8(s0)
    CHECK   a0, 0x0000000000010203
    li      a1, 0xa1b2c3d4
    sw      a1, 7(s0)
    ld      a0, 0(s0)
    CHECK   a0, 0xd405060708000000
    ld      a0, 8(s0)
    CHECK   a0, 0x0000000000a1b2c3
    li      a1, 0xeeff
    sh      a1, 5(s0)
    ld      a0, 0(s0)
    CHECK   a0, 0xd4eeff0708000000

/* ------------------------------------------------------------------ */
    GROUP "fence, fence.i, ecall, ebreak"
    fence
    fence   rw, rw
    fence   r, r
    fence   w, w
    fence   iorw, iorw
    fence.tso
    /* self-modifying code: patch "addi a0, zero, 1" into "addi a0, zero, 42" */
    la      s0, smc_insn
    li      a1, 0x02a00513                  /* addi a0, zero, 42 */
    sw      a1, 0(s0)
    fence.i
    li      a0, 0
smc_insn:
    addi    a0, zero, 1
    CHECK   a0, 42
    EXPECT_TRAP CAUSE_ECALL_M, ecall
    CHECK_TVAL 0
    EXPECT_TRAP CAUSE_BREAKPOINT, ebreak

    TEST_DONE

/* ------------------------------------------------------------------ */
leaf_add5:
    addi    a0, a0, 5
    ret

    .skip   4096                            /* put far_target > 4 KiB away */
far_target:
    addi    a0, a0, 1
    bne     zero, a0, far_back              /* backward branch over 4 KiB */
    FAILCHECK

    .section .rodata
    .balign 8
auipc0_abs: .dword auipc0
auipc1_abs: .dword auipc1
auipc2_abs: .dword auipc2
    .balign 16
ld_data:
    .dword  0x8899aabbccddeeff
    .dword  0x7766554433221100

    .section .data
    .balign 16
st_data:
    .dword  0, 0, 0
