/* Tiny runtime for the haltpoint guest programs: UART output, pass/fail via
 * the sifive_test device, and default M-mode / S-mode trap handlers that can
 * record a trap and resume at a label (trap_recover / strap_recover).
 *
 * Every function preserves all registers except ra (C-callable as well).
 */
#include "csr.h"

#define FRAME 256

    .text

/* void uart_putc(char c) */
    .globl uart_putc
uart_putc:
    addi    sp, sp, -16
    sd      t0, 0(sp)
    sd      t1, 8(sp)
    li      t0, UART0_BASE
1:  lbu     t1, 5(t0)
    andi    t1, t1, 0x20
    beqz    t1, 1b
    sb      a0, 0(t0)
    ld      t0, 0(sp)
    ld      t1, 8(sp)
    addi    sp, sp, 16
    ret

/* void uart_puts(const char *s) */
    .globl uart_puts
uart_puts:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    sd      t0, 16(sp)
    mv      t0, a0
1:  lbu     a0, 0(t0)
    beqz    a0, 2f
    call    uart_putc
    addi    t0, t0, 1
    j       1b
2:  ld      ra, 0(sp)
    ld      a0, 8(sp)
    ld      t0, 16(sp)
    addi    sp, sp, 32
    ret

/* void uart_puthex(unsigned long v): prints 0x%016lx */
    .globl uart_puthex
uart_puthex:
    addi    sp, sp, -48
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    sd      t0, 16(sp)
    sd      t1, 24(sp)
    sd      t2, 32(sp)
    mv      t0, a0
    li      a0, '0'
    call    uart_putc
    li      a0, 'x'
    call    uart_putc
    li      t1, 60
1:  srl     a0, t0, t1
    andi    a0, a0, 15
    li      t2, 10
    bltu    a0, t2, 2f
    addi    a0, a0, 'a' - '0' - 10
2:  addi    a0, a0, '0'
    call    uart_putc
    addi    t1, t1, -4
    bgez    t1, 1b
    ld      ra, 0(sp)
    ld      a0, 8(sp)
    ld      t0, 16(sp)
    ld      t1, 24(sp)
    ld      t2, 32(sp)
    addi    sp, sp, 48
    ret

/* void uart_putdec(unsigned long v) */
    .globl uart_putdec
uart_putdec:
    addi    sp, sp, -80
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    sd      t0, 16(sp)
    sd      t1, 24(sp)
    sd      t2, 32(sp)
    mv      t0, a0
    addi    t1, sp, 72              /* digits are stored backwards at 40..71 */
    li      t2, 10
1:  remu    a0, t0, t2
    addi    a0, a0, '0'
    addi    t1, t1, -1
    sb      a0, 0(t1)
    divu    t0, t0, t2
    bnez    t0, 1b
2:  lbu     a0, 0(t1)
    call    uart_putc
    addi    t1, t1, 1
    addi    t2, sp, 72
    bltu    t1, t2, 2b
    ld      ra, 0(sp)
    ld      a0, 8(sp)
    ld      t0, 16(sp)
    ld      t1, 24(sp)
    ld      t2, 32(sp)
    addi    sp, sp, 80
    ret

/* void group_start(const char *name): closes the previous group with "ok",
 * prints "name ... " */
    .globl group_start
group_start:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    call    group_end
    call    uart_puts
    sd      a0, 8(sp)
    la      a0, str_dots
    call    uart_puts
    la      a0, group_open
    sw      a0, 0(a0)               /* any non-zero value */
    ld      a0, 8(sp)
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

/* void group_end(void): prints "ok\n" if a group is open */
    .globl group_end
group_end:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    sd      t0, 16(sp)
    la      t0, group_open
    lw      a0, 0(t0)
    beqz    a0, 1f
    sw      zero, 0(t0)
    la      a0, str_ok
    call    uart_puts
1:  ld      ra, 0(sp)
    ld      a0, 8(sp)
    ld      t0, 16(sp)
    addi    sp, sp, 32
    ret

/* noreturn void test_done(unsigned long nchecks, const char *name) */
    .globl test_done
test_done:
    call    group_end
    mv      t0, a0
    mv      a0, a1
    call    uart_puts
    la      a0, str_allchecks
    call    uart_puts
    mv      a0, t0
    call    uart_putdec
    la      a0, str_passed
    call    uart_puts
    tail    pass

/* noreturn void pass(void): sifive_test "pass" (QEMU exits with status 0) */
    .globl pass
