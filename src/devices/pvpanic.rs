//! pvpanic-mmio: the guest reports a panic (or a loaded crash kernel, or a shutdown).
//!
//! QEMU's pvpanic protocol on a 2-byte MMIO window, as Linux's pvpanic-mmio driver
//! (DT `compatible = "qemu,pvpanic-mmio"`) drives it. Every byte of the window is the
//! one register, as in QEMU, whose pvpanic registers are 1 byte wide:
//!
//! - a read returns the events the device supports: PANICKED (1) | CRASH_LOADED (2) |
//!   SHUTDOWN (4);
//! - a write reports events. The first of PANICKED, CRASH_LOADED, SHUTDOWN that is set
//!   wins, and becomes a [`BoardEvent`] (GuestPanicked, GuestCrashLoaded,
//!   GuestPvShutdown) for the machine to act on; unknown bits are logged once.
//!
//! QEMU's riscv virt board has no pvpanic device; haltpoint places one at
//! [`crate::machine::layout::PVPANIC_BASE`].

use super::fdt_reg;
use crate::bus::{BoardEvent, DevCtx, Device, FdtCtx};
use std::any::Any;

/// Name used in logs.
pub const NAME: &str = "pvpanic";
/// Size of the register window (QEMU's pvpanic-mmio).
pub const SIZE: u64 = 2;
/// The guest panicked.
pub const PANICKED: u8 = 1 << 0;
/// The guest loaded a crash kernel and is about to run it (kdump).
pub const CRASH_LOADED: u8 = 1 << 1;
/// The guest is shutting down.
pub const SHUTDOWN: u8 = 1 << 2;
/// Every event the device supports (what a read returns).
pub const EVENTS: u8 = PANICKED | CRASH_LOADED | SHUTDOWN;

/// The device.
#[derive(Default)]
pub struct PvPanic {
    /// Unknown bits were already logged (once per run, as QEMU).
    logged_unknown: bool,
}

impl PvPanic {
    pub fn new() -> PvPanic {
        PvPanic::default()
    }

    /// The board event for a write of `value`, if any: the first known bit wins.
    pub fn event_of(value: u8) -> Option<BoardEvent> {
        if value & PANICKED != 0 {
            Some(BoardEvent::GuestPanicked)
        } else if value & CRASH_LOADED != 0 {
            Some(BoardEvent::GuestCrashLoaded)
        } else if value & SHUTDOWN != 0 {
            Some(BoardEvent::GuestPvShutdown)
        } else {
            None
        }
    }

    fn handle(&mut self, value: u8, ctx: &mut DevCtx) {
        if value & !EVENTS != 0 && !self.logged_unknown {
            self.logged_unknown = true;
            ctx.guest_error(NAME, format_args!("unknown event {value:#x}"));
        }
        if let Some(e) = PvPanic::event_of(value) {
            ctx.events.push(e);
        }
    }
}

impl Device for PvPanic {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> u64 {
        SIZE
    }

    fn read(&mut self, offset: u64, size: u8, _ctx: &mut DevCtx) -> u64 {
        self.peek(offset, size)
    }

    fn write(&mut self, _offset: u64, size: u8, value: u64, ctx: &mut DevCtx) {
        // A wider access is one byte access per byte, in address order.
        for i in 0..size {
            self.handle((value >> (8 * i)) as u8, ctx);
        }
    }

    fn peek(&self, _offset: u64, size: u8) -> u64 {
        (0..size).fold(0, |v, i| v | u64::from(EVENTS) << (8 * i))
    }

    fn fdt(
        &self,
        base: u64,
        _irq: Option<u32>,
        fdt: &mut vm_fdt::FdtWriter,
        _ctx: &FdtCtx,
    ) -> vm_fdt::FdtWriterResult<()> {
        let node = fdt.begin_node(&format!("pvpanic@{base:x}"))?;
        fdt_reg(fdt, base, SIZE)?;
        fdt.property_string("compatible", "qemu,pvpanic-mmio")?;
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

    const B: u64 = 0x1010_2000;

    #[test]
    fn reads_give_the_supported_events() {
        let mut bus = bus_with(1, B, None, Box::new(PvPanic::new()));
        assert_eq!(rd(&mut bus, B, 1), 7);
        assert_eq!(rd(&mut bus, B + 1, 1), 7);
        assert_eq!(rd(&mut bus, B, 2), 0x0707);
        assert_eq!(bus.peek(B, 1), Some(7));
    }

    #[test]
    fn first_known_bit_wins() {
        let mut bus = bus_with(1, B, None, Box::new(PvPanic::new()));
        for (v, want) in [
            (PANICKED, Some(BoardEvent::GuestPanicked)),
            (
                PANICKED | CRASH_LOADED | SHUTDOWN,
                Some(BoardEvent::GuestPanicked),
            ),
            (CRASH_LOADED, Some(BoardEvent::GuestCrashLoaded)),
            (CRASH_LOADED | SHUTDOWN, Some(BoardEvent::GuestCrashLoaded)),
            (SHUTDOWN, Some(BoardEvent::GuestPvShutdown)),
            (SHUTDOWN | 0x80, Some(BoardEvent::GuestPvShutdown)),
            (0x80, None),
            (0, None),
        ] {
            bus.events.clear();
            wr(&mut bus, B, 1, u64::from(v));
            assert_eq!(bus.events, want.into_iter().collect::<Vec<_>>(), "{v:#x}");
        }
        // A 2-byte write is two byte writes: both events, low byte first.
        bus.events.clear();
        wr(&mut bus, B, 2, 0x0402);
        assert_eq!(
            bus.events,
            [BoardEvent::GuestCrashLoaded, BoardEvent::GuestPvShutdown]
        );
    }

    #[test]
    fn unknown_bits_are_logged_once() {
        let mut bus = bus_with(1, B, None, Box::new(PvPanic::new()));
        wr(&mut bus, B, 1, 0x10);
        wr(&mut bus, B, 1, 0x20);
        let dev = bus.device_mut::<PvPanic>(0).map(|d| d.logged_unknown);
        assert_eq!(dev, Some(true));
        assert!(bus.events.is_empty());
    }

    #[test]
    fn fuzz_never_panics() {
        let mut bus = bus_with(1, B, None, Box::new(PvPanic::new()));
        fuzz(&mut bus, &[0], 5_000, 7);
    }
}
