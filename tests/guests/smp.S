/* smp.S - multi-hart test.  Needs NHARTS = 4 harts (QEMU: -smp 4).
 *
 * Every hart enters _start with a0 = hart id.  Hart 0 clears .bss, then
 * releases the others (go flag in .data).  Each hart increments a shared
 * counter NITER times with amoadd.d and another one with an lr.d/sc.d loop,
 * records its hart id, and announces itself.  Then a software interrupt is
 * passed around the ring 0 -> 1 -> 2 -> 3 -> 0 through the CLINT msip
 * registers; every hart takes it in M-mode (mcause = 0x8000000000000003).
 * Hart 0 checks the totals and passes.  With fewer harts hart 0 times out
 * after ~2 s (mtime) and fails. */
#define TEST_NAME "smp"
#include "test.h"

#define NHARTS  4
#define NITER   1000
#define TIMEOUT 20000000                    /* 2 s of mtime (10 MHz) */

    .text
/* secondary harts: a0 = hart id, sp / mscratch already set up */
    .globl secondary_main
secondary_main:
    la      t0, go
1:  ld      t1, 0(t0)
    beqz    t1, 1b
    fence   r, rw
    mv      s0, a0
    call    worker
    /* wait for the IPI, then pass it on to the next hart */
    call    wait_ipi
    addi    t0, s0, 1
    li      t1, NHARTS
    bltu    t0, t1, 2f
    li      t0, 0
2:  slli    t0, t0, 2
    li      t1, CLINT_MSIP
    add     t1, t1, t0
    li      t2, 1
    sw      t2, 0(t1)
    la      t0, done
    li      t1, 1
    amoadd.d zero, t1, (t0)
    csrci   mstatus, MSTATUS_MIE
3:  wfi
    j       3b

    .globl main
main:
    mv      s0, a0
    GROUP "start"
    CHECK   s0, 0
    fence   rw, w
    la      t0, go
    li      t1, 1
    amoswap.d.rl zero, t1, (t0)             /* release the other harts */
    call    worker

    GROUP "shared counters (amoadd, lr/sc)"
    la      s1, ready
    li      s2, NHARTS
    call    deadline
1:  ld      t0, 0(s1)
    beq     t0, s2, 2f
    call    check_deadline
    j       1b
2:  la      t0, counter_amo
    ld      a0, 0(t0)
    CHECK   a0, NHARTS * NITER
    la      t0, counter_lrsc
    ld      a0, 0(t0)
    CHECK   a0, NHARTS * NITER
    la      s1, hart_seen
    ld      a0, 0(s1)
    CHECK   a0, 0x100
    ld      a0, 8(s1)
    CHECK   a0, 0x101
    ld      a0, 16(s1)
    CHECK   a0, 0x102
    ld      a0, 24(s1)
    CHECK   a0, 0x103

    GROUP "software interrupt ring"
    li      t0, CLINT_MSIP + 4              /* kick hart 1 */
    li      t1, 1
    sw      t1, 0(t0)
    call    wait_ipi                        /* comes back from hart NHARTS-1 */
    la      s1, done
    li      s2, NHARTS - 1
    call    deadline
1:  ld      t0, 0(s1)
    beq     t0, s2, 2f
    call    check_deadline
    j       1b
2:  la      s1, ipi_cause
    ld      a0, 0(s1)
    CHECK   a0, CAUSE_INTR | 3
    ld      a0, 8(s1)
    CHECK   a0, CAUSE_INTR | 3
    ld      a0, 16(s1)
    CHECK   a0, CAUSE_INTR | 3
    ld      a0, 24(s1)
    CHECK   a0, CAUSE_INTR | 3
    la      s1, ipi_count
    ld      a0, 0(s1)
    CHECK   a0, 1
    ld      a0, 8(s1)
    CHECK   a0, 1
    ld      a0, 16(s1)
    CHECK   a0, 1
    ld      a0, 24(s1)
    CHECK   a0, 1
    li      t0, CLINT_MSIP
    lw      a0, 0(t0)
    CHECK   a0, 0
    TEST_DONE

