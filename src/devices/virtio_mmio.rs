//! virtio-mmio transports (virtio 1.x, register layout version 2).
//!
//! ```text
//! 0x000 MagicValue         R  "virt" (0x74726976)
//! 0x004 Version            R  2
//! 0x008 DeviceID           R  0 when no backend is attached
//! 0x00c VendorID           R  "QEMU" (0x554d4551)
//! 0x010 DeviceFeatures     R  32 bits of the device features, chosen by ...
//! 0x014 DeviceFeaturesSel  W
//! 0x020 DriverFeatures     W  32 bits of the driver features, chosen by ...
//! 0x024 DriverFeaturesSel  W
//! 0x030 QueueSel           W  the queue the Queue* registers refer to
//! 0x034 QueueNumMax        R
//! 0x038 QueueNum           W
//! 0x044 QueueReady         RW
//! 0x050 QueueNotify        W
//! 0x060 InterruptStatus    R  bit 0: used buffer, bit 1: configuration change
//! 0x064 InterruptACK       W
//! 0x070 Status             RW (writing 0 resets the device)
//! 0x080 QueueDescLow/High      W (0x84)
//! 0x090 QueueDriverLow/High    W (0x94)
//! 0x0a0 QueueDeviceLow/High    W (0xa4)
//! 0x0fc ConfigGeneration   R
//! 0x100 Config             RW device-specific configuration, 1/2/4/8-byte accesses
//! ```
//!
//! Registers below 0x100 are 32-bit. A transport without a backend behaves as QEMU's
//! does: magic, version and vendor read as usual, everything else reads 0 and writes are
//! ignored, so Linux probes the slot and finds no device. With a backend, the transport
//! keeps the feature negotiation, status and queue registers, and hands queue
//! notifications to the backend, which raises a used-buffer interrupt by returning true.

use super::{fdt_plic_irq, fdt_reg};
use crate::bus::{DevCtx, Device, FdtCtx};
use std::any::Any;

/// Name used in logs and the device tree.
pub const NAME: &str = "virtio_mmio";
/// Size of one transport's register window.
pub const SIZE: u64 = 0x1000;

/// "virt", little-endian.
pub const MAGIC: u32 = 0x7472_6976;
/// Register layout version (virtio 1.x, non-legacy).
pub const VERSION: u32 = 2;
/// "QEMU", little-endian, as QEMU reports.
pub const VENDOR_ID: u32 = 0x554d_4551;
/// VIRTIO_F_VERSION_1: always offered, as this is a non-legacy transport.
pub const F_VERSION_1: u64 = 1 << 32;

/// InterruptStatus bit: the device used a buffer.
pub const INT_USED_BUFFER: u32 = 1;
/// InterruptStatus bit: the configuration space changed.
pub const INT_CONFIG_CHANGE: u32 = 2;

/// Device status bits (virtio 1.x, 2.1).
pub mod status {
    pub const ACKNOWLEDGE: u32 = 1;
    pub const DRIVER: u32 = 2;
    pub const DRIVER_OK: u32 = 4;
    pub const FEATURES_OK: u32 = 8;
    pub const DEVICE_NEEDS_RESET: u32 = 0x40;
    pub const FAILED: u32 = 0x80;
}

const MAGIC_VALUE: u64 = 0x000;
const VERSION_REG: u64 = 0x004;
const DEVICE_ID: u64 = 0x008;
const VENDOR_ID_REG: u64 = 0x00c;
const DEVICE_FEATURES: u64 = 0x010;
const DEVICE_FEATURES_SEL: u64 = 0x014;
const DRIVER_FEATURES: u64 = 0x020;
const DRIVER_FEATURES_SEL: u64 = 0x024;
const QUEUE_SEL: u64 = 0x030;
const QUEUE_NUM_MAX: u64 = 0x034;
const QUEUE_NUM: u64 = 0x038;
const QUEUE_READY: u64 = 0x044;
const QUEUE_NOTIFY: u64 = 0x050;
const INTERRUPT_STATUS: u64 = 0x060;
const INTERRUPT_ACK: u64 = 0x064;
const STATUS: u64 = 0x070;
const QUEUE_DESC_LOW: u64 = 0x080;
const QUEUE_DESC_HIGH: u64 = 0x084;
const QUEUE_DRIVER_LOW: u64 = 0x090;
const QUEUE_DRIVER_HIGH: u64 = 0x094;
const QUEUE_DEVICE_LOW: u64 = 0x0a0;
const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
const CONFIG_GENERATION: u64 = 0x0fc;
const CONFIG: u64 = 0x100;

