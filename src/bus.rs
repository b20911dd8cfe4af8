//! Guest physical memory: RAM, ROM, and the MMIO bus.
//!
//! Every device implements [`Device`], which sees offsets relative to its own base. The
//! [`Bus`] owns the devices, checks that their ranges never overlap when they are
//! registered, and routes each access. Devices never see each other: they reach the rest
//! of the machine (interrupt lines, RAM for DMA, console output, board events) through the
//! [`DevCtx`] argument.

use crate::clock::Clock;
use crate::cpu::icache::ICache;
use crate::irq::IrqState;
use crate::logging::Log;
use crate::watch::Watchpoints;
use std::any::Any;
use std::fmt;

/// A guest physical address. Kept distinct from virtual addresses so the two cannot mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhysAddr(pub u64);

impl fmt::Display for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// Page size used by the TLBs and the decoded-instruction cache.
pub const PAGE_SHIFT: u32 = 12;
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// Guest RAM: one contiguous region at a fixed physical base.
pub struct Ram {
    pub base: u64,
    pub data: Vec<u8>,
}

impl Ram {
    pub fn new(base: u64, size: usize) -> Ram {
        let data = vec![0; size];
        advise_huge_pages(&data);
        Ram { base, data }
    }

    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }

    /// Offset of `pa` inside RAM when `pa..pa+len` lies entirely in RAM.
    #[inline]
    pub fn offset(&self, pa: u64, len: u64) -> Option<usize> {
        let off = pa.wrapping_sub(self.base);
        if off < self.size() && len <= self.size() - off {
            Some(off as usize)
        } else {
            None
        }
    }

    pub fn read_bytes(&self, pa: u64, buf: &mut [u8]) -> bool {
        match self.offset(pa, buf.len() as u64) {
            Some(o) => {
                buf.copy_from_slice(&self.data[o..o + buf.len()]);
                true
            }
            None => false,
        }
    }

    pub fn write_bytes(&mut self, pa: u64, buf: &[u8]) -> bool {
        match self.offset(pa, buf.len() as u64) {
            Some(o) => {
                self.data[o..o + buf.len()].copy_from_slice(buf);
                true
            }
            None => false,
        }
    }

    pub fn read_u32(&self, pa: u64) -> Option<u32> {
        let mut b = [0u8; 4];
        self.read_bytes(pa, &mut b).then(|| u32::from_le_bytes(b))
    }

    pub fn read_u64(&self, pa: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        self.read_bytes(pa, &mut b).then(|| u64::from_le_bytes(b))
    }
}

/// Asks the host kernel to back guest RAM with transparent huge pages.
///
/// Guest accesses that land on many different pages otherwise miss the host's TLB on
/// almost every access; with 2 MiB pages the memory-bound benchmark (benches/guests/mem)
/// runs markedly faster. It is only a hint: failure changes nothing.
fn advise_huge_pages(data: &[u8]) {
    const HUGE: usize = 2 << 20;
    let start = data.as_ptr() as usize;
    let aligned = start.next_multiple_of(HUGE);
    let end = start + data.len();
    if aligned + HUGE <= end {
        let len = (end - aligned) / HUGE * HUGE;
        // SAFETY: [aligned, aligned+len) lies inside `data`, a live allocation we own;
        // MADV_HUGEPAGE only changes how the kernel backs it, never its contents.
        unsafe {
            libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
    }
}

/// Something a device asks of the board. The machine acts on these after the access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoardEvent {
    /// The guest asked to power off (sifive_test 0x5555, HTIF exit 0).
    PowerOff,
    /// The guest asked for a reset (sifive_test 0x7777).
    Reset,
    /// The guest reported failure with an exit code (sifive_test 0x3333, HTIF).
    Fail(u32),
    /// A device changed interrupt inputs; the machine recomputes hart `mip` bits.
    IrqChanged,
    /// The guest wrote mtime.
    SetTime(u64),
    /// A device's DMA wrote watched memory (the address as the watchpoint names it).
    DmaWatch {
        addr: u64,
        kind: crate::watch::WatchKind,
    },
    /// The guest reported a panic (pvpanic PANICKED).
    GuestPanicked,
    /// The guest loaded a crash kernel and is about to run it (pvpanic CRASH_LOADED).
    GuestCrashLoaded,
    /// The guest reported a shutdown through pvpanic (SHUTDOWN).
    GuestPvShutdown,
    /// A watchdog ran out in system-reset mode.
    WatchdogExpired,
}