pass:
    fence
    li      t0, SIFIVE_TEST
    li      t1, 0x5555
    sw      t1, 0(t0)
1:  wfi
    j       1b

/* noreturn void fail(unsigned long code): sifive_test "fail", exit status
 * = code (clamped to 1..255; the exact number is printed) */
    .globl fail
fail:
    mv      t0, a0
    la      a0, str_fail
    call    uart_puts
    mv      a0, t0
    call    uart_putdec
    li      a0, '\n'
    call    uart_putc
    li      t1, 255
    bleu    t0, t1, 1f
    mv      t0, t1
1:  bnez    t0, 2f
    mv      t0, t1
2:  slli    t0, t0, 16
    li      t1, 0x3333
    or      t0, t0, t1
    fence
    li      t1, SIFIVE_TEST
    sw      t0, 0(t1)
3:  wfi
    j       3b

/* noreturn void check_failed(unsigned long n, unsigned long got,
 *                            unsigned long expected)
 * Check numbers above 254 are reported with exit status 254; 255 means an
 * unexpected trap. */
    .globl check_failed
check_failed:
    mv      s0, a0
    mv      s1, a1
    mv      s2, a2
    la      a0, str_check
    call    uart_puts
    mv      a0, s0
    call    uart_putdec
    la      a0, str_got
    call    uart_puts
    mv      a0, s1
    call    uart_puthex
    la      a0, str_expected
    call    uart_puts
    mv      a0, s2
    call    uart_puthex
    li      a0, '\n'
    call    uart_putc
    li      t0, 254
    mv      a0, s0
    bleu    a0, t0, 1f
    mv      a0, t0
1:  tail    fail

/* ------------------------------------------------------------------ */
/* M-mode trap handler.  mscratch holds the top of this hart's trap stack.
 * Records mcause/mepc/mtval/mstatus in trap_cause/trap_epc/trap_tval/
 * trap_status, increments trap_count, sets trap_level = 3.
 * Then:
 *  - if trap_hook != 0: calls trap_hook(frame, mcause); a non-zero return
 *    means "handled" (the hook may have changed mepc and saved registers,
 *    frame[i] = x[i]); we return with mret.
 *  - else if trap_recover != 0: mepc = trap_recover, trap_recover = 0; if
 *    trap_to_m != 0 also MPP = M (and trap_to_m = 0); mret.
 *  - else: unexpected trap, print and fail(255).
 */
    .balign 4
    .globl trap_entry
trap_entry:
    csrrw   sp, mscratch, sp
    addi    sp, sp, -FRAME
    sd      x1, 1*8(sp)
    sd      x3, 3*8(sp)
    sd      x4, 4*8(sp)
    sd      x5, 5*8(sp)
    sd      x6, 6*8(sp)
    sd      x7, 7*8(sp)
    sd      x8, 8*8(sp)
    sd      x9, 9*8(sp)
    sd      x10, 10*8(sp)
    sd      x11, 11*8(sp)
    sd      x12, 12*8(sp)
    sd      x13, 13*8(sp)
    sd      x14, 14*8(sp)
    sd      x15, 15*8(sp)
    sd      x16, 16*8(sp)
    sd      x17, 17*8(sp)
    sd      x18, 18*8(sp)
    sd      x19, 19*8(sp)
    sd      x20, 20*8(sp)
    sd      x21, 21*8(sp)
    sd      x22, 22*8(sp)
    sd      x23, 23*8(sp)
    sd      x24, 24*8(sp)
    sd      x25, 25*8(sp)
    sd      x26, 26*8(sp)
    sd      x27, 27*8(sp)
    sd      x28, 28*8(sp)
    sd      x29, 29*8(sp)
    sd      x30, 30*8(sp)
    sd      x31, 31*8(sp)
    csrr    t0, mscratch
    sd      t0, 2*8(sp)             /* interrupted sp */
    sd      zero, 0(sp)
    csrw    mscratch, sp            /* a nested trap pushes below this frame */

    la      t1, trap_cause
    csrr    t0, mcause
    sd      t0, 0(t1)
    la      t1, trap_epc
    csrr    t0, mepc
    sd      t0, 0(t1)
    la      t1, trap_tval
    csrr    t0, mtval
    sd      t0, 0(t1)
    la      t1, trap_status
    csrr    t0, mstatus
    sd      t0, 0(t1)
    la      t1, trap_count
    ld      t0, 0(t1)
    addi    t0, t0, 1
    sd      t0, 0(t1)
    la      t1, trap_level
    li      t0, 3
    sd      t0, 0(t1)

    la      t1, trap_hook
    ld      t1, 0(t1)
    beqz    t1, 1f
    mv      a0, sp
    csrr    a1, mcause
    jalr    t1
    bnez    a0, trap_return