/// Transport state of one virtqueue, as the driver programmed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VirtQueue {
    /// Queue size chosen by the driver (QueueNum).
    pub num: u32,
    /// QueueReady.
    pub ready: bool,
    /// Guest physical address of the descriptor table.
    pub desc: u64,
    /// Guest physical address of the driver (available) ring.
    pub driver: u64,
    /// Guest physical address of the device (used) ring.
    pub device: u64,
    /// Next available-ring index the backend will consume; the backend's bookkeeping,
    /// cleared with the queue.
    pub last_avail: u16,
}

/// A virtio device behind the transport (virtio-blk, for example).
pub trait VirtioBackend: Send {
    /// virtio device type (2 for a block device).
    fn device_id(&self) -> u32;
    /// Device feature bits; [`F_VERSION_1`] is added by the transport.
    fn features(&self) -> u64;
    /// Number of virtqueues.
    fn num_queues(&self) -> usize;
    /// Largest size of queue `q`.
    fn queue_max_size(&self, q: usize) -> u32;
    /// Reads device configuration bytes at `offset` into `data`; bytes past the end of
    /// the configuration space read 0.
    fn read_config(&self, offset: u64, data: &mut [u8]);
    /// A driver write to the configuration space.
    fn write_config(&mut self, offset: u64, data: &[u8], ctx: &mut DevCtx) {
        let _ = data;
        ctx.guest_error(
            NAME,
            format_args!("write to read-only configuration at {offset:#x}"),
        );
    }
    /// The driver set DRIVER_OK after accepting `features`.
    fn activate(&mut self, features: u64, ctx: &mut DevCtx) {
        let _ = (features, ctx);
    }
    /// The driver notified queue `index`. Returns true when buffers were used and the
    /// driver should be interrupted.
    fn notify(&mut self, index: usize, queue: &mut VirtQueue, ctx: &mut DevCtx) -> bool;
    /// The driver reset the device (status 0), or the machine was reset.
    fn reset(&mut self) {}
    /// For the board's typed access to a specific backend.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// One virtio-mmio transport with an optional backend.
pub struct VirtioMmio {
    irq: u32,
    backend: Option<Box<dyn VirtioBackend>>,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    queues: Vec<VirtQueue>,
    interrupt_status: u32,
    status: u32,
    config_generation: u32,
}

impl VirtioMmio {
    /// An empty transport (no device) driving PLIC source `irq`.
    pub fn new(irq: u32) -> VirtioMmio {
        VirtioMmio {
            irq,
            backend: None,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            queues: Vec::new(),
            interrupt_status: 0,
            status: 0,
            config_generation: 0,
        }
    }

    /// A transport driving PLIC source `irq` with device `backend`.
    pub fn with_backend(irq: u32, backend: Box<dyn VirtioBackend>) -> VirtioMmio {
        VirtioMmio {
            queues: vec![VirtQueue::default(); backend.num_queues()],
            backend: Some(backend),
            ..VirtioMmio::new(irq)
        }
    }

    /// The backend, for the board's typed access.
    pub fn backend_mut(&mut self) -> Option<&mut (dyn VirtioBackend + 'static)> {
        self.backend.as_deref_mut()
    }

    /// Features the device offers.
    fn device_features(&self) -> u64 {
        self.backend
            .as_ref()
            .map_or(0, |b| b.features() | F_VERSION_1)
    }

