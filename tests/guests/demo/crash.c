/* crash.c - the demo guest's crash mode (`-append panic`): it registers a
 * vmcoreinfo note through fw_cfg DMA, as Linux's qemu_fw_cfg driver does, and
 * then reports a panic through pvpanic-mmio.  Both devices are found in the
 * device tree, so under a board without them (QEMU's riscv virt has no
 * pvpanic, and on QEMU 7.2 no etc/vmcoreinfo) the demo says what is missing
 * and fails instead of faulting. */
#include "runtime.h"
#include "demo.h"

typedef unsigned short u16;
typedef unsigned char u8;

/* Flattened device tree tokens. */
#define FDT_MAGIC      0xd00dfeedU
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE   2
#define FDT_PROP       3
#define FDT_NOP        4

/* fw_cfg registers, keys and DMA control bits (QEMU's docs/specs/fw_cfg.rst). */
#define FW_CFG_DATA      0x00
#define FW_CFG_SELECTOR  0x08
#define FW_CFG_DMA_HI    0x10
#define FW_CFG_DMA_LO    0x14
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID        0x01
#define FW_CFG_FILE_DIR  0x19
#define FW_CFG_ID_DMA    0x02
#define DMA_ERROR  0x01
#define DMA_READ   0x02
#define DMA_SELECT 0x08
#define DMA_WRITE  0x10

#define PVPANIC_PANICKED 0x01

