/* pvpanic_events.S - reports "crash kernel loaded" (2), then "shutdown" (4) through the
 * pvpanic-mmio register (haltpoint's 0x10102000; QEMU's riscv virt has no pvpanic, so
 * check-qemu skips this program).  Expected: GUEST_CRASHLOADED, the guest goes on,
 * then GUEST_PVSHUTDOWN and a guest shutdown. */
#include "csr.h"

#define PVPANIC 0x10102000

    .text
    .globl main
main:
    li      t0, PVPANIC
    lbu     t1, 0(t0)               /* the supported events: 7 */
    li      t2, 7
    bne     t1, t2, 1f
    li      t1, 2
    sb      t1, 0(t0)               /* CRASH_LOADED */
    la      a0, msg
    call    uart_puts
    li      t0, PVPANIC
    li      t1, 4
    sb      t1, 0(t0)               /* SHUTDOWN */
1:  li      a0, 9
    call    fail                    /* only reached when pvpanic is missing */
2:  j       2b

    .section .rodata
msg: .asciz "pvpanic guest: crash kernel reported\n"
