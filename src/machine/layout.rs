//! The `virt` board memory map, as on QEMU's riscv64 `virt` machine.
//!
//! ```text
//!  0x0000_1000 +----------------------+ mrom: reset vector, fw_dynamic_info
//!              |                      |
//!  0x0010_0000 +----------------------+ sifive_test (poweroff / reset / fail)
//!  0x0010_1000 +----------------------+ goldfish RTC
//!  0x0200_0000 +----------------------+ CLINT (ACLINT mswi + mtimer)
//!  0x0c00_0000 +----------------------+ PLIC
//!  0x1000_0000 +----------------------+ UART0 (NS16550A), irq 10
//!  0x1000_1000 +----------------------+ virtio-mmio slot 0 (irq 1) .. slot 7 (irq 8);
//!              |                      | disks fill slot 7 (0x1000_8000) first
//!  0x1010_0000 +----------------------+ fw_cfg (DMA; etc/vmcoreinfo)
//!  0x1010_1000 +----------------------+ sun6i watchdog, irq 12 (haltpoint's own)
//!  0x1010_2000 +----------------------+ pvpanic-mmio (haltpoint's own)
//!  0x8000_0000 +----------------------+ RAM (-m), firmware at the base
//!              |          ...         |
//! ```

pub const MROM_BASE: u64 = 0x1000;
pub const MROM_SIZE: u64 = 0xf000;
pub const TEST_BASE: u64 = 0x10_0000;
pub const TEST_SIZE: u64 = 0x1000;
pub const RTC_BASE: u64 = 0x10_1000;
pub const RTC_SIZE: u64 = 0x1000;
pub const RTC_IRQ: u32 = 11;
pub const CLINT_BASE: u64 = 0x200_0000;
pub const CLINT_SIZE: u64 = 0x1_0000;
pub const PLIC_BASE: u64 = 0xc00_0000;
/// PLIC window as QEMU sizes it for its maximum hart count.
pub const PLIC_SIZE: u64 = 0x60_0000;
pub const UART0_BASE: u64 = 0x1000_0000;
pub const UART0_SIZE: u64 = 0x100;
pub const UART0_IRQ: u32 = 10;
pub const VIRTIO_BASE: u64 = 0x1000_1000;
pub const VIRTIO_SIZE: u64 = 0x1000;
pub const VIRTIO_COUNT: u64 = 8;
/// PLIC source of virtio slot 0; slot n uses `VIRTIO_IRQ + n`.
pub const VIRTIO_IRQ: u32 = 1;
pub const FW_CFG_BASE: u64 = 0x1010_0000;
pub const FW_CFG_SIZE: u64 = 0x18;
/// The Allwinner sun6i watchdog. QEMU's virt has none; this page is free in its map.
pub const WDT_BASE: u64 = 0x1010_1000;
pub const WDT_SIZE: u64 = 0x20;
/// PLIC source of the watchdog's interrupt mode (unused by QEMU's virt).
pub const WDT_IRQ: u32 = 12;
/// pvpanic-mmio. QEMU's riscv virt has none; this page is free in its map.
pub const PVPANIC_BASE: u64 = 0x1010_2000;
pub const PVPANIC_SIZE: u64 = 0x2;
pub const RAM_BASE: u64 = 0x8000_0000;
/// Default RAM size (QEMU's default for virt is 128 MiB).
pub const DEFAULT_RAM_SIZE: u64 = 128 << 20;
/// Timebase frequency of mtime: 10 MHz, as on QEMU virt.
pub const TIMEBASE_HZ: u64 = 10_000_000;
/// Maximum number of harts.
pub const MAX_HARTS: usize = 64;
