//! The SiFive test finisher: one write-only register that ends or resets the machine.
//!
//! A 32-bit write at offset 0 whose low 16 bits are
//! - `0x5555` powers off (pass),
//! - `0x3333` fails with the exit code in the high 16 bits,
//! - `0x7777` resets the machine.
//!
//! Anything else is a guest error. Reads return 0. Linux reaches it through the
//! `syscon-poweroff` and `syscon-reboot` nodes, which QEMU places at the root of the tree
//! and which [`fdt_syscon_nodes`] writes.

use super::fdt_reg;
use crate::bus::{BoardEvent, DevCtx, Device, FdtCtx};
use std::any::Any;

/// Name used in logs; the machine's DT builder looks for it to add the syscon nodes.
pub const NAME: &str = "sifive_test";
/// Size of the register window.
pub const SIZE: u64 = 0x1000;
/// Phandle of the test node, the `regmap` of the poweroff and reboot nodes.
pub const TEST_PHANDLE: u32 = 2;

/// Low 16 bits of a write that fails the machine (code in the high 16 bits).
pub const FINISHER_FAIL: u64 = 0x3333;
/// Low 16 bits of a write that powers the machine off.
pub const FINISHER_PASS: u64 = 0x5555;
/// Low 16 bits of a write that resets the machine.
pub const FINISHER_RESET: u64 = 0x7777;

/// The finisher. It has no state.
#[derive(Default)]
pub struct SifiveTest;

impl SifiveTest {
    pub fn new() -> SifiveTest {
        SifiveTest
    }
}

impl Device for SifiveTest {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> u64 {
        SIZE
    }

    fn read(&mut self, _offset: u64, _size: u8, _ctx: &mut DevCtx) -> u64 {
        0
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, ctx: &mut DevCtx) {
        let event = if offset == 0 && size >= 2 {
            match value & 0xffff {
                FINISHER_PASS => Some(BoardEvent::PowerOff),
                FINISHER_FAIL => Some(BoardEvent::Fail(((value >> 16) & 0xffff) as u32)),
                FINISHER_RESET => Some(BoardEvent::Reset),
                _ => None,
            }
        } else {
            None
        };
        match event {
            Some(e) => ctx.events.push(e),
            None => ctx.guest_error(
                NAME,
                format_args!("write {value:#x} at {offset:#x} size {size}"),
            ),
        }
    }

    fn fdt(
        &self,
        base: u64,
        _irq: Option<u32>,
        fdt: &mut vm_fdt::FdtWriter,
        _ctx: &FdtCtx,
    ) -> vm_fdt::FdtWriterResult<()> {
        let node = fdt.begin_node(&format!("test@{base:x}"))?;
        fdt.property_phandle(TEST_PHANDLE)?;
        fdt_reg(fdt, base, SIZE)?;
        fdt.property_string_list(
            "compatible",
            vec![
                "sifive,test1".into(),
                "sifive,test0".into(),
                "syscon".into(),
            ],
        )?;
        fdt.end_node(node)
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Writes the `poweroff` and `reboot` nodes that drive the finisher through a syscon
/// regmap. Call with the root node open, as QEMU places them there.
pub fn fdt_syscon_nodes(fdt: &mut vm_fdt::FdtWriter) -> vm_fdt::FdtWriterResult<()> {
    for (name, compatible, value) in [
        ("poweroff", "syscon-poweroff", FINISHER_PASS),
        ("reboot", "syscon-reboot", FINISHER_RESET),
    ] {
        let node = fdt.begin_node(name)?;
        fdt.property_u32("value", value as u32)?;
        fdt.property_u32("offset", 0)?;
        fdt.property_u32("regmap", TEST_PHANDLE)?;
        fdt.property_string("compatible", compatible)?;
        fdt.end_node(node)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::testutil::{bus_with, fuzz, rd, wr};

    const B: u64 = 0x10_0000;

    #[test]
    fn finisher_codes() {
        let mut bus = bus_with(1, B, None, Box::new(SifiveTest::new()));
        wr(&mut bus, B, 4, 0x5555);
        wr(&mut bus, B, 4, 0x0042_3333);
        wr(&mut bus, B, 4, 0x7777);
        wr(&mut bus, B, 4, 0xffff_3333);
        assert_eq!(
            bus.events,
            vec![
                BoardEvent::PowerOff,
                BoardEvent::Fail(0x42),
                BoardEvent::Reset,
                BoardEvent::Fail(0xffff),
            ]
        );
        bus.events.clear();
        // Unknown values, other offsets and byte writes do nothing.
        wr(&mut bus, B, 4, 0x1234);
        wr(&mut bus, B + 4, 4, 0x5555);
        wr(&mut bus, B, 1, 0x55);
        assert!(bus.events.is_empty());
        assert_eq!(rd(&mut bus, B, 4), 0);
    }

    #[test]
    fn fuzz_never_panics() {
        let mut bus = bus_with(1, B, None, Box::new(SifiveTest::new()));
        fuzz(&mut bus, &[0], 10_000, 4);
    }
}
