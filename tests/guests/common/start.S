/* Shared startup for the haltpoint guest programs.
 *
 * Entered in M-mode on every hart with a0 = hart id, a1 = DTB address
 * (QEMU virt with -bios none).  Sets up per-hart stacks, mscratch/sscratch
 * (trap stacks), mtvec/stvec (handlers in runtime.S), enables the FPU
 * (mstatus.FS = Initial), and opens PMP entry 0 (NAPOT, whole address
 * space, RWX) so S/U-mode code may access memory on a spec-conforming
 * hart (with PMP entries implemented but none matching, S/U accesses fail).
 *
 * Hart 0 clears .bss and calls main(hartid, dtb); a zero return powers off
 * with "pass", anything else calls fail(code).  Other harts jump to
 * secondary_main(hartid, dtb) if the program defines it, else they park.
 */
#include "csr.h"

    .section .text.start, "ax"
    .globl _start
_start:
    csrw    mie, zero
    csrr    t0, mhartid
    li      t1, 8                   /* MAX_HARTS in link.ld */
    bgeu    t0, t1, park
    la      t1, __stacks_end
    slli    t2, t0, 14              /* STACK_SIZE = 16 KiB */
    sub     sp, t1, t2
    la      t1, __trap_stacks_end
    slli    t2, t0, 12              /* TRAP_STACK_SIZE = 4 KiB */
    sub     t1, t1, t2
    csrw    mscratch, t1
    la      t1, __strap_stacks_end
    sub     t1, t1, t2
    csrw    sscratch, t1
    la      t1, trap_entry
    csrw    mtvec, t1
    la      t1, strap_entry
    csrw    stvec, t1
    li      t1, MSTATUS_FS
    csrc    mstatus, t1
    li      t1, MSTATUS_FS_INIT
    csrs    mstatus, t1
    csrw    fcsr, zero
    li      t1, -1
    csrw    pmpaddr0, t1
    li      t1, 0x1f                /* NAPOT | X | W | R */
    csrw    pmpcfg0, t1
    mv      tp, t0
    bnez    t0, secondary

    la      t1, __bss_start
    la      t2, __bss_end
1:  bgeu    t1, t2, 2f
    sd      zero, 0(t1)
    addi    t1, t1, 8
    j       1b
2:  fence
    call    main
    beqz    a0, 3f
    tail    fail
3:  tail    pass

secondary:
    la      t1, secondary_entry_ptr
    ld      t1, 0(t1)
    beqz    t1, park
    jr      t1
park:
    wfi
    j       park

    .weak   secondary_main
    .section .rodata
    .balign 8
secondary_entry_ptr:
    .dword  secondary_main
