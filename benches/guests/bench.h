/* Shared glue for the haltpoint benchmark guests.  The workload code is
 * plain C99 so it can also be built natively (-DHOST) to compute the
 * expected checksum independently of any RISC-V implementation. */
#ifndef HALTPOINT_BENCH_H
#define HALTPOINT_BENCH_H

#include <stdint.h>

#ifdef HOST
#include <stdio.h>
#include <stdlib.h>
#else
#include "runtime.h"

static inline uint64_t rdinstret(void)
{
    uint64_t v;
    __asm__ volatile("csrr %0, minstret" : "=r"(v));
    return v;
}

/* prints "<name>: checksum 0x..., instret N" and exits 0 if the checksum
 * matches, else fail(1) */
static inline int bench_report(const char *name, uint64_t sum, uint64_t expected,
                               uint64_t instret)
{
    uart_puts(name);
    uart_puts(": checksum ");
    uart_puthex(sum);
    uart_puts(", minstret delta ");
    uart_putdec(instret);
    uart_puts("\n");
    if (sum != expected) {
        uart_puts(name);
        uart_puts(": WRONG checksum, expected ");
        uart_puthex(expected);
        uart_puts("\n");
        return 1;
    }
    return 0;
}
#endif

#endif
