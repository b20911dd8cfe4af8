/* wdt.S - arms the sun6i watchdog (0x10101000) for 0.5 s in reset mode and sleeps, for
 * the watchdog-action tests.  Under the virtual clock the sleep ends at the deadline at
 * once.  The count is one-shot: after an expiry the guest sleeps for ever (unless the
 * action resets the machine, which runs this program again). */
#include "csr.h"

#define WDT_BASE 0x10101000

    .text
    .globl main
main:
    la      a0, msg
    call    uart_puts
    li      t0, WDT_BASE
    li      t1, 1
    sw      t1, 0x14(t0)            /* CFG: reset the system on expiry */
    li      t1, 1                   /* MODE: interval 0 (0.5 s), enable */
    sw      t1, 0x18(t0)
1:  wfi
    j       1b

    .section .rodata
msg: .asciz "wdt guest: armed\n"
