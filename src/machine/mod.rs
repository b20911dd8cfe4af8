//! The `virt` board and its run loop.
//!
//! [`Machine`] owns the harts and the bus (RAM, ROM, devices, interrupt state). It
//! interleaves the harts deterministically: time advances in rounds, and in each round
//! every hart runs the same number of steps, in hart order. A round never crosses a
//! timer or device deadline, so interrupts arrive at the exact step they are due. When
//! every hart waits in WFI, virtual time jumps straight to the next deadline.

pub mod board;
pub mod debug;
pub mod fdt;
pub mod layout;
pub mod loader;

use crate::bus::{BoardEvent, Bus};
use crate::clock::STEPS_PER_TICK;
use crate::cpu::exec::Stop;
use crate::cpu::trap::irq;
use crate::cpu::{Hart, HartState};
use crate::devices::fw_cfg::FwCfg;
use crate::devices::vmcoreinfo::{self, GuestNote, VmcoreinfoReg};
use loader::Blob;

/// Steps each hart runs per round when there are several harts.
pub const SMP_QUANTUM: u64 = 10_000;
/// Upper bound of a round with one hart.
pub const UP_QUANTUM: u64 = 1_000_000;

/// Why the machine stopped running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The step budget was used up; call [`Machine::run`] again.
    Budget,
    /// Every hart waits for an interrupt and no deadline is pending (or, with wall-clock
    /// time, the next deadline is in the future): wait for outside input.
    Idle,
    /// The guest asked to power off.
    PowerOff,
    /// The guest asked for a reset.
    Reset,
    /// The guest reported failure with an exit code.
    Fail(u32),
    /// The guest reported a panic (pvpanic). The panic action applies.
    GuestPanicked,
    /// The guest loaded a crash kernel and is about to run it (pvpanic); it goes on.
    GuestCrashLoaded,
    /// The guest reported a shutdown through pvpanic; a guest shutdown follows.
    GuestPvShutdown,
    /// A watchdog expired. The watchdog action applies.
    Watchdog,
    /// A hart reached a debugger breakpoint.
    Breakpoint(usize),
    /// A hart's instruction at `pc` was about to access a watched address (it has not
    /// executed).
    Watchpoint {
        hart: usize,
        kind: crate::watch::WatchKind,
        addr: u64,
    },
    /// A device's DMA, started by `hart`'s access, wrote watched memory (the write and
    /// the instruction are done; `pc` is past it).
    DmaWatch {
        hart: usize,
        kind: crate::watch::WatchKind,
        addr: u64,
    },
}

impl Outcome {
    /// The outcome with the hart that caused it, where it names one.
    pub fn on_hart(self, h: usize) -> Outcome {
        match self {
            Outcome::DmaWatch { kind, addr, .. } => Outcome::DmaWatch {
                hart: h,
                kind,
                addr,
            },
            o => o,
        }
    }
}

/// A board: harts, memory, devices, and what to load at reset.
pub struct Machine {
    pub harts: Vec<Hart>,
    pub bus: Bus,
    /// Machine time in steps (each hart executes one instruction per step).
    pub steps: u64,
    /// Images copied into memory at every reset.
    pub blobs: Vec<Blob>,
    /// The device tree blob given to the guest, and where it is.
    pub fdt: Vec<u8>,
    pub fdt_addr: u64,
    /// Index of UART0 on the bus.
    pub uart: usize,
    /// Index of the fw_cfg device on the bus.
    pub fw_cfg: Option<usize>,
    /// Symbols from the ELF images (name, address, size).
    pub symbols: Vec<(String, u64, u64)>,
    /// Debugger state: breakpoints, options (see [`debug`]).
    pub debug: debug::DebugState,
    /// The run state, actions and pending QMP events, shared by gdb and QMP.
    pub vm: crate::runstate::Vm,
    /// A stop that happened inside a command (stepping over a gdb stop on `cont`),
    /// for the event loop to handle like any other outcome.
    pub pending_outcome: Option<Outcome>,
}

