//! The debug API of the machine: the one interface the gdb server and the monitor
//! commands are adapters over.
//!
//! - **Pause and resume** are run-state changes ([`Machine::vm_stop`], [`Machine::vm_start`])
//!   on the one [`crate::runstate::Vm`] that QMP shares; the event loop runs the harts
//!   only in `running`.
//! - **Single-step** ([`Machine::debug_step`]) runs exactly one instruction of one hart.
//!   Interrupts are not taken during the step unless [`DebugState::step_irq`] is set (then
//!   a step that takes one ends on the handler's first instruction), and machine time
//!   does not advance (QEMU's default `NOIRQ|NOTIMER`).
//! - **Registers**: [`Reg`] names every register a debugger sees; reads and writes go
//!   through the side-effect-free CSR accessors.
//! - **Memory** is read and written through a hart's current translation (satp,
//!   privilege, MPRV) with [`crate::cpu::Hart::walk`]: no A/D updates, no TLB fill, no
//!   trap. [`DebugState::phys`] switches to physical addresses. Writes to RAM invalidate
//!   decoded code.
//! - **Breakpoints** are native, unlimited and never written into guest memory: the set
//!   of virtual addresses is kept here, and on every resume each is translated through
//!   every hart's current fetch translation and the decoded slot of that physical place
//!   is replaced by an `Op::Breakpoint` slot. The hot loop leaves on such a slot without
//!   executing it. Before a step, or when a stop is reported, the slots are restored
//!   (re-decoded from memory). A hart that stops on a breakpoint slot whose address is
//!   not a breakpoint (another hart's mapping, a stale mapping) has the slot restored and
//!   goes on. Code outside RAM (the reset ROM) is never cached; there the slow path checks
//!   the list of breakpoint addresses.
//! - **Watchpoints** (write, read, access; any length; unlimited) translate their
//!   virtual address once, when inserted, and flag the physical pages so the TLBs skip
//!   them. A mapping change after insertion is not tracked. A hit stops the hart before
//!   the access takes effect, with `pc` at the accessing instruction.
//! - **Resuming** after a breakpoint or watchpoint stop first executes the stopped
//!   instruction once (breakpoints disarmed, watchpoints suspended), then re-arms.

use super::{Machine, Outcome};
use crate::bus::PAGE_SIZE;
use crate::cpu::csr::{self, WriteEffect};
use crate::cpu::decode::{Insn, Op};
use crate::cpu::exec::Stop;
use crate::cpu::trap::Access;
use crate::cpu::{Hart, HartState, PRV_M, PRV_S, PRV_U};
use crate::runstate::RunState;
use crate::watch::{WatchKind, Watchpoint};
use std::collections::BTreeMap;

/// A register as a debugger names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reg {
    /// Integer register x0..x31.
    X(u8),
    Pc,
    /// FP register f0..f31 (raw 64 bits).
    F(u8),
    /// A CSR by number (including fflags, frm, fcsr).
    Csr(u16),
    /// The current privilege level (0 U, 1 S, 3 M).
    Priv,
}

/// What a stop on a breakpoint slot was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BpHit {
    /// Not a breakpoint (another hart's mapping, a stale slot): go on.
    None,
    /// A debugger breakpoint.
    Debugger,
    /// A panic function's trap (its symbol name).
    Panic(String),
}

/// Breakpoint flavours; both are implemented the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BpKind {
    Sw,
    Hw,
}

/// Debugger state kept by the machine.
#[derive(Default)]
pub struct DebugState {
    /// Memory access by physical address instead of through a hart's translation.
    pub phys: bool,
    /// Take pending interrupts while single-stepping (off by default, as QEMU).
    pub step_irq: bool,
    /// Breakpoints by virtual address: (software, hardware) insertion counts.
    breakpoints: BTreeMap<u64, (u32, u32)>,
    /// Panic detection: the traps in the kernel's panic functions (entry, or after the
    /// prologue: see `symbols::panic_traps`).
    panic_traps: BTreeMap<u64, String>,
    /// Decoded slots currently holding a breakpoint: (RAM page, slot).
    armed: Vec<(usize, usize)>,
    /// A hart stopped before an instruction that must execute once before re-arming:
    /// (hart, pc, it was a watchpoint hit).
    step_over: Option<(usize, u64, bool)>,
}