/// What a device can reach during an access. Owned by the machine, lent per access.
pub struct DevCtx<'a> {
    /// Current machine time in timebase ticks (10 MHz).
    pub now: u64,
    /// Interrupt state: device lines into the PLIC, and CLINT/PLIC outputs per hart.
    pub irq: &'a mut IrqState,
    /// Guest RAM, for DMA-capable devices (virtio, fw_cfg). Devices write it through
    /// [`DevCtx::dma_write`], which keeps decoded code coherent.
    pub ram: &'a mut Ram,
    /// Decoded code per RAM page, invalidated by DMA writes to code pages.
    pub icache: &'a mut ICache,
    /// Bytes the guest wrote to the console.
    pub console: &'a mut Vec<u8>,
    /// Requests to the board.
    pub events: &'a mut Vec<BoardEvent>,
    /// Log categories (`-d guest_errors`, `-d unimp`).
    pub log: &'a Log,
    /// Debugger watchpoints: DMA writes into watched memory stop the machine.
    pub watch: &'a Watchpoints,
}

impl DevCtx<'_> {
    /// Drives device interrupt line `line` (a PLIC source) to `level`.
    pub fn set_irq(&mut self, line: u32, level: bool) {
        if self.irq.set_line(line, level) {
            self.events.push(BoardEvent::IrqChanged);
        }
    }

    /// Reads guest RAM at `pa` into `buf` (device DMA). False, with nothing read, when
    /// any byte of the range lies outside RAM.
    pub fn dma_read(&self, pa: u64, buf: &mut [u8]) -> bool {
        self.ram.read_bytes(pa, buf)
    }

    /// Writes `data` to guest RAM at `pa` (device DMA). False, with nothing written, when
    /// any byte of the range lies outside RAM. Decoded instructions of every code page
    /// the write touches are invalidated, as for a hart store ([`Bus::note_ram_write`]).
    pub fn dma_write(&mut self, pa: u64, data: &[u8]) -> bool {
        let Some(off) = self.ram.offset(pa, data.len() as u64) else {
            return false;
        };
        if data.is_empty() {
            return true;
        }
        self.ram.data[off..off + data.len()].copy_from_slice(data);
        // A DMA transfer may span many pages: check each one, and the page before when
        // the write starts within 2 bytes of it (a 4-byte instruction may straddle).
        let first = off.saturating_sub(2) >> PAGE_SHIFT;
        let last = (off + data.len() - 1) >> PAGE_SHIFT;
        if (first..=last).any(|p| self.icache.is_code(p)) {
            let _ = self.icache.invalidate(off, data.len());
        }
        // Watched memory: the machine stops after this device access, with the hit.
        if self.watch.active() {
            if let Some((addr, kind)) = self.watch.check_dma(pa, data.len() as u64) {
                self.events.push(BoardEvent::DmaWatch { addr, kind });
            }
        }
        true
    }

    /// Logs a guest programming error under `-d guest_errors`.
    pub fn guest_error(&self, dev: &str, msg: fmt::Arguments<'_>) {
        self.log.guest_error(format_args!("{dev}: {msg}"));
    }

    /// Logs use of an unimplemented feature under `-d unimp`.
    pub fn unimp(&self, dev: &str, msg: fmt::Arguments<'_>) {
        self.log.unimp(format_args!("{dev}: {msg}"));
    }
}

/// Information a device needs to describe itself in the device tree.
pub struct FdtCtx {
    /// Phandle of the PLIC (the `interrupt-parent` of device interrupts).
    pub plic_phandle: u32,
    /// Phandles of each hart's local interrupt controller.
    pub cpu_intc_phandles: Vec<u32>,
    /// Number of harts.
    pub harts: usize,
    /// Timebase frequency in Hz.
    pub timebase: u64,
}

