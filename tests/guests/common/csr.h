/* Constants shared by the assembly and C guest programs (QEMU virt board). */
#ifndef HALTPOINT_GUEST_CSR_H
#define HALTPOINT_GUEST_CSR_H

#define UART0_BASE      0x10000000
#define SIFIVE_TEST     0x100000
#define CLINT_BASE      0x2000000
#define CLINT_MSIP      (CLINT_BASE + 0x0)
#define CLINT_MTIMECMP  (CLINT_BASE + 0x4000)
#define CLINT_MTIME     (CLINT_BASE + 0xbff8)
#define PLIC_BASE       0xc000000

#define MSTATUS_SIE     0x2
#define MSTATUS_MIE     0x8
#define MSTATUS_SPIE    0x20
#define MSTATUS_UBE     0x40
#define MSTATUS_MPIE    0x80
#define MSTATUS_SPP     0x100
#define MSTATUS_VS      0x600
#define MSTATUS_MPP     0x1800
#define MSTATUS_MPP_S   0x0800
#define MSTATUS_MPP_M   0x1800
#define MSTATUS_FS      0x6000
#define MSTATUS_FS_INIT 0x2000
#define MSTATUS_FS_DIRTY 0x6000
#define MSTATUS_XS      0x18000
#define MSTATUS_MPRV    0x20000
#define MSTATUS_SUM     0x40000
#define MSTATUS_MXR     0x80000
#define MSTATUS_TVM     0x100000
#define MSTATUS_TW      0x200000
#define MSTATUS_TSR     0x400000
#define MSTATUS_UXL     0x300000000
#define MSTATUS_SXL     0xc00000000
#define MSTATUS_SD      0x8000000000000000

#define MIP_SSIP        0x2
#define MIP_MSIP        0x8
#define MIP_STIP        0x20
#define MIP_MTIP        0x80
#define MIP_SEIP        0x200
#define MIP_MEIP        0x800

/* Sstc (numbers, for assemblers that do not know the names) */
#define CSR_STIMECMP    0x14d
#define CSR_MENVCFG     0x30a
#define MENVCFG_STCE    0x8000000000000000
#define MCOUNTEREN_TM   0x2

#define CAUSE_INTR              0x8000000000000000
#define CAUSE_MISALIGNED_FETCH  0
#define CAUSE_FETCH_ACCESS      1
#define CAUSE_ILLEGAL           2
#define CAUSE_BREAKPOINT        3
#define CAUSE_MISALIGNED_LOAD   4
#define CAUSE_LOAD_ACCESS       5
#define CAUSE_MISALIGNED_STORE  6
#define CAUSE_STORE_ACCESS      7
#define CAUSE_ECALL_U           8
#define CAUSE_ECALL_S           9
#define CAUSE_ECALL_M           11
#define CAUSE_FETCH_PAGE        12
#define CAUSE_LOAD_PAGE         13
#define CAUSE_STORE_PAGE        15

#define SATP_MODE_BARE  0
#define SATP_MODE_SV39  8
#define SATP_MODE_SV48  9
#define SATP_MODE_SV57  10

#define PTE_V 0x1
#define PTE_R 0x2
#define PTE_W 0x4
#define PTE_X 0x8
#define PTE_U 0x10
#define PTE_G 0x20
#define PTE_A 0x40
#define PTE_D 0x80

/* magic value in a7 for the "unexpected S-mode trap" ecall (see runtime.S) */
#define STRAP_PANIC_MAGIC 0x5452415050414e43

#endif
