//! The CLINT, laid out as QEMU's ACLINT (an MSWI and an MTIMER) on `virt`.
//!
//! ```text
//! 0x0000 + 4*h   msip[h]      32-bit, bit 0: machine software interrupt of hart h
//! 0x4000 + 8*h   mtimecmp[h]  64-bit (or two 32-bit halves)
//! 0xbff8         mtime        64-bit (or two 32-bit halves)
//! ```
//!
//! The state lives in the board's [`IrqState`](crate::irq::IrqState) (`msip`,
//! `mtimecmp`) and in the machine's clock (`mtime` is `ctx.now`), so this device is only a
//! register front-end: a change is announced with [`BoardEvent::IrqChanged`] and the
//! machine recomputes MSIP and MTIP. Writing `mtime` asks the machine to move its clock
//! ([`BoardEvent::SetTime`]). The machine, not this device, schedules the timer interrupt
//! at the earliest `mtimecmp`, since it owns both the clock and the compare values.

use super::fdt_reg;
use crate::bus::{BoardEvent, DevCtx, Device, FdtCtx};
use std::any::Any;

/// Name used in logs and the device tree.
pub const NAME: &str = "clint";
/// Size of the register window.
pub const SIZE: u64 = 0x1_0000;

const MSIP: u64 = 0x0;
const MTIMECMP: u64 = 0x4000;
const MTIME: u64 = 0xbff8;

/// Machine software interrupt cause number (the `mip.MSIP` bit).
const IRQ_M_SOFT: u32 = 3;
/// Machine timer interrupt cause number (the `mip.MTIP` bit).
const IRQ_M_TIMER: u32 = 7;

/// The CLINT register front-end. It holds no state of its own.
#[derive(Default)]
pub struct Clint;

impl Clint {
    pub fn new() -> Clint {
        Clint
    }
}

/// Reads the part of a 64-bit register selected by an aligned 4- or 8-byte access at
/// byte `at` (0 or 4) of the register.
fn read_part(reg: u64, at: u64, size: u8) -> Option<u64> {
    match (at, size) {
        (0, 8) => Some(reg),
        (0, 4) => Some(reg & 0xffff_ffff),
        (4, 4) => Some(reg >> 32),
        _ => None,
    }
}

/// The new value of a 64-bit register after an aligned 4- or 8-byte write at byte `at`.
fn write_part(reg: u64, at: u64, size: u8, val: u64) -> Option<u64> {
    match (at, size) {
        (0, 8) => Some(val),
        (0, 4) => Some((reg & !0xffff_ffff) | (val & 0xffff_ffff)),
        (4, 4) => Some((reg & 0xffff_ffff) | (val << 32)),
        _ => None,
    }
}

/// What an offset names.
enum Reg {
    Msip(usize),
    /// Hart, and byte within the register.
    Mtimecmp(usize, u64),
    /// Byte within the register.
    Mtime(u64),
}

fn decode(offset: u64, harts: usize) -> Option<Reg> {
    let reg = match offset {
        MSIP..MTIMECMP => Reg::Msip(((offset - MSIP) / 4) as usize),
        MTIMECMP..MTIME => {
            let rel = offset - MTIMECMP;
            Reg::Mtimecmp((rel / 8) as usize, rel % 8)
        }
        MTIME..SIZE => Reg::Mtime(offset - MTIME),
        _ => return None,
    };
    match reg {
        Reg::Msip(h) | Reg::Mtimecmp(h, _) if h >= harts => None,
        r => Some(r),
    }
}

impl Device for Clint {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> u64 {
        SIZE
    }

    fn read(&mut self, offset: u64, size: u8, ctx: &mut DevCtx) -> u64 {
        let val = match decode(offset, ctx.irq.harts.len()) {
            Some(Reg::Msip(h)) if size == 4 && offset.is_multiple_of(4) => {
                Some(u64::from(ctx.irq.harts[h].msip))
            }
            Some(Reg::Mtimecmp(h, at)) => read_part(ctx.irq.harts[h].mtimecmp, at, size),
            Some(Reg::Mtime(at)) => read_part(ctx.now, at, size),
            _ => None,
        };
        val.unwrap_or_else(|| {
            ctx.guest_error(
                NAME,
                format_args!("invalid read at {offset:#x} size {size}"),
            );
            0
        })
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, ctx: &mut DevCtx) {
        match decode(offset, ctx.irq.harts.len()) {
            Some(Reg::Msip(h)) if size == 4 && offset.is_multiple_of(4) => {
                ctx.irq.harts[h].msip = value & 1 != 0;
                ctx.events.push(BoardEvent::IrqChanged);
            }
            Some(Reg::Mtimecmp(h, at)) => {
                let hart = &mut ctx.irq.harts[h];
                match write_part(hart.mtimecmp, at, size, value) {
                    Some(v) => {
                        hart.mtimecmp = v;
                        ctx.events.push(BoardEvent::IrqChanged);
                    }
                    None => ctx.guest_error(
                        NAME,
                        format_args!("invalid mtimecmp write at {offset:#x} size {size}"),
                    ),
                }
            }
            Some(Reg::Mtime(at)) => match write_part(ctx.now, at, size, value) {
                Some(v) => {
                    ctx.events.push(BoardEvent::SetTime(v));
                    ctx.events.push(BoardEvent::IrqChanged);
                }
                None => ctx.guest_error(
                    NAME,
                    format_args!("invalid mtime write at {offset:#x} size {size}"),
                ),
            },
            _ => ctx.guest_error(
                NAME,
                format_args!("invalid write at {offset:#x} size {size} value {value:#x}"),
            ),
        }
    }

