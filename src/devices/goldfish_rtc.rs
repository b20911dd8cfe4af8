//! The Google goldfish real-time clock, as QEMU models it.
//!
//! ```text
//! 0x00 TIME_LOW         read: low 32 bits of the time in ns, latching TIME_HIGH
//! 0x04 TIME_HIGH        read: the latched high half; writes of either half set the time
//! 0x08 ALARM_LOW        write: low half of the alarm time, and arm the alarm
//! 0x0c ALARM_HIGH       write: high half of the alarm time (write it first)
//! 0x10 IRQ_ENABLED      bit 0: the alarm interrupt is enabled
//! 0x14 CLEAR_ALARM      write: disarm the alarm
//! 0x18 ALARM_STATUS     read: 1 while the alarm is armed
//! 0x1c CLEAR_INTERRUPT  write: acknowledge the alarm interrupt
//! ```
//!
//! Time is `base_ns + now * 100 + offset`, where `now` counts 100 ns machine ticks,
//! `base_ns` is the wall-clock epoch given at construction (fixed in deterministic mode)
//! and `offset` is whatever the guest's writes to the time registers added. The alarm is
//! a machine deadline: [`Device::next_deadline`] names the tick at which it fires.

use super::{fdt_plic_irq, fdt_reg};
use crate::bus::{DevCtx, Device, FdtCtx};
use std::any::Any;

/// Name used in logs and the device tree.
pub const NAME: &str = "goldfish_rtc";
/// Size of the register window.
pub const SIZE: u64 = 0x1000;
/// Nanoseconds per machine tick (the 10 MHz timebase).
const NS_PER_TICK: u64 = 100;

const TIME_LOW: u64 = 0x00;
const TIME_HIGH: u64 = 0x04;
const ALARM_LOW: u64 = 0x08;
const ALARM_HIGH: u64 = 0x0c;
const IRQ_ENABLED: u64 = 0x10;
const CLEAR_ALARM: u64 = 0x14;
const ALARM_STATUS: u64 = 0x18;
const CLEAR_INTERRUPT: u64 = 0x1c;

/// The RTC.
pub struct GoldfishRtc {
    irq: u32,
    base_ns: u64,
    /// Added to the clock by guest writes to the time registers (wrapping).
    offset_ns: u64,
    /// High half of the time, latched by reading TIME_LOW.
    time_high: u32,
    /// Alarm time in the guest's (offset) clock.
    alarm_ns: u64,
    alarm_running: bool,
    irq_pending: bool,
    irq_enabled: bool,
}

impl GoldfishRtc {
    /// An RTC driving PLIC source `irq`, reading `base_ns` (nanoseconds since the Unix
    /// epoch) at machine time 0.
    pub fn new(irq: u32, base_ns: u64) -> GoldfishRtc {
        GoldfishRtc {
            irq,
            base_ns,
            offset_ns: 0,
            time_high: 0,
            alarm_ns: 0,
            alarm_running: false,
            irq_pending: false,
            irq_enabled: false,
        }
    }

    /// The guest-visible time at machine time `now`.
    fn time_ns(&self, now: u64) -> u64 {
        self.base_ns
            .wrapping_add(now.wrapping_mul(NS_PER_TICK))
            .wrapping_add(self.offset_ns)
    }

    /// Moves the guest clock so that it reads `new` at machine time `now`.
    fn set_time(&mut self, now: u64, new: u64) {
        self.offset_ns = self
            .offset_ns
            .wrapping_add(new.wrapping_sub(self.time_ns(now)));
    }

    /// The first machine tick at which the host-side clock reaches the alarm time. The
    /// alarm is compared in ticks, so the deadline and the firing test cannot disagree.
    fn alarm_tick(&self) -> u64 {
        let host_ns = self.alarm_ns.wrapping_sub(self.offset_ns);
        host_ns.saturating_sub(self.base_ns).div_ceil(NS_PER_TICK)
    }

    fn arm_alarm(&mut self, ctx: &mut DevCtx) {
        if self.alarm_tick() <= ctx.now {
            self.fire(ctx);
        } else {
            self.alarm_running = true;
        }
    }

    fn fire(&mut self, ctx: &mut DevCtx) {
        self.alarm_running = false;
        self.irq_pending = true;
        self.update_irq(ctx);
    }

    fn update_irq(&self, ctx: &mut DevCtx) {
        ctx.set_irq(self.irq, self.irq_pending && self.irq_enabled);
    }
}

impl Device for GoldfishRtc {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> u64 {
        SIZE
    }

