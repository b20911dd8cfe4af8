//! Split virtqueues (virtio 1.x, section 2.7) as a device sees them.
//!
//! ```text
//! descriptor table (desc)      16 bytes per entry, `size` entries
//!   0x0 addr  u64  guest physical address of the buffer
//!   0x8 len   u32  its length in bytes
//!   0xc flags u16  NEXT (1): `next` continues the chain; WRITE (2): device-writable;
//!                  INDIRECT (4): not supported (the feature is never offered)
//!   0xe next  u16  index of the next descriptor when NEXT is set
//! driver (available) ring       device (used) ring
//!   0x0 flags u16                 0x0 flags u16 (always 0 here)
//!   0x2 idx   u16                 0x2 idx   u16
//!   0x4 ring[size] u16 (heads)    0x4 ring[size] { id u32, len u32 }
//! ```
//!
//! Everything in the rings is guest input. [`process`] takes each chain the driver made
//! available, checks it completely before a device sees it, hands it to the device, and
//! returns it in the used ring:
//!
//! - the three ring areas must lie in RAM, or nothing is processed;
//! - the driver may not publish more than `size` new entries at once (the available
//!   index jumping further is logged and nothing is processed);
//! - a chain is at most `size` descriptors long (which also ends any loop), every index
//!   in it is below `size`, every buffer lies in RAM, device-writable buffers come after
//!   the readable ones, and it carries at most [`MAX_CHAIN_BYTES`] bytes.
//!
//! A chain that breaks a rule is logged under `-d guest_errors` and returned to the
//! driver unprocessed, with a used length of 0, so the driver can reclaim it. The work
//! per notification is bounded by the queue size, so a malicious ring can neither panic
//! the emulator nor keep it in a loop.
//!
//! Neither VIRTIO_F_EVENT_IDX nor VIRTIO_F_INDIRECT_DESC is offered, so the used ring's
//! `avail_event` and the available ring's `used_event` are never read or written, and
//! an INDIRECT descriptor is a malformed chain. All RAM writes go through
//! [`DevCtx::dma_write`], which keeps decoded code coherent.

use super::virtio_mmio::VirtQueue;
use crate::bus::DevCtx;
use std::fmt;

/// Descriptor flag: the chain continues at `next`.
pub const DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the buffer is device-writable.
pub const DESC_F_WRITE: u16 = 2;
/// Descriptor flag: the buffer holds a table of descriptors (not supported).
pub const DESC_F_INDIRECT: u16 = 4;
/// Available-ring flag: the driver does not want an interrupt for used buffers.
pub const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// The largest queue size a split virtqueue may have.
pub const MAX_QUEUE_SIZE: u32 = 32768;
/// The most bytes one chain may describe (larger chains are malformed).
pub const MAX_CHAIN_BYTES: u64 = 1 << 30;

/// Size of one descriptor table entry.
const DESC_SIZE: u64 = 16;

/// One guest buffer of a chain, already checked to lie in RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Desc {
    /// Guest physical address.
    pub addr: u64,
    /// Length in bytes.
    pub len: u32,
    /// Device-writable (WRITE flag).
    pub write: bool,
}

/// A validated descriptor chain: the readable buffers, then the writable ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// Index of the first descriptor, returned in the used ring.
    pub head: u16,
    /// The buffers in chain order.
    pub descs: Vec<Desc>,
}

