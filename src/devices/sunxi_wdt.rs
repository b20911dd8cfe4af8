//! The Allwinner A31 (sun6i) watchdog, as Linux's `sunxi_wdt` driver drives it.
//!
//! Debian's riscv64 kernel ships `sunxi_wdt` as a module (it depends only on the
//! `watchdog` core module and takes no clock), so an unmodified kernel can use this
//! watchdog: `modprobe sunxi_wdt`, then open `/dev/watchdog`.
//!
//! ```text
//! 0x00 IRQ_EN   bit 0: raise the interrupt on expiry (in interrupt mode)
//! 0x04 IRQ_STA  bit 0: the interrupt is pending; write 1 to clear
//! 0x10 CTRL     write (0xa57 << 1) | 1 to restart the count (other keys are ignored)
//! 0x14 CFG      bits 1..0: 1 = reset the system on expiry, 2 = interrupt only
//! 0x18 MODE     bit 0: enable (a 0 -> 1 change starts the count);
//!               bits 7..4: interval 0.5, 1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16 s
//! ```
//!
//! Time is the machine's: the expiry is a device deadline in 10 MHz ticks, so under the
//! default virtual clock a guest that sleeps reaches it at once. On expiry in reset mode
//! the device raises [`BoardEvent::WatchdogExpired`]; the machine stops with
//! [`crate::machine::Outcome::Watchdog`] and the event loop applies the watchdog action.
//! The count is one-shot, as in QEMU's model of this device: after an expiry nothing
//! happens until the guest restarts it.

use super::{fdt_plic_irq, fdt_reg};
use crate::bus::{BoardEvent, DevCtx, Device, FdtCtx};
use std::any::Any;

/// Name used in logs.
pub const NAME: &str = "sunxi_wdt";
/// Size of the register window.
pub const SIZE: u64 = 0x20;
/// Machine ticks per half second (10 MHz timebase).
pub const HALF_SECOND_TICKS: u64 = 5_000_000;

const IRQ_EN: u64 = 0x00;
const IRQ_STA: u64 = 0x04;
const CTRL: u64 = 0x10;
const CFG: u64 = 0x14;
const MODE: u64 = 0x18;

/// CTRL: restart bit and key field.
const CTRL_RESTART: u32 = 1;
const CTRL_KEY: u32 = 0xa57;
/// MODE: enable bit and interval field.
const MODE_EN: u32 = 1;
const MODE_INTV_SHIFT: u32 = 4;
/// CFG: what expiry does.
const CFG_RESET: u32 = 1;
const CFG_IRQ: u32 = 2;

/// Intervals of the MODE field's values, in half seconds (values 12..15 are reserved).
const INTERVALS: [u64; 12] = [1, 2, 4, 6, 8, 10, 12, 16, 20, 24, 28, 32];

/// The watchdog interval for a MODE value, in half seconds; reserved values act as the
/// longest interval (16 s).
pub fn interval_half_seconds(mode: u32) -> u64 {
    let v = ((mode >> MODE_INTV_SHIFT) & 0xf) as usize;
    INTERVALS.get(v).copied().unwrap_or(32)
}

/// The watchdog.
pub struct SunxiWdt {
    irq: u32,
    irq_en: u32,
    irq_sta: u32,
    cfg: u32,
    mode: u32,
    /// Machine tick at which the count runs out, while it runs.
    deadline: Option<u64>,
}

impl SunxiWdt {
    /// A watchdog driving PLIC source `irq` in interrupt mode.
    pub fn new(irq: u32) -> SunxiWdt {
        SunxiWdt {
            irq,
            irq_en: 0,
            irq_sta: 0,
            cfg: 0,
            mode: 0,
            deadline: None,
        }
    }

    /// True while the count runs.
    pub fn running(&self) -> bool {
        self.deadline.is_some()
    }

    fn restart(&mut self, ctx: &mut DevCtx) {
        let v = (self.mode >> MODE_INTV_SHIFT) & 0xf;
        if v as usize >= INTERVALS.len() {
            ctx.guest_error(NAME, format_args!("reserved interval value {v:#x}: 16 s"));
        }
        let ticks = interval_half_seconds(self.mode) * HALF_SECOND_TICKS;
        self.deadline = Some(ctx.now.saturating_add(ticks));
    }

    fn update_irq(&self, ctx: &mut DevCtx) {
        ctx.set_irq(self.irq, self.irq_sta & self.irq_en & 1 != 0);
    }

    fn expire(&mut self, ctx: &mut DevCtx) {
        self.deadline = None;
        if self.mode & MODE_EN == 0 {
            return;
        }
        if self.cfg & CFG_RESET != 0 {
            ctx.events.push(BoardEvent::WatchdogExpired);
        } else if self.cfg & CFG_IRQ != 0 {
            self.irq_sta = 1;
            self.update_irq(ctx);
        }
    }
}