    /// Tells the driver the configuration changed (a resized disk, for example).
    pub fn config_changed(&mut self, ctx: &mut DevCtx) {
        self.config_generation = self.config_generation.wrapping_add(1);
        self.interrupt_status |= INT_CONFIG_CHANGE;
        self.update_irq(ctx);
    }

    fn update_irq(&self, ctx: &mut DevCtx) {
        ctx.set_irq(self.irq, self.interrupt_status != 0);
    }

    /// Clears all transport state (the driver wrote status 0, or a machine reset).
    fn reset_transport(&mut self) {
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.driver_features = 0;
        self.queue_sel = 0;
        self.queues
            .iter_mut()
            .for_each(|q| *q = VirtQueue::default());
        self.interrupt_status = 0;
        self.status = 0;
        if let Some(b) = self.backend.as_mut() {
            b.reset();
        }
    }

    fn selected_queue(&mut self) -> Option<&mut VirtQueue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    /// Value of a 32-bit register for a read, without side effects.
    fn reg(&self, offset: u64) -> u32 {
        match (offset, self.backend.as_ref()) {
            (MAGIC_VALUE, _) => MAGIC,
            (VERSION_REG, _) => VERSION,
            (VENDOR_ID_REG, _) => VENDOR_ID,
            (_, None) => 0,
            (DEVICE_ID, Some(b)) => b.device_id(),
            (DEVICE_FEATURES, _) => match self.device_features_sel {
                0 => self.device_features() as u32,
                1 => (self.device_features() >> 32) as u32,
                _ => 0,
            },
            (QUEUE_NUM_MAX, Some(b)) if (self.queue_sel as usize) < self.queues.len() => {
                b.queue_max_size(self.queue_sel as usize)
            }
            (QUEUE_READY, _) => self
                .queues
                .get(self.queue_sel as usize)
                .map_or(0, |q| u32::from(q.ready)),
            (INTERRUPT_STATUS, _) => self.interrupt_status,
            (STATUS, _) => self.status,
            (CONFIG_GENERATION, _) => self.config_generation,
            _ => 0,
        }
    }

    fn write_reg(&mut self, offset: u64, val: u32, ctx: &mut DevCtx) {
        let set_low = |r: &mut u64| *r = (*r & !0xffff_ffff) | u64::from(val);
        let set_high = |r: &mut u64| *r = (*r & 0xffff_ffff) | (u64::from(val) << 32);
        match offset {
            DEVICE_FEATURES_SEL => self.device_features_sel = val,
            DRIVER_FEATURES_SEL => self.driver_features_sel = val,
            DRIVER_FEATURES => match self.driver_features_sel {
                0 => set_low(&mut self.driver_features),
                1 => set_high(&mut self.driver_features),
                sel => ctx.guest_error(NAME, format_args!("DriverFeaturesSel {sel} written")),
            },
            QUEUE_SEL => self.queue_sel = val,
            QUEUE_NUM => {
                let max = self.reg(QUEUE_NUM_MAX);
                match self.selected_queue() {
                    Some(q) if val <= max => q.num = val,
                    _ => ctx.guest_error(NAME, format_args!("QueueNum {val} (max {max})")),
                }
            }
            QUEUE_READY => match self.selected_queue() {
                Some(q) => q.ready = val & 1 != 0,
                None => ctx.guest_error(NAME, format_args!("QueueReady for missing queue")),
            },
            QUEUE_DESC_LOW | QUEUE_DESC_HIGH | QUEUE_DRIVER_LOW | QUEUE_DRIVER_HIGH
            | QUEUE_DEVICE_LOW | QUEUE_DEVICE_HIGH => {
                let Some(q) = self.selected_queue() else {
                    ctx.guest_error(NAME, format_args!("queue address for missing queue"));
                    return;
                };
                match offset {
                    QUEUE_DESC_LOW => set_low(&mut q.desc),
                    QUEUE_DESC_HIGH => set_high(&mut q.desc),
                    QUEUE_DRIVER_LOW => set_low(&mut q.driver),
                    QUEUE_DRIVER_HIGH => set_high(&mut q.driver),
                    QUEUE_DEVICE_LOW => set_low(&mut q.device),
                    _ => set_high(&mut q.device),
                }
            }
            QUEUE_NOTIFY => self.notify(val as usize, ctx),
            INTERRUPT_ACK => {
                self.interrupt_status &= !val;
                self.update_irq(ctx);
            }
            STATUS => self.write_status(val, ctx),
            _ => ctx.guest_error(NAME, format_args!("write {val:#x} at {offset:#x}")),
        }
    }

