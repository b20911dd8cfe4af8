/* stepirq.S - a machine software interrupt raised by one store (tests/gdb.rs).
 * `raise` makes MSIP pending with MIE and mie.MSIE set, so the interrupt is
 * taken right after that store: the handler clears MSIP, counts, and returns
 * to `after_raise`. Under gdb, single steps skip interrupts by default (as
 * QEMU's do), so stepping from `raise` walks on past `after_raise`, and the
 * interrupt comes at the next continue; after `monitor step-irq on` a step
 * enters the handler. Alone, it checks the handler ran exactly once and the
 * interrupted code ran to the end. (haltpoint takes the interrupt right after
 * the store; QEMU a few instructions later, at the end of its translation
 * block, which the spec allows: the code waits for it.) */
#define TEST_NAME "stepirq"
#include "test.h"

    .text
    .globl main
main:
    GROUP "a software interrupt raised by a store"
    csrr    s2, mtvec                   /* the runtime's handler, put back below */
    la      t0, msi_handler
    csrw    mtvec, t0
    li      t0, MIP_MSIP
    csrw    mie, t0
    li      s0, CLINT_MSIP
    li      t1, 1
    li      s1, 0
    li      s3, 0
    csrsi   mstatus, MSTATUS_MIE
    .globl  raise
raise:
    sw      t1, 0(s0)                   /* MSIP: taken before the next instruction */
    .globl  after_raise
after_raise:
    addi    s1, s1, 1
    addi    s1, s1, 1
    addi    s1, s1, 1
1:  beqz    s3, 1b                      /* the spec allows the interrupt to come late */
    csrci   mstatus, MSTATUS_MIE
    csrw    mie, zero
    csrw    mtvec, s2
    CHECK   s1, 3                       /* the interrupted code ran to the end */
    CHECK   s3, 1                       /* the handler ran once */
    TEST_DONE

    .balign 4
    .globl  msi_handler
msi_handler:
    sw      zero, 0(s0)                 /* clear MSIP */
    addi    s3, s3, 1
    mret
