/* rv64m.S - RV64M: mul/mulh/mulhsu/mulhu/div/divu/rem/remu and the W forms,
 * including division by zero and signed overflow. */
#define TEST_NAME "rv64m"
#include "test.h"

#define INT64_MIN 0x8000000000000000
#define INT64_MAX 0x7fffffffffffffff

.macro OP3 op, a, b, expected
    li      a1, \a
    li      a2, \b
    \op     a0, a1, a2
    CHECK   a0, \expected
.endm

    .text
    .globl main
main:
    GROUP "mul"
    OP3 mul, 7, -3, -21
    OP3 mul, -7, -3, 21
    OP3 mul, INT64_MAX, 2, 0xfffffffffffffffe
    OP3 mul, 0x0000000100000001, 0x0000000100000001, 0x0000000200000001
    OP3 mul, INT64_MIN, -1, INT64_MIN
    OP3 mul, 0x123456789abcdef0, 0, 0
    OP3 mul, 0x123456789abcdef0, 0x10, 0x23456789abcdef00

    GROUP "mulh/mulhu/mulhsu"
    OP3 mulh, -1, -1, 0
    OP3 mulh, -1, 1, 0xffffffffffffffff
    OP3 mulh, INT64_MIN, INT64_MIN, 0x4000000000000000
    OP3 mulh, INT64_MAX, INT64_MAX, 0x3fffffffffffffff
    OP3 mulh, INT64_MIN, INT64_MAX, 0xc000000000000000
    OP3 mulh, 0x100000000, 0x100000000, 1
    OP3 mulhu, -1, -1, 0xfffffffffffffffe
    OP3 mulhu, INT64_MIN, 2, 1
    OP3 mulhu, INT64_MIN, INT64_MIN, 0x4000000000000000
    OP3 mulhu, 0xffffffff, 0xffffffff, 0
    OP3 mulhsu, -1, -1, 0xffffffffffffffff
    OP3 mulhsu, 1, -1, 0
    OP3 mulhsu, -2, 3, 0xffffffffffffffff
    OP3 mulhsu, INT64_MIN, -1, 0x8000000000000000
    OP3 mulhsu, INT64_MAX, -1, 0x7ffffffffffffffe
    OP3 mulhsu, 2, INT64_MIN, 1
    /* rd overlapping a source */
    li      a1, -1
    li      a2, -1
    mulhu   a1, a1, a2
    CHECK   a1, 0xfffffffffffffffe

    GROUP "mulw"
    OP3 mulw, 0x7fffffff, 2, 0xfffffffffffffffe
    OP3 mulw, 0xffffffff00000003, 0x1234567800000005, 15
    OP3 mulw, 0x10000, 0x10000, 0
    OP3 mulw, 0x10000, 0x8000, 0xffffffff80000000
    OP3 mulw, -3, 7, -21

    GROUP "div/divu/rem/remu"
    OP3 div, -7, 2, -3                      /* truncates toward zero */
    OP3 rem, -7, 2, -1
    OP3 div, 7, -2, -3
    OP3 rem, 7, -2, 1
    OP3 div, -7, -2, 3
    OP3 rem, -7, -2, -1
    OP3 divu, -7, 2, 0x7ffffffffffffffc
    OP3 remu, -7, 2, 1
    OP3 divu, 100, 7, 14
    OP3 remu, 100, 7, 2
    OP3 div, 0x123456789abcdef0, 0, -1      /* division by zero */
    OP3 divu, 0x123456789abcdef0, 0, 0xffffffffffffffff
    OP3 rem, 0x123456789abcdef0, 0, 0x123456789abcdef0
    OP3 remu, 0x123456789abcdef0, 0, 0x123456789abcdef0
    OP3 rem, -5, 0, -5
    OP3 div, INT64_MIN, -1, INT64_MIN       /* overflow */
    OP3 rem, INT64_MIN, -1, 0
    OP3 divu, INT64_MIN, -1, 0
    OP3 remu, INT64_MIN, -1, INT64_MIN
    OP3 div, INT64_MIN, 1, INT64_MIN

    GROUP "divw/divuw/remw/remuw"
    OP3 divw, -7, 2, -3
    OP3 remw, -7, 2, -1
    OP3 divw, 0x0000000100000006, 0x0000000100000003, 2   /* upper bits ignored */
    OP3 divuw, 0xfffffff9, 2, 0x7ffffffc
    OP3 remuw, 0xfffffff9, 2, 1
    OP3 divuw, 0x80000000, 1, 0xffffffff80000000          /* result sign-extended */
    OP3 divw, 5, 0, -1                      /* division by zero */
    OP3 divuw, 5, 0, 0xffffffffffffffff
    OP3 remw, 0x80000001, 0, 0xffffffff80000001
    OP3 remuw, 0x80000001, 0, 0xffffffff80000001
    OP3 remw, 0x100000005, 0, 5
    OP3 divw, 0x80000000, -1, 0xffffffff80000000          /* overflow */
    OP3 remw, 0x80000000, -1, 0
    OP3 divw, 0xffffffff80000000, 0x00000000ffffffff, 0xffffffff80000000
    OP3 divuw, 0x80000000, 0xffffffff, 0
    OP3 remuw, 0x80000000, 0xffffffff, 0xffffffff80000000

    TEST_DONE
