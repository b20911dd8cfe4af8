//! The SiFive PLIC, laid out as on QEMU's `virt` board.
//!
//! ```text
//! 0x000000 + 4*src              priority of source src (1..95; 3 bits, WARL)
//! 0x001000 + 4*word             pending bits (read-only)
//! 0x002000 + 0x80*ctx + 4*word  enable bits of context ctx
//! 0x200000 + 0x1000*ctx         priority threshold of context ctx
//! 0x200004 + 0x1000*ctx         claim (read) / complete (write)
//! ```
//!
//! Context `2*h` is hart `h` in M-mode, `2*h + 1` in S-mode. All registers are 32-bit.
//! The state is the board's [`PlicState`](crate::irq::PlicState); this device only decodes
//! registers, and announces every change that can move an output with
//! [`BoardEvent::IrqChanged`].

use super::fdt_reg;
use crate::bus::{BoardEvent, DevCtx, Device, FdtCtx};
use crate::irq::{PLIC_MAX_PRIORITY, PLIC_SOURCES};
use std::any::Any;

/// Name used in logs and the device tree.
pub const NAME: &str = "plic";
/// Size of the register window (QEMU's, sized for its maximum hart count).
pub const SIZE: u64 = 0x60_0000;

const PRIORITY: u64 = 0x0;
const PENDING: u64 = 0x1000;
const ENABLE: u64 = 0x2000;
const ENABLE_STRIDE: u64 = 0x80;
const CONTEXT: u64 = 0x20_0000;
const CONTEXT_STRIDE: u64 = 0x1000;

/// Machine external interrupt cause number (the `mip.MEIP` bit).
const IRQ_M_EXT: u32 = 11;
/// Supervisor external interrupt cause number (the `mip.SEIP` bit).
const IRQ_S_EXT: u32 = 9;

/// The PLIC register front-end. It holds no state of its own.
#[derive(Default)]
pub struct Plic;

impl Plic {
    pub fn new() -> Plic {
        Plic
    }
}

/// What a 32-bit aligned offset names, once checked against the board's contexts.
enum Reg {
    Priority(usize),
    Pending(usize),
    /// Context, word.
    Enable(usize, usize),
    Threshold(usize),
    Claim(usize),
}

fn decode(offset: u64, words: usize, contexts: usize) -> Option<Reg> {
    let reg = match offset {
        PRIORITY..PENDING => Reg::Priority(((offset - PRIORITY) / 4) as usize),
        PENDING..ENABLE => Reg::Pending(((offset - PENDING) / 4) as usize),
        ENABLE..CONTEXT => {
            let rel = offset - ENABLE;
            Reg::Enable(
                (rel / ENABLE_STRIDE) as usize,
                ((rel % ENABLE_STRIDE) / 4) as usize,
            )
        }
        CONTEXT..SIZE => {
            let rel = offset - CONTEXT;
            let c = (rel / CONTEXT_STRIDE) as usize;
            match rel % CONTEXT_STRIDE {
                0 => Reg::Threshold(c),
                4 => Reg::Claim(c),
                _ => return None,
            }
        }
        _ => return None,
    };
    let valid = match reg {
        Reg::Priority(src) => src < PLIC_SOURCES,
        Reg::Pending(w) => w < words,
        Reg::Enable(c, w) => c < contexts && w < words,
        Reg::Threshold(c) | Reg::Claim(c) => c < contexts,
    };
    valid.then_some(reg)
}

impl Device for Plic {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> u64 {
        SIZE
    }

