//! NS16550A UART with 16-byte FIFOs, as QEMU's `serial.c` models it.
//!
//! ```text
//! offset  read                     write
//! 0       RBR (DLAB=0) / DLL       THR (DLAB=0) / DLL
//! 1       IER (DLAB=0) / DLM       IER (DLAB=0) / DLM
//! 2       IIR                      FCR
//! 3       LCR                      LCR
//! 4       MCR                      MCR
//! 5       LSR                      (ignored)
//! 6       MSR                      (ignored)
//! 7       SCR                      SCR
//! ```
//!
//! Transmission is instantaneous: a byte written to THR goes straight to `ctx.console`
//! (or, in loopback mode, back into the receive FIFO), so THR empty and transmitter empty
//! are always set in LSR. The THR-empty interrupt follows 16550 rules: it is raised when a
//! write completes, when IER's THRI bit is turned on, or when the transmit FIFO is reset;
//! reading IIR while it is the reported source clears it.
//!
//! Host input waits in a queue of up to [`INPUT_CAPACITY`] bytes (beyond that it is
//! dropped and counted) and moves into the receive FIFO as the guest makes room, so the
//! guest never sees an overrun from the host; only loopback can overrun. With the FIFO
//! enabled and fewer bytes than the trigger level, the character-timeout interrupt is
//! reported at once (as if the four character times had passed), so input never waits on
//! a timer. Modem lines are fixed (DCD, DSR and CTS asserted), so there is no modem status
//! interrupt.

use super::{fdt_plic_irq, fdt_reg};
use crate::bus::{DevCtx, Device, FdtCtx};
use std::any::Any;
use std::collections::VecDeque;

/// Name used in logs and the device tree.
pub const NAME: &str = "ns16550a";
/// Size of the register window.
pub const SIZE: u64 = 0x100;
/// Input clock advertised in the device tree (QEMU's 3.6864 MHz).
pub const CLOCK_HZ: u32 = 0x38_4000;
/// Host input bytes held while the receive FIFO is full.
pub const INPUT_CAPACITY: usize = 4096;
const FIFO_LEN: usize = 16;

const RBR_THR: u64 = 0;
const IER: u64 = 1;
const IIR_FCR: u64 = 2;
const LCR: u64 = 3;
const MCR: u64 = 4;
const LSR: u64 = 5;
const MSR: u64 = 6;
const SCR: u64 = 7;

const IER_RDI: u8 = 0x01;
const IER_THRI: u8 = 0x02;
const IER_RLSI: u8 = 0x04;

const IIR_NO_INT: u8 = 0x01;
const IIR_THRI: u8 = 0x02;
const IIR_RDI: u8 = 0x04;
const IIR_RLSI: u8 = 0x06;
const IIR_CTI: u8 = 0x0c;
const IIR_FIFO_ENABLED: u8 = 0xc0;

const FCR_FE: u8 = 0x01;
const FCR_RFR: u8 = 0x02;
const FCR_XFR: u8 = 0x04;

const LCR_DLAB: u8 = 0x80;
const MCR_LOOP: u8 = 0x10;

const LSR_DR: u8 = 0x01;
const LSR_OE: u8 = 0x02;
const LSR_THRE: u8 = 0x20;
const LSR_TEMT: u8 = 0x40;

/// MSR outside loopback: DCD, DSR and CTS asserted, no deltas.
const MSR_IDLE: u8 = 0xb0;

/// Node name of a UART at `base`, for `/chosen/stdout-path`.
pub fn node_name(base: u64) -> String {
    format!("serial@{base:x}")
}

/// The UART. Register state plus the host input queue.
pub struct Uart {
    irq: u32,
    divider: u16,
    ier: u8,
    lcr: u8,
    mcr: u8,
    scr: u8,
    fcr: u8,
    /// LSR overrun error, cleared by reading LSR.
    overrun: bool,
    /// THR-empty interrupt pending (the 16550's latch, cleared by reading IIR).
    thr_ipending: bool,
    /// Receive FIFO (holding at most one byte when the FIFO is disabled).
    rx: VecDeque<u8>,
    /// Host input not yet in the receive FIFO.
    input: VecDeque<u8>,
    /// Host input bytes dropped because the queue was full.
    dropped: u64,
}

