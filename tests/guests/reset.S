/* reset.S - guest reset and poweroff through sifive_test, for the run-state tests.
 * A counter in RAM outside the image survives the reset (RAM is kept, the image is
 * reloaded): the first boot prints "boot 0" and asks for a reset (0x7777), the second
 * prints "boot 1" and powers off (0x5555).  Under QEMU: RESET then SHUTDOWN. */
#include "csr.h"

    .text
    .globl main
main:
    li      s0, 0x80200000          /* the counter: past the image, kept over reset */
    ld      s1, 0(s0)
    li      t0, 0x5eed0000
    xor     t1, s1, t0
    srli    t2, t1, 8
    beqz    t2, 1f
    mv      s1, t0                  /* first power-on: RAM holds garbage or zero */
1:  addi    t3, s1, 1
    sd      t3, 0(s0)
    andi    s2, s1, 0xff            /* boot number */
    la      a0, msg
    call    uart_puts
    addi    a0, s2, '0'
    call    uart_putc
    li      a0, '\n'
    call    uart_putc
    li      t1, SIFIVE_TEST
    bnez    s2, 2f
    li      t0, 0x7777
    sw      t0, 0(t1)
    j       3f                      /* the reset is asynchronous in QEMU: wait for it */
2:  li      t0, 0x5555
    sw      t0, 0(t1)
3:  j       3b

    .section .rodata
msg: .asciz "reset guest: boot "