static u32 be32(const u8 *p)
{
    return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

static u64 be64(const u8 *p)
{
    return (u64)be32(p) << 32 | be32(p + 4);
}

static u64 str_len(const char *s)
{
    u64 n = 0;
    while (s[n])
        n++;
    return n;
}

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* Does the NUL-separated string list val[0..len) contain s? */
static int list_has(const char *val, u32 len, const char *s)
{
    for (u32 i = 0; i < len; i += str_len(val + i) + 1)
        if (str_eq(val + i, s))
            return 1;
    return 0;
}

/* Is w one of the space-separated words of s? */
static int has_word(const char *s, const char *w)
{
    u64 n = str_len(w);
    while (*s) {
        while (*s == ' ')
            s++;
        u64 i = 0;
        while (i < n && s[i] == w[i])
            i++;
        if (i == n && (s[i] == ' ' || s[i] == 0))
            return 1;
        while (*s && *s != ' ')
            s++;
    }
    return 0;
}

struct dt_info {
    const char *bootargs;
    u64 fw_cfg, pvpanic;
};

/* Walks the DTB once: /chosen/bootargs and the bases (first reg cell pair,
 * #address-cells = 2) of the fw_cfg and pvpanic nodes. */
static void dt_scan(u64 dtb, struct dt_info *dt)
{
    const u8 *h = (const u8 *)dtb;
    dt->bootargs = "";
    dt->fw_cfg = dt->pvpanic = 0;
    if (dtb == 0 || be32(h) != FDT_MAGIC)
        return;
    const u8 *p = h + be32(h + 8), *end = h + be32(h + 4);
    const char *strings = (const char *)h + be32(h + 12);
    enum { OTHER, CHOSEN, FW_CFG, PVPANIC };
    int kind[16], depth = 0;
    u64 reg[16];
    while (p + 4 <= end) {
        u32 tok = be32(p);
        p += 4;
        if (tok == FDT_BEGIN_NODE) {
            const char *name = (const char *)p;
            p += (str_len(name) + 4) & ~3UL;
            if (++depth >= 16)
                return;
            kind[depth] = str_eq(name, "chosen") ? CHOSEN : OTHER;
            reg[depth] = 0;
        } else if (tok == FDT_END_NODE) {
            if (depth <= 0)
                return;
            if (kind[depth] == FW_CFG)
                dt->fw_cfg = reg[depth];
            if (kind[depth] == PVPANIC)
                dt->pvpanic = reg[depth];
            depth--;
        } else if (tok == FDT_PROP) {
            u32 len = be32(p);
            const char *name = strings + be32(p + 4);
            const char *val = (const char *)p + 8;
            p += 8 + ((len + 3) & ~3U);
            if (str_eq(name, "reg") && len >= 8)
                reg[depth] = be64((const u8 *)val);
            else if (str_eq(name, "compatible") && list_has(val, len, "qemu,fw-cfg-mmio"))
                kind[depth] = FW_CFG;
            else if (str_eq(name, "compatible") && list_has(val, len, "qemu,pvpanic-mmio"))
                kind[depth] = PVPANIC;
            else if (str_eq(name, "bootargs") && kind[depth] == CHOSEN)
                dt->bootargs = val;
        } else if (tok != FDT_NOP) {
            return;
        }
    }
}

int demo_crash_mode(u64 dtb)
{
    struct dt_info dt;
    dt_scan(dtb, &dt);
    return has_word(dt.bootargs, "panic");
}

/* The note Linux would publish: name "VMCOREINFO", type 0, KEY=VALUE text.
 * Read-only (the host only reads it), which also keeps it out of .data. */
#define VMCI_TEXT "OSRELEASE=haltpoint-demo\nPAGESIZE=4096\n" \
                  "NUMBER(phys_ram_base)=2147483648\nDEMO(crash)=pvpanic\n"
static const struct {
    u32 namesz, descsz, type;
    char name[12];
    char desc[(sizeof(VMCI_TEXT) - 1 + 3) & ~3UL];
} vmci_note __attribute__((aligned(8))) = {
    11, sizeof(VMCI_TEXT) - 1, 0, "VMCOREINFO", VMCI_TEXT,
};

/* One fw_cfg DMA transfer, big-endian descriptor; returns the control word the
 * device wrote back (0 on success). */
static struct { u32 control, length; u64 address; } dma_desc __attribute__((aligned(16)));

static u32 fw_cfg_dma(u64 base, u32 control, void *buf, u32 len)
{
    dma_desc.control = __builtin_bswap32(control);
    dma_desc.length = __builtin_bswap32(len);
    dma_desc.address = __builtin_bswap64((u64)buf);
    u64 at = (u64)&dma_desc;
    __asm__ volatile("fence rw, rw" ::: "memory");
    mmio_write32(base + FW_CFG_DMA_HI, __builtin_bswap32((u32)(at >> 32)));
    mmio_write32(base + FW_CFG_DMA_LO, __builtin_bswap32((u32)at));
    __asm__ volatile("fence rw, rw" ::: "memory");
    return __builtin_bswap32(*(volatile u32 *)&dma_desc.control);
}

/* Registers vmci_note in etc/vmcoreinfo; returns 0 or a failure code. */
/* Not inlined: tests stop after it with gdb (`break register_vmcoreinfo`, `finish`). */
__attribute__((noinline)) static u64 register_vmcoreinfo(u64 base)
{
    /* The traditional interface: select the signature, read it a byte at a time. */
    *(volatile u16 *)(base + FW_CFG_SELECTOR) = __builtin_bswap16(FW_CFG_SIGNATURE);
    char sig[4];
    for (int i = 0; i < 4; i++)
        sig[i] = *(volatile u8 *)(base + FW_CFG_DATA);
    if (sig[0] != 'Q' || sig[1] != 'E' || sig[2] != 'M' || sig[3] != 'U')
        return 10;
    u32 id = 0;
    if (fw_cfg_dma(base, FW_CFG_ID << 16 | DMA_SELECT | DMA_READ, &id, 4) != 0 ||
        !(id & FW_CFG_ID_DMA))
        return 11;
    /* The directory: be32 count, then {be32 size, be16 select, u16, name[56]}. */
    u8 count_be[4];
    if (fw_cfg_dma(base, FW_CFG_FILE_DIR << 16 | DMA_SELECT | DMA_READ, count_be, 4))
        return 12;
    u32 count = be32(count_be), select = 0, size = 0;
    static u8 entry[64];
    for (u32 i = 0; i < count && !select; i++) {
        if (fw_cfg_dma(base, DMA_READ, entry, 64))
            return 13;
        if (str_eq((const char *)entry + 8, "etc/vmcoreinfo")) {
            size = be32(entry);
            select = (u32)entry[4] << 8 | entry[5];
        }
    }
    if (!select) {
        uart_puts("no etc/vmcoreinfo in the fw_cfg directory; ");
        return 14;
    }
    if (size != 16)
        return 15;
    /* As Linux: host_format 0, guest_format ELF, size and address of the note. */
    static struct { u16 host_format, guest_format; u32 size; u64 paddr; } reg;
    reg.host_format = 0;
    reg.guest_format = 1;
    reg.size = sizeof(vmci_note);
    reg.paddr = (u64)&vmci_note;
    if (fw_cfg_dma(base, select << 16 | DMA_SELECT | DMA_WRITE, &reg, sizeof(reg)))
        return 16;
    return 0;
}

int demo_crash(u64 dtb)
{
    struct dt_info dt;
    dt_scan(dtb, &dt);
    uart_puts("haltpoint demo: vmcoreinfo note (fw_cfg DMA write of etc/vmcoreinfo) ... ");
    if (!dt.fw_cfg) {
        uart_puts("no fw_cfg device in the device tree\n");
        return 20;
    }
    u64 r = register_vmcoreinfo(dt.fw_cfg);
    if (r) {
        uart_puts("FAILED (");
        uart_putdec(r);
        uart_puts(")\n");
        return (int)r;
    }
    uart_puts("ok\n");
    uart_puts("haltpoint demo: panic (pvpanic-mmio PANICKED) ... ");
    if (!dt.pvpanic) {
        uart_puts("no pvpanic device in the device tree\n");
        return 21;
    }
    u8 events = *(volatile u8 *)dt.pvpanic;
    if (!(events & PVPANIC_PANICKED)) {
        uart_puts("the device does not report panics\n");
        return 22;
    }
    uart_puts("reported\n");
    *(volatile u8 *)dt.pvpanic = PVPANIC_PANICKED;
    /* Only reached when the panic action lets the guest run on. */
    uart_puts("haltpoint demo: still running after the panic report\n");
    return 0;
}