impl Machine {
    /// Resets harts and devices and copies the images in again.
    pub fn reset(&mut self) {
        // Breakpoint slots live in the decoded cache, which the reset flushes.
        self.debug_forget_stop();
        for h in &mut self.harts {
            h.reset(layout::MROM_BASE);
        }
        self.bus.reset_devices();
        self.bus.irq.reset();
        self.bus.icache.flush_all();
        for b in &self.blobs {
            if !self.bus.ram.write_bytes(b.addr, &b.data) {
                self.bus.rom.write_bytes(b.addr, &b.data);
            }
        }
        self.bus.events.clear();
        self.update_interrupts(self.steps);
        if self.running() {
            self.debug_arm();
        }
    }

    /// Recomputes the hardware-driven mip bits of every hart at machine step `now`.
    pub fn update_interrupts(&mut self, now: u64) {
        let ticks = self.bus.clock.ticks(now);
        for (h, hart) in self.harts.iter_mut().enumerate() {
            let hi = &self.bus.irq.harts[h];
            let (meip, seip) = self.bus.irq.external(h);
            let mut mip = 0;
            if hi.msip {
                mip |= 1 << irq::MSI;
            }
            if ticks >= hi.mtimecmp {
                mip |= 1 << irq::MTI;
            }
            if hart.csr.stimer().is_some_and(|t| ticks >= t) {
                mip |= 1 << irq::STI;
            }
            if meip {
                mip |= 1 << irq::MEI;
            }
            if seip {
                mip |= 1 << irq::SEI;
            }
            hart.mip_hw = mip;
        }
    }

    /// The next machine step at which a timer or device deadline falls, after `now`.
    fn next_deadline(&self, now: u64) -> Option<u64> {
        let clock = &self.bus.clock;
        let timers = self.bus.irq.harts.iter().map(|h| h.mtimecmp);
        let stimers = self.harts.iter().filter_map(|h| h.csr.stimer());
        timers
            .chain(stimers)
            .chain(self.bus.next_deadline())
            .filter_map(|t| clock.step_of_tick(t))
            .filter(|&s| s > now)
            .min()
    }

    /// Handles events raised by devices. Returns an outcome that ends the run, if any.
    fn process_events(&mut self, now: u64) -> Option<Outcome> {
        let mut out = None;
        let mut irq_changed = false;
        for ev in std::mem::take(&mut self.bus.events) {
            match ev {
                BoardEvent::PowerOff => out = out.or(Some(Outcome::PowerOff)),
                BoardEvent::Reset => out = out.or(Some(Outcome::Reset)),
                BoardEvent::Fail(c) => out = out.or(Some(Outcome::Fail(c))),
                BoardEvent::GuestPanicked => out = out.or(Some(Outcome::GuestPanicked)),
                BoardEvent::GuestCrashLoaded => out = out.or(Some(Outcome::GuestCrashLoaded)),
                BoardEvent::GuestPvShutdown => out = out.or(Some(Outcome::GuestPvShutdown)),
                BoardEvent::WatchdogExpired => out = out.or(Some(Outcome::Watchdog)),
                // The hart is filled in by the caller that knows which one made the
                // device access (hart 0 for device activity between instructions).
                BoardEvent::DmaWatch { addr, kind } => {
                    out = out.or(Some(Outcome::DmaWatch {
                        hart: 0,
                        kind,
                        addr,
                    }))
                }
                BoardEvent::IrqChanged => irq_changed = true,
                BoardEvent::SetTime(v) => {
                    self.bus.clock.set(now, v);
                    irq_changed = true;
                }
            }
        }
        if irq_changed {
            self.update_interrupts(now);
        }
        out
    }

    fn all_idle(&self) -> bool {
        self.harts
            .iter()
            .all(|h| h.debug_frozen || (h.state == HartState::Wfi && h.mip() & h.csr.mie == 0))
    }

