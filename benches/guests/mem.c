/* mem.c - memory-bound benchmark for haltpoint: read-modify-write accesses
 * to a 64 MiB array (at physical 0x81000000, inside QEMU's default 128 MiB
 * of RAM) where nearly every access lands on a different 4 KiB page:
 *   - a strided walk with stride 4 KiB + 64 bytes (wrapping), and
 *   - random pages/offsets chosen by an LCG.
 * Prints a checksum (which must equal EXPECTED, computed by building this
 * file natively with -DHOST) and powers off with status 0 (fail(1) if the
 * checksum is wrong).
 *
 * Size: workload() retires exactly 123,636,230 instructions as built by the
 * Makefile (riscv64-unknown-elf-gcc 12.2, -O2), measured as the minstret
 * delta under QEMU -icount shift=0 (make icount; the printed delta includes
 * one csrr): 8 Mi stores to initialise the array, 10 M read-modify-write
 * accesses on ~10 M different pages (5 M strided + 5 M random), and a fold
 * over all 16384 pages.  About 2.5 s under QEMU 7.2 TCG on the reference
 * machine (page-granular TLB misses dominate).
 */
#include "bench.h"

#define ARRAY_BYTES (64UL << 20)
#define WORDS       (ARRAY_BYTES / 8)
#define STRIDE      (4096 + 64)
#ifndef ROUNDS
#define ROUNDS      5
#endif
#define ACCESSES    (ROUNDS * 1000000UL)  /* loop iterations: 2 pages each */
#define EXPECTED    0x9824479b8a970432UL  /* make host-check */

#ifndef HOST
#define ARRAY_BASE  0x81000000UL
#endif

static uint64_t workload(uint64_t *a)
{
    for (uint64_t i = 0; i < WORDS; i++)
        a[i] = i * 0x9e3779b97f4a7c15ULL;

    uint64_t off = 0, r = 0x2545f4914f6cdd1dULL, sum = 0;
    for (uint64_t k = 0; k < ACCESSES; k++) {
        off = (off + STRIDE) & (ARRAY_BYTES - 1);
        uint64_t *p = &a[off / 8];
        *p = *p * 5 + k;

        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t *q = &a[((r >> 20) & (ARRAY_BYTES - 1)) / 8];
        sum += *q;
        *q ^= r;
    }
    /* fold one word of every page into the result */
    for (uint64_t i = 0; i < WORDS; i += 4096 / 8 + 1)
        sum = (sum ^ a[i]) * 0x100000001b3ULL;
    return sum;
}

#ifdef HOST
int main(void)
{
    uint64_t *a = malloc(ARRAY_BYTES);
    if (!a) return 1;
    printf("0x%016llx\n", (unsigned long long)workload(a));
    return 0;
}
#else
int main(void)
{
    uint64_t t0 = rdinstret();
    uint64_t sum = workload((uint64_t *)ARRAY_BASE);
    uint64_t t1 = rdinstret();
    return bench_report("mem", sum, EXPECTED, t1 - t0);
}
#endif
