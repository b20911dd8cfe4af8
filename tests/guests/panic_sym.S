/* panic_sym.S - a guest with a function named `panic`, for panic detection by symbol.
 * main prints a line and calls panic(); panic prints "in panic body" and exits through
 * sifive_test "fail" with code 7.  haltpoint, given this ELF's symbols, stops at the
 * first instruction of `panic` (before the body prints) and applies the panic action. */
#include "csr.h"

    .text
    .globl main
main:
    la      a0, msg_main
    call    uart_puts
    call    panic
1:  j       1b

    .globl panic
    .type   panic, @function
panic:
    la      a0, msg_panic
    call    uart_puts
    li      a0, 7
    call    fail
2:  j       2b
    .size   panic, . - panic

    .section .rodata
msg_main:  .asciz "panic guest: calling panic\n"
msg_panic: .asciz "panic guest: in panic body\n"
