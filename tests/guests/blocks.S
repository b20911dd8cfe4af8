/* blocks.S - control flow the interpreter turns into traces (src/cpu/icache.rs):
 * loops closed by each kind of backward branch, taken and not-taken forward
 * branches, jumps and calls within a page, a loop across a page boundary,
 * code rewritten inside a running loop, and minstret exact across all of it.
 * tests/blocks.rs also runs this program in budgets of many sizes and checks
 * the state matches single steps. */
#define TEST_NAME "blocks"
#include "test.h"

/* a loop of n iterations closed by backward branch `br` comparing a counter
 * counting up from 0 (i) with the bound (n); the sum of i lands in a0 */
.macro LOOP_UP br, n
    li      a0, 0
    li      a1, 0
    li      a2, \n
9998:
    add     a0, a0, a1
    addi    a1, a1, 1
    \br     a1, a2, 9998b
.endm

    .option norvc
    .text
    .globl main
main:
    GROUP "loops closed by each backward branch"
    LOOP_UP blt, 100
    CHECK   a0, 4950
    LOOP_UP bltu, 37
    CHECK   a0, 666
    LOOP_UP bne, 1000
    CHECK   a0, 499500
    /* bge and bgeu count down */
    li      a0, 0
    li      a1, 50
1:  add     a0, a0, a1
    addi    a1, a1, -1
    bge     a1, zero, 1b
    CHECK   a0, 1275
    CHECK   a1, -1
    li      a0, 0
    li      a1, 20
    li      a2, 1
1:  add     a0, a0, a1
    addi    a1, a1, -1
    bgeu    a1, a2, 1b
    CHECK   a0, 210
    /* beq: loops while a flag stays 0 */
    li      a0, 0
    li      a1, 0
1:  addi    a0, a0, 1
    sltiu   a1, a0, 9
    xori    a1, a1, 1
    beq     a1, zero, 1b
    CHECK   a0, 9

    GROUP "nested loops and forward branches both ways"
    li      a0, 0
    li      a3, 0
2:  li      a4, 0
3:  andi    a5, a4, 1
    bnez    a5, 4f                  /* forward: taken for odd a4 */
    addi    a0, a0, 3
    j       5f                      /* a jump within the page */
4:  addi    a0, a0, 1
5:  addi    a4, a4, 1
    li      a5, 10
    blt     a4, a5, 3b
    addi    a3, a3, 1
    li      a5, 7
    blt     a3, a5, 2b
    CHECK   a0, 140                 /* 7 * (5*3 + 5*1) */

    GROUP "calls within the page"
    li      a0, 0
    li      a3, 25
6:  jal     ra, add_seven           /* link in ra, return with ret */
    addi    a3, a3, -1
    bnez    a3, 6b
    CHECK   a0, 175
    jal     t0, 7f                  /* forward jump with a link */
7:  la      t1, 7b
    CHECKR  t0, t1

    GROUP "minstret counts every instruction exactly"
    csrr    s0, minstret
    li      a1, 0                   /* 1 */
    li      a2, 1000                /* 1 */
8:  addi    a1, a1, 1               /* 1000 */
    bltu    a1, a2, 8b              /* 1000 */
    j       9f                      /* 1 */
9:  csrr    s1, minstret            /* the csrr itself retires after its read */
    sub     s1, s1, s0
    CHECK   s1, 2004                /* and the first csrr: 1 */

    GROUP "a loop across a page boundary"
    call    cross_page
    CHECK   a0, 600

    GROUP "code rewritten inside a running loop"
    call    rewrite_loop
    CHECK   a0, 10                  /* iterations */
    CHECK   a1, 1005                /* 5 * 1 + 5 * 200 */

    TEST_DONE

add_seven:
    addi    a0, a0, 7
    ret

/* the loop body straddles the page boundary at page_edge */
    .balign 4096
    .space  4096 - 12
cross_page:
    li      a0, 0
    li      a1, 200
1:  addi    a0, a0, 3               /* last words of one page ... */
page_edge:
    addi    a1, a1, -1              /* ... first of the next */
    bnez    a1, 1b
    ret

/* Runs 10 iterations of a loop; after 5 it overwrites the loop's second
 * addi (+1 into a0, +1 into a1) so it adds 200 to a1, then FENCE.I. The
 * rewrite happens in the loop itself, in the block being executed. */
rewrite_loop:
    li      a0, 0
    li      a1, 0
    li      a2, 0
    la      t0, patched
    li      t1, 0x0c858593          /* addi a1, a1, 200 */
1:  addi    a0, a0, 1
patched:
    addi    a1, a1, 1
    addi    a2, a2, 1
    li      t2, 5
    bne     a2, t2, 2f
    sw      t1, 0(t0)
    fence.i
2:  li      t2, 10
    bltu    a2, t2, 1b
    ret