/// Why a chain is malformed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// A descriptor index (the head or a `next`) is not below the queue size.
    IndexOutOfRange { index: u16, size: u16 },
    /// The chain is longer than the queue: it loops.
    TooLong { size: u16 },
    /// A buffer does not lie in RAM.
    OutsideRam { index: u16, addr: u64, len: u32 },
    /// An INDIRECT descriptor, though the feature was not offered.
    Indirect { index: u16 },
    /// A readable buffer follows a writable one.
    ReadableAfterWritable { index: u16 },
    /// The buffers add up to more than [`MAX_CHAIN_BYTES`].
    TooManyBytes,
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::IndexOutOfRange { index, size } => {
                write!(
                    f,
                    "descriptor index {index} out of range (queue size {size})"
                )
            }
            ChainError::TooLong { size } => {
                write!(f, "chain longer than the queue size {size} (a loop?)")
            }
            ChainError::OutsideRam { index, addr, len } => write!(
                f,
                "descriptor {index}: buffer {addr:#x}+{len:#x} is outside RAM"
            ),
            ChainError::Indirect { index } => write!(
                f,
                "descriptor {index}: INDIRECT descriptors were not offered"
            ),
            ChainError::ReadableAfterWritable { index } => write!(
                f,
                "descriptor {index}: readable buffer after a writable one"
            ),
            ChainError::TooManyBytes => {
                write!(f, "chain describes more than {MAX_CHAIN_BYTES} bytes")
            }
        }
    }
}

impl Chain {
    /// Total length of the device-readable buffers.
    pub fn readable_len(&self) -> u64 {
        self.len_where(false)
    }

    /// Total length of the device-writable buffers.
    pub fn writable_len(&self) -> u64 {
        self.len_where(true)
    }

    fn len_where(&self, write: bool) -> u64 {
        self.descs
            .iter()
            .filter(|d| d.write == write)
            .map(|d| u64::from(d.len))
            .sum()
    }

    /// The guest ranges `(addr, len)` holding bytes `offset..offset+len` of the readable
    /// (`write == false`) or writable buffers taken as one stream. Ranges past the end
    /// of the stream are left out.
    pub fn segments(&self, write: bool, offset: u64, len: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let (mut pos, end) = (0u64, offset.saturating_add(len));
        for d in self.descs.iter().filter(|d| d.write == write) {
            let (start, stop) = (pos, pos + u64::from(d.len));
            pos = stop;
            let (a, b) = (start.max(offset), stop.min(end));
            if a < b {
                out.push((d.addr + (a - start), b - a));
            }
            if pos >= end {
                break;
            }
        }
        out
    }

    /// Reads bytes `offset..offset+buf.len()` of the readable stream into `buf`. False,
    /// with nothing read, when the stream is shorter.
    pub fn read(&self, ctx: &DevCtx, offset: u64, buf: &mut [u8]) -> bool {
        let segs = self.segments(false, offset, buf.len() as u64);
        if segs.iter().map(|s| s.1).sum::<u64>() != buf.len() as u64 {
            return false;
        }
        let mut done = 0usize;
        for (addr, len) in segs {
            let len = len as usize;
            if !ctx.dma_read(addr, &mut buf[done..done + len]) {
                return false;
            }
            done += len;
        }
        done == buf.len()
    }

    /// Writes `data` at byte `offset` of the writable stream. False, with nothing
    /// written, when the stream is shorter.
    pub fn write(&self, ctx: &mut DevCtx, offset: u64, data: &[u8]) -> bool {
        let segs = self.segments(true, offset, data.len() as u64);
        if segs.iter().map(|s| s.1).sum::<u64>() != data.len() as u64 {
            return false;
        }
        let mut done = 0usize;
        for (addr, len) in segs {
            let len = len as usize;
            if !ctx.dma_write(addr, &data[done..done + len]) {
                return false;
            }
            done += len;
        }
        done == data.len()
    }
}

/// The ring addresses of a queue, checked to lie in RAM.
struct Rings {
    size: u16,
    desc: u64,
    avail: u64,
    used: u64,
}

impl Rings {
    /// Checks the queue's size and ring areas; `None` (logged) when they are unusable.
    fn new(q: &VirtQueue, ctx: &DevCtx, dev: &str) -> Option<Rings> {
        if q.num == 0 || q.num > MAX_QUEUE_SIZE {
            ctx.guest_error(dev, format_args!("queue size {} is unusable", q.num));
            return None;
        }
        let n = u64::from(q.num);
        for (what, addr, len) in [
            ("descriptor table", q.desc, DESC_SIZE * n),
            ("driver ring", q.driver, 4 + 2 * n),
            ("device ring", q.device, 4 + 8 * n),
        ] {
            if ctx.ram.offset(addr, len).is_none() {
                ctx.guest_error(
                    dev,
                    format_args!("{what} {addr:#x}+{len:#x} is outside RAM"),
                );
                return None;
            }
        }
        Some(Rings {
            size: q.num as u16,
            desc: q.desc,
            avail: q.driver,
            used: q.device,
        })
    }