1:
    la      t1, trap_recover
    ld      t0, 0(t1)
    beqz    t0, trap_unexpected
    sd      zero, 0(t1)
    csrw    mepc, t0
    la      t1, trap_to_m
    ld      t0, 0(t1)
    beqz    t0, trap_return
    sd      zero, 0(t1)
    li      t0, MSTATUS_MPP_M
    csrs    mstatus, t0

    .globl trap_return
trap_return:
    addi    t0, sp, FRAME
    csrw    mscratch, t0
    ld      x1, 1*8(sp)
    ld      x3, 3*8(sp)
    ld      x4, 4*8(sp)
    ld      x5, 5*8(sp)
    ld      x6, 6*8(sp)
    ld      x7, 7*8(sp)
    ld      x8, 8*8(sp)
    ld      x9, 9*8(sp)
    ld      x10, 10*8(sp)
    ld      x11, 11*8(sp)
    ld      x12, 12*8(sp)
    ld      x13, 13*8(sp)
    ld      x14, 14*8(sp)
    ld      x15, 15*8(sp)
    ld      x16, 16*8(sp)
    ld      x17, 17*8(sp)
    ld      x18, 18*8(sp)
    ld      x19, 19*8(sp)
    ld      x20, 20*8(sp)
    ld      x21, 21*8(sp)
    ld      x22, 22*8(sp)
    ld      x23, 23*8(sp)
    ld      x24, 24*8(sp)
    ld      x25, 25*8(sp)
    ld      x26, 26*8(sp)
    ld      x27, 27*8(sp)
    ld      x28, 28*8(sp)
    ld      x29, 29*8(sp)
    ld      x30, 30*8(sp)
    ld      x31, 31*8(sp)
    ld      x2, 2*8(sp)             /* sp = interrupted sp */
    mret

trap_unexpected:
    li      t0, CAUSE_ECALL_S
    csrr    t1, mcause
    bne     t0, t1, 2f
    ld      t0, 17*8(sp)            /* a7 */
    li      t1, STRAP_PANIC_MAGIC
    bne     t0, t1, 2f
    la      a0, str_sunexp
    call    uart_puts
    la      t0, strap_cause
    ld      a0, 0(t0)
    call    uart_puthex
    la      a0, str_epc
    call    uart_puts
    la      t0, strap_epc
    ld      a0, 0(t0)
    call    uart_puthex
    la      a0, str_tval
    call    uart_puts
    la      t0, strap_tval
    ld      a0, 0(t0)
    j       3f
2:  la      a0, str_unexp
    call    uart_puts
    csrr    a0, mcause
    call    uart_puthex
    la      a0, str_epc
    call    uart_puts
    csrr    a0, mepc
    call    uart_puthex
    la      a0, str_tval
    call    uart_puts
    csrr    a0, mtval
3:  call    uart_puthex
    li      a0, '\n'
    call    uart_putc
    li      a0, 255
    tail    fail

/* ------------------------------------------------------------------ */
/* S-mode trap handler (stvec).  sscratch holds the top of the S trap stack.
 * Same protocol as trap_entry with strap_* variables; an unexpected S-mode
 * trap is reported by an ecall to M-mode with a7 = STRAP_PANIC_MAGIC. */
    .balign 4
    .globl strap_entry