/// Read-only typed access to any device ([`Bus::device`]), implemented for every type.
pub trait AsAny {
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An MMIO device. Offsets are relative to the device's base; sizes are 1, 2, 4 or 8.
///
/// A device must never panic on guest input: a bad access is logged (`ctx.guest_error`)
/// and ignored, reads of unknown registers return 0.
pub trait Device: Send + AsAny {
    /// Short name, used in logs and the device tree.
    fn name(&self) -> &'static str;
    /// Size of the register window in bytes.
    fn size(&self) -> u64;
    /// A guest read.
    fn read(&mut self, offset: u64, size: u8, ctx: &mut DevCtx) -> u64;
    /// A guest write.
    fn write(&mut self, offset: u64, size: u8, value: u64, ctx: &mut DevCtx);
    /// A side-effect-free read for debuggers. Must not consume data or change state.
    fn peek(&self, _offset: u64, _size: u8) -> u64 {
        0
    }
    /// Adds this device's node to the device tree. `irq` is its PLIC source, if any.
    fn fdt(
        &self,
        _base: u64,
        _irq: Option<u32>,
        _fdt: &mut vm_fdt::FdtWriter,
        _ctx: &FdtCtx,
    ) -> vm_fdt::FdtWriterResult<()> {
        Ok(())
    }
    /// True when the node goes at the root of the tree rather than in `/soc` (QEMU puts
    /// `fw-cfg` there).
    fn fdt_at_root(&self) -> bool {
        false
    }
    /// The next machine time (ticks) at which this device wants [`Device::tick`].
    fn next_deadline(&self) -> Option<u64> {
        None
    }
    /// Called when machine time reaches the deadline, and after host input arrives.
    fn tick(&mut self, _ctx: &mut DevCtx) {}
    /// Resets the device to its power-on state.
    fn reset(&mut self) {}
    /// The device's fields for the device-state file ([`crate::devstate`]); None when
    /// it has no state of its own (and so no section in the file).
    fn save_state(&self) -> Option<Vec<u8>> {
        None
    }
    /// Reads fields written by [`Device::save_state`], checking all of them, and
    /// changes the device only when `apply` (loading checks every section first).
    fn load_state(&mut self, data: &[u8], apply: bool) -> Result<(), String> {
        let _ = (data, apply);
        Err(format!("{} has no saved state", self.name()))
    }
    /// For the board's typed access to specific devices (console input, for example).
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// Errors from building the bus.
#[derive(Debug)]
pub enum BusError {
    Overlap {
        name: &'static str,
        base: u64,
        other: &'static str,
    },
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusError::Overlap { name, base, other } => {
                write!(f, "Device {name} at {base:#x} overlaps {other}")
            }
        }
    }
}

impl std::error::Error for BusError {}

/// One device on the bus.
pub struct Slot {
    pub base: u64,
    pub size: u64,
    pub irq: Option<u32>,
    pub dev: Box<dyn Device>,
}

/// Guest-visible memory: RAM, the reset ROM, and MMIO devices.
pub struct Bus {
    pub ram: Ram,
    /// Read-only memory (the reset vector ROM at 0x1000).
    pub rom: Ram,
    pub devices: Vec<Slot>,
    pub irq: IrqState,
    pub console: Vec<u8>,
    pub events: Vec<BoardEvent>,
    pub log: Log,
    /// Current machine time in ticks; updated before each device access.
    pub now: u64,
    pub clock: Clock,
    /// Decoded code per RAM page.
    pub icache: ICache,
    /// Debug watchpoints (pages flagged so the TLBs skip them).
    pub watch: Watchpoints,
    /// Debugger breakpoints (virtual addresses) checked by the uncached, one
    /// instruction at a time path (code outside RAM, such as the reset ROM).
    pub slow_bps: Vec<u64>,
    /// Breakpoints or panic traps are armed: a hart that changes its translation ends
    /// its run, so the machine re-arms them through the new mappings at once.
    pub remap_stops: bool,
    /// Physical address of the HTIF `tohost` word, when the guest ELF defines one.
    pub htif: Option<u64>,
}

/// Result of an MMIO access that hit nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unmapped;