/// What a debugger stop means for the event loop.
impl DebugState {
    /// The kind a stop at `va` should be reported as, when it is a breakpoint.
    pub fn breakpoint_at(&self, va: u64) -> Option<BpKind> {
        self.breakpoints
            .get(&va)
            .map(|&(sw, _)| if sw > 0 { BpKind::Sw } else { BpKind::Hw })
    }

    pub fn breakpoints(&self) -> impl Iterator<Item = u64> + '_ {
        self.breakpoints.keys().copied()
    }
}

/// The physical address a debugger access at `va` reaches for hart `h`: through the
/// hart's own privilege first; when that gives nothing in memory and the hart is in U or
/// M mode, through S-mode translation (a breakpoint on kernel code while a process or
/// the firmware runs, or before the kernel switched to S mode).
fn walk_any(h: &Hart, ram: &crate::bus::Ram, va: u64, accs: &[Access]) -> Option<u64> {
    let prv_data = h.data_prv();
    let mut fallback = None;
    for &acc in accs {
        let prv = if acc == Access::Fetch {
            h.prv
        } else {
            prv_data
        };
        if let Ok(w) = h.walk(ram, va, acc, prv, None) {
            if prv == PRV_S || ram.offset(w.pa, 1).is_some() {
                return Some(w.pa);
            }
            fallback = fallback.or(Some(w.pa));
        }
        if prv != PRV_S {
            if let Ok(w) = h.walk(ram, va, acc, PRV_S, None) {
                if ram.offset(w.pa, 1).is_some() {
                    return Some(w.pa);
                }
            }
        }
    }
    fallback
}

impl Machine {
    /// The time CSRs read at now (ticks).
    fn debug_now(&self) -> u64 {
        self.bus.clock.ticks(self.steps)
    }

    /// Reads a register of hart `h`; None for an unknown register or hart.
    pub fn debug_reg_read(&self, h: usize, r: Reg) -> Option<u64> {
        let hart = self.harts.get(h)?;
        Some(match r {
            Reg::X(i) => *hart.x.get(i as usize)?,
            Reg::Pc => hart.pc,
            Reg::F(i) => *hart.f.get(i as usize)?,
            Reg::Csr(c) if csr::implemented(c) => hart.csr_read_raw(c, self.debug_now())?,
            Reg::Csr(_) => return None,
            Reg::Priv => hart.prv as u64,
        })
    }

    /// Writes a register of hart `h`; false when it does not exist or the value is
    /// invalid (a privilege level other than 0, 1, 3).
    pub fn debug_reg_write(&mut self, h: usize, r: Reg, v: u64) -> bool {
        let Some(hart) = self.harts.get_mut(h) else {
            return false;
        };
        match r {
            Reg::X(0) => {}
            Reg::X(i) if i < 32 => hart.x[i as usize] = v,
            Reg::Pc => hart.pc = v,
            Reg::F(i) if i < 32 => hart.f[i as usize] = v,
            Reg::Csr(c) if csr::implemented(c) => match hart.csr_write_raw(c, v) {
                WriteEffect::None => {}
                WriteEffect::Interrupts => hart.update_tlb_sets(),
                WriteEffect::Translation => {
                    hart.pmp_refresh();
                    hart.mmu.flush_all();
                    hart.update_tlb_sets();
                }
                // STIP follows the new stimecmp or STCE at once, as the guest sees it.
                WriteEffect::Timer => self.update_interrupts(self.steps),
            },
            Reg::Priv if matches!(v, 0 | 1 | 3) => {
                hart.prv = v as u8;
                hart.update_tlb_sets();
            }
            _ => return false,
        }
        true
    }