/* worker(s0 = hart id): the shared-counter part */
worker:
    csrr    t0, mhartid
    addi    t0, t0, 0x100
    la      t1, hart_seen
    slli    t2, s0, 3
    add     t1, t1, t2
    sd      t0, 0(t1)                       /* hart_seen[a0] = 0x100 + mhartid */
    la      t0, counter_amo
    li      t1, NITER
    li      t2, 1
1:  amoadd.d zero, t2, (t0)
    addi    t1, t1, -1
    bnez    t1, 1b
    la      t0, counter_lrsc
    li      t1, NITER
2:  lr.d    t3, (t0)
    addi    t3, t3, 1
    sc.d    t4, t3, (t0)
    bnez    t4, 2b
    addi    t1, t1, -1
    bnez    t1, 2b
    la      t0, ready
    li      t1, 1
    amoadd.d.aqrl zero, t1, (t0)
    ret

/* wait_ipi(s0 = hart id): take one machine software interrupt */
wait_ipi:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    la      t0, ipi_trap
    csrw    mtvec, t0
    li      t0, MIP_MSIP
    csrw    mie, t0
    la      s1, ipi_count
    slli    t0, s0, 3
    add     s1, s1, t0
    call    deadline
    csrsi   mstatus, MSTATUS_MIE
1:  ld      t0, 0(s1)
    bnez    t0, 2f
    wfi
    call    check_deadline
    j       1b
2:  csrci   mstatus, MSTATUS_MIE
    csrw    mie, zero
    la      t0, trap_entry
    csrw    mtvec, t0
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

/* deadline(): s11 = mtime + TIMEOUT; check_deadline(): fail if passed */
deadline:
    li      t0, CLINT_MTIME
    ld      s11, 0(t0)
    li      t0, TIMEOUT
    add     s11, s11, t0
    ret
check_deadline:
    li      t0, CLINT_MTIME
    ld      t0, 0(t0)
    bltu    t0, s11, 1f
    csrr    t0, mhartid
    bnez    t0, 2f                          /* only hart 0 reports */
    la      a0, str_timeout
    call    uart_puts
    li      a0, 250
    tail    fail
2:  wfi
    j       2b
1:  ret

/* M-mode trap vector used while waiting for the IPI */
    .balign 4
ipi_trap:
    csrrw   sp, mscratch, sp
    addi    sp, sp, -32
    sd      t0, 0(sp)
    sd      t1, 8(sp)
    sd      t2, 16(sp)
    csrr    t0, mcause
    li      t1, CAUSE_INTR | 3
    bne     t0, t1, 9f
    csrr    t2, mhartid
    slli    t2, t2, 2
    li      t1, CLINT_MSIP
    add     t1, t1, t2
    sw      zero, 0(t1)                     /* clear our msip */
    slli    t2, t2, 1                       /* hart id * 8 */
    la      t1, ipi_cause
    add     t1, t1, t2
    sd      t0, 0(t1)
    la      t1, ipi_count
    add     t1, t1, t2
    li      t0, 1
    amoadd.d zero, t0, (t1)
    ld      t0, 0(sp)
    ld      t1, 8(sp)
    ld      t2, 16(sp)
    addi    sp, sp, 32
    csrrw   sp, mscratch, sp
    mret
9:  ld      t0, 0(sp)                       /* anything else: default handler */
    ld      t1, 8(sp)
    ld      t2, 16(sp)
    addi    sp, sp, 32
    csrrw   sp, mscratch, sp
    j       trap_entry

    .section .rodata
str_timeout:
    .asciz  "\n*** smp: timed out waiting for the other harts (needs -smp 4)\n"

    .section .data
    .balign 64
go:     .dword 0                            /* in .data: read before .bss is cleared */

    .section .bss
    .balign 64
counter_amo:    .dword 0
    .balign 64
counter_lrsc:   .dword 0
    .balign 64
ready:          .dword 0
done:           .dword 0
hart_seen:      .fill NHARTS, 8, 0
ipi_cause:      .fill NHARTS, 8, 0
ipi_count:      .fill NHARTS, 8, 0
