/* lines.c - source lines for gdb's `step` and `next` (tests/gdb.rs).
 *
 * Built with -g -O0, so each statement is its own source line. gdb steps over
 * a line by asking the stub to step while pc stays in the line's code
 * (range stepping, `vCont;r`); a line that loops thousands of times then
 * costs one request instead of one per instruction. Without a debugger it
 * checks its own result like any other test.
 */
#include "runtime.h"

u64 check_no;
volatile u64 counter;

static void __attribute__((noinline)) work(u64 n)
{
    for (u64 i = 0; i < n; i++) counter += i;    /* LINE_WORK_LOOP */
}

int main(void)
{
    counter = 1;                                     /* LINE_START */
    for (u64 i = 0; i < 3000; i++) counter += i;     /* LINE_LOOP */
    work(2000);                                      /* LINE_CALL */
    counter += 7;                                    /* LINE_AFTER */
    CHECK(counter, 1 + 4498500 + 1999000 + 7);
    test_done(check_no, "lines");
}