    /// Translates `addr` for a debugger access by hart `h` (or physically).
    pub fn debug_translate(&self, h: usize, addr: u64) -> Option<u64> {
        self.translate_for(h, addr, self.debug.phys)
    }

    fn translate_for(&self, h: usize, addr: u64, phys: bool) -> Option<u64> {
        if phys {
            return Some(addr);
        }
        let hart = self.harts.get(h)?;
        walk_any(
            hart,
            &self.bus.ram,
            addr,
            &[Access::Load, Access::Fetch, Access::Store],
        )
    }

    /// Reads memory as hart `h` sees it. Returns the number of bytes read (a short
    /// count at the first unmapped byte). Device registers are read with `peek`, which
    /// has no side effects.
    pub fn debug_mem_read(&self, h: usize, addr: u64, buf: &mut [u8]) -> usize {
        self.mem_read_for(h, addr, buf, self.debug.phys)
    }

    /// Reads virtual memory through hart `h`'s translation, whatever the `phys` switch.
    pub fn debug_mem_read_virt(&self, h: usize, addr: u64, buf: &mut [u8]) -> usize {
        self.mem_read_for(h, addr, buf, false)
    }

    /// Reads physical memory; bytes where nothing is mapped read as 0 (QEMU's
    /// `cpu_physical_memory_read`).
    pub fn phys_read(&self, addr: u64, buf: &mut [u8]) {
        let n = self.mem_read_for(0, addr, buf, true);
        for (i, b) in buf.iter_mut().enumerate().skip(n) {
            *b = self.bus.peek(addr.wrapping_add(i as u64), 1).unwrap_or(0) as u8;
        }
    }

    fn mem_read_for(&self, h: usize, addr: u64, buf: &mut [u8], phys: bool) -> usize {
        let mut done = 0;
        while done < buf.len() {
            let va = addr.wrapping_add(done as u64);
            let chunk = ((PAGE_SIZE - (va & (PAGE_SIZE - 1))) as usize).min(buf.len() - done);
            let Some(pa) = self.translate_for(h, va, phys) else {
                break;
            };
            let out = &mut buf[done..done + chunk];
            if !self.bus.ram.read_bytes(pa, out) && !self.bus.rom.read_bytes(pa, out) {
                // Byte by byte through peek (MMIO, or a range that leaves RAM).
                for (i, b) in out.iter_mut().enumerate() {
                    match self.bus.peek(pa.wrapping_add(i as u64), 1) {
                        Some(v) => *b = v as u8,
                        None => return done + i,
                    }
                }
            }
            done += chunk;
        }
        done
    }

    /// Writes memory as hart `h` sees it (RAM and ROM only, never devices). Decoded
    /// code the write overlaps is invalidated. False when some byte could not be written
    /// (bytes before it were).
    pub fn debug_mem_write(&mut self, h: usize, addr: u64, data: &[u8]) -> bool {
        let mut done = 0;
        while done < data.len() {
            let va = addr.wrapping_add(done as u64);
            let chunk = ((PAGE_SIZE - (va & (PAGE_SIZE - 1))) as usize).min(data.len() - done);
            let Some(pa) = self.debug_translate(h, va) else {
                return false;
            };
            let src = &data[done..done + chunk];
            if self.bus.ram.write_bytes(pa, src) {
                let _ = self.bus.note_ram_write(pa, chunk as u64);
            } else if !self.bus.rom.write_bytes(pa, src) {
                return false;
            }
            done += chunk;
        }
        true
    }

    /// Adds a breakpoint at virtual address `va` (armed when the machine resumes).
    pub fn debug_add_breakpoint(&mut self, va: u64, kind: BpKind) {
        let e = self.debug.breakpoints.entry(va).or_default();
        match kind {
            BpKind::Sw => e.0 += 1,
            BpKind::Hw => e.1 += 1,
        }
    }