    fn write_status(&mut self, val: u32, ctx: &mut DevCtx) {
        let mut val = val & 0xff;
        if val == 0 {
            self.reset_transport();
            self.update_irq(ctx);
            return;
        }
        let newly = val & !self.status;
        // The device accepts FEATURES_OK only for features it offered.
        if newly & status::FEATURES_OK != 0 && self.driver_features & !self.device_features() != 0 {
            ctx.guest_error(
                NAME,
                format_args!(
                    "driver accepted unoffered features {:#x}",
                    self.driver_features
                ),
            );
            val &= !status::FEATURES_OK;
        }
        self.status = val;
        if newly & status::DRIVER_OK != 0 {
            if let Some(b) = self.backend.as_mut() {
                b.activate(self.driver_features, ctx);
            }
        }
    }

    fn notify(&mut self, index: usize, ctx: &mut DevCtx) {
        let (Some(backend), Some(queue)) = (self.backend.as_mut(), self.queues.get_mut(index))
        else {
            ctx.guest_error(NAME, format_args!("notify of missing queue {index}"));
            return;
        };
        if self.status & status::DRIVER_OK == 0 || !queue.ready {
            ctx.guest_error(
                NAME,
                format_args!("notify of queue {index} before it is ready"),
            );
            return;
        }
        if backend.notify(index, queue, ctx) {
            self.interrupt_status |= INT_USED_BUFFER;
            self.update_irq(ctx);
        }
    }
}

impl Device for VirtioMmio {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> u64 {
        SIZE
    }

    fn read(&mut self, offset: u64, size: u8, ctx: &mut DevCtx) -> u64 {
        if offset >= CONFIG || (size == 4 && offset.is_multiple_of(4)) {
            return self.peek(offset, size);
        }
        ctx.guest_error(NAME, format_args!("read at {offset:#x} size {size}"));
        0
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, ctx: &mut DevCtx) {
        if self.backend.is_none() {
            // As QEMU: an empty transport ignores every write.
            return;
        }
        if offset >= CONFIG {
            let bytes = value.to_le_bytes();
            if let Some(b) = self.backend.as_mut() {
                b.write_config(offset - CONFIG, &bytes[..usize::from(size.min(8))], ctx);
            }
        } else if size == 4 && offset.is_multiple_of(4) {
            self.write_reg(offset, value as u32, ctx);
        } else {
            ctx.guest_error(
                NAME,
                format_args!("write {value:#x} at {offset:#x} size {size}"),
            );
        }
    }

    fn peek(&self, offset: u64, size: u8) -> u64 {
        if offset < CONFIG {
            return u64::from(self.reg(offset));
        }
        let mut bytes = [0u8; 8];
        if let Some(b) = self.backend.as_ref() {
            b.read_config(offset - CONFIG, &mut bytes[..usize::from(size.min(8))]);
        }
        u64::from_le_bytes(bytes)
    }

    fn fdt(
        &self,
        base: u64,
        _irq: Option<u32>,
        fdt: &mut vm_fdt::FdtWriter,
        ctx: &FdtCtx,
    ) -> vm_fdt::FdtWriterResult<()> {
        let node = fdt.begin_node(&format!("virtio_mmio@{base:x}"))?;
        fdt_plic_irq(fdt, self.irq, ctx)?;
        fdt_reg(fdt, base, SIZE)?;
        fdt.property_string("compatible", "virtio,mmio")?;
        fdt.end_node(node)
    }