    fn read_u16(ctx: &DevCtx, pa: u64) -> u16 {
        let mut b = [0u8; 2];
        // The ring areas were checked to lie in RAM, so this read cannot fail.
        ctx.dma_read(pa, &mut b);
        u16::from_le_bytes(b)
    }

    fn avail_flags(&self, ctx: &DevCtx) -> u16 {
        Self::read_u16(ctx, self.avail)
    }

    fn avail_idx(&self, ctx: &DevCtx) -> u16 {
        Self::read_u16(ctx, self.avail + 2)
    }

    /// The head published in available-ring entry `n` (taken modulo the size).
    fn avail_head(&self, ctx: &DevCtx, n: u16) -> u16 {
        Self::read_u16(ctx, self.avail + 4 + 2 * u64::from(n % self.size))
    }

    /// Walks the chain starting at `head`, checking every rule of the module docs.
    fn chain(&self, ctx: &DevCtx, head: u16) -> Result<Chain, ChainError> {
        let mut descs = Vec::new();
        let (mut index, mut total, mut seen_write) = (head, 0u64, false);
        loop {
            if index >= self.size {
                return Err(ChainError::IndexOutOfRange {
                    index,
                    size: self.size,
                });
            }
            if descs.len() >= usize::from(self.size) {
                return Err(ChainError::TooLong { size: self.size });
            }
            let mut raw = [0u8; DESC_SIZE as usize];
            ctx.dma_read(self.desc + DESC_SIZE * u64::from(index), &mut raw);
            let field = |r: std::ops::Range<usize>| {
                raw[r]
                    .iter()
                    .rev()
                    .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
            };
            let (addr, len) = (field(0..8), field(8..12) as u32);
            let (flags, next) = (field(12..14) as u16, field(14..16) as u16);
            if flags & DESC_F_INDIRECT != 0 {
                return Err(ChainError::Indirect { index });
            }
            let write = flags & DESC_F_WRITE != 0;
            if seen_write && !write {
                return Err(ChainError::ReadableAfterWritable { index });
            }
            seen_write |= write;
            if len != 0 && ctx.ram.offset(addr, u64::from(len)).is_none() {
                return Err(ChainError::OutsideRam { index, addr, len });
            }
            total += u64::from(len);
            if total > MAX_CHAIN_BYTES {
                return Err(ChainError::TooManyBytes);
            }
            descs.push(Desc { addr, len, write });
            if flags & DESC_F_NEXT == 0 {
                return Ok(Chain { head, descs });
            }
            index = next;
        }
    }

    /// Writes used-ring entry `n` (modulo the size) and publishes used index `n + 1`.
    fn push_used(&self, ctx: &mut DevCtx, n: u16, id: u16, len: u32) {
        let mut entry = [0u8; 8];
        entry[..4].copy_from_slice(&u32::from(id).to_le_bytes());
        entry[4..].copy_from_slice(&len.to_le_bytes());
        // The used ring was checked to lie in RAM, so these writes cannot fail.
        ctx.dma_write(self.used + 4 + 8 * u64::from(n % self.size), &entry);
        ctx.dma_write(self.used + 2, &n.wrapping_add(1).to_le_bytes());
    }
}