strap_entry:
    csrrw   sp, sscratch, sp
    addi    sp, sp, -FRAME
    sd      x1, 1*8(sp)
    sd      x3, 3*8(sp)
    sd      x4, 4*8(sp)
    sd      x5, 5*8(sp)
    sd      x6, 6*8(sp)
    sd      x7, 7*8(sp)
    sd      x8, 8*8(sp)
    sd      x9, 9*8(sp)
    sd      x10, 10*8(sp)
    sd      x11, 11*8(sp)
    sd      x12, 12*8(sp)
    sd      x13, 13*8(sp)
    sd      x14, 14*8(sp)
    sd      x15, 15*8(sp)
    sd      x16, 16*8(sp)
    sd      x17, 17*8(sp)
    sd      x18, 18*8(sp)
    sd      x19, 19*8(sp)
    sd      x20, 20*8(sp)
    sd      x21, 21*8(sp)
    sd      x22, 22*8(sp)
    sd      x23, 23*8(sp)
    sd      x24, 24*8(sp)
    sd      x25, 25*8(sp)
    sd      x26, 26*8(sp)
    sd      x27, 27*8(sp)
    sd      x28, 28*8(sp)
    sd      x29, 29*8(sp)
    sd      x30, 30*8(sp)
    sd      x31, 31*8(sp)
    csrr    t0, sscratch
    sd      t0, 2*8(sp)
    sd      zero, 0(sp)
    csrw    sscratch, sp

    la      t1, strap_cause
    csrr    t0, scause
    sd      t0, 0(t1)
    la      t1, strap_epc
    csrr    t0, sepc
    sd      t0, 0(t1)
    la      t1, strap_tval
    csrr    t0, stval
    sd      t0, 0(t1)
    la      t1, strap_status
    csrr    t0, sstatus
    sd      t0, 0(t1)
    la      t1, strap_count
    ld      t0, 0(t1)
    addi    t0, t0, 1
    sd      t0, 0(t1)
    la      t1, trap_level
    li      t0, 1
    sd      t0, 0(t1)

    la      t1, strap_hook
    ld      t1, 0(t1)
    beqz    t1, 1f
    mv      a0, sp
    csrr    a1, scause
    jalr    t1
    bnez    a0, strap_return
1:
    la      t1, strap_recover
    ld      t0, 0(t1)
    beqz    t0, strap_unexpected
    sd      zero, 0(t1)
    csrw    sepc, t0

    .globl strap_return
strap_return:
    addi    t0, sp, FRAME
    csrw    sscratch, t0
    ld      x1, 1*8(sp)
    ld      x3, 3*8(sp)
    ld      x4, 4*8(sp)
    ld      x5, 5*8(sp)
    ld      x6, 6*8(sp)
    ld      x7, 7*8(sp)
    ld      x8, 8*8(sp)
    ld      x9, 9*8(sp)
    ld      x10, 10*8(sp)
    ld      x11, 11*8(sp)
    ld      x12, 12*8(sp)
    ld      x13, 13*8(sp)
    ld      x14, 14*8(sp)
    ld      x15, 15*8(sp)
    ld      x16, 16*8(sp)
    ld      x17, 17*8(sp)
    ld      x18, 18*8(sp)
    ld      x19, 19*8(sp)
    ld      x20, 20*8(sp)
    ld      x21, 21*8(sp)
    ld      x22, 22*8(sp)
    ld      x23, 23*8(sp)
    ld      x24, 24*8(sp)
    ld      x25, 25*8(sp)
    ld      x26, 26*8(sp)
    ld      x27, 27*8(sp)
    ld      x28, 28*8(sp)
    ld      x29, 29*8(sp)
    ld      x30, 30*8(sp)
    ld      x31, 31*8(sp)
    ld      x2, 2*8(sp)
    sret

strap_unexpected:
    li      a7, STRAP_PANIC_MAGIC
1:  ecall
    j       1b

/* ------------------------------------------------------------------ */
    .section .rodata
str_dots:       .asciz " ... "
str_ok:         .asciz "ok\n"
str_allchecks:  .asciz ": all "
str_passed:     .asciz " checks passed\n"
str_fail:       .asciz "FAIL: exit code "
str_check:      .asciz "\n*** check "
str_got:        .asciz " failed: got "
str_expected:   .asciz ", expected "
str_unexp:      .asciz "\n*** unexpected M-mode trap: mcause="
str_sunexp:     .asciz "\n*** unexpected S-mode trap: scause="
str_epc:        .asciz " epc="
str_tval:       .asciz " tval="

    .section .bss
    .balign 8
    .globl trap_cause, trap_epc, trap_tval, trap_status, trap_count
    .globl trap_level, trap_hook, trap_recover, trap_to_m
    .globl strap_cause, strap_epc, strap_tval, strap_status, strap_count
    .globl strap_hook, strap_recover
group_open:     .dword 0
trap_cause:     .dword 0
trap_epc:       .dword 0
trap_tval:      .dword 0
trap_status:    .dword 0
trap_count:     .dword 0
trap_level:     .dword 0
trap_hook:      .dword 0
trap_recover:   .dword 0
trap_to_m:      .dword 0
strap_cause:    .dword 0
strap_epc:      .dword 0
strap_tval:     .dword 0
strap_status:   .dword 0
strap_count:    .dword 0
strap_hook:     .dword 0
strap_recover:  .dword 0
