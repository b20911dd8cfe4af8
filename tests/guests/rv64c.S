/* rv64c.S - RV64C compressed instructions.
 *
 * The code between c_block_start and c_block_end consists only of explicit
 * compressed instructions (each wrapped in the C macro, which asserts at
 * assembly time that the encoding is 2 bytes; the Makefile double-checks
 * the region with objdump).  The block stores its results with c.sd into
 * an array (RES macro); afterwards normal code compares the array with the
 * expected values (check i = result i).  c.ebreak traps to the default
 * handler, which resumes at the next instruction; mcause = 3 and mepc are
 * checked afterwards (mtval is not checked: it may be the pc or 0). */
#define TEST_NAME "rv64c"
#include "test.h"

    .option norelax
    .option rvc

/* one compressed instruction; error out if the assembler made it 4 bytes */
.macro C insn:vararg
9990:
    \insn
.if (. - 9990b) != 2
    .error "instruction is not 16 bits"
.endif
.endm
/* compressed branch/jump to a label: gas cannot size-check these at
 * assembly time (the explicit c.* mnemonics are never relaxed to 32 bits;
 * the Makefile verifies the whole block with objdump) */
.macro CB insn:vararg
    \insn
.endm

    .set    res_idx, 0
    .set    res_off, 0
/* store register reg (x8..x15) as the next result; expected value exp */
.macro RES reg, exp
.if res_off == 256
    C c.li  a5, 1
    C c.slli a5, 8
    C c.add s1, a5
    .set    res_off, 0
.endif
    C c.sd  \reg, res_off(s1)
    .set    res_off, res_off + 8
    .set    res_idx, res_idx + 1
    .pushsection .rodata.expected, "a"
    .dword  \exp
    .popsection
.endm

    .section .rodata.expected, "a"
    .balign 8
expected:
    .text
    .globl main
main:
    GROUP "compressed block"
    addi    sp, sp, -512
    la      s1, results
    la      s0, cdata
    la      t1, jr_target
    la      t2, jalr_target
    la      t0, after_ebreak
    la      t3, trap_recover
    sd      t0, 0(t3)

    .globl c_block_start
c_block_start:
    /* c.li, c.addi, c.lui, c.addiw, c.nop */
    C c.nop
    C c.li   a0, -32
    RES a0, -32
    C c.li   a1, 31
    RES a1, 31
    C c.addi a1, -32
    RES a1, -1
    C c.addi a1, 31
    RES a1, 30
    C c.lui  a2, 0x1f
    RES a2, 0x1f000
    C c.lui  a3, 0xfffe0
    RES a3, 0xfffffffffffe0000
    C c.li   a4, -1
    C c.srli a4, 33
    RES a4, 0x7fffffff
    C c.addiw a4, 1
    RES a4, 0xffffffff80000000
    C c.li   a4, -1
    C c.srli a4, 32
    C c.addiw a4, 0                  /* sext.w */
    RES a4, -1

    /* c.addi16sp, c.addi4spn (and c.mv from sp, c.sub) */
    C c.mv   a0, sp
    C c.addi16sp sp, -64
    C c.mv   a5, sp
    C c.sub  a0, a5
    RES a0, 64
    C c.addi16sp sp, 496
    C c.mv   a0, sp
    C c.sub  a0, a5
    RES a0, 496
    C c.addi16sp sp, -432           /* back to the original sp */
    C c.addi4spn a0, sp, 16
    C c.mv   a5, sp
    C c.sub  a0, a5
    RES a0, 16
    C c.addi4spn a0, sp, 1020
    C c.sub  a0, a5
    RES a0, 1020

    /* c.lw / c.ld / c.sw / c.sd with s0 = cdata */
    C c.lw   a0, 0(s0)
    RES a0, 0x44332211
    C c.lw   a0, 4(s0)
    RES a0, 0xffffffff88776655
    C c.ld   a0, 8(s0)
    RES a0, 0xfedcba9876543210
    C c.lw   a0, 124(s0)
    RES a0, 0xffffffff89abcdef
    C c.ld   a1, 248(s0)
    RES a1, 0x0f0f0f0ff0f0f0f1
    C c.sw   a3, 16(s0)
    C c.ld   a0, 16(s0)
    RES a0, 0x11111111fffe0000
    C c.sd   a2, 24(s0)
    C c.ld   a0, 24(s0)
    RES a0, 0x1f000

    /* c.fld / c.fsd */
    C c.fld  fa0, 8(s0)
    C c.fsd  fa0, 32(s0)
    C c.ld   a0, 32(s0)
    RES a0, 0xfedcba9876543210
    C c.fld  fs1, 248(s0)
    C c.fsd  fs1, 240(s0)
    C c.ld   a0, 240(s0)
    RES a0, 0x0f0f0f0ff0f0f0f1

    /* sp-relative forms */
    C c.sdsp a2, 0(sp)
    C c.ldsp a0, 0(sp)
    RES a0, 0x1f000
    C c.sdsp a2, 8(sp)
    C c.li   a4, -5
    C c.swsp a4, 8(sp)
    C c.ldsp a0, 8(sp)
    RES a0, 0x00000000fffffffb
    C c.lwsp a0, 8(sp)
    RES a0, 0xfffffffffffffffb
    C c.sdsp a1, 504(sp)
    C c.ldsp a0, 504(sp)
    RES a0, 0x0f0f0f0ff0f0f0f1
    C c.swsp a3, 252(sp)
    C c.lwsp a0, 252(sp)
    RES a0, 0xfffffffffffe0000
    C c.fsdsp fa0, 16(sp)
    C c.ldsp a0, 16(sp)
    RES a0, 0xfedcba9876543210
    C c.sdsp a1, 496(sp)
    C c.fldsp ft0, 496(sp)          /* any f register */
    C c.fsdsp ft0, 24(sp)
    C c.ldsp a0, 24(sp)
    RES a0, 0x0f0f0f0ff0f0f0f1

    /* register-register ALU: a0 = A, a1 = B */
    C c.ld   a0, 8(s0)              /* A = 0xfedcba9876543210 */
    C c.mv   a2, a0
    C c.and  a2, a1
    RES a2, 0x0e0c0a0870503010
    C c.mv   a2, a0
    C c.or   a2, a1
    RES a2, 0xffdfbf9ff6f4f2f1
    C c.mv   a2, a0
    C c.xor  a2, a1
    RES a2, 0xf1d3b59786a4c2e1
    C c.mv   a2, a0
    C c.sub  a2, a1
    RES a2, 0xefcdab888563411f
    C c.mv   a2, a0
    C c.add  a2, a1
    RES a2, 0x0debc9a867452301
    C c.mv   a2, a0
    C c.addw a2, a1
    RES a2, 0x67452301
    C c.mv   a2, a0
    C c.subw a2, a1
    RES a2, 0xffffffff8563411f
    C c.mv   t4, a0                 /* c.mv / c.add with non-x8..x15 registers */
    C c.add  t4, t4
    C c.mv   a2, t4
    RES a2, 0xfdb97530eca86420

    /* immediate shifts and c.andi */
    C c.mv   a2, a0
    C c.srli a2, 4
    RES a2, 0x0fedcba987654321
    C c.mv   a2, a0
    C c.srai a2, 4
    RES a2, 0xffedcba987654321
    C c.mv   a2, a0
    C c.srai a2, 63
    RES a2, -1
    C c.mv   a2, a0
    C c.srli a2, 63
    RES a2, 1
    C c.mv   a2, a1
    C c.slli a2, 63
    RES a2, 0x8000000000000000
    C c.mv   a2, a0
    C c.slli a2, 4
    RES a2, 0xedcba98765432100
    C c.mv   a2, a0
    C c.andi a2, -32
    RES a2, 0xfedcba9876543200
    C c.mv   a2, a0
    C c.andi a2, 31
    RES a2, 0x10

    /* c.beqz / c.bnez taken and not taken, backward loop */
    C c.li   a0, 0
    CB c.beqz a0, 1f
    C c.li   a0, 5
