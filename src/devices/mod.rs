//! Devices of the `virt` board.
//!
//! Each device is a register front-end behind the [`crate::bus::Device`] trait: it sees
//! offsets relative to its own base, reaches interrupts, RAM, the console and board events
//! only through the [`crate::bus::DevCtx`] lent to it for one access, and describes its own
//! device-tree node, so the DTB cannot drift from the bus map. No guest access can panic a
//! device: misuse is logged under `-d guest_errors` and ignored, unknown registers read 0.
//!
//! Devices that raise an interrupt are given their PLIC source at construction, and use
//! that same number in their device-tree node, so the line they drive and the line the
//! guest is told about are one value.

/// ACLINT-compatible CLINT: per-hart `msip` and `mtimecmp`, and `mtime`.
pub mod clint;
/// QEMU's fw_cfg (MMIO, with DMA): signature, ID, file directory, writable files.
pub mod fw_cfg;
/// Google goldfish real-time clock with its alarm interrupt.
pub mod goldfish_rtc;
/// SiFive PLIC register front-end over the board's [`crate::irq::PlicState`].
pub mod plic;
/// pvpanic-mmio: the guest reports panics, crash kernels and shutdowns.
pub mod pvpanic;
/// SiFive test finisher: power off, reset, or fail with an exit code.
pub mod sifive_test;
/// Allwinner sun6i watchdog (Linux's sunxi_wdt) on the machine clock.
pub mod sunxi_wdt;
/// NS16550A UART, the console.
pub mod uart;
/// virtio-blk: a block device over a raw image file, behind a virtio-mmio transport.
pub mod virtio_blk;
/// virtio-mmio (version 2) transports, ready for a device backend.
pub mod virtio_mmio;
/// Split virtqueues: the checked walk of the rings and descriptor chains.
pub mod virtqueue;
/// vmcoreinfo: the `etc/vmcoreinfo` registration and the guest note reader.
pub mod vmcoreinfo;

/// Writes the `reg` property of a device in `/soc` (two address and two size cells).
fn fdt_reg(fdt: &mut vm_fdt::FdtWriter, base: u64, size: u64) -> vm_fdt::FdtWriterResult<()> {
    fdt.property_array_u64("reg", &[base, size])
}

/// Writes `interrupts = <irq>` and `interrupt-parent = <plic>` for a PLIC source.
fn fdt_plic_irq(
    fdt: &mut vm_fdt::FdtWriter,
    irq: u32,
    ctx: &crate::bus::FdtCtx,
) -> vm_fdt::FdtWriterResult<()> {
    fdt.property_u32("interrupts", irq)?;
    fdt.property_u32("interrupt-parent", ctx.plic_phandle)
}

/// `interrupts-extended` cells naming, for every hart, its local interrupt controller and
/// each of `causes` (for example `[3, 7]`: machine software and timer interrupts).
fn intc_cells(ctx: &crate::bus::FdtCtx, causes: &[u32]) -> Vec<u32> {
    ctx.cpu_intc_phandles
        .iter()
        .take(ctx.harts)
        .flat_map(|&ph| causes.iter().flat_map(move |&c| [ph, c]))
        .collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    //! A small board for device tests, and a random-access fuzzer.

    use crate::bus::{Bus, DevCtx, Device, Ram};
    use crate::irq::IrqState;
    use crate::logging::Log;

    /// A bus with 1 MiB of RAM, the ROM, `harts` harts, and `dev` at `base`.
    pub fn bus_with(harts: usize, base: u64, irq: Option<u32>, dev: Box<dyn Device>) -> Bus {
        let mut bus = Bus::new(
            Ram::new(0x8000_0000, 1 << 20),
            Ram::new(0x1000, 0xf000),
            IrqState::new(harts),
            Log::default(),
        );
        if let Err(e) = bus.add(base, irq, dev) {
            panic!("test bus: {e}");
        }
        bus
    }

    /// Reads through the bus; the address must be mapped.
    pub fn rd(bus: &mut Bus, pa: u64, size: u8) -> u64 {
        match bus.mmio_read(pa, size) {
            Ok(v) => v,
            Err(_) => panic!("read of unmapped {pa:#x}"),
        }
    }

    /// Writes through the bus; the address must be mapped.
    pub fn wr(bus: &mut Bus, pa: u64, size: u8, val: u64) {
        if bus.mmio_write(pa, size, val).is_err() {
            panic!("write to unmapped {pa:#x}");
        }
    }

    /// Runs `f` on the device at slot 0, which must be a `T`, with a context from `bus`.
    pub fn with_dev<T: 'static>(bus: &mut Bus, f: impl FnOnce(&mut T, &mut DevCtx)) {
        let (devices, mut ctx) = bus.split();
        match devices[0].dev.as_any_mut().downcast_mut::<T>() {
            Some(d) => f(d, &mut ctx),
            None => panic!("slot 0 is not a {}", std::any::type_name::<T>()),
        }
    }

    /// xorshift64*: a deterministic generator, enough to scatter accesses.
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Hammers the device at slot 0 of `bus` with random reads, writes, peeks, ticks and
    /// resets. Half the accesses land near one of `hot` offsets (its registers), the rest
    /// anywhere in its window, with every size and any alignment.
    pub fn fuzz(bus: &mut Bus, hot: &[u64], iterations: usize, seed: u64) {
        let mut rng = Rng(seed | 1);
        let (base, window) = (bus.devices[0].base, bus.devices[0].size);
        for i in 0..iterations {
            let size = [1u8, 2, 4, 8][rng.below(4) as usize];
            let off = if !hot.is_empty() && rng.below(2) == 0 {
                hot[rng.below(hot.len() as u64) as usize] + rng.below(12)
            } else {
                rng.below(window)
            };
            let off = off.min(window - u64::from(size));
            let val = match rng.below(4) {
                0 => 0,
                1 => u64::MAX,
                2 => rng.below(256),
                _ => rng.next(),
            };
            match rng.below(8) {
                0..=2 => {
                    let _ = bus.mmio_read(base + off, size);
                }
                3..=5 => {
                    let _ = bus.mmio_write(base + off, size, val);
                }
                6 => {
                    let _ = bus.peek(base + off, size);
                }
                _ => {
                    bus.now = bus.now.wrapping_add(rng.below(1 << 20));
                    bus.tick_devices(rng.below(2) == 0);
                }
            }
            if i % 997 == 0 {
                bus.reset_devices();
            }
        }
    }
}