    fn read(&mut self, offset: u64, size: u8, ctx: &mut DevCtx) -> u64 {
        let plic = &mut ctx.irq.plic;
        let reg = if size == 4 && offset.is_multiple_of(4) {
            decode(offset, plic.pending.len(), plic.contexts())
        } else {
            None
        };
        let val = match reg {
            Some(Reg::Priority(src)) => plic.priority[src],
            Some(Reg::Pending(w)) => plic.pending[w],
            Some(Reg::Enable(c, w)) => plic.enable[c][w],
            Some(Reg::Threshold(c)) => plic.threshold[c],
            Some(Reg::Claim(c)) => {
                let src = plic.claim(c);
                if src != 0 {
                    ctx.events.push(BoardEvent::IrqChanged);
                }
                src
            }
            None => {
                ctx.guest_error(
                    NAME,
                    format_args!("invalid read at {offset:#x} size {size}"),
                );
                0
            }
        };
        u64::from(val)
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, ctx: &mut DevCtx) {
        let plic = &mut ctx.irq.plic;
        let reg = if size == 4 && offset.is_multiple_of(4) {
            decode(offset, plic.pending.len(), plic.contexts())
        } else {
            None
        };
        let value = value as u32;
        match reg {
            // Source 0 does not exist: its priority is hard-wired to 0.
            Some(Reg::Priority(0)) => {}
            Some(Reg::Priority(src)) => plic.priority[src] = value & PLIC_MAX_PRIORITY,
            Some(Reg::Enable(c, w)) => {
                // Enable bit 0 (source 0) is hard-wired to 0.
                plic.enable[c][w] = if w == 0 { value & !1 } else { value };
            }
            // As QEMU: a threshold above the highest priority is ignored.
            Some(Reg::Threshold(c)) if value <= PLIC_MAX_PRIORITY => plic.threshold[c] = value,
            Some(Reg::Claim(c)) => {
                let level = ctx.irq.level(value);
                if !ctx.irq.plic.complete(c, value, level) {
                    ctx.guest_error(
                        NAME,
                        format_args!("context {c}: completion of source {value} not enabled"),
                    );
                }
            }
            _ => {
                ctx.guest_error(
                    NAME,
                    format_args!("invalid write at {offset:#x} size {size} value {value:#x}"),
                );
                return;
            }
        }
        ctx.events.push(BoardEvent::IrqChanged);
    }