impl Device for SunxiWdt {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> u64 {
        SIZE
    }

    fn read(&mut self, offset: u64, size: u8, ctx: &mut DevCtx) -> u64 {
        if size != 4 || !matches!(offset, IRQ_EN | IRQ_STA | CTRL | CFG | MODE) {
            ctx.guest_error(NAME, format_args!("read at {offset:#x} size {size}"));
            return 0;
        }
        self.peek(offset, size)
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, ctx: &mut DevCtx) {
        if size != 4 {
            ctx.guest_error(
                NAME,
                format_args!("write {value:#x} at {offset:#x} size {size}"),
            );
            return;
        }
        let value = value as u32;
        match offset {
            IRQ_EN => {
                self.irq_en = value & 1;
                self.update_irq(ctx);
            }
            IRQ_STA => {
                self.irq_sta &= !(value & 1);
                self.update_irq(ctx);
            }
            CTRL => {
                if (value >> 1) & 0xfff != CTRL_KEY {
                    ctx.guest_error(NAME, format_args!("CTRL write {value:#x} without the key"));
                } else if value & CTRL_RESTART != 0 && self.mode & MODE_EN != 0 {
                    self.restart(ctx);
                }
            }
            CFG => self.cfg = value & 3,
            MODE => {
                let old = self.mode;
                self.mode = value;
                if value & MODE_EN == 0 {
                    self.deadline = None;
                } else if old & MODE_EN == 0 {
                    self.restart(ctx);
                }
            }
            _ => ctx.guest_error(NAME, format_args!("write {value:#x} at {offset:#x}")),
        }
    }

    fn peek(&self, offset: u64, size: u8) -> u64 {
        if size != 4 {
            return 0;
        }
        u64::from(match offset {
            IRQ_EN => self.irq_en,
            IRQ_STA => self.irq_sta,
            CFG => self.cfg,
            MODE => self.mode,
            _ => 0,
        })
    }

    fn fdt(
        &self,
        base: u64,
        _irq: Option<u32>,
        fdt: &mut vm_fdt::FdtWriter,
        ctx: &FdtCtx,
    ) -> vm_fdt::FdtWriterResult<()> {
        let node = fdt.begin_node(&format!("watchdog@{base:x}"))?;
        fdt_plic_irq(fdt, self.irq, ctx)?;
        fdt_reg(fdt, base, SIZE)?;
        fdt.property_string("compatible", "allwinner,sun6i-a31-wdt")?;
        fdt.end_node(node)
    }

    fn next_deadline(&self) -> Option<u64> {
        self.deadline
    }

    fn tick(&mut self, ctx: &mut DevCtx) {
        if self.deadline.is_some_and(|d| d <= ctx.now) {
            self.expire(ctx);
        }
    }

    fn reset(&mut self) {
        *self = SunxiWdt::new(self.irq);
    }

    /// Section fields: IRQ_EN, IRQ_STA, CFG, MODE (u32 each), then whether the count runs
    /// (bool) and its deadline in machine ticks (u64).
    fn save_state(&self) -> Option<Vec<u8>> {
        let mut e = crate::devstate::Enc::default();
        for v in [self.irq_en, self.irq_sta, self.cfg, self.mode] {
            e.u32(v);
        }
        e.bool(self.deadline.is_some());
        e.u64(self.deadline.unwrap_or(0));
        Some(e.0)
    }

