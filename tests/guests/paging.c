/* paging.c - Sv39, Sv48 and Sv57 virtual memory.
 *
 * For each mode M-mode builds page tables, then runs small probes
 * (paging_asm.S) in S- or U-mode with satp set and checks:
 * translation of loads, stores and instruction fetches; hardware A/D
 * updates; page faults (scause 12/13/15, stval = faulting VA) delegated to
 * an S-mode handler; U bit vs SUM; MXR on execute-only pages; reserved
 * W-without-R PTEs; 2 MiB and 1 GiB superpages incl. a misaligned
 * superpage; the top half of the address space; non-canonical VAs;
 * sfence.vma (by address, by ASID, global) after a PTE change; and satp
 * writes with unsupported modes (no effect).
 */
#include "runtime.h"

u64 check_no;

u64 run_lower(u64 mode, u64 satp, u64 fn, u64 arg0, u64 arg1);
extern volatile u64 lower_fault;
extern char lower_start[], lower_end[];
extern char lo_ld[], lo_lbu[], lo_sd[], lo_call[], lo_ret42[];
extern char lo_sfence_va_ld[], lo_sfence_asid_ld[], lo_sfence_all_ld[];

#define MODE_U 0
#define MODE_S 1

/* VA layout (all below 2^38, so valid in Sv39/48/57) */
#define T          0x100000000UL          /* 4 KiB test pages */
#define VA_RW      (T + 0x0000)           /* RW, A=D=0 initially */
#define VA_RO      (T + 0x1000)           /* R only */
#define VA_XO      (T + 0x2000)           /* X only: probe page */
#define VA_INV     (T + 0x3000)           /* V = 0 */
#define VA_USER    (T + 0x4000)           /* RW + U */
#define VA_WO      (T + 0x5000)           /* W without R: reserved */
#define VA_UCODE   (T + 0x6000)           /* probe page, X + U */
#define VA_SFENCE  (T + 0x7000)           /* remapped for sfence tests */
#define VA_SCODE   (T + 0x8000)           /* probe page, R + X */
#define VA_MEGA    (T + 0x200000)         /* 2 MiB page -> PA 0x80400000 */
#define VA_MEGA_BAD (T + 0x400000)        /* 2 MiB page with PPN[0] != 0 */
#define VA_GIGA    0x40000000UL           /* 1 GiB page -> PA 0x80000000 */
#define VA_TOP     0xfffffffffffff000UL   /* last page of the address space */
#define PA_MEGA    0x80400000UL

#define LO_RET42_WORDS 0x0000806702a00513UL  /* addi a0,zero,42; jalr zero,0(ra) */

static u64 pt_pool[40][512] __attribute__((aligned(4096)));
static u64 data_pages[8][512] __attribute__((aligned(4096)));
static unsigned pt_next;
static u64 *root;
static int levels;
static volatile u64 giga_probe_value = 0x6167696761676967UL;

static u64 *alloc_pt(void)
{
    u64 *p = pt_pool[pt_next++];
    if (pt_next > sizeof pt_pool / sizeof pt_pool[0]) {
        uart_puts("out of page-table pages\n");
        fail(253);
    }
    for (int i = 0; i < 512; i++) p[i] = 0;
    return p;
}

/* map va -> pa with a leaf at `level` (0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB);
 * returns a pointer to the leaf PTE */
static volatile u64 *map(u64 va, u64 pa, int level, u64 flags)
{
    u64 *pt = root;
    for (int l = levels - 1; l > level; l--) {
        u64 idx = (va >> (12 + 9 * l)) & 511;
        if (!(pt[idx] & PTE_V))
            pt[idx] = (((u64)alloc_pt() >> 12) << 10) | PTE_V;
        pt = (u64 *)((pt[idx] >> 10) << 12);
    }
    u64 idx = (va >> (12 + 9 * level)) & 511;
    pt[idx] = ((pa >> 12) << 10) | flags;
    return &pt[idx];
}

static u64 s_run(u64 satp, void *fn, u64 a0, u64 a1)
{
    return run_lower(MODE_S, satp, (u64)fn, a0, a1);
}

/* expect the last run to have ended in a delegated (S-mode) page fault */
static void check_sfault(u64 cause, u64 tval)
{
    CHECK(lower_fault, 1);
    CHECK(strap_cause, cause);
    CHECK(strap_tval, tval);
}