    /// Runs the machine for up to `max_steps` steps.
    pub fn run(&mut self, max_steps: u64) -> Outcome {
        let smp = self.harts.len() > 1;
        let mut end = self.steps.saturating_add(max_steps);
        let quantum = if smp { SMP_QUANTUM } else { UP_QUANTUM };
        if smp {
            // With several harts, where a round ends decides which hart sees which store
            // first. Rounds therefore end on a fixed grid of machine time (and at timer
            // deadlines), never where the caller's slice happens to end: slices are
            // shorter while a debugger or QMP client is attached, and the run must not
            // depend on that. A slice may overrun by less than one quantum.
            end = end.div_ceil(SMP_QUANTUM).saturating_mul(SMP_QUANTUM);
        }
        while self.steps < end {
            let now = self.steps;
            self.bus.now = self.bus.clock.ticks(now);
            self.bus.tick_devices(false);
            if let Some(o) = self.process_events(now) {
                return o;
            }
            self.update_interrupts(now);
            let deadline = self.next_deadline(now);
            if self.all_idle() {
                match deadline {
                    Some(d) if self.bus.clock.is_virtual() => {
                        self.steps = d;
                        continue;
                    }
                    _ => return Outcome::Idle,
                }
            }
            let to_grid = if smp {
                quantum - now % quantum
            } else {
                quantum
            };
            let mut q = to_grid.min(end - now);
            if let Some(d) = deadline {
                q = q.min(d - now);
            }
            self.bus.remap_stops = self.debug_armed();
            for h in 0..self.harts.len() {
                if self.harts[h].debug_frozen {
                    continue;
                }
                let mut done = 0;
                while done < q {
                    let start = now + done;
                    let stop = self.harts[h].run(&mut self.bus, q - done, start);
                    done = self.harts[h].run_start - now;
                    if self.harts[h].remapped {
                        self.harts[h].remapped = false;
                        self.debug_remapped();
                    }
                    if !self.bus.events.is_empty() {
                        if let Some(o) = self.process_events(now + done) {
                            let o = o.on_hart(h);
                            self.steps = now + done;
                            return o;
                        }
                        // A timer may now be due sooner than the end of this round.
                        if let Some(d) = self.next_deadline(now + done) {
                            q = q.min(d - now).max(done);
                        }
                    }
                    match stop {
                        Stop::Wfi => break,
                        Stop::Breakpoint => {
                            self.steps = now + done;
                            return Outcome::Breakpoint(h);
                        }
                        Stop::Watchpoint => {
                            self.steps = now + done;
                            if let Some(hit) = self.bus.watch.hit.take() {
                                return Outcome::Watchpoint {
                                    hart: h,
                                    kind: hit.kind,
                                    addr: hit.addr,
                                };
                            }
                        }
                        Stop::Budget => {}
                    }
                    self.update_interrupts(now + done);
                }
            }
            self.steps = now + q;
        }
        // Leave the derived interrupt state current for whoever looks next (a debugger,
        // a device-state save).
        self.update_interrupts(self.steps);
        Outcome::Budget
    }

    /// The guest's vmcoreinfo note, checked and parsed ([`vmcoreinfo::read_guest_note`]).
    ///
    /// `Ok(None)`: no note is registered (or the board has no vmcoreinfo device).
    /// `Err(warning)`: the guest registered one that cannot be used; a dump goes on
    /// without it and prints the warning.
    pub fn vmcoreinfo(&self) -> Result<Option<GuestNote>, String> {
        match self.vmcoreinfo_reg() {
            Some(reg) => vmcoreinfo::read_guest_note(&self.bus.ram, &reg).map(Some),
            None => Ok(None),
        }
    }

    /// The guest's registration in `etc/vmcoreinfo`, if it made a valid one.
    pub fn vmcoreinfo_reg(&self) -> Option<VmcoreinfoReg> {
        self.fw_cfg_device()?.vmcoreinfo()
    }

    /// True when the board offers `etc/vmcoreinfo` (on unless turned off).
    pub fn has_vmcoreinfo(&self) -> bool {
        self.fw_cfg_device().is_some_and(|f| f.has_vmcoreinfo())
    }

    fn fw_cfg_device(&self) -> Option<&FwCfg> {
        self.bus.device::<FwCfg>(self.fw_cfg?)
    }

    /// Total instructions retired by all harts.
    pub fn retired(&self) -> u64 {
        self.harts.iter().map(|h| h.instret).sum()
    }

    /// Machine time in seconds of guest time.
    pub fn guest_seconds(&self) -> f64 {
        self.steps as f64 / (STEPS_PER_TICK * layout::TIMEBASE_HZ) as f64
    }
}
