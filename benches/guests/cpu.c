/* cpu.c - CPU-bound benchmark for haltpoint: a fixed, deterministic mix of
 *   1. pointer chasing through a 64 KiB single-cycle random permutation,
 *   2. an integer hash / LCG loop (mul, xor, shifts, rotates),
 *   3. data-dependent branches: insertion sort of small random arrays and a
 *      byte-driven state machine.
 * Prints the checksum (which must equal EXPECTED, computed by building this
 * file natively with -DHOST) and powers off with status 0 (fail(1) if the
 * checksum is wrong).
 *
 * Size: workload() retires exactly 3,216,578,291 instructions as built by
 * the Makefile (riscv64-unknown-elf-gcc 12.2, -O2), measured as the
 * minstret delta under QEMU -icount shift=0 (make icount; the printed delta
 * includes one csrr).  The start-up code adds about 25 thousand more
 * (clearing .bss).  A different compiler changes the count but not the
 * checksum.  About 2 s under QEMU 7.2 TCG on the reference machine.
 */
#include "bench.h"

#define NODES       8192                /* 8192 * 8 bytes = 64 KiB */
#define CHASE_STEPS (ROUNDS * 200000UL)
#define HASH_STEPS  (ROUNDS * 400000UL)
#define SORTS       (ROUNDS * 2000UL)
#define SORT_N      48
#define FSM_BYTES   (ROUNDS * 400000UL)
#ifndef ROUNDS
#define ROUNDS      170
#endif
#define EXPECTED    0xdb0c8c4b0df0f095UL  /* make host-check */

static uint64_t next_node[NODES];
static uint32_t sort_buf[SORT_N];

static uint64_t lcg_state;
static inline uint64_t lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lcg_state;
}

/* Sattolo's algorithm: a random permutation that is one single cycle */
static void build_cycle(void)
{
    for (uint64_t i = 0; i < NODES; i++)
        next_node[i] = i;
    for (uint64_t i = NODES - 1; i > 0; i--) {
        uint64_t j = (lcg() >> 33) % i;
        uint64_t t = next_node[i];
        next_node[i] = next_node[j];
        next_node[j] = t;
    }
    /* store addresses instead of indices: a real pointer chase */
    for (uint64_t i = 0; i < NODES; i++)
        next_node[i] = (uint64_t)(uintptr_t)&next_node[next_node[i]];
}

static uint64_t chase(void)
{
    const uint64_t *p = &next_node[0];
    uint64_t acc = 0;
    for (uint64_t i = 0; i < CHASE_STEPS; i++) {
        p = (const uint64_t *)(uintptr_t)*p;
        acc += ((uint64_t)(uintptr_t)p - (uint64_t)(uintptr_t)next_node) & 0xfff8;
    }
    return acc ^ (uint64_t)((uintptr_t)p - (uintptr_t)next_node);
}

static uint64_t hash_loop(void)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL, x = 1;
    for (uint64_t i = 0; i < HASH_STEPS; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        h ^= x >> 29;
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 32;
        h = (h << 13) | (h >> 51);
        h += i;
    }
    return h;
}

static uint64_t sort_loop(void)
{
    uint64_t acc = 0;
    for (uint64_t s = 0; s < SORTS; s++) {
        for (int i = 0; i < SORT_N; i++)
            sort_buf[i] = (uint32_t)(lcg() >> 40);
        for (int i = 1; i < SORT_N; i++) {
            uint32_t v = sort_buf[i];
            int j = i - 1;
            while (j >= 0 && sort_buf[j] > v) {
                sort_buf[j + 1] = sort_buf[j];
                j--;
            }
            sort_buf[j + 1] = v;
        }
        acc = acc * 31 + sort_buf[0] + sort_buf[SORT_N / 2] * 7 + sort_buf[SORT_N - 1];
    }
    return acc;
}

/* a small tokenizer-like state machine over pseudo-random bytes */
static uint64_t fsm_loop(void)
{
    uint64_t words = 0, numbers = 0, other = 0, state = 0;
    uint64_t r = 0;
    for (uint64_t i = 0; i < FSM_BYTES; i++) {
        if ((i & 7) == 0)
            r = lcg();
        unsigned c = (unsigned)(r >> 56);
        r <<= 8;
        unsigned cls = c < 96 ? 0 : c < 160 ? 1 : c < 176 ? 2 : 3;  /* alpha, digit, space, punct */
        switch (state) {
        case 0:                     /* between tokens */
            if (cls == 0) { state = 1; words++; }
            else if (cls == 1) { state = 2; numbers++; }
            else if (cls == 3) other++;
            break;
        case 1:                     /* in a word */
            if (cls == 2) state = 0;
            else if (cls == 3) { state = 0; other++; }
            break;
        case 2:                     /* in a number */
            if (cls == 0) { state = 1; words++; }
            else if (cls != 1) state = 0;
            break;
        }
    }
    return words * 1000003 + numbers * 1009 + other;
}

static uint64_t workload(void)
{
    lcg_state = 12345;
    build_cycle();
    uint64_t a = chase();
    uint64_t b = hash_loop();
    uint64_t c = sort_loop();
    uint64_t d = fsm_loop();
    return a ^ (b * 3) ^ (c * 5) ^ (d * 7);
}

#ifdef HOST
int main(void)
{
    /* the pointer chase only mixes in offsets from next_node, so the result
     * does not depend on where the array lives */
    printf("0x%016llx\n", (unsigned long long)workload());
    return 0;
}
#else
int main(void)
{
    uint64_t t0 = rdinstret();
    uint64_t sum = workload();
    uint64_t t1 = rdinstret();
    return bench_report("cpu", sum, EXPECTED, t1 - t0);
}
#endif
