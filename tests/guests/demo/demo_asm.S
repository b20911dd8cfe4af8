/* demo_asm.S - mode-switching helpers for the haltpoint demo guest. */
#include "csr.h"

    .text
/* u64 demo_user_ecall(void): runs "li a0, 42; ecall" in U-mode; the
 * default M-mode handler records the trap and resumes here in M-mode. */
    .globl demo_user_ecall
demo_user_ecall:
    la      t0, 1f
    la      t1, trap_recover
    sd      t0, 0(t1)
    li      t0, 1
    la      t1, trap_to_m
    sd      t0, 0(t1)
    li      t0, MSTATUS_MPP
    csrc    mstatus, t0                     /* MPP = U */
    la      t0, user_code
    csrw    mepc, t0
    mret
1:  ret                                     /* a0 = value computed in U-mode */

user_code:
    li      a0, 42
    ecall

/* u64 demo_run_s(u64 satp, u64 entry): runs entry in S-mode with satp set;
 * entry ends with ecall, a0 = result, a1 = its pc. */
    .globl demo_run_s
demo_run_s:
    csrw    satp, a0
    sfence.vma
    la      t0, 1f
    la      t1, trap_recover
    sd      t0, 0(t1)
    li      t0, 1
    la      t1, trap_to_m
    sd      t0, 0(t1)
    li      t0, MSTATUS_MPP
    csrc    mstatus, t0
    li      t0, MSTATUS_MPP_S
    csrs    mstatus, t0
    csrw    mepc, a1
    mret
1:  csrw    satp, zero
    sfence.vma
    la      t0, demo_s_pc
    sd      a1, 0(t0)
    ret

/* S-mode code, entered at its high virtual alias: returns magic * 2 read
 * pc-relatively (i.e. through the high mapping) and its own pc */
    .globl demo_s_code
demo_s_code:
    auipc   a1, 0
    la      t0, demo_magic
    ld      a0, 0(t0)
    slli    a0, a0, 1
    ecall

    .section .data
    .balign 8
    .globl demo_magic, demo_s_pc
demo_magic: .dword 0x0123456789abcdef
demo_s_pc:  .dword 0