    fn fdt(
        &self,
        base: u64,
        _irq: Option<u32>,
        fdt: &mut vm_fdt::FdtWriter,
        ctx: &FdtCtx,
    ) -> vm_fdt::FdtWriterResult<()> {
        // Property order as in QEMU's tree, to make the two easy to compare.
        let node = fdt.begin_node(&format!("plic@{base:x}"))?;
        fdt.property_phandle(ctx.plic_phandle)?;
        // Sources 1..=95 (QEMU 7.2 says 96, one more than it has; later QEMU says 95).
        fdt.property_u32("riscv,ndev", PLIC_SOURCES as u32 - 1)?;
        fdt_reg(fdt, base, SIZE)?;
        fdt.property_array_u32(
            "interrupts-extended",
            &super::intc_cells(ctx, &[IRQ_M_EXT, IRQ_S_EXT]),
        )?;
        fdt.property_null("interrupt-controller")?;
        fdt.property_string_list(
            "compatible",
            vec!["sifive,plic-1.0.0".into(), "riscv,plic0".into()],
        )?;
        fdt.property_u32("#address-cells", 0)?;
        fdt.property_u32("#interrupt-cells", 1)?;
        fdt.end_node(node)
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Bus;
    use crate::devices::testutil::{bus_with, fuzz, rd, wr};

    const B: u64 = 0xc00_0000;

    fn plic_bus(harts: usize) -> Bus {
        bus_with(harts, B, None, Box::new(Plic::new()))
    }

    /// Hart 0 S-mode (context 1) takes source 10 at priority 1.
    fn route_10_to_s_mode(bus: &mut Bus) {
        wr(bus, B + 4 * 10, 4, 1);
        wr(bus, B + ENABLE + ENABLE_STRIDE, 4, 1 << 10);
        wr(bus, B + CONTEXT + CONTEXT_STRIDE, 4, 0);
    }

    #[test]
    fn priority_is_three_bits_and_source_0_is_zero() {
        let mut bus = plic_bus(1);
        wr(&mut bus, B + 4 * 5, 4, 0xffff_ffff);
        assert_eq!(rd(&mut bus, B + 4 * 5, 4), 7);
        wr(&mut bus, B, 4, 3);
        assert_eq!(rd(&mut bus, B, 4), 0);
        wr(&mut bus, B + 4 * 95, 4, 2);
        assert_eq!(bus.irq.plic.priority[95], 2);
        // Source 96 does not exist.
        wr(&mut bus, B + 4 * 96, 4, 2);
        assert_eq!(rd(&mut bus, B + 4 * 96, 4), 0);
    }

    #[test]
    fn enables_thresholds_per_context() {
        let mut bus = plic_bus(2);
        // Context 3 = hart 1 S-mode.
        wr(&mut bus, B + ENABLE + 3 * ENABLE_STRIDE + 4, 4, 0xdead_beef);
        assert_eq!(bus.irq.plic.enable[3][1], 0xdead_beef);
        assert_eq!(
            rd(&mut bus, B + ENABLE + 3 * ENABLE_STRIDE + 4, 4),
            0xdead_beef
        );
        wr(&mut bus, B + ENABLE + 3 * ENABLE_STRIDE, 4, 0xffff_ffff);
        assert_eq!(bus.irq.plic.enable[3][0], 0xffff_fffe);
        wr(&mut bus, B + CONTEXT + 3 * CONTEXT_STRIDE, 4, 5);
        assert_eq!(rd(&mut bus, B + CONTEXT + 3 * CONTEXT_STRIDE, 4), 5);
        // Above the maximum priority: ignored.
        wr(&mut bus, B + CONTEXT + 3 * CONTEXT_STRIDE, 4, 8);
        assert_eq!(bus.irq.plic.threshold[3], 5);
        // Context 4 does not exist with 2 harts.
        wr(&mut bus, B + ENABLE + 4 * ENABLE_STRIDE, 4, 1 << 3);
        wr(&mut bus, B + CONTEXT + 4 * CONTEXT_STRIDE, 4, 1);
        assert_eq!(rd(&mut bus, B + CONTEXT + 4 * CONTEXT_STRIDE + 4, 4), 0);
        // Word 3 of an enable block is past the last source.
        wr(&mut bus, B + ENABLE + 12, 4, 1);
        assert_eq!(rd(&mut bus, B + ENABLE + 12, 4), 0);
    }

    #[test]
    fn claim_complete_cycle() {
        let mut bus = plic_bus(1);
        route_10_to_s_mode(&mut bus);
        bus.events.clear();
        bus.irq.set_line(10, true);
        assert_eq!(rd(&mut bus, B + PENDING, 4), 1 << 10);
        assert_eq!(bus.irq.external(0), (false, true));
        // M-mode context has nothing.
        assert_eq!(rd(&mut bus, B + CONTEXT + 4, 4), 0);
        assert!(bus.events.is_empty());
        assert_eq!(rd(&mut bus, B + CONTEXT + CONTEXT_STRIDE + 4, 4), 10);
        assert_eq!(bus.events, vec![BoardEvent::IrqChanged]);
        assert_eq!(bus.irq.external(0), (false, false));
        assert_eq!(rd(&mut bus, B + PENDING, 4), 0);
        // Line still high at completion: pending again.
        wr(&mut bus, B + CONTEXT + CONTEXT_STRIDE + 4, 4, 10);
        assert_eq!(bus.irq.external(0), (false, true));
        assert_eq!(rd(&mut bus, B + CONTEXT + CONTEXT_STRIDE + 4, 4), 10);
        bus.irq.set_line(10, false);
        wr(&mut bus, B + CONTEXT + CONTEXT_STRIDE + 4, 4, 10);
        assert_eq!(bus.irq.external(0), (false, false));
        assert_eq!(rd(&mut bus, B + CONTEXT + CONTEXT_STRIDE + 4, 4), 0);
    }

    #[test]
    fn threshold_masks_claim() {
        let mut bus = plic_bus(1);
        route_10_to_s_mode(&mut bus);
        wr(&mut bus, B + CONTEXT + CONTEXT_STRIDE, 4, 1);
        bus.irq.set_line(10, true);
        assert_eq!(rd(&mut bus, B + CONTEXT + CONTEXT_STRIDE + 4, 4), 0);
        wr(&mut bus, B + CONTEXT + CONTEXT_STRIDE, 4, 0);
        assert_eq!(rd(&mut bus, B + CONTEXT + CONTEXT_STRIDE + 4, 4), 10);
    }

    #[test]
    fn pending_is_read_only_and_only_words_are_accepted() {
        let mut bus = plic_bus(1);
        wr(&mut bus, B + PENDING, 4, u64::MAX);
        assert_eq!(rd(&mut bus, B + PENDING, 4), 0);
        wr(&mut bus, B + 4 * 3, 1, 7);
        wr(&mut bus, B + 4 * 3, 8, 7);
        assert_eq!(bus.irq.plic.priority[3], 0);
        assert_eq!(rd(&mut bus, B + 4 * 3, 2), 0);
        assert!(bus.events.is_empty());
    }

    #[test]
    fn fuzz_never_panics() {
        let mut bus = plic_bus(2);
        bus.irq.set_line(10, true);
        bus.irq.set_line(1, true);
        let hot = [
            0,
            0x28,
            0x17c,
            PENDING,
            ENABLE,
            ENABLE + 0x80,
            ENABLE + 0x180,
            CONTEXT,
        ];
        let hot: Vec<u64> = hot
            .iter()
            .copied()
            .chain((0..5).flat_map(|c| [CONTEXT + c * CONTEXT_STRIDE, CONTEXT + c * 0x1000 + 4]))
            .collect();
        fuzz(&mut bus, &hot, 50_000, 2);
    }
}