    fn read(&mut self, offset: u64, size: u8, ctx: &mut DevCtx) -> u64 {
        if size != 4 {
            ctx.guest_error(NAME, format_args!("read at {offset:#x} size {size}"));
            return 0;
        }
        match offset {
            TIME_LOW => {
                let t = self.time_ns(ctx.now);
                self.time_high = (t >> 32) as u32;
                t & 0xffff_ffff
            }
            TIME_HIGH | ALARM_LOW | ALARM_HIGH | IRQ_ENABLED | ALARM_STATUS => {
                self.peek(offset, size)
            }
            _ => {
                ctx.guest_error(NAME, format_args!("read at {offset:#x}"));
                0
            }
        }
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, ctx: &mut DevCtx) {
        if size != 4 {
            ctx.guest_error(
                NAME,
                format_args!("write {value:#x} at {offset:#x} size {size}"),
            );
            return;
        }
        let value = value & 0xffff_ffff;
        match offset {
            TIME_LOW => {
                let t = self.time_ns(ctx.now);
                self.set_time(ctx.now, (t & !0xffff_ffff) | value);
            }
            TIME_HIGH => {
                let t = self.time_ns(ctx.now);
                self.set_time(ctx.now, (t & 0xffff_ffff) | (value << 32));
            }
            ALARM_LOW => {
                self.alarm_ns = (self.alarm_ns & !0xffff_ffff) | value;
                self.arm_alarm(ctx);
            }
            ALARM_HIGH => self.alarm_ns = (self.alarm_ns & 0xffff_ffff) | (value << 32),
            IRQ_ENABLED => {
                self.irq_enabled = value & 1 != 0;
                self.update_irq(ctx);
            }
            CLEAR_ALARM => self.alarm_running = false,
            CLEAR_INTERRUPT => {
                self.irq_pending = false;
                self.update_irq(ctx);
            }
            _ => ctx.guest_error(NAME, format_args!("write {value:#x} at {offset:#x}")),
        }
    }

    /// TIME_LOW needs the machine clock, which a peek does not have: it reads 0.
    fn peek(&self, offset: u64, size: u8) -> u64 {
        if size != 4 {
            return 0;
        }
        match offset {
            TIME_HIGH => u64::from(self.time_high),
            ALARM_LOW => self.alarm_ns & 0xffff_ffff,
            ALARM_HIGH => self.alarm_ns >> 32,
            IRQ_ENABLED => u64::from(self.irq_enabled),
            ALARM_STATUS => u64::from(self.alarm_running),
            _ => 0,
        }
    }

    fn fdt(
        &self,
        base: u64,
        _irq: Option<u32>,
        fdt: &mut vm_fdt::FdtWriter,
        ctx: &FdtCtx,
    ) -> vm_fdt::FdtWriterResult<()> {
        let node = fdt.begin_node(&format!("rtc@{base:x}"))?;
        fdt_plic_irq(fdt, self.irq, ctx)?;
        fdt_reg(fdt, base, SIZE)?;
        fdt.property_string("compatible", "google,goldfish-rtc")?;
        fdt.end_node(node)
    }

    fn next_deadline(&self) -> Option<u64> {
        self.alarm_running.then(|| self.alarm_tick())
    }

    fn tick(&mut self, ctx: &mut DevCtx) {
        if self.alarm_running && self.alarm_tick() <= ctx.now {
            self.fire(ctx);
        }
    }

    fn reset(&mut self) {
        *self = GoldfishRtc::new(self.irq, self.base_ns);
    }

    /// Everything but the PLIC line, base_ns included: the guest's clock goes on from
    /// where it was, whichever host loads the state.
    fn save_state(&self) -> Option<Vec<u8>> {
        let mut e = crate::devstate::Enc::default();
        e.u64(self.base_ns);
        e.u64(self.offset_ns);
        e.u32(self.time_high);
        e.u64(self.alarm_ns);
        e.bool(self.alarm_running);
        e.bool(self.irq_pending);
        e.bool(self.irq_enabled);
        Some(e.0)
    }