impl Uart {
    /// A UART driving PLIC source `irq`.
    pub fn new(irq: u32) -> Uart {
        Uart {
            irq,
            divider: 0x0c,
            ier: 0,
            lcr: 0,
            mcr: 0x08,
            scr: 0,
            fcr: 0,
            overrun: false,
            thr_ipending: false,
            rx: VecDeque::with_capacity(FIFO_LEN),
            input: VecDeque::new(),
            dropped: 0,
        }
    }

    /// Queues host input for the guest; returns how many bytes were accepted. Bytes beyond
    /// [`INPUT_CAPACITY`] are dropped and counted ([`Uart::dropped`]). The bytes reach the
    /// receive FIFO, and the interrupt line, at the next [`Device::tick`], which
    /// [`Device::next_deadline`] asks for at once.
    pub fn push_input(&mut self, bytes: &[u8]) -> usize {
        let room = INPUT_CAPACITY - self.input.len();
        let taken = bytes.len().min(room);
        self.input.extend(&bytes[..taken]);
        self.dropped += (bytes.len() - taken) as u64;
        taken
    }

    /// Whether the host input queue can take more bytes.
    pub fn has_room(&self) -> bool {
        self.input.len() < INPUT_CAPACITY
    }

    /// Host input bytes dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn fifo_enabled(&self) -> bool {
        self.fcr & FCR_FE != 0
    }

    fn loopback(&self) -> bool {
        self.mcr & MCR_LOOP != 0
    }

    fn rx_capacity(&self) -> usize {
        if self.fifo_enabled() {
            FIFO_LEN
        } else {
            1
        }
    }

    /// Receive FIFO trigger level, from FCR bits 7:6.
    fn trigger_level(&self) -> usize {
        [1, 4, 8, 14][usize::from(self.fcr >> 6)]
    }

    /// Whether host input is waiting for room that the FIFO now has.
    fn input_can_move(&self) -> bool {
        !self.input.is_empty() && !self.loopback() && self.rx.len() < self.rx_capacity()
    }

    /// Moves host input into the receive FIFO while it has room (not in loopback, where
    /// the receiver hears only the transmitter).
    fn fill_rx(&mut self) {
        while self.input_can_move() {
            if let Some(b) = self.input.pop_front() {
                self.rx.push_back(b);
            }
        }
    }

    /// A byte arriving at the receiver from the transmitter (loopback).
    fn receive_looped(&mut self, b: u8) {
        if self.rx.len() < self.rx_capacity() {
            self.rx.push_back(b);
        } else {
            self.overrun = true;
            // Without a FIFO the holding register is overwritten; a full FIFO keeps its
            // contents.
            if !self.fifo_enabled() {
                self.rx.clear();
                self.rx.push_back(b);
            }
        }
    }

    fn lsr(&self) -> u8 {
        let mut lsr = LSR_THRE | LSR_TEMT;
        if !self.rx.is_empty() {
            lsr |= LSR_DR;
        }
        if self.overrun {
            lsr |= LSR_OE;
        }
        lsr
    }

    fn msr(&self) -> u8 {
        if self.loopback() {
            // OUT2 -> DCD, OUT1 -> RI, RTS -> CTS, DTR -> DSR.
            ((self.mcr & 0x0c) << 4) | ((self.mcr & 0x02) << 3) | ((self.mcr & 0x01) << 5)
        } else {
            MSR_IDLE
        }
    }

    /// The highest-priority pending interrupt identification (IIR bits 3:0).
    fn interrupt_id(&self) -> u8 {
        if self.ier & IER_RLSI != 0 && self.overrun {
            IIR_RLSI
        } else if self.ier & IER_RDI != 0 && !self.rx.is_empty() {
            if self.fifo_enabled() && self.rx.len() < self.trigger_level() {
                IIR_CTI
            } else {
                IIR_RDI
            }
        } else if self.ier & IER_THRI != 0 && self.thr_ipending {
            IIR_THRI
        } else {
            IIR_NO_INT
        }
    }

    fn iir(&self) -> u8 {
        let fifo = if self.fifo_enabled() {
            IIR_FIFO_ENABLED
        } else {
            0
        };
        self.interrupt_id() | fifo
    }

    fn update_irq(&self, ctx: &mut DevCtx) {
        ctx.set_irq(self.irq, self.interrupt_id() != IIR_NO_INT);
    }

    fn dlab(&self) -> bool {
        self.lcr & LCR_DLAB != 0
    }

    /// Register value for a read, without side effects.
    fn value(&self, reg: u64) -> u8 {
        match reg {
            RBR_THR if self.dlab() => self.divider as u8,
            RBR_THR => self.rx.front().copied().unwrap_or(0),
            IER if self.dlab() => (self.divider >> 8) as u8,
            IER => self.ier,
            IIR_FCR => self.iir(),
            LCR => self.lcr,
            MCR => self.mcr,
            LSR => self.lsr(),
            MSR => self.msr(),
            SCR => self.scr,
            _ => 0,
        }
    }

    fn write_reg(&mut self, reg: u64, val: u8, ctx: &mut DevCtx) {
        match reg {
            RBR_THR if self.dlab() => self.divider = (self.divider & 0xff00) | u16::from(val),
            RBR_THR => {
                if self.loopback() {
                    self.receive_looped(val);
                } else {
                    ctx.console.push(val);
                }
                // The byte left at once: THR is empty again.
                self.thr_ipending = true;
            }
            IER if self.dlab() => {
                self.divider = (self.divider & 0x00ff) | (u16::from(val) << 8);
            }
            IER => {
                let changed = (self.ier ^ val) & 0x0f;
                self.ier = val & 0x0f;
                // Turning THRI on re-raises THR empty (THR is always empty here).
                if changed & IER_THRI != 0 {
                    self.thr_ipending = self.ier & IER_THRI != 0;
                }
            }
            IIR_FCR => {
                let mut val = val;
                // Enabling or disabling the FIFOs resets them.
                if (val ^ self.fcr) & FCR_FE != 0 {
                    val |= FCR_RFR | FCR_XFR;
                }
                if val & FCR_RFR != 0 {
                    self.rx.clear();
                }
                if val & FCR_XFR != 0 {
                    self.thr_ipending = true;
                }
                self.fcr = val & 0xc9;
                self.fill_rx();
            }
            LCR => self.lcr = val,
            MCR => {
                self.mcr = val & 0x1f;
                self.fill_rx();
            }
            SCR => self.scr = val,
            _ => ctx.guest_error(
                NAME,
                format_args!("write {val:#x} to read-only register {reg}"),
            ),
        }
        self.update_irq(ctx);
    }
}