static void sv_test(const char *name, u64 mode, int nlevels, int vabits)
{
    static char gname[64];
    const char *parts[] = { "loads, stores, A/D bits", "page faults",
                            "fetch, MXR, SUM, U", "superpages, top half, canonical VAs",
                            "sfence.vma" };
    volatile u64 *pte_rw, *pte_xo, *pte_scode, *pte_mega, *pte_sfence;
    u64 satp;
    int part = 0;

#define NEXT_GROUP() do {                                           \
        char *d = gname; const char *s = name;                      \
        while (*s) *d++ = *s++;                                     \
        *d++ = ':'; *d++ = ' ';                                     \
        s = parts[part++];                                          \
        while (*s) *d++ = *s++;                                     \
        *d = 0;                                                     \
        group_start(gname);                                         \
    } while (0)

    pt_next = 0;
    levels = nlevels;
    root = alloc_pt();
    const u64 rwxad = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D;
    u64 lower_pa = (u64)lower_start;

    /* identity map of the image: 1 GiB page at 0x80000000 */
    map(0x80000000UL, 0x80000000UL, 2, rwxad);
    pte_rw = map(VA_RW, (u64)data_pages[0], 0, PTE_V | PTE_R | PTE_W);
    map(VA_RO, (u64)data_pages[1], 0, PTE_V | PTE_R | PTE_A | PTE_D);
    pte_xo = map(VA_XO, lower_pa, 0, PTE_V | PTE_X);
    map(VA_INV, (u64)data_pages[2], 0, PTE_R | PTE_W | PTE_A | PTE_D);  /* V = 0 */
    map(VA_USER, (u64)data_pages[2], 0, rwxad | PTE_U);
    map(VA_WO, (u64)data_pages[3], 0, PTE_V | PTE_W | PTE_A | PTE_D);
    map(VA_UCODE, lower_pa, 0, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A);
    pte_sfence = map(VA_SFENCE, (u64)data_pages[4], 0, rwxad);
    pte_scode = map(VA_SCODE, lower_pa, 0, PTE_V | PTE_R | PTE_X);
    pte_mega = map(VA_MEGA, PA_MEGA, 1, PTE_V | PTE_R | PTE_W);
    map(VA_MEGA_BAD, PA_MEGA + 0x1000, 1, rwxad);
    map(VA_GIGA, 0x80000000UL, 2, PTE_V | PTE_R | PTE_A);
    map(VA_TOP, (u64)data_pages[6], 0, rwxad);
    u64 va_big = 1UL << (vabits - 2);        /* valid only in this mode or wider */
    u64 va_noncanon = 1UL << (vabits - 1);   /* bit vabits-1 set, upper bits clear */
    map(va_big, (u64)data_pages[7], 0, rwxad);

    for (int i = 0; i < 512; i++) {
        data_pages[0][i] = 0x1111000000000000UL + i;
        data_pages[1][i] = 0x2222000000000000UL + i;
        data_pages[2][i] = 0x3333000000000000UL + i;
        data_pages[3][i] = 0x4444000000000000UL + i;
        data_pages[4][i] = 0x5555000000000000UL + i;
        data_pages[5][i] = 0x6666000000000000UL + i;
        data_pages[6][i] = 0x7777000000000000UL + i;
        data_pages[7][i] = 0x8888000000000000UL + i;
    }
    mmio_write64(PA_MEGA + 0x1238, 0x4d45474121212121UL);
    mmio_write64(PA_MEGA + 0x1ff000, 0x656e64206d656761UL);

    satp = (mode << 60) | ((u64)root >> 12);
    csr_write(satp, satp);
    CHECK(csr_read(satp), satp);
    csr_write(satp, 0);
    csr_write(medeleg, (1 << CAUSE_FETCH_PAGE) | (1 << CAUSE_LOAD_PAGE) | (1 << CAUSE_STORE_PAGE));
    csr_clear(mstatus, MSTATUS_SUM | MSTATUS_MXR);

    /* ---- loads, stores, A/D ---- */
    NEXT_GROUP();
    CHECK(*pte_rw & (PTE_A | PTE_D), 0);
    CHECK(s_run(satp, lo_ld, VA_RW + 8 * 5, 0), 0x1111000000000005UL);
    CHECK(lower_fault, 0);
    CHECK(*pte_rw & (PTE_A | PTE_D), PTE_A);          /* load sets A only */
    s_run(satp, lo_sd, VA_RW + 8 * 7, 0xabcdef0123456789UL);
    CHECK(lower_fault, 0);
    CHECK(data_pages[0][7], 0xabcdef0123456789UL);
    CHECK(*pte_rw & (PTE_A | PTE_D), PTE_A | PTE_D);  /* store sets D */
    CHECK(s_run(satp, lo_lbu, VA_RW + 8 * 7 + 1, 0), 0x67);
    CHECK(s_run(satp, lo_ld, VA_RO + 8 * 3, 0), 0x2222000000000003UL);
    CHECK(s_run(satp, lo_ld, VA_RO + 0xff8, 0), 0x2222000000000000UL + 511);

    /* ---- page faults ---- */
    NEXT_GROUP();
    s_run(satp, lo_sd, VA_RO + 16, 1);                 /* store to read-only */
    check_sfault(CAUSE_STORE_PAGE, VA_RO + 16);
    CHECK(data_pages[1][2], 0x2222000000000002UL);
    s_run(satp, lo_ld, VA_INV + 0x10, 0);              /* V = 0 */
    check_sfault(CAUSE_LOAD_PAGE, VA_INV + 0x10);
    s_run(satp, lo_sd, VA_INV + 0x18, 0);
    check_sfault(CAUSE_STORE_PAGE, VA_INV + 0x18);
    s_run(satp, lo_ld, T + 0x10000, 0);                /* no PTE at all */
    check_sfault(CAUSE_LOAD_PAGE, T + 0x10000);
    s_run(satp, lo_ld, VA_WO, 0);                      /* W without R: reserved */
    check_sfault(CAUSE_LOAD_PAGE, VA_WO);
    s_run(satp, lo_sd, VA_WO + 8, 0);
    check_sfault(CAUSE_STORE_PAGE, VA_WO + 8);
    CHECK(data_pages[3][1], 0x4444000000000001UL);
    s_run(satp, lo_call, VA_RW + 0x40, 0);             /* fetch from a non-X page */
    check_sfault(CAUSE_FETCH_PAGE, VA_RW + 0x40);
    CHECK(strap_epc, VA_RW + 0x40);
    s_run(satp, lo_call, VA_INV, 0);
    check_sfault(CAUSE_FETCH_PAGE, VA_INV);
    CHECK(strap_epc, VA_INV);
    csr_write(medeleg, 0);                             /* not delegated: M gets it */
    s_run(satp, lo_ld, VA_INV + 0x20, 0);
    CHECK(lower_fault, 3);
    CHECK(trap_cause, CAUSE_LOAD_PAGE);
    CHECK(trap_tval, VA_INV + 0x20);
    csr_write(medeleg, (1 << CAUSE_FETCH_PAGE) | (1 << CAUSE_LOAD_PAGE) | (1 << CAUSE_STORE_PAGE));

    /* ---- fetch, MXR, SUM, U ---- */
    NEXT_GROUP();
    u64 off42 = (u64)lo_ret42 - lower_pa;
    CHECK(*pte_scode & PTE_A, 0);
    CHECK(s_run(satp, lo_call, VA_SCODE + off42, 0), 42);  /* fetch via alias */
    CHECK(lower_fault, 0);
    CHECK(*pte_scode & PTE_A, PTE_A);                      /* fetch sets A */
    CHECK(s_run(satp, lo_call, VA_XO + off42, 0), 42);     /* X-only is executable */
    s_run(satp, lo_ld, VA_XO + off42, 0);                  /* ... but not readable */
    check_sfault(CAUSE_LOAD_PAGE, VA_XO + off42);
    csr_set(mstatus, MSTATUS_MXR);
    CHECK(s_run(satp, lo_ld, VA_XO + off42, 0), LO_RET42_WORDS);
    CHECK(lower_fault, 0);
    s_run(satp, lo_sd, VA_XO + off42, 0);                  /* MXR: still not writable */
    check_sfault(CAUSE_STORE_PAGE, VA_XO + off42);
    csr_clear(mstatus, MSTATUS_MXR);
    CHECK(*pte_xo & PTE_D, 0);
    /* S-mode access to a U page: needs SUM */
    s_run(satp, lo_ld, VA_USER + 8, 0);
    check_sfault(CAUSE_LOAD_PAGE, VA_USER + 8);
    s_run(satp, lo_sd, VA_USER + 8, 5);
    check_sfault(CAUSE_STORE_PAGE, VA_USER + 8);
    csr_set(mstatus, MSTATUS_SUM);
    CHECK(s_run(satp, lo_ld, VA_USER + 8, 0), 0x3333000000000001UL);
    CHECK(lower_fault, 0);
    s_run(satp, lo_call, VA_UCODE + off42, 0);             /* S never executes U pages */
    check_sfault(CAUSE_FETCH_PAGE, VA_UCODE + off42);
    csr_clear(mstatus, MSTATUS_SUM);
    /* U-mode: runs the probes from the U alias of the probe page */
    u64 ucode = VA_UCODE - lower_pa;
    CHECK(run_lower(MODE_U, satp, ucode + (u64)lo_ld, VA_USER + 16, 0), 0x3333000000000002UL);
    CHECK(lower_fault, 0);
    run_lower(MODE_U, satp, ucode + (u64)lo_sd, VA_USER + 24, 0x5a5a5a5a);
    CHECK(lower_fault, 0);
    CHECK(data_pages[2][3], 0x5a5a5a5a);
    run_lower(MODE_U, satp, ucode + (u64)lo_ld, VA_RW, 0);  /* non-U page */
    check_sfault(CAUSE_LOAD_PAGE, VA_RW);
    csr_set(mstatus, MSTATUS_SUM);                         /* SUM does not help U */
    run_lower(MODE_U, satp, ucode + (u64)lo_ld, VA_RW, 0);
    check_sfault(CAUSE_LOAD_PAGE, VA_RW);
    csr_clear(mstatus, MSTATUS_SUM);
    run_lower(MODE_U, satp, ucode + (u64)lo_call, VA_SCODE + off42, 0);
    check_sfault(CAUSE_FETCH_PAGE, VA_SCODE + off42);
    CHECK(strap_status & MSTATUS_SPP, 0);                  /* trap came from U */

    /* ---- superpages, top half, canonical addresses ---- */
    NEXT_GROUP();
    CHECK(s_run(satp, lo_ld, VA_MEGA + 0x1238, 0), 0x4d45474121212121UL);
    CHECK(s_run(satp, lo_ld, VA_MEGA + 0x1ff000, 0), 0x656e64206d656761UL);
    CHECK(*pte_mega & (PTE_A | PTE_D), PTE_A);
    s_run(satp, lo_sd, VA_MEGA + 0x100008, 0x1234);
    CHECK(lower_fault, 0);
    CHECK(mmio_read64(PA_MEGA + 0x100008), 0x1234);
    CHECK(*pte_mega & (PTE_A | PTE_D), PTE_A | PTE_D);
    s_run(satp, lo_ld, VA_MEGA_BAD + 0x3000, 0);           /* misaligned superpage */
    check_sfault(CAUSE_LOAD_PAGE, VA_MEGA_BAD + 0x3000);
    u64 gofs = (u64)&giga_probe_value - 0x80000000UL;
    CHECK(s_run(satp, lo_ld, VA_GIGA + gofs, 0), 0x6167696761676967UL);
    s_run(satp, lo_sd, VA_GIGA + gofs, 0);                 /* gigapage is read-only */
    check_sfault(CAUSE_STORE_PAGE, VA_GIGA + gofs);
    CHECK(s_run(satp, lo_ld, VA_TOP + 8 * 9, 0), 0x7777000000000009UL);
    CHECK(s_run(satp, lo_ld, va_big + 8 * 2, 0), 0x8888000000000002UL);
    s_run(satp, lo_ld, va_noncanon + 8, 0);
    check_sfault(CAUSE_LOAD_PAGE, va_noncanon + 8);
    s_run(satp, lo_ld, 0x8000000000000000UL, 0);
    check_sfault(CAUSE_LOAD_PAGE, 0x8000000000000000UL);

    /* ---- sfence.vma ---- */
    NEXT_GROUP();
    CHECK(s_run(satp, lo_ld, VA_SFENCE + 8, 0), 0x5555000000000001UL);
    *pte_sfence = (((u64)data_pages[5] >> 12) << 10) | rwxad;
    CHECK(s_run(satp, lo_sfence_va_ld, VA_SFENCE + 8, 0), 0x6666000000000001UL);
    u64 satp_asid = satp | (5UL << 44);
    CHECK(s_run(satp_asid, lo_ld, VA_SFENCE + 16, 0), 0x6666000000000002UL);
    *pte_sfence = (((u64)data_pages[4] >> 12) << 10) | rwxad;
    CHECK(s_run(satp_asid, lo_sfence_asid_ld, VA_SFENCE + 16, 5), 0x5555000000000002UL);
    *pte_sfence = (((u64)data_pages[5] >> 12) << 10) | rwxad;
    CHECK(s_run(satp_asid, lo_sfence_all_ld, VA_SFENCE + 24, 0), 0x6666000000000003UL);
    *pte_sfence = 0;                                       /* unmap */
    s_run(satp, lo_sfence_va_ld, VA_SFENCE, 0);
    check_sfault(CAUSE_LOAD_PAGE, VA_SFENCE);

    csr_write(medeleg, 0);
}

int main(void)
{
    csr_write(mie, 0);
    sv_test("Sv39", SATP_MODE_SV39, 3, 39);
    sv_test("Sv48", SATP_MODE_SV48, 4, 48);
    sv_test("Sv57", SATP_MODE_SV57, 5, 57);

    group_start("paging: satp WARL");
    u64 good = ((u64)SATP_MODE_SV39 << 60) | ((u64)pt_pool[0] >> 12);
    csr_write(satp, good);
    CHECK(csr_read(satp), good);
    csr_write(satp, (15UL << 60) | 0x1234);                /* reserved mode */
    CHECK(csr_read(satp), good);
    csr_write(satp, (11UL << 60) | 0x1234);                /* Sv64: not supported */
    CHECK(csr_read(satp), good);
    csr_write(satp, (1UL << 60) | 0x1234);                 /* reserved mode */
    CHECK(csr_read(satp), good);
    csr_write(satp, 0);
    CHECK(csr_read(satp), 0);
    test_done(check_no, "paging");
}
