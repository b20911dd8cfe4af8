/* htif.S - HTIF exit for haltpoint (QEMU virt has no HTIF: check-qemu skips
 * this program).  Prints nothing; writes (7 << 1) | 1 to tohost, which asks
 * the host to exit with status 7, then spins. */
#include "csr.h"

    .text
    .globl main
main:
    li      t0, (7 << 1) | 1
    la      t1, tohost
    sd      t0, 0(t1)
1:  j       1b

    .section .tohost, "aw", @progbits
    .balign 64
    .globl tohost
tohost:
    .dword  0
    .balign 64
    .globl fromhost
fromhost:
    .dword  0