impl Device for Uart {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> u64 {
        SIZE
    }

    fn read(&mut self, offset: u64, size: u8, ctx: &mut DevCtx) -> u64 {
        if offset > SCR {
            ctx.guest_error(NAME, format_args!("read at {offset:#x} size {size}"));
            return 0;
        }
        let val = self.value(offset);
        match offset {
            RBR_THR if !self.dlab() => {
                self.rx.pop_front();
                self.fill_rx();
                self.update_irq(ctx);
            }
            IIR_FCR if val & 0x0f == IIR_THRI => {
                self.thr_ipending = false;
                self.update_irq(ctx);
            }
            LSR if self.overrun => {
                self.overrun = false;
                self.update_irq(ctx);
            }
            _ => {}
        }
        u64::from(val)
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, ctx: &mut DevCtx) {
        if offset > SCR {
            ctx.guest_error(
                NAME,
                format_args!("write {value:#x} at {offset:#x} size {size}"),
            );
            return;
        }
        // Registers are bytes; a wider access uses its low byte.
        self.write_reg(offset, value as u8, ctx);
    }

    fn peek(&self, offset: u64, _size: u8) -> u64 {
        u64::from(self.value(offset))
    }

    fn fdt(
        &self,
        base: u64,
        _irq: Option<u32>,
        fdt: &mut vm_fdt::FdtWriter,
        ctx: &FdtCtx,
    ) -> vm_fdt::FdtWriterResult<()> {
        let node = fdt.begin_node(&node_name(base))?;
        fdt_plic_irq(fdt, self.irq, ctx)?;
        fdt.property_u32("clock-frequency", CLOCK_HZ)?;
        fdt_reg(fdt, base, SIZE)?;
        fdt.property_string("compatible", "ns16550a")?;
        fdt.end_node(node)
    }