    /// Removes a breakpoint; false when there was none of that kind at `va`.
    pub fn debug_remove_breakpoint(&mut self, va: u64, kind: BpKind) -> bool {
        let Some(e) = self.debug.breakpoints.get_mut(&va) else {
            return false;
        };
        let n = match kind {
            BpKind::Sw => &mut e.0,
            BpKind::Hw => &mut e.1,
        };
        if *n == 0 {
            return false;
        }
        *n -= 1;
        if *e == (0, 0) {
            self.debug.breakpoints.remove(&va);
        }
        true
    }

    /// Adds a watchpoint on `[addr, addr+len)` as hart `h` sees it. False when the
    /// address is not mapped.
    pub fn debug_add_watchpoint(&mut self, h: usize, addr: u64, len: u64, kind: WatchKind) -> bool {
        let phys = self.debug.phys;
        let pa = if phys {
            Some(addr)
        } else {
            self.harts.get(h).and_then(|hart| {
                walk_any(hart, &self.bus.ram, addr, &[Access::Load, Access::Store])
            })
        };
        let Some(pa) = pa else {
            return false;
        };
        self.bus.watch.add(Watchpoint {
            addr,
            len: len.max(1),
            kind,
            phys,
            pa,
        });
        self.flush_tlbs_for_watchpoints();
        true
    }

    pub fn debug_remove_watchpoint(&mut self, addr: u64, len: u64, kind: WatchKind) -> bool {
        if !self.bus.watch.remove(addr, len.max(1), kind) {
            return false;
        }
        self.flush_tlbs_for_watchpoints();
        true
    }

    /// The watched pages changed: empty every TLB, so pages now watched leave the main
    /// TLBs and pages no longer watched return to them.
    fn flush_tlbs_for_watchpoints(&mut self) {
        for hart in &mut self.harts {
            hart.mmu.flush_all();
        }
    }

    /// Restores every breakpoint slot to an undecoded slot (re-decoded from memory).
    pub fn debug_disarm(&mut self) {
        self.bus.slow_bps.clear();
        for (page, slot) in std::mem::take(&mut self.debug.armed) {
            if self.bus.icache.slot(page, slot).map(|i| i.op()) == Some(Op::Breakpoint) {
                self.bus.icache.set(page, slot, Insn::UNDECODED);
            }
        }
    }

    /// Installs breakpoint slots for every breakpoint, through each hart's current
    /// fetch translation.
    pub fn debug_arm(&mut self) {
        self.debug_disarm();
        let mut armed = Vec::new();
        let vas: Vec<u64> = self
            .debug
            .breakpoints
            .keys()
            .chain(self.debug.panic_traps.keys())
            .copied()
            .collect();
        for &va in &vas {
            for hart in &self.harts {
                let Some(pa) = walk_any(hart, &self.bus.ram, va, &[Access::Fetch]) else {
                    continue;
                };
                let Some(off) = self.bus.ram.offset(pa, 2) else {
                    continue;
                };
                let (page, slot) = (off >> 12, (off & 0xfff) >> 1);
                if !armed.contains(&(page, slot)) {
                    self.bus.icache.make_code(page);
                    self.bus.icache.set(page, slot, Insn::BREAKPOINT);
                    armed.push((page, slot));
                }
            }
        }
        self.debug.armed = armed;
        self.bus.slow_bps = vas;
    }

    /// A hart changed its translation while running: arm the breakpoints again through
    /// the new mappings (a breakpoint on kernel code set before the kernel enabled
    /// paging is caught).
    pub(super) fn debug_remapped(&mut self) {
        if self.debug_armed() {
            self.debug_arm();
        }
    }

    /// Are there breakpoints or panic traps, which follow the guest's mappings?
    pub(super) fn debug_armed(&self) -> bool {
        !self.debug.breakpoints.is_empty() || !self.debug.panic_traps.is_empty()
    }

