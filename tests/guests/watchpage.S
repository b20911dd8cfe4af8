/* watchpage.S - accesses right around one watched word (tests/gdb.rs).
 * A watched page goes through a second TLB that knows the span of the page
 * the watchpoints cover (src/cpu/mmu.rs): accesses outside the span run at
 * full speed, accesses that overlap it are checked. This program hammers the
 * bytes just below and just above `target`, and the page's two ends, then
 * accesses `target` itself: fully, and by one byte of a misaligned access
 * from each side. Only those last accesses may stop under gdb. Without a
 * debugger, it checks its own results like any other test. */
#define TEST_NAME "watchpage"
#include "test.h"

    .text
    .globl main
main:
    GROUP "neighbours of a watched word"
    la      s0, target
    li      s1, 1000
    li      a0, 0
1:  ld      a1, -8(s0)                  /* the dword just below target */
    add     a0, a0, a1
    addi    a0, a0, 1
    sd      a0, -8(s0)
    ld      a2, 8(s0)                   /* the dword just above */
    sd      a0, 8(s0)
    lw      a3, -0x800(s0)              /* the page's two ends */
    sw      a3, 0x7fc(s0)
    sb      a0, -1(s0)                  /* single bytes on both sides */
    sb      a0, 8(s0)
    lbu     a3, -1(s0)
    lbu     a3, 8(s0)
    addi    s1, s1, -1
    bnez    s1, 1b
    CHECK   s1, 0
    ld      a1, 0(s0)
    CHECK   a1, 0
    li      a4, 5
    .globl  store_target
store_target:
    sd      a4, 0(s0)                   /* the first access to target: a write */
    .globl  load_target
load_target:
    ld      a5, 0(s0)
    CHECK   a5, 5
    li      a6, 0x1111
    /* A debugger that stopped above reinserted its watchpoints, which empties
     * the TLBs: touch the page again so the next accesses find it cached. */
    sd      a0, 8(s0)
    lbu     a3, 8(s0)
    .globl  straddle_store
straddle_store:
    sh      a6, -1(s0)                  /* target's first byte and the one below */
    .globl  straddle_load
straddle_load:
    lhu     a7, 7(s0)                   /* target's last byte and the one above */
    ld      a5, 0(s0)
    CHECK   a5, 0x11
    TEST_DONE

    .data
    .balign 4096
wpage:
    .space  0x800
    .globl  target
target:
    .dword  0
    .space  0x7f8