impl Bus {
    pub fn new(ram: Ram, rom: Ram, irq: IrqState, log: Log) -> Bus {
        let pages = ram.data.len().div_ceil(PAGE_SIZE as usize);
        Bus {
            clock: Clock::new(false, 10_000_000),
            icache: ICache::new(pages),
            watch: Watchpoints::default(),
            slow_bps: Vec::new(),
            remap_stops: false,
            htif: None,
            ram,
            rom,
            devices: Vec::new(),
            irq,
            console: Vec::new(),
            events: Vec::new(),
            log,
            now: 0,
        }
    }

    /// Keeps decoded code coherent after a write to RAM at `pa`. Returns true when the
    /// write changed decoded code (the writing hart then ends its run).
    #[inline]
    pub fn note_ram_write(&mut self, pa: u64, len: u64) -> bool {
        if let Some(off) = self.ram.offset(pa, len) {
            if self.icache.is_code(off >> 12) || self.icache.is_code((off + len as usize - 1) >> 12)
            {
                return self.icache.invalidate(off, len as usize);
            }
        }
        false
    }

    /// True when stores to the page at `page_pa` must take the slow path for HTIF.
    #[inline]
    pub fn htif_page(&self, page_pa: u64) -> bool {
        self.htif.is_some_and(|t| t & !(PAGE_SIZE - 1) == page_pa)
    }

    /// Handles a store that touched the HTIF `tohost` word (Spike's convention).
    pub fn htif_store(&mut self, pa: u64, len: u64) {
        let Some(tohost) = self.htif else { return };
        if pa >= tohost + 8 || pa + len <= tohost {
            return;
        }
        let Some(v) = self.ram.read_u64(tohost) else {
            return;
        };
        if v == 0 {
            return;
        }
        let (dev, cmd, payload) = (v >> 56, (v >> 48) & 0xff, v & 0xffff_ffff_ffff);
        match (dev, cmd) {
            (0, 0) if payload & 1 == 1 => {
                let code = (payload >> 1) as u32;
                self.events.push(if code == 0 {
                    BoardEvent::PowerOff
                } else {
                    BoardEvent::Fail(code)
                });
            }
            (1, 1) => {
                self.console.push(payload as u8);
                // Acknowledge: clear tohost, post the completion in fromhost.
                self.ram.write_bytes(tohost, &[0; 8]);
                self.ram
                    .write_bytes(tohost + 8, &((1u64 << 56) | (1 << 48)).to_le_bytes());
            }
            _ => {
                self.log
                    .unimp(format_args!("htif: unsupported request {v:#x} to tohost"));
                self.ram.write_bytes(tohost, &[0; 8]);
            }
        }
    }

    /// Registers a device. Ranges are checked against RAM, ROM and every other device.
    pub fn add(
        &mut self,
        base: u64,
        irq: Option<u32>,
        dev: Box<dyn Device>,
    ) -> Result<usize, BusError> {
        let size = dev.size();
        let overlaps = |b: u64, s: u64| base < b.saturating_add(s) && b < base.saturating_add(size);
        let clash = if overlaps(self.ram.base, self.ram.size()) {
            Some("RAM")
        } else if overlaps(self.rom.base, self.rom.size()) {
            Some("ROM")
        } else {
            self.devices
                .iter()
                .find(|s| overlaps(s.base, s.size))
                .map(|s| s.dev.name())
        };
        if let Some(other) = clash {
            return Err(BusError::Overlap {
                name: dev.name(),
                base,
                other,
            });
        }
        self.devices.push(Slot {
            base,
            size,
            irq,
            dev,
        });
        Ok(self.devices.len() - 1)
    }