    fn reset(&mut self) {
        self.reset_transport();
        self.config_generation = 0;
    }

    /// The transport registers and every queue. The backend (virtio-blk) keeps no state
    /// between requests; its device id is saved so a file for another device is refused.
    /// Empty transports have no state worth a section.
    fn save_state(&self) -> Option<Vec<u8>> {
        let b = self.backend.as_ref()?;
        let mut e = crate::devstate::Enc::default();
        e.u32(b.device_id());
        for v in [
            self.device_features_sel,
            self.driver_features_sel,
            self.queue_sel,
            self.interrupt_status,
            self.status,
            self.config_generation,
        ] {
            e.u32(v);
        }
        e.u64(self.driver_features);
        e.u32(self.queues.len() as u32);
        for q in &self.queues {
            e.u32(q.num);
            e.bool(q.ready);
            e.u64(q.desc);
            e.u64(q.driver);
            e.u64(q.device);
            e.u16(q.last_avail);
        }
        Some(e.0)
    }

    fn load_state(&mut self, data: &[u8], apply: bool) -> Result<(), String> {
        let mut d = crate::devstate::Dec::new(data, "section 'virtio_mmio'");
        let id = d.u32()?;
        if self.backend.as_ref().map(|b| b.device_id()) != Some(id) {
            return Err(format!(
                "Section 'virtio_mmio' is for virtio device type {id}"
            ));
        }
        let mut r = [0u32; 6];
        for v in &mut r {
            *v = d.u32()?;
        }
        let driver_features = d.u64()?;
        if d.u32()? as usize != self.queues.len() {
            return Err("Section 'virtio_mmio' has another number of queues".into());
        }
        let mut queues = Vec::with_capacity(self.queues.len());
        for _ in 0..self.queues.len() {
            queues.push(VirtQueue {
                num: d.u32()?,
                ready: d.bool()?,
                desc: d.u64()?,
                driver: d.u64()?,
                device: d.u64()?,
                last_avail: d.u16()?,
            });
        }
        d.end()?;
        if apply {
            [
                self.device_features_sel,
                self.driver_features_sel,
                self.queue_sel,
                self.interrupt_status,
                self.status,
                self.config_generation,
            ] = r;
            self.driver_features = driver_features;
            self.queues = queues;
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
    use crate::devices::testutil::{bus_with, fuzz, rd, with_dev, wr};

    const B: u64 = 0x1000_1000;
    const IRQ: u32 = 1;

    /// A two-queue device that counts notifications and has an 8-byte config space.
    struct Probe {
        notified: Vec<(usize, VirtQueue)>,
        config: [u8; 8],
        activated: Option<u64>,
        resets: usize,
    }

    impl VirtioBackend for Probe {
        fn device_id(&self) -> u32 {
            2
        }
        fn features(&self) -> u64 {
            0b101
        }
        fn num_queues(&self) -> usize {
            2
        }
        fn queue_max_size(&self, q: usize) -> u32 {
            [256, 64][q]
        }
        fn read_config(&self, offset: u64, data: &mut [u8]) {
            for (i, d) in data.iter_mut().enumerate() {
                *d = self.config.get(offset as usize + i).copied().unwrap_or(0);
            }
        }
        fn write_config(&mut self, offset: u64, data: &[u8], _ctx: &mut DevCtx) {
            for (i, d) in data.iter().enumerate() {
                if let Some(c) = self.config.get_mut(offset as usize + i) {
                    *c = *d;
                }
            }
        }
        fn activate(&mut self, features: u64, _ctx: &mut DevCtx) {
            self.activated = Some(features);
        }
        fn notify(&mut self, index: usize, queue: &mut VirtQueue, _ctx: &mut DevCtx) -> bool {
            self.notified.push((index, queue.clone()));
            queue.last_avail += 1;
            true
        }
        fn reset(&mut self) {
            self.resets += 1;
        }
        fn as_any_mut(&mut self) -> &mut dyn Any {
            self
        }
    }

    fn probe_bus() -> Bus {
        let probe = Probe {
            notified: Vec::new(),
            config: *b"\x01\x02\x03\x04\x05\x06\x07\x08",
            activated: None,
            resets: 0,
        };
        let dev = VirtioMmio::with_backend(IRQ, Box::new(probe));
        bus_with(1, B, Some(IRQ), Box::new(dev))
    }

    fn probe(bus: &mut Bus) -> &mut Probe {
        let backend = bus
            .device_mut::<VirtioMmio>(0)
            .and_then(|d| d.backend_mut())
            .and_then(|b| b.as_any_mut().downcast_mut::<Probe>());
        match backend {
            Some(p) => p,
            None => panic!("no probe backend"),
        }
    }

    #[test]
    fn empty_transport_as_qemu() {
        let mut bus = bus_with(1, B, Some(IRQ), Box::new(VirtioMmio::new(IRQ)));
        assert_eq!(rd(&mut bus, B, 4), 0x7472_6976);
        assert_eq!(rd(&mut bus, B + 4, 4), 2);
        assert_eq!(rd(&mut bus, B + 8, 4), 0);
        assert_eq!(rd(&mut bus, B + 0xc, 4), 0x554d_4551);
        wr(&mut bus, B + STATUS, 4, 0xf);
        wr(&mut bus, B + QUEUE_NOTIFY, 4, 0);
        assert_eq!(rd(&mut bus, B + STATUS, 4), 0);
        assert_eq!(rd(&mut bus, B + QUEUE_NUM_MAX, 4), 0);
        assert_eq!(rd(&mut bus, B + CONFIG, 4), 0);
        assert!(!bus.irq.level(IRQ));
    }

    #[test]
    fn driver_initialisation_sequence() {
        let mut bus = probe_bus();
        assert_eq!(rd(&mut bus, B + DEVICE_ID, 4), 2);
        wr(&mut bus, B + STATUS, 4, 1 | 2);
        wr(&mut bus, B + DEVICE_FEATURES_SEL, 4, 0);
        assert_eq!(rd(&mut bus, B + DEVICE_FEATURES, 4), 0b101);
        wr(&mut bus, B + DEVICE_FEATURES_SEL, 4, 1);
        assert_eq!(rd(&mut bus, B + DEVICE_FEATURES, 4), 1);
        wr(&mut bus, B + DRIVER_FEATURES_SEL, 4, 0);
        wr(&mut bus, B + DRIVER_FEATURES, 4, 0b001);
        wr(&mut bus, B + DRIVER_FEATURES_SEL, 4, 1);
        wr(&mut bus, B + DRIVER_FEATURES, 4, 1);
        wr(&mut bus, B + STATUS, 4, 1 | 2 | 8);
        assert_eq!(rd(&mut bus, B + STATUS, 4), 0xb);
        // Queue 1: max 64.
        wr(&mut bus, B + QUEUE_SEL, 4, 1);
        assert_eq!(rd(&mut bus, B + QUEUE_NUM_MAX, 4), 64);
        wr(&mut bus, B + QUEUE_NUM, 4, 128);
        wr(&mut bus, B + QUEUE_NUM, 4, 32);
        wr(&mut bus, B + QUEUE_DESC_LOW, 4, 0x8000_1000);
        wr(&mut bus, B + QUEUE_DESC_HIGH, 4, 0x1);
        wr(&mut bus, B + QUEUE_DRIVER_LOW, 4, 0x8000_2000);
        wr(&mut bus, B + QUEUE_DEVICE_LOW, 4, 0x8000_3000);
        wr(&mut bus, B + QUEUE_READY, 4, 1);
        assert_eq!(rd(&mut bus, B + QUEUE_READY, 4), 1);
        // Queue 2 does not exist.
        wr(&mut bus, B + QUEUE_SEL, 4, 2);
        assert_eq!(rd(&mut bus, B + QUEUE_NUM_MAX, 4), 0);
        // Notify before DRIVER_OK is ignored.
        wr(&mut bus, B + QUEUE_NOTIFY, 4, 1);
        assert!(probe(&mut bus).notified.is_empty());
        wr(&mut bus, B + STATUS, 4, 0xf);
        assert_eq!(probe(&mut bus).activated, Some(1 | F_VERSION_1));
        wr(&mut bus, B + QUEUE_NOTIFY, 4, 1);
        let want = VirtQueue {
            num: 32,
            ready: true,
            desc: 0x1_8000_1000,
            driver: 0x8000_2000,
            device: 0x8000_3000,
            last_avail: 0,
        };
        assert_eq!(probe(&mut bus).notified, vec![(1, want)]);
        assert!(bus.irq.level(IRQ));
        assert_eq!(rd(&mut bus, B + INTERRUPT_STATUS, 4), 1);
        wr(&mut bus, B + INTERRUPT_ACK, 4, 1);
        assert!(!bus.irq.level(IRQ));
        // Queue 0 was never made ready.
        wr(&mut bus, B + QUEUE_NOTIFY, 4, 0);
        assert_eq!(probe(&mut bus).notified.len(), 1);
        // Status 0 resets everything.
        wr(&mut bus, B + STATUS, 4, 0);
        assert_eq!(probe(&mut bus).resets, 1);
        wr(&mut bus, B + QUEUE_SEL, 4, 1);
        assert_eq!(rd(&mut bus, B + QUEUE_READY, 4), 0);
        assert_eq!(rd(&mut bus, B + STATUS, 4), 0);
    }

    #[test]
    fn unoffered_features_fail_features_ok() {
        let mut bus = probe_bus();
        wr(&mut bus, B + DRIVER_FEATURES_SEL, 4, 0);
        wr(&mut bus, B + DRIVER_FEATURES, 4, 0b010);
        wr(&mut bus, B + STATUS, 4, 1 | 2 | 8);
        assert_eq!(rd(&mut bus, B + STATUS, 4), 3);
    }

    #[test]
    fn config_space_and_generation() {
        let mut bus = probe_bus();
        assert_eq!(rd(&mut bus, B + CONFIG, 4), 0x0403_0201);
        assert_eq!(rd(&mut bus, B + CONFIG + 6, 2), 0x0807);
        assert_eq!(rd(&mut bus, B + CONFIG + 7, 1), 0x08);
        assert_eq!(rd(&mut bus, B + CONFIG + 8, 4), 0);
        wr(&mut bus, B + CONFIG + 1, 1, 0xaa);
        assert_eq!(rd(&mut bus, B + CONFIG, 8), 0x0807_0605_0403_aa01);
        assert_eq!(rd(&mut bus, B + CONFIG_GENERATION, 4), 0);
        with_dev(&mut bus, |d: &mut VirtioMmio, ctx| d.config_changed(ctx));
        assert_eq!(rd(&mut bus, B + CONFIG_GENERATION, 4), 1);
        assert_eq!(rd(&mut bus, B + INTERRUPT_STATUS, 4), 2);
        assert!(bus.irq.level(IRQ));
    }

    #[test]
    fn register_accesses_must_be_words() {
        let mut bus = probe_bus();
        assert_eq!(rd(&mut bus, B + DEVICE_ID, 1), 0);
        assert_eq!(rd(&mut bus, B + DEVICE_ID, 8), 0);
        wr(&mut bus, B + STATUS, 1, 1);
        assert_eq!(rd(&mut bus, B + STATUS, 4), 0);
    }

    #[test]
    fn fuzz_never_panics() {
        let hot = [
            0, 0x10, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xf8, 0x100,
        ];
        fuzz(
            &mut bus_with(1, B, Some(IRQ), Box::new(VirtioMmio::new(IRQ))),
            &hot,
            10_000,
            6,
        );
        fuzz(&mut probe_bus(), &hot, 50_000, 7);
    }
}