    fn load_state(&mut self, data: &[u8], apply: bool) -> Result<(), String> {
        let mut d = crate::devstate::Dec::new(data, "section 'goldfish_rtc'");
        let v = GoldfishRtc {
            irq: self.irq,
            base_ns: d.u64()?,
            offset_ns: d.u64()?,
            time_high: d.u32()?,
            alarm_ns: d.u64()?,
            alarm_running: d.bool()?,
            irq_pending: d.bool()?,
            irq_enabled: d.bool()?,
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

    const B: u64 = 0x10_1000;
    const IRQ: u32 = 11;
    /// 2023-01-01T00:00:00Z, in ns.
    const EPOCH: u64 = 1_672_531_200_000_000_000;

    fn rtc_bus() -> Bus {
        bus_with(1, B, Some(IRQ), Box::new(GoldfishRtc::new(IRQ, EPOCH)))
    }

    fn read_time(bus: &mut Bus) -> u64 {
        let lo = rd(bus, B + TIME_LOW, 4);
        lo | (rd(bus, B + TIME_HIGH, 4) << 32)
    }

    #[test]
    fn time_counts_from_base_in_100ns_ticks() {
        let mut bus = rtc_bus();
        assert_eq!(read_time(&mut bus), EPOCH);
        bus.now = 10_000_000;
        assert_eq!(read_time(&mut bus), EPOCH + 1_000_000_000);
    }

    #[test]
    fn time_high_is_latched_by_time_low() {
        let mut bus = rtc_bus();
        bus.now = 0;
        rd(&mut bus, B + TIME_LOW, 4);
        // Let the clock run far enough to change the high half.
        bus.now = 1 << 40;
        assert_eq!(rd(&mut bus, B + TIME_HIGH, 4), EPOCH >> 32);
    }

    #[test]
    fn setting_the_time() {
        let mut bus = rtc_bus();
        wr(&mut bus, B + TIME_HIGH, 4, 0x10);
        wr(&mut bus, B + TIME_LOW, 4, 0x20);
        assert_eq!(read_time(&mut bus), 0x10_0000_0020);
        bus.now += 5;
        assert_eq!(read_time(&mut bus), 0x10_0000_0020 + 500);
    }

    #[test]
    fn alarm_fires_at_its_deadline() {
        let mut bus = rtc_bus();
        wr(&mut bus, B + IRQ_ENABLED, 4, 1);
        let at = EPOCH + 1_000_050;
        wr(&mut bus, B + ALARM_HIGH, 4, at >> 32);
        wr(&mut bus, B + ALARM_LOW, 4, at & 0xffff_ffff);
        assert_eq!(rd(&mut bus, B + ALARM_STATUS, 4), 1);
        // 1_000_050 ns = 10_000.5 ticks: the first tick at or past it is 10_001.
        assert_eq!(bus.next_deadline(), Some(10_001));
        bus.now = 10_000;
        bus.tick_devices(true);
        assert!(!bus.irq.level(IRQ));
        bus.now = 10_001;
        bus.tick_devices(false);
        assert!(bus.irq.level(IRQ));
        assert_eq!(rd(&mut bus, B + ALARM_STATUS, 4), 0);
        assert_eq!(bus.next_deadline(), None);
        wr(&mut bus, B + CLEAR_INTERRUPT, 4, 1);
        assert!(!bus.irq.level(IRQ));
    }

    #[test]
    fn alarm_in_the_past_fires_at_once_and_respects_enable() {
        let mut bus = rtc_bus();
        bus.now = 100;
        wr(&mut bus, B + ALARM_HIGH, 4, EPOCH >> 32);
        wr(&mut bus, B + ALARM_LOW, 4, EPOCH & 0xffff_ffff);
        assert_eq!(rd(&mut bus, B + ALARM_STATUS, 4), 0);
        // Pending but not enabled.
        assert!(!bus.irq.level(IRQ));
        wr(&mut bus, B + IRQ_ENABLED, 4, 1);
        assert!(bus.irq.level(IRQ));
        assert_eq!(rd(&mut bus, B + IRQ_ENABLED, 4), 1);
    }

    #[test]
    fn alarm_follows_the_guest_clock_and_can_be_cleared() {
        let mut bus = rtc_bus();
        // Guest sets its clock to 0, then an alarm 1 µs later.
        wr(&mut bus, B + TIME_HIGH, 4, 0);
        wr(&mut bus, B + TIME_LOW, 4, 0);
        wr(&mut bus, B + ALARM_HIGH, 4, 0);
        wr(&mut bus, B + ALARM_LOW, 4, 1000);
        assert_eq!(bus.next_deadline(), Some(10));
        wr(&mut bus, B + CLEAR_ALARM, 4, 1);
        assert_eq!(bus.next_deadline(), None);
        assert_eq!(rd(&mut bus, B + ALARM_LOW, 4), 1000);
    }

    #[test]
    fn bad_accesses_are_ignored() {
        let mut bus = rtc_bus();
        assert_eq!(rd(&mut bus, B + TIME_LOW, 8), 0);
        assert_eq!(rd(&mut bus, B + 0x20, 4), 0);
        wr(&mut bus, B + IRQ_ENABLED, 1, 1);
        assert_eq!(rd(&mut bus, B + IRQ_ENABLED, 4), 0);
    }

    #[test]
    fn fuzz_never_panics() {
        let mut bus = rtc_bus();
        fuzz(&mut bus, &[0, 0x8, 0x10, 0x18], 30_000, 5);
    }
}