    /// Finds the device covering `pa..pa+size`.
    #[inline]
    /// A one-line-per-device description of the board (HMP `info qtree-lite`).
    pub fn describe(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "ram @ {:#012x} size {:#x}",
            self.ram.base,
            self.ram.size()
        );
        let _ = writeln!(
            s,
            "rom @ {:#012x} size {:#x}",
            self.rom.base,
            self.rom.size()
        );
        for d in &self.devices {
            let _ = write!(s, "{} @ {:#012x} size {:#x}", d.dev.name(), d.base, d.size);
            if let Some(irq) = d.irq {
                let _ = write!(s, " irq {irq}");
            }
            s.push('\n');
        }
        s
    }

    pub fn find(&self, pa: u64, size: u8) -> Option<usize> {
        self.devices
            .iter()
            .position(|s| pa >= s.base && pa + size as u64 <= s.base + s.size)
    }

    /// Splits the bus into its devices and the context a device may use during an
    /// access (the one place that builds a [`DevCtx`]).
    pub fn split(&mut self) -> (&mut [Slot], DevCtx<'_>) {
        let Bus {
            ram,
            devices,
            irq,
            console,
            events,
            log,
            now,
            icache,
            watch,
            ..
        } = self;
        let ctx = DevCtx {
            now: *now,
            irq,
            ram,
            icache,
            console,
            events,
            log,
            watch,
        };
        (devices, ctx)
    }

    /// Runs `f` on device `idx` with the context it may use.
    fn with_dev<R>(&mut self, idx: usize, f: impl FnOnce(&mut dyn Device, &mut DevCtx) -> R) -> R {
        let (devices, mut ctx) = self.split();
        f(devices[idx].dev.as_mut(), &mut ctx)
    }

    /// A guest load from a non-RAM physical address.
    pub fn mmio_read(&mut self, pa: u64, size: u8) -> Result<u64, Unmapped> {
        if let Some(o) = self.rom.offset(pa, size as u64) {
            let mut b = [0u8; 8];
            b[..size as usize].copy_from_slice(&self.rom.data[o..o + size as usize]);
            return Ok(u64::from_le_bytes(b));
        }
        let idx = self.find(pa, size).ok_or(Unmapped)?;
        let off = pa - self.devices[idx].base;
        Ok(self.with_dev(idx, |d, ctx| d.read(off, size, ctx)))
    }

    /// A guest store to a non-RAM physical address.
    pub fn mmio_write(&mut self, pa: u64, size: u8, val: u64) -> Result<(), Unmapped> {
        if self.rom.offset(pa, size as u64).is_some() {
            self.log
                .guest_error(format_args!("write to ROM at {pa:#x} ignored"));
            return Ok(());
        }
        let idx = self.find(pa, size).ok_or(Unmapped)?;
        let off = pa - self.devices[idx].base;
        self.with_dev(idx, |d, ctx| d.write(off, size, val, ctx));
        Ok(())
    }

    /// A side-effect-free read of any physical address, for debuggers.
    pub fn peek(&self, pa: u64, size: u8) -> Option<u64> {
        let mut b = [0u8; 8];
        if self.ram.read_bytes(pa, &mut b[..size as usize])
            || self.rom.read_bytes(pa, &mut b[..size as usize])
        {
            return Some(u64::from_le_bytes(b));
        }
        let idx = self.find(pa, size)?;
        Some(
            self.devices[idx]
                .dev
                .peek(pa - self.devices[idx].base, size),
        )
    }

    /// The earliest device deadline, in ticks.
    pub fn next_deadline(&self) -> Option<u64> {
        self.devices
            .iter()
            .filter_map(|s| s.dev.next_deadline())
            .min()
    }

    /// Ticks every device whose deadline has passed (or all, when `all`).
    pub fn tick_devices(&mut self, all: bool) {
        let now = self.now;
        for i in 0..self.devices.len() {
            let due = all
                || self.devices[i]
                    .dev
                    .next_deadline()
                    .is_some_and(|d| d <= now);
            if due {
                self.with_dev(i, |d, ctx| d.tick(ctx));
            }
        }
    }

    /// Typed access to a device by index.
    pub fn device_mut<T: 'static>(&mut self, idx: usize) -> Option<&mut T> {
        self.devices
            .get_mut(idx)?
            .dev
            .as_any_mut()
            .downcast_mut::<T>()
    }

    /// Read-only typed access to a device by index.
    pub fn device<T: 'static>(&self, idx: usize) -> Option<&T> {
        // Through `&dyn Device`: the box itself is `Any` too, and must not be picked.
        let dev: &dyn Device = &*self.devices.get(idx)?.dev;
        dev.as_any().downcast_ref::<T>()
    }

    pub fn reset_devices(&mut self) {
        for s in &mut self.devices {
            s.dev.reset();
        }
    }
}