    fn next_deadline(&self) -> Option<u64> {
        // Host input can move into the FIFO: as soon as possible.
        self.input_can_move().then_some(0)
    }

    fn tick(&mut self, ctx: &mut DevCtx) {
        self.fill_rx();
        self.update_irq(ctx);
    }

    /// Registers and the receive FIFO. Host input not yet in the FIFO is the host's,
    /// as across a reset, and stays where it is.
    fn save_state(&self) -> Option<Vec<u8>> {
        let mut e = crate::devstate::Enc::default();
        e.u16(self.divider);
        for v in [self.ier, self.lcr, self.mcr, self.scr, self.fcr] {
            e.u8(v);
        }
        e.bool(self.overrun);
        e.bool(self.thr_ipending);
        e.bytes(&self.rx.iter().copied().collect::<Vec<u8>>());
        Some(e.0)
    }

    fn load_state(&mut self, data: &[u8], apply: bool) -> Result<(), String> {
        let mut d = crate::devstate::Dec::new(data, "section 'ns16550a'");
        let divider = d.u16()?;
        let mut r = [0u8; 5];
        for v in &mut r {
            *v = d.u8()?;
        }
        let overrun = d.bool()?;
        let thr_ipending = d.bool()?;
        let rx = d.bytes(FIFO_LEN)?;
        d.end()?;
        if apply {
            self.divider = divider;
            [self.ier, self.lcr, self.mcr, self.scr, self.fcr] = r;
            self.overrun = overrun;
            self.thr_ipending = thr_ipending;
            self.rx = rx.iter().copied().collect();
        }
        Ok(())
    }

