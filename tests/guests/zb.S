/* zb.S - Zba, Zbb, Zbs bit-manipulation instructions with exact results. */
#define TEST_NAME "zb"
#include "test.h"

.macro OP3 op, a, b, expected
    li      a1, \a
    li      a2, \b
    \op     a0, a1, a2
    CHECK   a0, \expected
.endm
.macro OP2 op, a, expected
    li      a1, \a
    \op     a0, a1
    CHECK   a0, \expected
.endm
.macro OPI op, a, imm, expected
    li      a1, \a
    \op     a0, a1, \imm
    CHECK   a0, \expected
.endm

    .text
    .globl main
main:
    GROUP "Zba"
    OP3 add.uw, 0xffffffff80000000, 1, 0x80000001
    OP3 add.uw, 0x12345678ffffffff, 0x100000000, 0x1ffffffff
    OP3 sh1add, 0x8000000000000001, 5, 7
    OP3 sh2add, 0x4000000000000003, 0x10, 0x1c
    OP3 sh3add, 0x2000000000000003, -24, 0
    OP3 sh3add, 0x0000000000000100, 0x1, 0x801
    OP3 sh1add.uw, 0xffffffffffffffff, 0, 0x1fffffffe
    OP3 sh2add.uw, 0xffffffffffffffff, 4, 0x400000000
    OP3 sh3add.uw, 0xffffffff80000000, 1, 0x400000001
    OP3 sh3add.uw, 0x1234567800000001, -8, 0
    OPI slli.uw, 0xffffffff80000001, 4, 0x800000010
    OPI slli.uw, 0xffffffff80000001, 0, 0x80000001
    OPI slli.uw, 0xfffffffffffffff1, 63, 0x8000000000000000
    OPI slli.uw, 0xffffffffffffffff, 32, 0xffffffff00000000

    GROUP "Zbb logic, min/max, extend"
    OP3 andn, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xf000f000f000f000
    OP3 orn,  0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff0fff0fff0fff0f
    OP3 xnor, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0x0f0f0f0f0f0f0f0f
    OP3 max,  -1, 1, 1
    OP3 maxu, -1, 1, -1
    OP3 min,  -1, 1, -1
    OP3 minu, -1, 1, 1
    OP3 max,  0x8000000000000000, 0x7fffffffffffffff, 0x7fffffffffffffff
    OP3 minu, 0x8000000000000000, 0x7fffffffffffffff, 0x7fffffffffffffff
    OP3 min,  -7, -7, -7
    OP2 sext.b, 0x80, 0xffffffffffffff80
    OP2 sext.b, 0x123457f, 0x7f
    OP2 sext.h, 0x8000, 0xffffffffffff8000
    OP2 sext.h, 0xffffffffffff7fff, 0x7fff
    OP2 zext.h, 0xffffffffffff8001, 0x8001

    GROUP "Zbb count"
    OP2 clz, 0, 64
    OP2 clz, 1, 63
    OP2 clz, 0x8000000000000000, 0
    OP2 clz, 0x00000000ffffffff, 32
    OP2 clzw, 0, 32
    OP2 clzw, 0xffffffff00000001, 31
    OP2 clzw, 0x80000000, 0
    OP2 clzw, 0x0000000000010000, 15
    OP2 ctz, 0, 64
    OP2 ctz, 0x8000000000000000, 63
    OP2 ctz, 0x100, 8
    OP2 ctz, -1, 0
    OP2 ctzw, 0, 32
    OP2 ctzw, 0xffffffff00000000, 32
    OP2 ctzw, 0x80000000, 31
    OP2 ctzw, 0x0000000000000c00, 10
    OP2 cpop, -1, 64
    OP2 cpop, 0x5555555555555555, 32
    OP2 cpop, 0, 0
    OP2 cpop, 0x8000000000000001, 2
    OP2 cpopw, 0xffffffff00000007, 3
    OP2 cpopw, -1, 32
    OP2 cpopw, 0xffffffff00000000, 0

    GROUP "Zbb rotate, orc.b, rev8"
    OP3 rol, 0x8000000000000001, 1, 3
    OP3 rol, 0x8000000000000001, 65, 3
    OP3 rol, 0x0123456789abcdef, 0, 0x0123456789abcdef
    OP3 rol, 0x0123456789abcdef, 8, 0x23456789abcdef01
    OP3 ror, 1, 1, 0x8000000000000000
    OP3 ror, 0x0123456789abcdef, 68, 0xf0123456789abcde
    OPI rori, 0x0123456789abcdef, 4, 0xf0123456789abcde
    OPI rori, 0x0123456789abcdef, 63, 0x02468acf13579bde
    OPI rori, 0x0123456789abcdef, 0, 0x0123456789abcdef
    OP3 rolw, 0x0000000080000001, 1, 3
    OP3 rolw, 0x0000000040000000, 1, 0xffffffff80000000
    OP3 rolw, 0xffffffff80000001, 33, 3
    OP3 rolw, 0x12345678, 8, 0x34567812
    OP3 rorw, 1, 1, 0xffffffff80000000
    OP3 rorw, 0x12345678, 36, 0xffffffff81234567
    OPI roriw, 0x12345678, 8, 0x78123456
    OPI roriw, 0xffffffff12345678, 8, 0x78123456
    OPI roriw, 0x12345678, 0, 0x12345678
    OPI roriw, 0x00000000f0000000, 0, 0xfffffffff0000000
    OPI roriw, 0x0000000000000001, 31, 2
    OP2 orc.b, 0x0001000000ff0010, 0x00ff000000ff00ff
    OP2 orc.b, 0, 0
    OP2 orc.b, 0x8000000000000001, 0xff000000000000ff
    OP2 rev8, 0x0123456789abcdef, 0xefcdab8967452301
    OP2 rev8, 0xff, 0xff00000000000000

    GROUP "Zbs"
    OP3 bclr, -1, 63, 0x7fffffffffffffff
    OP3 bclr, -1, 64, 0xfffffffffffffffe
    OP3 bclr, 0x10, 3, 0x10
    OPI bclri, -1, 31, 0xffffffff7fffffff
    OPI bclri, -1, 0, 0xfffffffffffffffe
    OP3 bext, 0x8000000000000000, 63, 1
    OP3 bext, 0x8000000000000000, 62, 0
    OP3 bext, 0x8000000000000000, 127, 1
    OPI bexti, 0x0000000100000000, 32, 1
    OPI bexti, 0x0000000100000000, 31, 0
    OP3 binv, 0, 63, 0x8000000000000000
    OP3 binv, 0xff, 0x47, 0x7f
    OPI binvi, 0x8000000000000000, 63, 0
    OPI binvi, 0, 31, 0x80000000
    OP3 bset, 0, 32, 0x100000000
    OP3 bset, 1, 0, 1
    OPI bseti, 0, 31, 0x80000000
    OPI bseti, 0, 63, 0x8000000000000000

    TEST_DONE