    fn load_state(&mut self, data: &[u8], apply: bool) -> Result<(), String> {
        let mut d = crate::devstate::Dec::new(data, "section 'sunxi_wdt'");
        let v = SunxiWdt {
            irq: self.irq,
            irq_en: d.u32()?,
            irq_sta: d.u32()?,
            cfg: d.u32()?,
            mode: d.u32()?,
            deadline: {
                let running = d.bool()?;
                let t = d.u64()?;
                running.then_some(t)
            },
        };
        d.end()?;
        if apply {
            *self = v;
        }
        Ok(())
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

    const B: u64 = 0x1010_1000;
    const IRQ: u32 = 12;
    const RELOAD: u64 = (0xa57 << 1) | 1;

    fn wdt_bus() -> Bus {
        bus_with(1, B, Some(IRQ), Box::new(SunxiWdt::new(IRQ)))
    }

    /// What Linux's sunxi_wdt_start does for a timeout whose MODE value is `intv`.
    fn linux_start(bus: &mut Bus, intv: u64) {
        let mode = rd(bus, B + MODE, 4) & !(0xf << 4);
        wr(bus, B + MODE, 4, mode | intv << 4);
        wr(bus, B + CTRL, 4, RELOAD);
        let cfg = rd(bus, B + CFG, 4) & !3;
        wr(bus, B + CFG, 4, cfg | 1);
        let mode = rd(bus, B + MODE, 4);
        wr(bus, B + MODE, 4, mode | 1);
    }

    #[test]
    fn interval_table() {
        let secs: Vec<f64> = (0..16)
            .map(|v| interval_half_seconds(v << 4) as f64 / 2.0)
            .collect();
        assert_eq!(
            secs,
            [
                0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, // documented
                16.0, 16.0, 16.0, 16.0, // reserved: the longest
            ]
        );
    }

    #[test]
    fn expires_after_the_interval_and_restart_postpones() {
        let mut bus = wdt_bus();
        bus.now = 1000;
        linux_start(&mut bus, 1); // 1 s
        assert_eq!(rd(&mut bus, B + MODE, 4), 0x11);
        assert_eq!(rd(&mut bus, B + CFG, 4), 1);
        assert_eq!(bus.next_deadline(), Some(1000 + 10_000_000));
        // A ping half-way moves the deadline.
        bus.now = 5_000_000;
        wr(&mut bus, B + CTRL, 4, RELOAD);
        assert_eq!(bus.next_deadline(), Some(15_000_000));
        // A write without the key does nothing.
        bus.now = 6_000_000;
        wr(&mut bus, B + CTRL, 4, 1);
        assert_eq!(bus.next_deadline(), Some(15_000_000));
        bus.now = 14_999_999;
        bus.tick_devices(true);
        assert!(bus.events.is_empty());
        bus.now = 15_000_000;
        bus.tick_devices(false);
        assert_eq!(bus.events, [BoardEvent::WatchdogExpired]);
        // One-shot: nothing more until the guest restarts it.
        assert_eq!(bus.next_deadline(), None);
        wr(&mut bus, B + CTRL, 4, RELOAD);
        assert_eq!(bus.next_deadline(), Some(25_000_000));
    }

    #[test]
    fn disable_stops_and_enable_restarts() {
        let mut bus = wdt_bus();
        linux_start(&mut bus, 0); // 0.5 s
        assert_eq!(bus.next_deadline(), Some(HALF_SECOND_TICKS));
        // Linux's stop: MODE = 0.
        wr(&mut bus, B + MODE, 4, 0);
        assert_eq!(bus.next_deadline(), None);
        // Restart while disabled: nothing runs.
        wr(&mut bus, B + CTRL, 4, RELOAD);
        assert_eq!(bus.next_deadline(), None);
        bus.now = 100;
        wr(&mut bus, B + MODE, 4, 0xb1); // 16 s, enabled
        assert_eq!(bus.next_deadline(), Some(100 + 32 * HALF_SECOND_TICKS));
        // Rewriting MODE with EN still set does not restart the count.
        bus.now = 200;
        wr(&mut bus, B + MODE, 4, 0x11);
        assert_eq!(bus.next_deadline(), Some(100 + 32 * HALF_SECOND_TICKS));
    }

    #[test]
    fn interrupt_mode_raises_the_line() {
        let mut bus = wdt_bus();
        wr(&mut bus, B + CFG, 4, 2);
        wr(&mut bus, B + IRQ_EN, 4, 1);
        wr(&mut bus, B + MODE, 4, 0x01);
        bus.now = HALF_SECOND_TICKS;
        bus.tick_devices(false);
        assert!(bus.events.iter().all(|e| *e != BoardEvent::WatchdogExpired));
        assert!(bus.irq.level(IRQ));
        assert_eq!(rd(&mut bus, B + IRQ_STA, 4), 1);
        wr(&mut bus, B + IRQ_STA, 4, 1);
        assert!(!bus.irq.level(IRQ));
        // With neither reset nor interrupt configured, expiry does nothing.
        wr(&mut bus, B + CFG, 4, 0);
        wr(&mut bus, B + CTRL, 4, RELOAD);
        bus.events.clear();
        bus.now = 2 * HALF_SECOND_TICKS;
        bus.tick_devices(false);
        assert!(bus.events.is_empty());
        assert_eq!(rd(&mut bus, B + IRQ_STA, 4), 0);
    }

    #[test]
    fn reset_clears_everything() {
        let mut bus = wdt_bus();
        linux_start(&mut bus, 3);
        bus.reset_devices();
        assert_eq!(bus.next_deadline(), None);
        for r in [IRQ_EN, IRQ_STA, CTRL, CFG, MODE] {
            assert_eq!(rd(&mut bus, B + r, 4), 0);
        }
        // Byte accesses are ignored.
        wr(&mut bus, B + MODE, 1, 1);
        assert_eq!(rd(&mut bus, B + MODE, 4), 0);
    }

    #[test]
    fn fuzz_never_panics() {
        let mut bus = wdt_bus();
        fuzz(&mut bus, &[0, 4, 0x10, 0x14, 0x18], 30_000, 8);
    }
}