    /// Sets the addresses (virtual, as the kernel runs) whose execution means the guest
    /// panicked, with their symbol names.
    pub fn set_panic_traps(&mut self, traps: BTreeMap<u64, String>) {
        self.debug.panic_traps = traps;
        if self.running() {
            self.debug_arm();
        }
    }

    /// Called when hart `h` stopped on a breakpoint slot: a debugger breakpoint, a
    /// panic trap, or neither (then the slot is restored and the machine may go on).
    /// The instruction is stepped over when the machine resumes.
    pub fn debug_breakpoint_hit(&mut self, h: usize) -> BpHit {
        let pc = self.harts[h].pc;
        if self.debug.breakpoint_at(pc).is_some() {
            self.debug.step_over = Some((h, pc, false));
            return BpHit::Debugger;
        }
        if let Some(name) = self.debug.panic_traps.get(&pc) {
            self.debug.step_over = Some((h, pc, false));
            return BpHit::Panic(name.clone());
        }
        if self.bus.slow_bps.contains(&pc) {
            // Uncached code (the ROM): only real breakpoints are listed there.
            self.bus.slow_bps.retain(|&a| a != pc);
            return BpHit::None;
        }
        let restored = walk_any(&self.harts[h], &self.bus.ram, pc, &[Access::Fetch])
            .and_then(|pa| self.bus.ram.offset(pa, 2))
            .map(|off| (off >> 12, (off & 0xfff) >> 1))
            .filter(|&(page, slot)| {
                self.bus.icache.slot(page, slot).map(|i| i.op()) == Some(Op::Breakpoint)
            });
        match restored {
            Some((page, slot)) => {
                self.bus.icache.set(page, slot, Insn::UNDECODED);
                self.debug.armed.retain(|&a| a != (page, slot));
            }
            None => self.debug_disarm(),
        }
        BpHit::None
    }

    /// Called when hart `h` stopped before an access to a watched address.
    pub fn debug_watchpoint_hit(&mut self, h: usize) {
        self.debug.step_over = Some((h, self.harts[h].pc, true));
    }

    /// Executes one instruction of hart `h`, other harts and machine time stay still.
    /// Returns `Outcome::Budget` when the step completed normally.
    fn step_raw(&mut self, h: usize, noirq: bool) -> Outcome {
        let now = self.steps;
        self.bus.now = self.bus.clock.ticks(now);
        let hart = &mut self.harts[h];
        if !noirq {
            if let Some(irq) = hart.pending_interrupt() {
                // Taking the interrupt is the step: it ends on the handler's first
                // instruction, not yet executed, as QEMU's step and a hardware
                // debugger's do. (A hart waiting in WFI wakes up for it.)
                hart.state = HartState::Running;
                hart.take_interrupt(irq, &self.bus);
                return Outcome::Budget;
            }
        }
        hart.debug_noirq = noirq;
        let stop = hart.run(&mut self.bus, 1, now);
        hart.debug_noirq = false;
        if let Some(o) = self.process_events(now) {
            return o.on_hart(h);
        }
        self.update_interrupts(now);
        match stop {
            Stop::Watchpoint => match self.bus.watch.hit.take() {
                Some(hit) => {
                    self.debug_watchpoint_hit(h);
                    Outcome::Watchpoint {
                        hart: h,
                        kind: hit.kind,
                        addr: hit.addr,
                    }
                }
                None => Outcome::Budget,
            },
            Stop::Breakpoint => Outcome::Breakpoint(h),
            Stop::Budget | Stop::Wfi => Outcome::Budget,
        }
    }

    /// Executes the instruction a reported stop left pending, if the hart is still there.
    fn step_over_pending(&mut self, only: Option<usize>) -> Outcome {
        let Some((h, pc, watch)) = self.debug.step_over.take() else {
            return Outcome::Budget;
        };
        if only.is_some_and(|o| o != h) || self.harts.get(h).map(|x| x.pc) != Some(pc) {
            return Outcome::Budget;
        }
        self.debug_disarm();
        self.bus.watch.suspended = watch;
        let o = self.step_raw(h, true);
        self.bus.watch.suspended = false;
        o
    }