    fn fdt(
        &self,
        base: u64,
        _irq: Option<u32>,
        fdt: &mut vm_fdt::FdtWriter,
        ctx: &FdtCtx,
    ) -> vm_fdt::FdtWriterResult<()> {
        // Property order as in QEMU's tree, to make the two easy to compare.
        let node = fdt.begin_node(&format!("clint@{base:x}"))?;
        fdt.property_array_u32(
            "interrupts-extended",
            &super::intc_cells(ctx, &[IRQ_M_SOFT, IRQ_M_TIMER]),
        )?;
        fdt_reg(fdt, base, SIZE)?;
        fdt.property_string_list(
            "compatible",
            vec!["sifive,clint0".into(), "riscv,clint0".into()],
        )?;
        fdt.end_node(node)
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::testutil::{bus_with, fuzz, rd, wr};

    const B: u64 = 0x200_0000;

    #[test]
    fn msip_per_hart() {
        let mut bus = bus_with(2, B, None, Box::new(Clint::new()));
        wr(&mut bus, B + 4, 4, 0xffff_ffff);
        assert!(bus.irq.harts[1].msip);
        assert!(!bus.irq.harts[0].msip);
        assert_eq!(rd(&mut bus, B + 4, 4), 1);
        assert_eq!(bus.events, vec![BoardEvent::IrqChanged]);
        wr(&mut bus, B + 4, 4, 2);
        assert!(!bus.irq.harts[1].msip);
        // Hart 2 does not exist: ignored, reads 0.
        wr(&mut bus, B + 8, 4, 1);
        assert_eq!(rd(&mut bus, B + 8, 4), 0);
        // msip is a 32-bit register only.
        wr(&mut bus, B, 1, 1);
        assert!(!bus.irq.harts[0].msip);
    }

    #[test]
    fn mtimecmp_full_and_halves() {
        let mut bus = bus_with(2, B, None, Box::new(Clint::new()));
        assert_eq!(rd(&mut bus, B + 0x4008, 8), u64::MAX);
        wr(&mut bus, B + 0x4008, 8, 0x1122_3344_5566_7788);
        assert_eq!(bus.irq.harts[1].mtimecmp, 0x1122_3344_5566_7788);
        assert_eq!(bus.irq.harts[0].mtimecmp, u64::MAX);
        wr(&mut bus, B + 0x400c, 4, 0xaabb_ccdd);
        assert_eq!(bus.irq.harts[1].mtimecmp, 0xaabb_ccdd_5566_7788);
        wr(&mut bus, B + 0x4008, 4, 0x1);
        assert_eq!(rd(&mut bus, B + 0x4008, 8), 0xaabb_ccdd_0000_0001);
        assert_eq!(rd(&mut bus, B + 0x4008, 4), 1);
        assert_eq!(rd(&mut bus, B + 0x400c, 4), 0xaabb_ccdd);
        assert!(bus.events.iter().all(|e| *e == BoardEvent::IrqChanged));
        assert_eq!(bus.events.len(), 3);
        // Misaligned: ignored.
        wr(&mut bus, B + 0x400a, 4, 0);
        assert_eq!(bus.irq.harts[1].mtimecmp, 0xaabb_ccdd_0000_0001);
    }

    #[test]
    fn mtime_reads_clock_and_writes_request_set_time() {
        let mut bus = bus_with(1, B, None, Box::new(Clint::new()));
        bus.now = 0x0000_0005_0000_0010;
        assert_eq!(rd(&mut bus, B + 0xbff8, 8), 0x5_0000_0010);
        assert_eq!(rd(&mut bus, B + 0xbff8, 4), 0x10);
        assert_eq!(rd(&mut bus, B + 0xbffc, 4), 0x5);
        wr(&mut bus, B + 0xbff8, 4, 0x20);
        assert_eq!(bus.events[0], BoardEvent::SetTime(0x5_0000_0020));
        bus.events.clear();
        wr(&mut bus, B + 0xbff8, 8, 7);
        assert_eq!(bus.events[0], BoardEvent::SetTime(7));
    }

    #[test]
    fn fdt_lists_msi_and_mti_per_hart() -> Result<(), vm_fdt::Error> {
        let ctx = FdtCtx {
            plic_phandle: 1,
            cpu_intc_phandles: vec![4, 6],
            harts: 2,
            timebase: 10_000_000,
        };
        let mut fdt = vm_fdt::FdtWriter::new()?;
        let root = fdt.begin_node("")?;
        Clint::new().fdt(B, None, &mut fdt, &ctx)?;
        fdt.end_node(root)?;
        let dtb = fdt.finish()?;
        let cells: Vec<u8> = [4u32, 3, 4, 7, 6, 3, 6, 7]
            .iter()
            .flat_map(|c| c.to_be_bytes())
            .collect();
        assert!(dtb.windows(cells.len()).any(|w| w == cells));
        Ok(())
    }

    #[test]
    fn fuzz_never_panics() {
        let mut bus = bus_with(3, B, None, Box::new(Clint::new()));
        fuzz(&mut bus, &[0, 8, 0x4000, 0x4010, 0xbff0, 0xbff8], 20_000, 1);
    }
}