    fn reset(&mut self) {
        // Host input already queued survives a guest reset, as a terminal's would.
        let input = std::mem::take(&mut self.input);
        let dropped = self.dropped;
        *self = Uart {
            input,
            dropped,
            ..Uart::new(self.irq)
        };
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

    const B: u64 = 0x1000_0000;
    const IRQ: u32 = 10;

    fn uart_bus() -> Bus {
        let mut bus = bus_with(1, B, Some(IRQ), Box::new(Uart::new(IRQ)));
        // Route the line so the test can see it through the PLIC as well.
        bus.irq.plic.priority[IRQ as usize] = 1;
        bus
    }

    fn uart(bus: &mut Bus) -> &mut Uart {
        match bus.device_mut::<Uart>(0) {
            Some(u) => u,
            None => panic!("slot 0 is not a Uart"),
        }
    }

    fn line(bus: &Bus) -> bool {
        bus.irq.level(IRQ)
    }

    fn input(bus: &mut Bus, bytes: &[u8]) {
        uart(bus).push_input(bytes);
        bus.tick_devices(false);
    }

    #[test]
    fn reset_values() {
        let mut bus = uart_bus();
        assert_eq!(rd(&mut bus, B + IIR_FCR, 1), 0x01);
        assert_eq!(rd(&mut bus, B + LSR, 1), 0x60);
        assert_eq!(rd(&mut bus, B + MSR, 1), 0xb0);
        assert_eq!(rd(&mut bus, B + MCR, 1), 0x08);
        assert_eq!(rd(&mut bus, B + IER, 1), 0);
        assert!(!line(&bus));
    }

    #[test]
    fn transmit_goes_to_console() {
        let mut bus = uart_bus();
        for &b in b"hi\n" {
            wr(&mut bus, B, 1, u64::from(b));
        }
        // A wider access uses the low byte.
        wr(&mut bus, B, 4, 0x1234_5621);
        assert_eq!(bus.console, b"hi\n!");
        assert_eq!(rd(&mut bus, B + LSR, 1) & 0x60, 0x60);
    }

    #[test]
    fn divisor_latch() {
        let mut bus = uart_bus();
        wr(&mut bus, B + LCR, 1, 0x83);
        wr(&mut bus, B, 1, 0x01);
        wr(&mut bus, B + IER, 1, 0x02);
        assert_eq!(rd(&mut bus, B, 1), 0x01);
        assert_eq!(rd(&mut bus, B + IER, 1), 0x02);
        wr(&mut bus, B + LCR, 1, 0x03);
        // The divisor writes touched neither THR nor IER.
        assert!(bus.console.is_empty());
        assert_eq!(rd(&mut bus, B + IER, 1), 0);
        assert_eq!(rd(&mut bus, B + LCR, 1), 0x03);
    }

    #[test]
    fn receive_with_fifo_and_interrupts() {
        let mut bus = uart_bus();
        // FIFO on, trigger level 8 (Linux's choice for a 16550A), RX interrupts on.
        wr(&mut bus, B + IIR_FCR, 1, 0x87);
        wr(&mut bus, B + IER, 1, 0x01);
        assert_eq!(rd(&mut bus, B + IIR_FCR, 1), 0xc1);
        input(&mut bus, b"abc");
        assert!(line(&bus));
        assert_eq!(rd(&mut bus, B + LSR, 1), 0x61);
        // Below the trigger level: reported as a character timeout.
        assert_eq!(rd(&mut bus, B + IIR_FCR, 1), 0xcc);
        let got: Vec<u8> = (0..3).map(|_| rd(&mut bus, B, 1) as u8).collect();
        assert_eq!(got, b"abc");
        assert_eq!(rd(&mut bus, B + LSR, 1), 0x60);
        assert!(!line(&bus));
        assert_eq!(rd(&mut bus, B + IIR_FCR, 1), 0xc1);
        // At the trigger level: received data available.
        input(&mut bus, b"0123456789");
        assert_eq!(rd(&mut bus, B + IIR_FCR, 1), 0xc4);
    }

    #[test]
    fn input_queue_refills_fifo_and_drops_beyond_capacity() {
        let mut bus = uart_bus();
        wr(&mut bus, B + IIR_FCR, 1, 0x01);
        let data: Vec<u8> = (0..INPUT_CAPACITY + 10).map(|i| i as u8).collect();
        assert_eq!(uart(&mut bus).push_input(&data), INPUT_CAPACITY);
        assert_eq!(uart(&mut bus).dropped(), 10);
        assert!(!uart(&mut bus).has_room());
        assert_eq!(bus.next_deadline(), Some(0));
        bus.tick_devices(false);
        assert_eq!(bus.next_deadline(), None);
        for (i, &want) in data[..INPUT_CAPACITY].iter().enumerate() {
            assert_eq!(rd(&mut bus, B + LSR, 1) & 1, 1, "byte {i}");
            assert_eq!(rd(&mut bus, B, 1) as u8, want, "byte {i}");
        }
        assert_eq!(rd(&mut bus, B + LSR, 1) & 1, 0);
        assert!(uart(&mut bus).has_room());
        // The host never overruns the receiver.
        assert_eq!(rd(&mut bus, B + LSR, 1) & u64::from(LSR_OE), 0);
    }

    #[test]
    fn without_fifo_one_byte_at_a_time() {
        let mut bus = uart_bus();
        wr(&mut bus, B + IER, 1, 0x01);
        input(&mut bus, b"xy");
        assert_eq!(rd(&mut bus, B + IIR_FCR, 1), 0x04);
        assert_eq!(rd(&mut bus, B, 1), u64::from(b'x'));
        assert_eq!(rd(&mut bus, B, 1), u64::from(b'y'));
        assert_eq!(rd(&mut bus, B + IIR_FCR, 1), 0x01);
    }

    #[test]
    fn thre_interrupt_semantics() {
        let mut bus = uart_bus();
        // Enabling THRI with THR empty raises it.
        wr(&mut bus, B + IER, 1, 0x02);
        assert!(line(&bus));
        assert_eq!(rd(&mut bus, B + IIR_FCR, 1), 0x02);
        // Reading IIR while THRE is the source clears it.
        assert!(!line(&bus));
        assert_eq!(rd(&mut bus, B + IIR_FCR, 1), 0x01);
        // Writing THR raises it again once the byte has gone.
        wr(&mut bus, B, 1, u64::from(b'a'));
        assert!(line(&bus));
        // Linux's THRE test: IER=THRI, read IIR, IER=0, IER=THRI, read IIR again.
        assert_eq!(rd(&mut bus, B + IIR_FCR, 1), 0x02);
        wr(&mut bus, B + IER, 1, 0);
        assert!(!line(&bus));
        wr(&mut bus, B + IER, 1, 0x02);
        assert_eq!(rd(&mut bus, B + IIR_FCR, 1), 0x02);
        // Received data outranks THRE, which stays latched behind it.
        wr(&mut bus, B, 1, u64::from(b'b'));
        wr(&mut bus, B + IER, 1, 0x03);
        input(&mut bus, b"z");
        assert_eq!(rd(&mut bus, B + IIR_FCR, 1), 0x04);
        rd(&mut bus, B, 1);
        assert_eq!(rd(&mut bus, B + IIR_FCR, 1), 0x02);
    }

    #[test]
    fn loopback_and_overrun() {
        let mut bus = uart_bus();
        wr(&mut bus, B + MCR, 1, 0x10 | 0x0b);
        assert_eq!(rd(&mut bus, B + MSR, 1), 0xb0);
        wr(&mut bus, B + MCR, 1, 0x10);
        assert_eq!(rd(&mut bus, B + MSR, 1), 0x00);
        // Host input waits while in loopback.
        input(&mut bus, b"host");
        assert_eq!(rd(&mut bus, B + LSR, 1) & u64::from(LSR_DR), 0);
        wr(&mut bus, B + IER, 1, 0x04);
        wr(&mut bus, B, 1, u64::from(b'1'));
        wr(&mut bus, B, 1, u64::from(b'2'));
        assert!(bus.console.is_empty());
        assert_eq!(rd(&mut bus, B + IIR_FCR, 1), 0x06);
        assert!(line(&bus));
        assert_eq!(rd(&mut bus, B + LSR, 1), 0x63);
        assert!(!line(&bus));
        assert_eq!(rd(&mut bus, B + LSR, 1), 0x61);
        assert_eq!(rd(&mut bus, B, 1), u64::from(b'2'));
        // Leaving loopback lets the host input in.
        wr(&mut bus, B + MCR, 1, 0x08);
        assert_eq!(rd(&mut bus, B, 1), u64::from(b'h'));
    }

    #[test]
    fn fifo_reset_and_scratch() {
        let mut bus = uart_bus();
        wr(&mut bus, B + IIR_FCR, 1, 0x01);
        input(&mut bus, b"abc");
        wr(&mut bus, B + IIR_FCR, 1, 0x03);
        // The FIFO was cleared, then refilled from the host queue... which was empty.
        assert_eq!(rd(&mut bus, B + LSR, 1) & u64::from(LSR_DR), 0);
        wr(&mut bus, B + SCR, 1, 0x5a);
        assert_eq!(rd(&mut bus, B + SCR, 1), 0x5a);
        assert_eq!(rd(&mut bus, B + 0x20, 4), 0);
    }

    #[test]
    fn peek_has_no_side_effects() {
        let mut bus = uart_bus();
        wr(&mut bus, B + IER, 1, 0x03);
        input(&mut bus, b"q");
        assert_eq!(bus.peek(B, 1), Some(u64::from(b'q')));
        assert_eq!(bus.peek(B + IIR_FCR, 1), Some(0x04));
        assert_eq!(rd(&mut bus, B, 1), u64::from(b'q'));
        assert_eq!(bus.peek(B + IIR_FCR, 1), Some(0x02));
        assert_eq!(bus.peek(B + IIR_FCR, 1), Some(0x02));
        assert!(line(&bus));
    }

    #[test]
    fn reset_keeps_host_input() {
        let mut bus = uart_bus();
        wr(&mut bus, B + IER, 1, 0x0f);
        uart(&mut bus).push_input(b"k");
        bus.reset_devices();
        assert_eq!(rd(&mut bus, B + IER, 1), 0);
        bus.tick_devices(false);
        assert_eq!(rd(&mut bus, B, 1), u64::from(b'k'));
    }

    #[test]
    fn fuzz_never_panics() {
        let mut bus = uart_bus();
        uart(&mut bus).push_input(&[0x55; 100]);
        fuzz(&mut bus, &[0], 50_000, 3);
    }
}