    /// Single-steps hart `h`: exactly one instruction, or, when `step_irq` is on and an
    /// interrupt is pending and enabled, the entry into its handler.
    pub fn debug_step(&mut self, h: usize) -> Outcome {
        if h >= self.harts.len() {
            return Outcome::Budget;
        }
        self.debug_disarm();
        if self
            .debug
            .step_over
            .is_some_and(|(s, pc, _)| s == h && self.harts[h].pc == pc)
        {
            return self.step_over_pending(Some(h));
        }
        self.debug.step_over = None;
        let noirq = !self.debug.step_irq;
        self.step_raw(h, noirq)
    }

    /// Starts the VM (QEMU's `vm_start`): RESUME and `running`, after stepping over the
    /// instruction a debugger stop left pending and arming the breakpoints. Nothing
    /// happens when it already runs. Returns an outcome when the step over already
    /// ended the run (the caller handles it as any other stop).
    pub fn vm_start(&mut self) -> Option<Outcome> {
        if !self.vm.start() {
            return None;
        }
        self.debug_continue()
    }

    /// Goes on after a debugger stop that nobody was told about: steps over the
    /// stopped instruction and re-arms the breakpoints, without a run-state change.
    pub fn debug_continue(&mut self) -> Option<Outcome> {
        match self.step_over_pending(None) {
            Outcome::Budget => {}
            o => return Some(o),
        }
        self.debug_arm();
        None
    }

    /// Stops a live VM in `state` (QEMU's `vm_stop`): STOP, breakpoint slots restored.
    /// A VM that is already stopped is left as it is. True when it stopped now.
    pub fn vm_stop(&mut self, state: RunState) -> bool {
        let stopped = self.vm.stop(state);
        self.debug_disarm();
        stopped
    }

    /// Disarms breakpoints and drops a pending step-over (before a reset).
    pub(super) fn debug_forget_stop(&mut self) {
        self.debug_disarm();
        self.debug.step_over = None;
    }

    /// A reset by the host (QMP/HMP `system_reset`): the machine reset, and a VM that
    /// was not running is left in `prelaunch`.
    pub fn system_reset(&mut self) {
        self.reset();
        self.vm.after_reset();
    }

    /// Turns the flight recorder on (last `n` instructions per hart) or off (0).
    pub fn set_flight_recorder(&mut self, n: usize) {
        for h in &mut self.harts {
            h.flight = (n > 0).then(|| Box::new(crate::cpu::Flight::new(n)));
        }
    }

    /// The flight recorder of hart `h`, disassembled, oldest first; None when off.
    pub fn flight_log(&self, h: usize) -> Option<String> {
        use std::fmt::Write;
        let f = self.harts.get(h)?.flight.as_ref()?;
        let mut s = String::new();
        for (pc, raw, len, prv) in f.entries() {
            let _ = writeln!(
                s,
                "  {} {pc:#018x}: {}",
                Machine::prv_name(prv),
                crate::disasm::one(pc, raw, len)
            );
        }
        Some(s)
    }

    /// Harts that entered a trap loop since the last call (each reported once).
    pub fn take_trap_loops(&mut self) -> Vec<usize> {
        let mut v = Vec::new();
        for h in &mut self.harts {
            if std::mem::take(&mut h.trap_loop) {
                v.push(h.id);
            }
        }
        v
    }

    /// Whether the event loop should run the harts.
    pub fn running(&self) -> bool {
        self.vm.is_running()
    }

    /// Names of privilege levels, for thread descriptions.
    pub fn prv_name(prv: u8) -> &'static str {
        match prv {
            PRV_U => "U",
            PRV_S => "S",
            PRV_M => "M",
            _ => "?",
        }
    }
}
