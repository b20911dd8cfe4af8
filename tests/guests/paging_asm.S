/* paging_asm.S - helpers for paging.c: run a routine in S- or U-mode with a
 * given satp and come back to M-mode, plus the tiny lower-privilege
 * routines ("probes") that paging.c runs through various mappings.
 *
 * u64 run_lower(u64 mode, u64 satp, u64 fn, u64 arg0, u64 arg1)
 *   mode 1 = S, 0 = U.  Jumps to fn(arg0, arg1) in that mode; returns the
 *   probe's a0.  A probe ends with "ecall" and a7 = EXIT_MAGIC.  Any other
 *   trap ends the run too: lower_fault = 1 if it was handled by the S-mode
 *   handler (delegated; strap_cause/epc/tval hold scause/sepc/stval),
 *   3 if it went to M-mode (trap_cause/epc/tval), 0 for a normal exit.
 */
#include "csr.h"

#define EXIT_MAGIC 0x4558495445584954

    .text
    .globl run_lower
run_lower:
    addi    sp, sp, -112
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    sd      s1, 16(sp)
    sd      s2, 24(sp)
    sd      s3, 32(sp)
    sd      s4, 40(sp)
    sd      s5, 48(sp)
    sd      s6, 56(sp)
    sd      s7, 64(sp)
    sd      s8, 72(sp)
    sd      s9, 80(sp)
    sd      s10, 88(sp)
    sd      s11, 96(sp)
    la      t0, lower_sp
    sd      sp, 0(t0)
    csrw    satp, a1
    sfence.vma
    la      t0, __strap_stacks_end          /* hart 0 S trap stack */
    csrw    sscratch, t0
    la      t0, lower_exit_hook
    la      t1, trap_hook
    sd      t0, 0(t1)
    la      t0, s_escape_hook
    la      t1, strap_hook
    sd      t0, 0(t1)
    la      t0, lower_fault
    sd      zero, 0(t0)
    li      t0, MSTATUS_MPP
    csrc    mstatus, t0
    beqz    a0, 1f
    li      t0, MSTATUS_MPP_S
    csrs    mstatus, t0
1:  csrw    mepc, a2
    mv      a0, a3
    mv      a1, a4
    li      ra, 0
    mret

run_lower_return:                           /* M-mode, a0 = result */
    la      t0, lower_sp
    ld      sp, 0(t0)
    csrw    satp, zero
    sfence.vma
    la      t1, trap_hook
    sd      zero, 0(t1)
    la      t1, strap_hook
    sd      zero, 0(t1)
    ld      ra, 0(sp)
    ld      s0, 8(sp)
    ld      s1, 16(sp)
    ld      s2, 24(sp)
    ld      s3, 32(sp)
    ld      s4, 40(sp)
    ld      s5, 48(sp)
    ld      s6, 56(sp)
    ld      s7, 64(sp)
    ld      s8, 72(sp)
    ld      s9, 80(sp)
    ld      s10, 88(sp)
    ld      s11, 96(sp)
    addi    sp, sp, 112
    ret

/* trap_hook(frame, mcause), M-mode: ends the lower-privilege run */
lower_exit_hook:
    bltz    a1, 9f                          /* interrupt: not ours */
    li      t0, CAUSE_ECALL_U
    beq     a1, t0, 1f
    li      t0, CAUSE_ECALL_S
    beq     a1, t0, 1f
2:  li      t0, 3                           /* fault handled in M */
    la      t1, lower_fault
    sd      t0, 0(t1)
    j       3f
1:  ld      t0, 17*8(a0)                    /* saved a7 */
    li      t1, EXIT_MAGIC
    bne     t0, t1, 2b                      /* plain ecall: report as a trap */
3:  la      t0, run_lower_return
    csrw    mepc, t0
    li      t0, MSTATUS_MPP_M
    csrs    mstatus, t0
    li      a0, 1
    ret
9:  li      a0, 0
    ret

/* strap_hook(frame, scause), S-mode: a delegated fault ends the run */
s_escape_hook:
    li      t0, 1
    la      t1, lower_fault
    sd      t0, 0(t1)
    li      a0, 0
    li      a7, EXIT_MAGIC
    ecall

/* ------------------------------------------------------------------ */
/* Probes.  They use no stack and no data, so they can run in U-mode from
 * a U alias of this page.  The page holds nothing else. */
    .section .text.lower, "ax"
    .balign 4096
    .globl lower_start
lower_start:
    .option push
    .option norvc
    .globl lo_ld
lo_ld:                                      /* a0 = *(u64 *)a0 */
    ld      a0, 0(a0)
    j       lo_exit
    .globl lo_lbu
lo_lbu:
    lbu     a0, 0(a0)
    j       lo_exit
    .globl lo_sd
lo_sd:                                      /* *(u64 *)a0 = a1 */
    sd      a1, 0(a0)
    li      a0, 0
    j       lo_exit
    .globl lo_call
lo_call:                                    /* a0 = ((u64 (*)(void))a0)() */
    jalr    ra, 0(a0)
    j       lo_exit
    .globl lo_ret42
lo_ret42:                                   /* 0x02a00513, 0x00008067 */
    addi    a0, zero, 42
    jalr    zero, 0(ra)
    .globl lo_sfence_va_ld
lo_sfence_va_ld:                            /* sfence.vma a0; a0 = *a0 */
    sfence.vma a0, zero
    ld      a0, 0(a0)
    j       lo_exit
    .globl lo_sfence_asid_ld
lo_sfence_asid_ld:                          /* sfence.vma x0, a1; a0 = *a0 */
    sfence.vma zero, a1
    ld      a0, 0(a0)
    j       lo_exit
    .globl lo_sfence_all_ld
lo_sfence_all_ld:
    sfence.vma
    ld      a0, 0(a0)
    j       lo_exit
lo_exit:
    li      a7, EXIT_MAGIC
    ecall
    j       lo_exit
    .option pop
    .globl lower_end
lower_end:
    .balign 4096

    .section .bss
    .balign 8
    .globl lower_fault
lower_sp:       .dword 0
lower_fault:    .dword 0
