/* demo.c - haltpoint showcase guest: traps, timer interrupt, Sv39 paging
 * and floating point, one line per feature.  Small (< 20 KiB) and fast
 * (well under 5 million instructions).  With the word "panic" on the kernel
 * command line (-append panic) it then registers a vmcoreinfo note and
 * panics through pvpanic (crash.c). */
#include "runtime.h"
#include "demo.h"

u64 check_no;

u64 demo_user_ecall(void);
u64 demo_run_s(u64 satp, u64 entry);
extern char demo_s_code[];
extern volatile u64 demo_s_pc;

#define HIGH_BASE 0xffffffffc0000000UL     /* top 1 GiB of the Sv39 space */

static volatile u64 ticks;
static u64 root_pt[512] __attribute__((aligned(4096)));

static u64 timer_hook(u64 *frame, u64 cause)
{
    (void)frame;
    if (cause != (CAUSE_INTR | 7))
        return 0;
    mmio_write64(CLINT_MTIMECMP, ~0UL);
    ticks++;
    return 1;
}

static double atan_series(double x)
{
    double term = x, sum = 0.0, x2 = x * x;
    for (int k = 0; k < 30; k++) {
        double t = term / (2 * k + 1);
        sum += (k & 1) ? -t : t;
        term *= x2;
    }
    return sum;
}

static void feature(const char *name)
{
    uart_puts("haltpoint demo: ");
    uart_puts(name);
    uart_puts(" ... ");
}

int main(u64 hartid, u64 dtb)
{
    (void)hartid;
    uart_puts("\nhaltpoint demo: RV64GC bare-metal guest on the virt board\n");

    /* 1. traps: ecall from U-mode handled in M-mode */
    feature("traps (U-mode ecall -> M-mode handler)");
    u64 r = demo_user_ecall();
    CHECK(r, 42);
    CHECK(trap_cause, CAUSE_ECALL_U);
    uart_puts("ok\n");

    /* 2. timer interrupt: CLINT mtimecmp + wfi */
    feature("timer interrupt (CLINT mtimecmp + wfi)");
    trap_hook = timer_hook;
    u64 start = mmio_read64(CLINT_MTIME);
    mmio_write64(CLINT_MTIMECMP, start + 10000);   /* 1 ms */
    csr_write(mie, MIP_MTIP);
    csr_set(mstatus, MSTATUS_MIE);
    while (ticks == 0)
        __asm__ volatile("wfi");
    csr_clear(mstatus, MSTATUS_MIE);
    csr_write(mie, 0);
    trap_hook = 0;
    CHECK(ticks, 1);
    CHECK(mmio_read64(CLINT_MTIME) - start >= 10000, 1);
    uart_puts("ok\n");

    /* 3. Sv39: S-mode code running at a high virtual address */
    feature("Sv39 paging (S-mode code at 0xffffffffc0000000+)");
    const u64 leaf = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D;
    root_pt[2] = (0x80000000UL >> 12) << 10 | leaf;    /* identity 1 GiB */
    root_pt[511] = (0x80000000UL >> 12) << 10 | leaf;  /* high alias 1 GiB */
    u64 satp = ((u64)SATP_MODE_SV39 << 60) | ((u64)root_pt >> 12);
    u64 entry = HIGH_BASE + ((u64)demo_s_code - 0x80000000UL);
    r = demo_run_s(satp, entry);
    CHECK(trap_cause, CAUSE_ECALL_S);
    CHECK(r, 0x02468acf13579bdeUL);
    CHECK(demo_s_pc, entry);
    uart_puts("ok\n");

    /* 4. floating point: pi by Machin's formula */
    feature("floating point");
    double pi = 16.0 * atan_series(1.0 / 5.0) - 4.0 * atan_series(1.0 / 239.0);
    double err = pi - 3.141592653589793;
    if (err < 0) err = -err;
    long scaled = (long)(pi * 100000.0);
    CHECK(scaled, 314159);
    CHECK(err < 1e-14, 1);
    uart_puts("ok (pi ~ ");
    uart_putdec(scaled / 100000);
    uart_putc('.');
    uart_putdec(scaled % 100000);
    uart_puts(")\n");

    uart_puts("demo: all ");
    uart_putdec(check_no);
    uart_puts(" checks passed\n");
    if (demo_crash_mode(dtb))
        return demo_crash(dtb);
    return 0;
}