/// Serves every chain the driver made available on `queue`: `handle` gets each valid
/// chain and returns how many bytes it wrote into it; malformed chains are logged and
/// returned with length 0. `dev` names the device in logs. Returns true when chains
/// were used and the driver wants an interrupt.
pub fn process(
    queue: &mut VirtQueue,
    ctx: &mut DevCtx,
    dev: &str,
    mut handle: impl FnMut(&Chain, &mut DevCtx) -> u32,
) -> bool {
    let Some(rings) = Rings::new(queue, ctx, dev) else {
        return false;
    };
    let avail_idx = rings.avail_idx(ctx);
    let pending = avail_idx.wrapping_sub(queue.last_avail);
    if pending > rings.size {
        ctx.guest_error(
            dev,
            format_args!(
                "driver ring index moved from {} to {avail_idx}, more than the queue size {}",
                queue.last_avail, rings.size
            ),
        );
        return false;
    }
    for _ in 0..pending {
        let n = queue.last_avail;
        let head = rings.avail_head(ctx, n);
        let len = match rings.chain(ctx, head) {
            Ok(chain) => handle(&chain, ctx),
            Err(e) => {
                ctx.guest_error(dev, format_args!("malformed chain at head {head}: {e}"));
                0
            }
        };
        // Requests complete in order, so the used index follows the available one.
        rings.push_used(ctx, n, head, len);
        queue.last_avail = n.wrapping_add(1);
    }
    pending != 0 && rings.avail_flags(ctx) & AVAIL_F_NO_INTERRUPT == 0
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bus::{Bus, Ram};
    use crate::irq::IrqState;
    use crate::logging::Log;

    pub const RAM: u64 = 0x8000_0000;
    pub const DESC: u64 = RAM + 0x1000;
    pub const AVAIL: u64 = RAM + 0x2000;
    pub const USED: u64 = RAM + 0x3000;
    /// Where test buffers start.
    pub const BUF: u64 = RAM + 0x1_0000;

    /// A bus with 1 MiB of RAM, no devices: the guest side of a queue is built in it.
    pub fn ram_bus() -> Bus {
        Bus::new(
            Ram::new(RAM, 1 << 20),
            Ram::new(0x1000, 0x1000),
            IrqState::new(1),
            Log::default(),
        )
    }

    /// Runs `f` with a device context over `bus`.
    pub fn with_ctx<R>(bus: &mut Bus, f: impl FnOnce(&mut DevCtx) -> R) -> R {
        let (_, mut ctx) = bus.split();
        f(&mut ctx)
    }

    /// A queue of `size` entries at DESC/AVAIL/USED, as a driver programs it.
    pub fn queue(size: u32) -> VirtQueue {
        VirtQueue {
            num: size,
            ready: true,
            desc: DESC,
            driver: AVAIL,
            device: USED,
            ..VirtQueue::default()
        }
    }

    /// Writes descriptor `i`.
    pub fn set_desc(bus: &mut Bus, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let mut d = [0u8; 16];
        d[..8].copy_from_slice(&addr.to_le_bytes()); // addr
        d[8..12].copy_from_slice(&len.to_le_bytes()); // len
        d[12..14].copy_from_slice(&flags.to_le_bytes()); // flags
        d[14..].copy_from_slice(&next.to_le_bytes()); // next
        assert!(bus.ram.write_bytes(DESC + 16 * u64::from(i), &d));
    }

    /// Publishes `heads` in the available ring after the `already` entries published
    /// before, and sets the ring's flags.
    pub fn publish(bus: &mut Bus, size: u16, already: u16, heads: &[u16], flags: u16) {
        for (k, h) in heads.iter().enumerate() {
            let slot = already.wrapping_add(k as u16) % size;
            assert!(bus
                .ram
                .write_bytes(AVAIL + 4 + 2 * u64::from(slot), &h.to_le_bytes()));
        }
        let idx = already.wrapping_add(heads.len() as u16);
        assert!(bus.ram.write_bytes(AVAIL, &flags.to_le_bytes()));
        assert!(bus.ram.write_bytes(AVAIL + 2, &idx.to_le_bytes()));
    }

    /// The used index and used-ring entry `n` as (id, len).
    pub fn used(bus: &Bus, n: u16, size: u16) -> (u16, (u32, u32)) {
        let idx = bus.peek(USED + 2, 2).unwrap_or(0) as u16;
        let at = USED + 4 + 8 * u64::from(n % size);
        let id = bus.ram.read_u32(at).unwrap_or(u32::MAX);
        let len = bus.ram.read_u32(at + 4).unwrap_or(u32::MAX);
        (idx, (id, len))
    }

    /// Processes `q`, recording each chain handed over, answering `reply` bytes.
    fn run(bus: &mut Bus, q: &mut VirtQueue, reply: u32) -> (bool, Vec<Chain>) {
        let mut seen = Vec::new();
        let irq = with_ctx(bus, |ctx| {
            process(q, ctx, "test", |c, _| {
                seen.push(c.clone());
                reply
            })
        });
        (irq, seen)
    }

    #[test]
    fn walks_a_chain_and_fills_the_used_ring() {
        let mut bus = ram_bus();
        let mut q = queue(8);
        // 5 -> 2 -> 7: readable 16 bytes, writable 512, writable 1.
        set_desc(&mut bus, 5, BUF, 16, DESC_F_NEXT, 2);
        set_desc(&mut bus, 2, BUF + 0x100, 512, DESC_F_NEXT | DESC_F_WRITE, 7);
        set_desc(&mut bus, 7, BUF + 0x400, 1, DESC_F_WRITE, 0);
        publish(&mut bus, 8, 0, &[5], 0);
        let (irq, seen) = run(&mut bus, &mut q, 513);
        assert!(irq);
        assert_eq!(
            seen,
            vec![Chain {
                head: 5,
                descs: vec![
                    Desc {
                        addr: BUF,
                        len: 16,
                        write: false
                    },
                    Desc {
                        addr: BUF + 0x100,
                        len: 512,
                        write: true
                    },
                    Desc {
                        addr: BUF + 0x400,
                        len: 1,
                        write: true
                    },
                ],
            }]
        );
        assert_eq!(used(&bus, 0, 8), (1, (5, 513)));
        assert_eq!(q.last_avail, 1);
        // Nothing new: nothing used, no interrupt.
        let (irq, seen) = run(&mut bus, &mut q, 1);
        assert!(!irq && seen.is_empty());
        assert_eq!(used(&bus, 0, 8).0, 1);
    }

    #[test]
    fn ring_indices_wrap() {
        let mut bus = ram_bus();
        let mut q = queue(4);
        q.last_avail = 0xfffe;
        set_desc(&mut bus, 0, BUF, 4, DESC_F_WRITE, 0);
        set_desc(&mut bus, 1, BUF, 4, 0, 0);
        set_desc(&mut bus, 3, BUF, 4, 0, 0);
        publish(&mut bus, 4, 0xfffe, &[0, 1, 3], 0);
        let (irq, seen) = run(&mut bus, &mut q, 4);
        assert!(irq);
        assert_eq!(seen.iter().map(|c| c.head).collect::<Vec<_>>(), [0, 1, 3]);
        assert_eq!(q.last_avail, 1);
        // Entries 0xfffe, 0xffff, 0 land in slots 2, 3, 0; the used index is 1.
        assert_eq!(used(&bus, 0xfffe, 4), (1, (0, 4)));
        assert_eq!(used(&bus, 0xffff, 4), (1, (1, 4)));
        assert_eq!(used(&bus, 0, 4), (1, (3, 4)));
    }

    #[test]
    fn no_interrupt_flag_is_respected() {
        let mut bus = ram_bus();
        let mut q = queue(8);
        set_desc(&mut bus, 0, BUF, 1, DESC_F_WRITE, 0);
        publish(&mut bus, 8, 0, &[0], AVAIL_F_NO_INTERRUPT);
        let (irq, seen) = run(&mut bus, &mut q, 1);
        assert!(!irq);
        assert_eq!(seen.len(), 1);
        assert_eq!(used(&bus, 0, 8), (1, (0, 1)));
    }

    /// Publishes one chain whose head is `head` and checks it is returned unprocessed.
    fn rejected(bus: &mut Bus, head: u16) {
        let mut q = queue(8);
        publish(bus, 8, 0, &[head], 0);
        let (irq, seen) = run(bus, &mut q, 99);
        assert!(irq, "the bad chain is still returned");
        assert!(seen.is_empty(), "the device never sees a malformed chain");
        assert_eq!(used(bus, 0, 8), (1, (u32::from(head), 0)));
        assert_eq!(q.last_avail, 1);
    }

    #[test]
    fn descriptor_loop_is_rejected() {
        let mut bus = ram_bus();
        set_desc(&mut bus, 0, BUF, 16, DESC_F_NEXT, 1);
        set_desc(&mut bus, 1, BUF, 16, DESC_F_NEXT, 0);
        rejected(&mut bus, 0);
        // A descriptor pointing at itself.
        let mut bus = ram_bus();
        set_desc(&mut bus, 3, BUF, 16, DESC_F_NEXT, 3);
        rejected(&mut bus, 3);
    }

    #[test]
    fn out_of_range_index_is_rejected() {
        let mut bus = ram_bus();
        rejected(&mut bus, 8);
        let mut bus = ram_bus();
        set_desc(&mut bus, 0, BUF, 16, DESC_F_NEXT, 0xffff);
        rejected(&mut bus, 0);
    }

    #[test]
    fn buffers_outside_ram_are_rejected() {
        let mut bus = ram_bus();
        set_desc(&mut bus, 0, 0x1000_0000, 16, 0, 0); // MMIO, not RAM
        rejected(&mut bus, 0);
        let mut bus = ram_bus();
        set_desc(&mut bus, 0, RAM + (1 << 20) - 8, 16, 0, 0); // runs off the end
        rejected(&mut bus, 0);
        let mut bus = ram_bus();
        set_desc(&mut bus, 0, u64::MAX - 4, 16, 0, 0); // wraps around
        rejected(&mut bus, 0);
    }

    #[test]
    fn indirect_and_misordered_chains_are_rejected() {
        let mut bus = ram_bus();
        set_desc(&mut bus, 0, BUF, 16, DESC_F_INDIRECT, 0);
        rejected(&mut bus, 0);
        let mut bus = ram_bus();
        set_desc(&mut bus, 0, BUF, 16, DESC_F_WRITE | DESC_F_NEXT, 1);
        set_desc(&mut bus, 1, BUF, 16, 0, 0);
        rejected(&mut bus, 0);
    }

    #[test]
    fn too_many_bytes_are_rejected() {
        let mut bus = Bus::new(
            Ram::new(RAM, 1 << 30),
            Ram::new(0x1000, 0x1000),
            IrqState::new(1),
            Log::default(),
        );
        set_desc(&mut bus, 0, RAM, 1 << 29, DESC_F_NEXT, 1);
        set_desc(&mut bus, 1, RAM, 1 << 29, DESC_F_NEXT, 2);
        set_desc(&mut bus, 2, RAM, 1, 0, 0);
        rejected(&mut bus, 0);
    }

    #[test]
    fn bad_rings_process_nothing() {
        // Size 0, rings outside RAM, and an index jump beyond the size.
        for q in [
            VirtQueue { num: 0, ..queue(8) },
            VirtQueue {
                desc: 0x1000,
                ..queue(8)
            },
            VirtQueue {
                driver: RAM + (1 << 20) - 4,
                ..queue(8)
            },
            VirtQueue {
                device: u64::MAX - 8,
                ..queue(8)
            },
        ] {
            let mut bus = ram_bus();
            let mut q = q;
            set_desc(&mut bus, 0, BUF, 1, 0, 0);
            publish(&mut bus, 8, 0, &[0], 0);
            let (irq, seen) = run(&mut bus, &mut q, 1);
            assert!(!irq && seen.is_empty() && q.last_avail == 0, "{q:?}");
        }
        let mut bus = ram_bus();
        let mut q = queue(8);
        assert!(bus.ram.write_bytes(AVAIL + 2, &9u16.to_le_bytes()));
        let (irq, seen) = run(&mut bus, &mut q, 1);
        assert!(!irq && seen.is_empty() && q.last_avail == 0);
        assert_eq!(used(&bus, 0, 8).0, 0);
    }

    #[test]
    fn streams_span_descriptors() {
        let mut bus = ram_bus();
        let chain = Chain {
            head: 0,
            descs: vec![
                Desc {
                    addr: BUF,
                    len: 3,
                    write: false,
                },
                Desc {
                    addr: BUF + 0x10,
                    len: 5,
                    write: false,
                },
                Desc {
                    addr: BUF + 0x20,
                    len: 2,
                    write: true,
                },
                Desc {
                    addr: BUF + 0x30,
                    len: 0,
                    write: true,
                },
                Desc {
                    addr: BUF + 0x40,
                    len: 4,
                    write: true,
                },
            ],
        };
        assert_eq!((chain.readable_len(), chain.writable_len()), (8, 6));
        assert_eq!(
            chain.segments(false, 2, 3),
            vec![(BUF + 2, 1), (BUF + 0x10, 2)]
        );
        assert_eq!(
            chain.segments(true, 1, 100),
            vec![(BUF + 0x21, 1), (BUF + 0x40, 4)]
        );
        assert!(bus.ram.write_bytes(BUF, b"abc"));
        assert!(bus.ram.write_bytes(BUF + 0x10, b"defgh"));
        with_ctx(&mut bus, |ctx| {
            let mut b = [0u8; 6];
            assert!(chain.read(ctx, 1, &mut b));
            assert_eq!(&b, b"bcdefg");
            assert!(!chain.read(ctx, 4, &mut b), "only 4 bytes from offset 4");
            assert!(chain.write(ctx, 0, b"ABCDEF"));
            assert!(!chain.write(ctx, 5, b"xy"));
        });
        let mut got = [0u8; 6];
        assert!(bus.ram.read_bytes(BUF + 0x20, &mut got[..2]));
        assert!(bus.ram.read_bytes(BUF + 0x40, &mut got[2..]));
        assert_eq!(&got, b"ABCDEF");
    }

    #[test]
    fn dma_write_invalidates_decoded_code() {
        use crate::cpu::decode::{decode, Insn};
        let mut bus = ram_bus();
        let addi = decode(0x0010_0093); // addi x1, x0, 1
        assert!(addi != Insn::UNDECODED);
        // Pages 2 and 4 of RAM hold decoded code; page 3 is data.
        for page in [2, 4] {
            bus.icache.make_code(page);
            bus.icache.set(page, 0, addi);
            bus.icache.set(page, 2047, addi);
        }
        with_ctx(&mut bus, |ctx| {
            // Covers the middle of page 2 and ends 2 bytes short of page 4.
            assert!(ctx.dma_write(RAM + 0x2800, &[0x13; 0x17fe]));
        });
        assert_eq!(bus.ram.read_u32(RAM + 0x3000), Some(0x1313_1313));
        assert!(bus.icache.slot(2, 0) == Some(addi), "before the write");
        assert!(bus.icache.slot(2, 2047) == Some(Insn::UNDECODED));
        assert!(bus.icache.slot(4, 0) == Some(addi), "after the write");
        // A write at the start of page 5 (data) still drops a 4-byte instruction that
        // starts in the last parcel of page 4 (code) and straddles into it.
        with_ctx(
            &mut bus,
            |ctx| assert!(ctx.dma_write(RAM + 0x5000, &[0; 2])),
        );
        assert!(bus.icache.slot(4, 2047) == Some(Insn::UNDECODED));
        assert!(bus.icache.slot(4, 0) == Some(addi));
        with_ctx(&mut bus, |ctx| {
            assert!(!ctx.dma_write(RAM + (1 << 20) - 1, &[0, 0]));
            let mut b = [0u8; 2];
            assert!(!ctx.dma_read(RAM - 1, &mut b));
        });
    }
}