1:  RES a0, 0
    C c.li   a0, 3
    CB c.beqz a0, 1f
    C c.addi a0, 1
1:  RES a0, 4
    C c.li   a0, 3
    CB c.bnez a0, 1f
    C c.li   a0, 5
1:  RES a0, 3
    C c.li   a0, 0
    CB c.bnez a0, 1f
    C c.addi a0, 9
1:  RES a0, 9
    C c.li   a0, 5
    C c.li   a1, 0
1:  C c.addi a1, 3
    C c.addi a0, -1
    CB c.bnez a0, 1b
    RES a1, 15

    /* c.j, c.jr, c.jalr, c.ebreak */
    C c.li   a0, 1
    CB c.j    1f
    C c.li   a0, 2
1:  RES a0, 1
    C c.li   a0, 1
    C c.jr   t1
    C c.li   a0, 2
jr_target:
    RES a0, 1
    C c.li   a0, 0
jalr_site:
    C c.jalr t2
    RES a0, 7
    C c.mv   a0, ra
    RES a0, jalr_site + 2           /* link = pc + 2 */
    CB c.j    1f
jalr_target:
    C c.addi a0, 7
    C c.jr   ra
1:
ebreak_site:
    C c.ebreak
after_ebreak:
    C c.nop
    .globl c_block_end
c_block_end:

    /* compare the results */
    addi    sp, sp, 512
    la      s1, results
    la      s2, expected
    li      s3, 0
    li      s4, res_idx
1:  ld      a1, 0(s1)
    ld      a2, 0(s2)
    bne     a1, a2, 2f
    addi    s1, s1, 8
    addi    s2, s2, 8
    addi    s3, s3, 1
    bltu    s3, s4, 1b
    j       3f
2:  addi    a0, s3, check_num + 1
    j       check_failed
3:  .set    check_num, check_num + res_idx

    GROUP "c.ebreak trap"
    CHECKMEM trap_cause, CAUSE_BREAKPOINT
    CHECKMEM_ADDR trap_epc, ebreak_site
    CHECKMEM trap_count, 1

    TEST_DONE

    .section .data
    .balign 8
cdata:
    .dword  0x8877665544332211      /* 0 */
    .dword  0xfedcba9876543210      /* 8 */
    .dword  0x1111111122222222      /* 16 */
    .fill   12, 8, 0                /* 24..119 */
    .dword  0x89abcdef01234567      /* 120 */
    .fill   15, 8, 0                /* 128..247 */
    .dword  0x0f0f0f0ff0f0f0f1      /* 248 */

    .section .bss
    .balign 8
results:
    .fill   128, 8, 0
