/* Assembly test macros for the haltpoint guest programs.
 *
 * Define TEST_NAME (a string) before including.  Checks are numbered at
 * assembly time in source order (1, 2, ...); the first failing check
 * prints "check N failed: got X, expected Y" and exits with status N
 * (clamped to 254; 255 = unexpected trap).
 *
 * Registers t5/t6 are scratch for the macros: never check them, and never
 * pass t5 as the second operand of CHECKR.  GROUP/TEST_DONE clobber a0/ra.
 * Local labels 9990..9999 are reserved for the macros.
 */
#include "csr.h"

    .set    check_num, 0

/* define the local symbol check_<n> at the current check, so that
 * "nm prog.elf | grep check_<n>" finds the source location of check n */
.macro _CHECK_LABEL n
check_\n:
.endm
.macro CHECK_SYM
    .altmacro
    _CHECK_LABEL %check_num
    .noaltmacro
.endm

/* reg must equal the (up to 64-bit) constant expected */
.macro CHECK reg, expected
    .set    check_num, check_num + 1
    CHECK_SYM
    li      t6, \expected
    beq     \reg, t6, 9999f
    mv      a1, \reg
    mv      a2, t6
    li      a0, check_num
    j       check_failed
9999:
.endm

/* reg must equal one of two constants */
.macro CHECK2 reg, v1, v2
    .set    check_num, check_num + 1
    CHECK_SYM
    li      t6, \v1
    beq     \reg, t6, 9999f
    li      t6, \v2
    beq     \reg, t6, 9999f
    li      t6, \v1
    mv      a1, \reg
    mv      a2, t6
    li      a0, check_num
    j       check_failed
9999:
.endm

/* Known QEMU 7.2 deviation from the spec: the normal (strict) build accepts
 * only the spec value; a build with -DQEMU_QUIRKS (used by make check-qemu)
 * also accepts the value QEMU 7.2 produces.  See README.md. */
.macro CHECKQ reg, spec, qemu
#ifdef QEMU_QUIRKS
    CHECK2  \reg, \spec, \qemu
#else
    CHECK   \reg, \spec
#endif
.endm

/* reg must equal reg2 */
.macro CHECKR reg, reg2
    .set    check_num, check_num + 1
    CHECK_SYM
    beq     \reg, \reg2, 9999f
    mv      t5, \reg
    mv      t6, \reg2
    mv      a1, t5
    mv      a2, t6
    li      a0, check_num
    j       check_failed
9999:
.endm

/* the 64-bit word at symbol sym must equal expected */
.macro CHECKMEM sym, expected
    la      t5, \sym
    ld      t5, 0(t5)
    CHECK   t5, \expected
.endm

/* the 64-bit word at symbol sym must equal the address of label */
.macro CHECKMEM_ADDR sym, label
    .set    check_num, check_num + 1
    CHECK_SYM
    la      t5, \sym
    ld      t5, 0(t5)
    la      t6, \label
    beq     t5, t6, 9999f
    mv      a1, t5
    mv      a2, t6
    li      a0, check_num
    j       check_failed
9999:
.endm

/* unconditional failure of a new check (got = 0, expected = 1) */
.macro FAILCHECK
    .set    check_num, check_num + 1
    CHECK_SYM
    li      a0, check_num
    li      a1, 0
    li      a2, 1
    j       check_failed
.endm

/* branch "op a, b" must be taken */
.macro BTAKEN op, a, b
    .set    check_num, check_num + 1
    CHECK_SYM
    \op     \a, \b, 9999f
    li      a0, check_num
    li      a1, 0
    li      a2, 1
    j       check_failed
9999:
.endm

/* branch "op a, b" must not be taken */
.macro BNOTTAKEN op, a, b
    .set    check_num, check_num + 1
    CHECK_SYM
    \op     \a, \b, 9998f
    j       9999f
9998:
    li      a0, check_num
    li      a1, 1
    li      a2, 0
    j       check_failed
9999:
.endm

/* Execute insn, which must trap (to the default M- or S-mode handler) with
 * the given cause; checks the cause (via trap_cause or strap_cause
 * depending on handler = m / s) and that the trap epc is the instruction's
 * address.  Execution resumes after the macro in the same privilege mode. */
.macro EXPECT_TRAP_HQ handler, cause, qcause, insn:vararg
    la      t6, 9998f
.ifc \handler, m
    la      t5, trap_recover
.else
    la      t5, strap_recover
.endif
    sd      t6, 0(t5)
9997:
    \insn
    .set    check_num, check_num + 1
    CHECK_SYM
    li      a0, check_num
    li      a1, -1                  /* "got": no trap */
    li      a2, \cause
    j       check_failed
9998:
.ifc \handler, m
    la      t5, trap_cause
.else
    la      t5, strap_cause
.endif
    ld      t5, 0(t5)
.ifb \qcause
    CHECK   t5, \cause
.else
    CHECKQ  t5, \cause, \qcause
.endif
.ifc \handler, m
    CHECKMEM_ADDR trap_epc, 9997b
.else
    CHECKMEM_ADDR strap_epc, 9997b
.endif
.endm

.macro EXPECT_TRAP_H handler, cause, insn:vararg
    EXPECT_TRAP_HQ \handler, \cause, , \insn
.endm
.macro EXPECT_TRAP cause, insn:vararg
    EXPECT_TRAP_HQ m, \cause, , \insn
.endm
/* like EXPECT_TRAP, but QEMU 7.2 reports qcause instead (see CHECKQ) */
.macro EXPECT_TRAPQ cause, qcause, insn:vararg
    EXPECT_TRAP_HQ m, \cause, \qcause, \insn
.endm

/* mtval / stval of the last trap */
.macro CHECK_TVAL expected
    CHECKMEM trap_tval, \expected
.endm
.macro CHECK_STVAL expected
    CHECKMEM strap_tval, \expected
.endm

/* start a group of sub-tests: prints "TEST_NAME: name ... " (closing the
 * previous group with "ok") */
.macro GROUP name
    .pushsection .rodata
9996:
    .ascii  TEST_NAME
    .ascii  ": "
    .asciz  "\name"
    .popsection
    la      a0, 9996b
    call    group_start
.endm

/* all checks passed: print the summary and power off with status 0 */
.macro TEST_DONE
    .pushsection .rodata
9996:
    .asciz  TEST_NAME
    .popsection
    li      a0, check_num
    la      a1, 9996b
    tail    test_done
.endm

/* mtval of the last M-mode trap must equal register reg (not t5/t6) */
.macro CHECK_TVAL_REG reg
    la      t5, trap_tval
    ld      t5, 0(t5)
    CHECKR  t5, \reg
.endm
