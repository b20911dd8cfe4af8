//! The interpreter: executes decoded instructions and runs a hart for a budget of steps.
//!
//! [`Hart::run`] is the hot loop. At the top of each block it checks interrupts, then it
//! translates `pc` through the fetch TLB once per page and executes decoded slots from
//! the page's [`super::icache`] entry until control leaves the page or the budget runs
//! out. Nothing debug-related is tested per instruction: breakpoints are `Op::Breakpoint`
//! slots in the cache and watchpoints are pages the TLBs refuse to map.

use super::csr::{CsrOp, WriteEffect};
use super::decode::{decode, only_writes_rd, Insn, Op};
use super::icache::{Arena, BlockRef, CodePage, Entry, Handler, BLOCK_MAX, SLOTS};
use super::mstatus as ms;
use super::trap::{cause, Access, Trap, INTERRUPT_BIT};
use super::{fpu, Hart, HartState, PRV_M, PRV_S, PRV_U};
use crate::bus::Bus;

/// Why [`Hart::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The budget ran out (or the run was ended early by an event).
    Budget,
    /// The hart is waiting in WFI.
    Wfi,
    /// The hart hit a debugger breakpoint at `pc` (not executed).
    Breakpoint,
    /// The instruction at `pc` was about to access a watched address (not executed;
    /// the hit is in `bus.watch.hit`).
    Watchpoint,
}

/// Internal exit codes carried in `Trap::cause` out of the hot loop (never architectural).
const BREAK: u64 = u64::MAX - 1;
/// A load or store hit a debug watchpoint before taking effect (see `mmu.rs`).
pub(crate) const WATCH: u64 = u64::MAX - 2;
/// The instruction completed and ended the run (see `Hart::end_run`).
pub(crate) const ENDED: u64 = u64::MAX - 3;
/// A load completed and ended the run; its value is in `tval` (see `mmu.rs`).
pub(crate) const ENDED_LOAD: u64 = u64::MAX - 4;
/// The instruction completed; the run goes on but not from this page's blocks (the
/// translation of pc may have changed).
const REFETCH: u64 = u64::MAX - 5;
/// A load or store that the TLB fast path could not do (nothing happened): the threaded
/// handler runs the instruction again the full way.
const MISS: u64 = u64::MAX - 6;

#[inline(always)]
fn sx32(v: u64) -> u64 {
    v as i32 as i64 as u64
}

impl Hart {
    /// Runs for at most `steps` steps starting at machine step `start`.
    pub fn run(&mut self, bus: &mut Bus, steps: u64, start: u64) -> Stop {
        self.run_start = start;
        self.run_len = steps;
        self.budget = steps;
        self.use_ram(bus);
        if self.mmu.code_gen != bus.icache.gen {
            self.mmu.flush_stores();
            self.mmu.code_gen = bus.icache.gen;
        }
        let mut stop = Stop::Budget;
        while self.budget > 0 {
            if self.state == HartState::Wfi {
                if self.mip() & self.csr.mie == 0 {
                    self.end_run();
                    return Stop::Wfi;
                }
                self.state = HartState::Running;
            }
            if let Some(i) = self.pending_interrupt().filter(|_| !self.debug_noirq) {
                self.take_interrupt(i, bus);
            }
            let page = match self.fetch_page(bus) {
                Ok(p) => p,
                Err(t) => {
                    self.budget -= 1;
                    self.take_trap(t, bus);
                    continue;
                }
            };
            let Some(page) = page else {
                // Code outside cacheable RAM (the reset ROM): one instruction at a time.
                if !bus.slow_bps.is_empty() && bus.slow_bps.contains(&self.pc) {
                    stop = Stop::Breakpoint;
                    self.end_run();
                    break;
                }
                self.budget -= 1;
                let r = self.fetch_slow(bus).and_then(|raw| {
                    let insn = decode(raw);
                    self.trace(bus, &insn);
                    if let Some(f) = self.flight.as_mut() {
                        f.record(self.pc, insn.raw(), insn.len(), self.prv);
                    }
                    self.execute(bus, insn)
                });
                if let Err(t) = r {
                    if let Some(s) = self.trap_or_stop(t, bus) {
                        stop = s;
                        break;
                    }
                }
                continue;
            };
            if bus.icache.make_code(page) {
                self.mmu.flush_stores();
                self.mmu.code_gen = bus.icache.gen;
            }
            // Tracing and the flight recorder see every instruction: one per loop.
            let r = if bus.log.exec || self.flight.is_some() {
                self.step_slow(bus, page)
            } else {
                self.run_page(bus, page)
            };
            if let Some(s) = r {
                stop = s;
                break;
            }
        }
        self.instret = self.instret.wrapping_add(self.run_len - self.budget);
        self.run_start += self.run_len - self.budget;
        self.run_len = 0;
        self.budget = 0;
        if stop == Stop::Budget && self.state == HartState::Wfi {
            return Stop::Wfi;
        }
        stop
    }

    /// Executes blocks from decoded RAM page `page` while `pc` stays on its virtual page.
    ///
    /// This is the hot loop. Per block: one lookup of the block entered at `pc`, one
    /// budget check, and a call to the handler of its first instruction ([`HANDLERS`]).
    /// Each handler executes its instruction and jumps to the next one's handler (the
    /// next decoded instruction of the block: no dependence on the one before); the
    /// block's last instruction names the next pc and returns here with the budget
    /// left. pc and the budget live in registers: only operations that may read them
    /// (slow memory paths, CSRs, traps) are given their exact values. Breakpoints are
    /// ordinary ops. Kept out of line so its loop gets the registers to itself.
    #[inline(never)]
    fn run_page(&mut self, bus: &mut Bus, page: usize) -> Option<Stop> {
        let code = bus.icache.page(page)?;
        let mut arena = code.arena();
        self.chain = Chain::new(&code, &arena);
        let vbase = self.pc & !0xfff;
        let mut pc = self.pc;
        let mut budget = self.budget;
        loop {
            let slot = ((pc & 0xfff) >> 1) as usize;
            let block = match code.block(slot) {
                Some(b) if b.len as u64 <= budget => b,
                found => {
                    self.pc = pc;
                    self.budget = budget;
                    if found.is_none() {
                        // Let go of the arena so the new block is appended in place.
                        drop(arena);
                        let built = self.build_block(bus, &code, page, slot);
                        arena = code.arena();
                        self.chain = Chain::new(&code, &arena);
                        if built.is_some() {
                            continue;
                        }
                    }
                    // The budget ends inside the block, or its first instruction
                    // crosses into the next page: one instruction the slow way.
                    return self.step_slow(bus, page);
                }
            };
            let first = &arena.insns[block.start];
            self.chain.block = first;
            self.chain.entry = budget;
            let (next, left) = (first.run)(self, bus, first, vbase, 0, 0);
            if next == EXITED {
                let (t, i, at) = self.block_exit;
                return self.exit_block(bus, t, i, at, left);
            }
            budget = left;
            pc = next;
            if budget == 0 || pc & !0xfff != vbase {
                self.pc = pc;
                self.budget = budget;
                return None;
            }
        }
    }

    /// The rare ways out of a block: an instruction that ended the run, a trap, a
    /// breakpoint, a watchpoint. `i` at `pc` was executing with `left` steps after it.
    #[inline(never)]
    fn exit_block(&mut self, bus: &mut Bus, t: Trap, i: Insn, pc: u64, left: u64) -> Option<Stop> {
        if t.cause == ENDED {
            // It completed; the operation stored the budget and zeroed it.
            if !sets_pc(i.op()) {
                self.pc = pc.wrapping_add(i.len() as u64);
            }
            return None;
        }
        if t.cause == REFETCH {
            self.budget = left;
            self.pc = pc.wrapping_add(i.len() as u64);
            return None;
        }
        // An operation that ended the run stored the budget (zero); otherwise the
        // budget is the one after this instruction.
        if self.budget != 0 {
            self.budget = left;
        }
        self.pc = pc;
        if t.cause == BREAK {
            self.budget += 1;
            self.end_run();
            return Some(Stop::Breakpoint);
        }
        self.trap_or_stop(t, bus)
    }

    /// Executes the one instruction at `pc` on RAM page `page` the slow way: for
    /// tracing and the flight recorder, a budget that ends inside a block, and a 32-bit
    /// instruction that crosses into the next page.
    #[inline(never)]
    fn step_slow(&mut self, bus: &mut Bus, page: usize) -> Option<Stop> {
        let slot = ((self.pc & 0xfff) >> 1) as usize;
        let insn = match self.decode_slot(bus, page, slot) {
            Ok(i) => i,
            Err(t) => {
                self.budget -= 1;
                self.take_trap(t, bus);
                return None;
            }
        };
        if insn.op() == Op::Breakpoint {
            self.end_run();
            return Some(Stop::Breakpoint);
        }
        self.trace(bus, &insn);
        if let Some(f) = self.flight.as_mut() {
            f.record(self.pc, insn.raw(), insn.len(), self.prv);
        }
        self.budget -= 1;
        match self.execute(bus, insn) {
            Err(t) => self.trap_or_stop(t, bus),
            Ok(()) => None,
        }
    }

    /// Builds the block entered at `slot` of `code` (RAM page `page`, the page of the
    /// current pc), decoding its slots as needed. None when the first instruction
    /// crosses into the next page (such an instruction is never cached).
    #[inline(never)]
    fn build_block(
        &mut self,
        bus: &mut Bus,
        code: &CodePage,
        page: usize,
        slot: usize,
    ) -> Option<BlockRef> {
        let vbase = self.pc & !0xfff;
        let mut insns = Vec::new();
        let mut offs = Vec::new();
        let mut s = slot;
        while s < SLOTS && insns.len() < BLOCK_MAX {
            let Some(insn) = decode_cached(bus, page, s, vbase | (s as u64 * 2)) else {
                break;
            };
            if insn.op() == Op::Breakpoint && !insns.is_empty() {
                break;
            }
            let off = s * 2;
            let target = off as i64 + insn.imm() as i64;
            if insn.op() == Op::Jal && (0..4096).contains(&target) {
                // A jump within the page: the block goes on at its target (loops
                // unroll into one block, up to BLOCK_MAX instructions).
                // (A jump that does not link does nothing more.)
                let op = if insn.rd() == 0 { Op::Nop } else { Op::JalIn };
                insns.push(insn.at(off as u32).with_op(op));
                offs.push(off as u16);
                s = target as usize / 2;
                continue;
            }
            let backward = (0..off as i64).contains(&target);
            if let Some(inverse) = inverse_branch(insn.op()).filter(|_| backward) {
                // A backward branch within the page (a loop, usually taken): the block
                // goes on at its target, and the inverse branch leaves it for the
                // fall-through.
                let fall = (off + insn.len() as usize) as u32;
                insns.push(insn.with_op(inverse).with_imm(fall as i32));
                offs.push(off as u16);
                s = target as usize / 2;
                continue;
            }
            insns.push(insn.at(off as u32));
            offs.push(off as u16);
            s += insn.len() as usize / 2;
            if ends_block(insn.op()) {
                break;
            }
        }
        let len = insns.len();
        if len == 0 {
            return None;
        }
        if !always_sets_pc(insns[len - 1].op()) {
            insns.push(Insn::goto(s as u32 * 2));
            offs.push((s * 2) as u16);
        }
        let fwd = operand_sources(&insns);
        let mut entries: Vec<Entry> = insns
            .iter()
            .zip(&fwd)
            .map(|(&insn, &f)| Entry {
                run: HANDLERS[f as usize][insn.op() as usize],
                insn,
            })
            .collect();
        for k in 1..entries.len() {
            let (a, b) = (entries[k - 1].insn.op(), entries[k].insn.op());
            if let Some(run) = pair_handler(a, fwd[k - 1], b, fwd[k]) {
                entries[k - 1].run = run;
            }
        }
        Some(code.add_block(slot, &entries, &offs, len))
    }

    /// Enters the trap `t`, or ends the run for a watchpoint hit (the instruction did
    /// not execute and is not counted).
    #[cold]
    fn trap_or_stop(&mut self, t: Trap, bus: &Bus) -> Option<Stop> {
        if t.cause == WATCH {
            self.budget += 1;
            self.end_run();
            return Some(Stop::Watchpoint);
        }
        self.take_trap(t, bus);
        None
    }

    /// The instruction at `slot` of RAM page `page` (the page of the current pc):
    /// cached, or a 32-bit instruction crossing into the next page, fetched the slow way
    /// every time since the next page may map elsewhere.
    #[inline(never)]
    fn decode_slot(&mut self, bus: &mut Bus, page: usize, slot: usize) -> Result<Insn, Trap> {
        match decode_cached(bus, page, slot, self.pc) {
            Some(insn) => Ok(insn),
            None => Ok(decode(self.fetch_slow(bus)?)),
        }
    }

    #[cold]
    fn trace(&self, bus: &Bus, insn: &Insn) {
        if bus.log.exec {
            bus.log.write(format_args!(
                "hart {} prv {} pc {:#018x}: {}",
                self.id,
                self.prv,
                self.pc,
                crate::disasm::one(self.pc, insn.raw(), insn.len())
            ));
            if bus.log.cpu {
                let regs: Vec<String> = (1..32)
                    .map(|r| format!("x{r:<2}={:016x}", self.x[r]))
                    .collect();
                for row in regs.chunks(4) {
                    bus.log.write(format_args!("    {}", row.join(" ")));
                }
            }
        }
    }

    /// Takes a synchronous exception: the instruction did not retire.
    pub fn take_trap(&mut self, t: Trap, bus: &Bus) {
        self.instret = self.instret.wrapping_sub(1);
        self.enter_trap(t.cause, t.tval, false, bus);
    }

    pub fn take_interrupt(&mut self, irq: u64, bus: &Bus) {
        self.enter_trap(irq, 0, true, bus);
    }

    /// The single trap-entry path, for exceptions and interrupts.
    fn enter_trap(&mut self, code: u64, tval: u64, interrupt: bool, bus: &Bus) {
        if !interrupt {
            // The same exception at the same pc again and again: a trap loop (a guest
            // that lost its trap vector). Reported once, when the count reaches 16.
            let (pc, cause, budget, n) = self.trap_repeat;
            let again = pc == self.pc && cause == code && budget == self.budget + 1;
            let n = if again { n + 1 } else { 1 };
            self.trap_repeat = (self.pc, code, self.budget, n);
            if n == 16 {
                self.trap_loop = true;
            }
        }
        let deleg = if interrupt {
            self.csr.mideleg
        } else {
            self.csr.medeleg
        };
        let to_s = self.prv <= PRV_S && (deleg >> code) & 1 != 0;
        let cause_val = code | if interrupt { INTERRUPT_BIT } else { 0 };
        if bus.log.int {
            bus.log.write(format_args!(
                "hart {}: {} {} ({}) at pc {:#x} tval {:#x} prv {} -> {}",
                self.id,
                if interrupt { "interrupt" } else { "exception" },
                code,
                super::trap::cause_name(cause_val),
                self.pc,
                tval,
                self.prv,
                if to_s { "S" } else { "M" }
            ));
        }
        let m = &mut self.csr.mstatus;
        let (tvec, prv) = if to_s {
            self.csr.sepc = self.pc;
            self.csr.scause = cause_val;
            self.csr.stval = tval;
            let sie = (*m & ms::SIE) != 0;
            *m = (*m & !(ms::SPIE | ms::SIE | ms::SPP))
                | if sie { ms::SPIE } else { 0 }
                | if self.prv == PRV_S { ms::SPP } else { 0 };
            (self.csr.stvec, PRV_S)
        } else {
            self.csr.mepc = self.pc;
            self.csr.mcause = cause_val;
            self.csr.mtval = tval;
            let mie = (*m & ms::MIE) != 0;
            *m = (*m & !(ms::MPIE | ms::MIE | ms::MPP))
                | if mie { ms::MPIE } else { 0 }
                | ((self.prv as u64) << ms::MPP_SHIFT);
            (self.csr.mtvec, PRV_M)
        };
        let base = tvec & !3;
        self.pc = if interrupt && tvec & 3 == 1 {
            base.wrapping_add(4 * code)
        } else {
            base
        };
        self.prv = prv;
        self.state = HartState::Running;
        self.update_tlb_sets();
    }

    fn apply_csr_effect(&mut self, bus: &mut Bus, e: WriteEffect) {
        match e {
            WriteEffect::None => {}
            WriteEffect::Timer => {
                // The machine derives STIP and the next deadline from stimecmp between
                // runs: end this one here.
                bus.events.push(crate::bus::BoardEvent::IrqChanged);
                self.end_run();
            }
            WriteEffect::Interrupts => {
                self.update_tlb_sets();
                // An enable or pending bit changed. Nothing else changes interrupt state
                // within a run (devices act between runs), so the run goes on unless an
                // interrupt can be taken now. (Linux masks and unmasks interrupts
                // around every spinlock: ending the run each time cost a quarter of a
                // million runs per boot.)
                if self.pending_interrupt().is_some() {
                    self.end_run();
                }
            }
            WriteEffect::Translation => {
                self.pmp_refresh();
                self.mmu.flush_all();
                self.update_tlb_sets();
                self.remapped = true;
                self.end_run();
            }
        }
    }

    #[inline(always)]
    fn f_check(&self, raw: u32) -> Result<(), Trap> {
        if self.fs_enabled() {
            Ok(())
        } else {
            Err(Trap::illegal(raw))
        }
    }

    /// Executes one decoded instruction (not in block form) at `pc`, with `budget` the
    /// steps left after it. On success `pc` points at the next instruction; on a trap
    /// `pc` is unchanged and the caller enters the trap.
    #[inline(always)]
    pub fn execute(&mut self, bus: &mut Bus, i: Insn) -> Result<(), Trap> {
        let pc = self.pc;
        let i = i.at((pc & 0xfff) as u32);
        let next = match self.step_at::<MEM_FULL, FWD_NONE>(
            i.op(),
            bus,
            i,
            pc & !0xfff,
            self.budget,
            move |_: &Hart| pc,
            [0, 0],
            &mut 0,
        ) {
            Ok(Some(next)) => next,
            Err(t) if t.cause != ENDED && t.cause != REFETCH => return Err(t),
            _ if sets_pc(i.op()) => return Ok(()),
            _ => pc.wrapping_add(i.len() as u64),
        };
        self.pc = next;
        Ok(())
    }

    /// Executes `i`, an instruction in block form ([`Insn::at`]) on the virtual page at
    /// `vbase`. Returns the next pc for a control transfer (a jump, a taken branch, an
    /// [`Op::Goto`]), None when execution goes on with the next instruction. `self.pc` is not
    /// read or written here (except by MRET and SRET, which end the run), so the hot
    /// loop keeps pc in a register; `pc()` gives the instruction's own pc to the few
    /// operations that need it.
    ///
    /// `left` is the budget after this instruction: operations that may read it (slow
    /// memory paths, CSRs, ending the run) are given it or store it, so the others never
    /// touch it. One that ends the run returns `ENDED` after completing.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn step_at<const MEM: u8, const FWD: u8>(
        &mut self,
        op: Op,
        bus: &mut Bus,
        i: Insn,
        vbase: u64,
        left: u64,
        pc: impl Fn(&Hart) -> u64,
        fwd: [u64; 2],
        out: &mut u64,
    ) -> Result<Option<u64>, Trap> {
        // Each operation reads only the operands it uses: reading all of them up
        // front costs loads and registers on every instruction.
        macro_rules! rs1 {
            () => {
                match fwd_src(FWD, 0) {
                    FROM_X => self.x[i.rs1() as usize],
                    s => fwd[s as usize - 1],
                }
            };
        }
        macro_rules! rs2 {
            () => {
                match fwd_src(FWD, 1) {
                    FROM_X => self.x[i.rs2() as usize],
                    s => fwd[s as usize - 1],
                }
            };
        }
        macro_rules! imm {
            () => {
                i.imm() as i64 as u64
            };
        }
        macro_rules! sh {
            () => {
                (i.imm() & 63) as u32
            };
        }
        // Block form: the link value of JAL, JALR and JalIn.
        macro_rules! next {
            () => {
                vbase.wrapping_add(i.raw() as u64)
            };
        }
        // A load into rd (the slow path may end the run after it).
        macro_rules! load {
            ($size:expr, |$v:ident| $conv:expr) => {{
                let va = rs1!().wrapping_add(imm!());
                if MEM != MEM_FULL {
                    let Some($v) = self.load_fast(va, $size, MEM == MEM_WATCHED) else {
                        return Err(Trap::new(MISS, 0));
                    };
                    let r = $conv;
                    self.set_x(i.rd(), r);
                    *out = r;
                    return Ok(None);
                }
                let ($v, ended) = loaded(self.load(bus, va, $size, left))?;
                let r = $conv;
                self.set_x(i.rd(), r);
                *out = r;
                return ended_if(ended).map(|()| None);
            }};
        }
        macro_rules! store {
            ($size:expr) => {{
                let va = rs1!().wrapping_add(imm!());
                if MEM != MEM_FULL {
                    if !self.store_fast(bus, va, $size, rs2!(), MEM == MEM_WATCHED) {
                        return Err(Trap::new(MISS, 0));
                    }
                    return Ok(None);
                }
                self.store(bus, va, $size, rs2!(), left)?;
                return Ok(None);
            }};
        }
        // A taken branch leaves the block; a branch not taken goes on in it. (Two
        // separate paths, not a select: the host predicts the guest's branch here, and
        // learns the outcome as soon as the operands are loaded.)
        macro_rules! branch {
            ($cond:expr) => {{
                if $cond {
                    return Ok(Some(vbase.wrapping_add(imm!())));
                }
                return Ok(None);
            }};
        }
        let v: u64 = match op {
            Op::Lui => imm!(),
            Op::Auipc => vbase.wrapping_add(imm!()),
            Op::Jal => {
                self.set_x(i.rd(), next!());
                return Ok(Some(vbase.wrapping_add(imm!())));
            }
            Op::Jalr => {
                // The target first: rd may be rs1.
                let target = rs1!().wrapping_add(imm!()) & !1;
                self.set_x(i.rd(), next!());
                return Ok(Some(target));
            }
            Op::Goto => return Ok(Some(vbase.wrapping_add(imm!()))),
            Op::JalIn => next!(),
            Op::Beq => branch!(rs1!() == rs2!()),
            Op::Bne => branch!(rs1!() != rs2!()),
            Op::Blt => branch!((rs1!() as i64) < (rs2!() as i64)),
            Op::Bge => branch!((rs1!() as i64) >= (rs2!() as i64)),
            Op::Bltu => branch!(rs1!() < rs2!()),
            Op::Bgeu => branch!(rs1!() >= rs2!()),
            Op::Lb => load!(1, |v| v as i8 as i64 as u64),
            Op::Lh => load!(2, |v| v as i16 as i64 as u64),
            Op::Lw => load!(4, |v| v as i32 as i64 as u64),
            Op::Ld => load!(8, |v| v),
            Op::Lbu => load!(1, |v| v),
            Op::Lhu => load!(2, |v| v),
            Op::Lwu => load!(4, |v| v),
            Op::Sb => store!(1),
            Op::Sh => store!(2),
            Op::Sw => store!(4),
            Op::Sd => store!(8),
            Op::Addi => rs1!().wrapping_add(imm!()),
            Op::Slti => ((rs1!() as i64) < (imm!() as i64)) as u64,
            Op::Sltiu => (rs1!() < imm!()) as u64,
            Op::Xori => rs1!() ^ imm!(),
            Op::Ori => rs1!() | imm!(),
            Op::Andi => rs1!() & imm!(),
            Op::Slli => rs1!() << sh!(),
            Op::Srli => rs1!() >> sh!(),
            Op::Srai => ((rs1!() as i64) >> sh!()) as u64,
            Op::Add => rs1!().wrapping_add(rs2!()),
            Op::Sub => rs1!().wrapping_sub(rs2!()),
            Op::Sll => rs1!() << (rs2!() & 63),
            Op::Slt => ((rs1!() as i64) < (rs2!() as i64)) as u64,
            Op::Sltu => (rs1!() < rs2!()) as u64,
            Op::Xor => rs1!() ^ rs2!(),
            Op::Srl => rs1!() >> (rs2!() & 63),
            Op::Sra => ((rs1!() as i64) >> (rs2!() & 63)) as u64,
            Op::Or => rs1!() | rs2!(),
            Op::And => rs1!() & rs2!(),
            Op::Addiw => sx32(rs1!().wrapping_add(imm!())),
            Op::Slliw => sx32(((rs1!() as u32) << (sh!() & 31)) as u64),
            Op::Srliw => sx32(((rs1!() as u32) >> (sh!() & 31)) as u64),
            Op::Sraiw => ((rs1!() as i32) >> (sh!() & 31)) as i64 as u64,
            Op::Addw => sx32(rs1!().wrapping_add(rs2!())),
            Op::Subw => sx32(rs1!().wrapping_sub(rs2!())),
            Op::Sllw => sx32(((rs1!() as u32) << (rs2!() & 31)) as u64),
            Op::Srlw => sx32(((rs1!() as u32) >> (rs2!() & 31)) as u64),
            Op::Sraw => ((rs1!() as i32) >> (rs2!() & 31)) as i64 as u64,
            Op::Mul => rs1!().wrapping_mul(rs2!()),
            Op::Mulh => (((rs1!() as i64 as i128) * (rs2!() as i64 as i128)) >> 64) as u64,
            Op::Mulhsu => (((rs1!() as i64 as i128).wrapping_mul(rs2!() as i128)) >> 64) as u64,
            Op::Mulhu => (((rs1!() as u128) * (rs2!() as u128)) >> 64) as u64,
            Op::Div => {
                let (a, b) = (rs1!() as i64, rs2!() as i64);
                if b == 0 {
                    u64::MAX
                } else {
                    a.wrapping_div(b) as u64
                }
            }
            Op::Divu => rs1!().checked_div(rs2!()).unwrap_or(u64::MAX),
            Op::Rem => {
                let (a, b) = (rs1!() as i64, rs2!() as i64);
                if b == 0 {
                    rs1!()
                } else {
                    a.wrapping_rem(b) as u64
                }
            }
            Op::Remu => {
                if rs2!() == 0 {
                    rs1!()
                } else {
                    rs1!() % rs2!()
                }
            }
            Op::Mulw => sx32((rs1!() as u32).wrapping_mul(rs2!() as u32) as u64),
            Op::Divw => {
                let (a, b) = (rs1!() as i32, rs2!() as i32);
                if b == 0 {
                    u64::MAX
                } else {
                    a.wrapping_div(b) as i64 as u64
                }
            }
            Op::Divuw => (rs1!() as u32)
                .checked_div(rs2!() as u32)
                .map_or(u64::MAX, |q| sx32(q as u64)),
            Op::Remw => {
                let (a, b) = (rs1!() as i32, rs2!() as i32);
                if b == 0 {
                    a as i64 as u64
                } else {
                    a.wrapping_rem(b) as i64 as u64
                }
            }
            Op::Remuw => {
                let (a, b) = (rs1!() as u32, rs2!() as u32);
                if b == 0 {
                    sx32(a as u64)
                } else {
                    sx32((a % b) as u64)
                }
            }
            Op::AddUw => rs2!().wrapping_add(rs1!() as u32 as u64),
            Op::Sh1add => rs2!().wrapping_add(rs1!() << 1),
            Op::Sh2add => rs2!().wrapping_add(rs1!() << 2),
            Op::Sh3add => rs2!().wrapping_add(rs1!() << 3),
            Op::Sh1addUw => rs2!().wrapping_add((rs1!() as u32 as u64) << 1),
            Op::Sh2addUw => rs2!().wrapping_add((rs1!() as u32 as u64) << 2),
            Op::Sh3addUw => rs2!().wrapping_add((rs1!() as u32 as u64) << 3),
            Op::SlliUw => (rs1!() as u32 as u64) << sh!(),
            Op::Andn => rs1!() & !rs2!(),
            Op::Orn => rs1!() | !rs2!(),
            Op::Xnor => !(rs1!() ^ rs2!()),
            Op::Clz => rs1!().leading_zeros() as u64,
            Op::Clzw => (rs1!() as u32).leading_zeros() as u64,
            Op::Ctz => rs1!().trailing_zeros() as u64,
            Op::Ctzw => (rs1!() as u32).trailing_zeros() as u64,
            Op::Cpop => rs1!().count_ones() as u64,
            Op::Cpopw => (rs1!() as u32).count_ones() as u64,
            Op::Max => (rs1!() as i64).max(rs2!() as i64) as u64,
            Op::Maxu => rs1!().max(rs2!()),
            Op::Min => (rs1!() as i64).min(rs2!() as i64) as u64,
            Op::Minu => rs1!().min(rs2!()),
            Op::SextB => rs1!() as i8 as i64 as u64,
            Op::SextH => rs1!() as i16 as i64 as u64,
            Op::ZextH => rs1!() as u16 as u64,
            Op::Rol => rs1!().rotate_left((rs2!() & 63) as u32),
            Op::Rolw => sx32((rs1!() as u32).rotate_left((rs2!() & 31) as u32) as u64),
            Op::Ror => rs1!().rotate_right((rs2!() & 63) as u32),
            Op::Rori => rs1!().rotate_right(sh!()),
            Op::Roriw => sx32((rs1!() as u32).rotate_right(sh!() & 31) as u64),
            Op::Rorw => sx32((rs1!() as u32).rotate_right((rs2!() & 31) as u32) as u64),
            Op::OrcB => {
                let mut r = 0u64;
                for b in 0..8 {
                    if (rs1!() >> (8 * b)) & 0xff != 0 {
                        r |= 0xff << (8 * b);
                    }
                }
                r
            }
            Op::Rev8 => rs1!().swap_bytes(),
            Op::Bclr => rs1!() & !(1 << (rs2!() & 63)),
            Op::Bclri => rs1!() & !(1 << sh!()),
            Op::Bext => (rs1!() >> (rs2!() & 63)) & 1,
            Op::Bexti => (rs1!() >> sh!()) & 1,
            Op::Binv => rs1!() ^ (1 << (rs2!() & 63)),
            Op::Binvi => rs1!() ^ (1 << sh!()),
            Op::Bset => rs1!() | (1 << (rs2!() & 63)),
            Op::Bseti => rs1!() | (1 << sh!()),
            Op::Nop | Op::Fence | Op::FenceI => return Ok(None),
            // Never executed (blocks and the single-step paths decode first); were it
            // reached, it stands for the all-zero parcel, an illegal instruction.
            Op::Undecoded => return Err(Trap::illegal(i.raw())),
            Op::Breakpoint => return Err(Trap::new(BREAK, 0)),
            Op::Illegal => return Err(Trap::illegal(i.raw())),
            // CSRs, system, atomic and floating-point operations: out of line, so the
            // common operations keep their registers.
            _ => return self.step_rare(bus, i, pc(self), left).map(|()| None),
        };
        // Every operation that gets here only writes rd, and decoding made it a Nop
        // when rd is x0 (see `decode::only_writes_rd`): no need to keep x0 zero.
        self.x[i.rd() as usize] = v;
        *out = v;
        Ok(None)
    }

    /// The operations [`Hart::step_at`] keeps out of line; same contract.
    #[inline(never)]
    fn step_rare(&mut self, bus: &mut Bus, i: Insn, pc: u64, left: u64) -> Result<(), Trap> {
        // The rare path reads its operands up front.
        let rs1 = self.x[i.rs1() as usize];
        let rs2 = self.x[i.rs2() as usize];
        let imm = i.imm() as i64 as u64;
        match i.op() {
            Op::Csrrw | Op::Csrrs | Op::Csrrc | Op::Csrrwi | Op::Csrrsi | Op::Csrrci => {
                self.budget = left;
                self.exec_csr(bus, i, rs1, pc)?;
                return self.finish();
            }
            Op::Ecall => {
                let c = match self.prv {
                    PRV_U => cause::ECALL_U,
                    PRV_S => cause::ECALL_S,
                    _ => cause::ECALL_M,
                };
                return Err(Trap::new(c, 0));
            }
            Op::Ebreak => return Err(Trap::new(cause::BREAKPOINT, pc)),
            Op::Mret => {
                if self.prv != PRV_M {
                    return Err(Trap::illegal(i.raw()));
                }
                let m = self.csr.mstatus;
                let mpp = ((m & ms::MPP) >> ms::MPP_SHIFT) as u8;
                let mut n = (m & !(ms::MIE | ms::MPP)) | ms::MPIE;
                if m & ms::MPIE != 0 {
                    n |= ms::MIE;
                }
                if mpp != PRV_M {
                    n &= !ms::MPRV;
                }
                self.csr.mstatus = n;
                self.prv = mpp;
                self.pc = self.csr.mepc;
                self.update_tlb_sets();
                self.budget = left;
                self.end_run();
                return self.finish();
            }
            Op::Sret => {
                if self.prv < PRV_S || (self.prv == PRV_S && self.csr.mstatus & ms::TSR != 0) {
                    return Err(Trap::illegal(i.raw()));
                }
                let m = self.csr.mstatus;
                let spp = if m & ms::SPP != 0 { PRV_S } else { PRV_U };
                let mut n = (m & !(ms::SIE | ms::SPP | ms::MPRV)) | ms::SPIE;
                if m & ms::SPIE != 0 {
                    n |= ms::SIE;
                }
                self.csr.mstatus = n;
                self.prv = spp;
                self.pc = self.csr.sepc;
                self.update_tlb_sets();
                self.budget = left;
                self.end_run();
                return self.finish();
            }
            Op::Wfi => {
                if self.prv == PRV_U || (self.prv < PRV_M && self.csr.mstatus & ms::TW != 0) {
                    return Err(Trap::illegal(i.raw()));
                }
                if self.mip() & self.csr.mie == 0 {
                    self.state = HartState::Wfi;
                    self.budget = left;
                    self.end_run();
                    return self.finish();
                }
                return Ok(());
            }
            Op::SfenceVma => {
                if self.prv == PRV_U || (self.prv == PRV_S && self.csr.mstatus & ms::TVM != 0) {
                    return Err(Trap::illegal(i.raw()));
                }
                if i.rs1() != 0 {
                    self.mmu.flush_page(rs1);
                } else {
                    self.mmu.flush_translated();
                }
                self.remapped = true;
                if bus.remap_stops {
                    self.budget = left;
                    self.end_run();
                    return self.finish();
                }
                // Fetches must see the new translation: leave the page, not the run.
                // (Linux flushes a page per fixmap update: ending the run each time
                // cost 90 thousand runs per boot.)
                return Err(Trap::new(REFETCH, 0));
            }
            Op::LrW | Op::LrD => {
                self.budget = left;
                let v = {
                    let size = if i.op() == Op::LrW { 4 } else { 8 };
                    let (pa, o) = self.amo_addr(bus, rs1, size, Access::Load, false)?;
                    let v = read_ram(bus, o, size);
                    self.reservation = Some(pa);
                    self.reservation_value = v;
                    if size == 4 {
                        sx32(v)
                    } else {
                        v
                    }
                };
                self.set_x(i.rd(), v);
                return self.finish();
            }
            Op::ScW | Op::ScD => {
                self.budget = left;
                let v = {
                    let size = if i.op() == Op::ScW { 4 } else { 8 };
                    let (pa, o) = self.amo_addr(bus, rs1, size, Access::Store, false)?;
                    let ok = self.reservation == Some(pa)
                        && read_ram(bus, o, size) == self.reservation_value;
                    self.reservation = None;
                    if ok {
                        self.write_ram(bus, pa, o, size, rs2);
                        0
                    } else {
                        1
                    }
                };
                self.set_x(i.rd(), v);
                return self.finish();
            }
            Op::AmoSwapW
            | Op::AmoAddW
            | Op::AmoXorW
            | Op::AmoAndW
            | Op::AmoOrW
            | Op::AmoMinW
            | Op::AmoMaxW
            | Op::AmoMinuW
            | Op::AmoMaxuW
            | Op::AmoSwapD
            | Op::AmoAddD
            | Op::AmoXorD
            | Op::AmoAndD
            | Op::AmoOrD
            | Op::AmoMinD
            | Op::AmoMaxD
            | Op::AmoMinuD
            | Op::AmoMaxuD => {
                self.budget = left;
                let word = (i.op() as u8) <= Op::AmoMaxuW as u8;
                let size = if word { 4 } else { 8 };
                let (pa, o) = self.amo_addr(bus, rs1, size, Access::Store, true)?;
                let old = read_ram(bus, o, size);
                self.write_ram(bus, pa, o, size, amo_value(i.op(), old, rs2));
                self.set_x(i.rd(), if word { sx32(old) } else { old });
                return self.finish();
            }
            Op::Flw | Op::Fld => {
                self.f_check(i.raw())?;
                let (v, ended) = if i.op() == Op::Flw {
                    let (v, ended) = loaded(self.load(bus, rs1.wrapping_add(imm), 4, left))?;
                    (0xffff_ffff_0000_0000 | v, ended)
                } else {
                    loaded(self.load(bus, rs1.wrapping_add(imm), 8, left))?
                };
                self.f[i.rd() as usize] = v;
                self.set_fs_dirty();
                return ended_if(ended);
            }
            Op::Fsw | Op::Fsd => {
                self.f_check(i.raw())?;
                let size = if i.op() == Op::Fsw { 4 } else { 8 };
                let v = self.f[i.rs2() as usize];
                return self.store(bus, rs1.wrapping_add(imm), size, v, left);
            }
            Op::Fp => {
                fpu::execute(self, i)?;
                return Ok(());
            }
            _ => {}
        }
        // Never reached: step_at handles every other operation.
        Err(Trap::illegal(i.raw()))
    }

    #[inline(never)]
    fn exec_csr(&mut self, bus: &mut Bus, i: Insn, rs1: u64, pc: u64) -> Result<(), Trap> {
        let csr = (i.imm() & 0xfff) as u16;
        let uimm = i.rs1() as u64;
        let (op, writes) = match i.op() {
            Op::Csrrw => (CsrOp::Write(rs1), true),
            Op::Csrrwi => (CsrOp::Write(uimm), true),
            Op::Csrrs => (CsrOp::Set(rs1), i.rs1() != 0),
            Op::Csrrsi => (CsrOp::Set(uimm), i.rs1() != 0),
            Op::Csrrc => (CsrOp::Clear(rs1), i.rs1() != 0),
            _ => (CsrOp::Clear(uimm), i.rs1() != 0),
        };
        let time = bus.clock.ticks(self.steps());
        if !super::csr::implemented(csr) {
            bus.log.unimp(format_args!(
                "hart {}: access to unimplemented CSR {csr:#05x} at pc {:#x} (illegal instruction)",
                self.id, pc
            ));
        }
        let (old, effect) = self.csr_op(csr, op, writes, i.raw(), time)?;
        self.set_x(i.rd(), old);
        self.apply_csr_effect(bus, effect);
        Ok(())
    }
}

/// The decoded page and arena `run_page` executes from, and the block being run, for
/// the handlers (see `Hart::chain`).
#[derive(Clone, Copy)]
pub(crate) struct Chain {
    code: *const CodePage,
    insns: *const Entry,
    offs: *const u16,
    len: usize,
    /// The first instruction of the block being run, and the budget before it.
    block: *const Entry,
    entry: u64,
}

impl Chain {
    pub(crate) const NONE: Chain = Chain {
        code: std::ptr::null(),
        insns: std::ptr::null(),
        offs: std::ptr::null(),
        len: 0,
        block: std::ptr::null(),
        entry: 0,
    };

    fn new(code: &CodePage, arena: &Arena) -> Chain {
        Chain {
            code,
            insns: arena.insns.as_ptr(),
            offs: arena.offs.as_ptr(),
            len: arena.insns.len(),
            ..Chain::NONE
        }
    }

    /// The budget after the instruction at `ip` of the block being run (counted when
    /// `counted`: a closing Goto is not).
    #[inline(always)]
    fn left(&self, ip: *const Entry, counted: bool) -> u64 {
        // SAFETY: `ip` and `block` point into the same block of the arena (see
        // `handler`).
        let done = unsafe { ip.offset_from(self.block) } as u64;
        self.entry - done - counted as u64
    }

    /// The pc of the instruction at `ip` on the virtual page at `vbase`.
    #[inline(always)]
    fn pc(&self, ip: *const Entry, vbase: u64) -> u64 {
        // SAFETY: `ip` points into the arena, and `offs` runs parallel to `insns`.
        vbase | unsafe { *self.offs.offset(ip.offset_from(self.insns)) } as u64
    }
}

/// What a threaded handler returns for a block left by an exception or a stop (the
/// details are in `Hart::block_exit`). Odd, so never a pc.
const EXITED: u64 = 1;

/// How a handler's loads and stores find memory: the main TLBs only, ...
const MEM_MAIN: u8 = 0;
/// ... the main TLBs, then the watched-page TLBs (an access to a watched page that
/// cannot hit a watchpoint) ...
const MEM_WATCHED: u8 = 1;
/// ... or every path (walks, devices, watchpoint checks).
const MEM_FULL: u8 = 2;

/// The handler of operation `OP` with memory paths `MEM`: [`Hart::step_at`]
/// specialised to one operation, so each has its own dispatch to the next (the host
/// predicts each one separately), and no shared loop. The table holds the `MEM_MAIN`
/// handlers, whose loads and stores try only the main TLBs; on a miss the instruction
/// starts again in the `MEM_WATCHED` handler, then the `MEM_FULL` one, so the fast
/// path saves no registers for calls it does not make. The calls to the next handler
/// are in tail position, which the compiler turns into jumps in optimised builds; even
/// without that the depth is bounded by the block length.
///
/// `FWD` says where the operands come from (see [`fwd`]): `a1` and `a2` are the
/// values the entries one and two before this one wrote, and the handler passes on
/// its own and `a1`. `NEXT` and `NFWD` are the operation and `FWD` of the next entry
/// for a fused pair ([`pair_handler`]), `ANY` otherwise.
#[inline(never)]
fn handler<const OP: u8, const MEM: u8, const NEXT: u8, const FWD: u8, const NFWD: u8>(
    h: &mut Hart,
    bus: &mut Bus,
    ip: *const Entry,
    vbase: u64,
    a1: u64,
    a2: u64,
) -> (u64, u64) {
    let op = Op::from_u8(OP);
    // SAFETY: `ip` points into the arena of the page `run_page` executes from, which
    // it holds (an `Rc`) for the whole block: `run_page` passes the first instruction
    // of a block, and a handler moves on to the next only after an instruction that
    // does not leave the block, which is never a block's last (a block ends with a
    // jump, a closing `Goto`, or an instruction that stops).
    let i = unsafe { (*ip).insn };
    // A closing Goto is not an instruction, and not counted.
    let counted = op != Op::Goto;
    let left = h.chain.left(ip, counted);
    let mut out = 0;
    match h.step_at::<MEM, FWD>(
        op,
        bus,
        i,
        vbase,
        left,
        |h: &Hart| h.chain.pc(ip, vbase),
        [a1, a2],
        &mut out,
    ) {
        Ok(None) => {
            // SAFETY: as above: the block goes on after `ip`.
            let ip = unsafe { ip.add(1) };
            if NEXT != ANY {
                // A fused pair (see `pair_handler`): the next operation is known, so
                // its handler is a direct jump, not one through the entry.
                // SAFETY: as above.
                debug_assert_eq!(unsafe { (*ip).insn.op() } as u8, NEXT);
                return handler::<NEXT, MEM_MAIN, ANY, NFWD, FWD_NONE>(h, bus, ip, vbase, out, a1);
            }
            // SAFETY: as above.
            let run = unsafe { (*ip).run };
            run(h, bus, ip, vbase, out, a1)
        }
        Ok(Some(pc)) => {
            // On to the next block of this page without returning to `run_page`: each
            // exit predicts its own next handler. Not in unoptimised builds, where the
            // calls may not become jumps and a loop would grow the stack.
            #[cfg(not(debug_assertions))]
            if pc & !0xfff == vbase {
                let c = h.chain;
                // SAFETY: `run_page` set `chain` from the page and arena it holds for
                // as long as it calls handlers. Every block the page's `starts` name
                // is in that arena: when a page's arena is replaced its `starts` are
                // cleared with it, and only `run_page` adds blocks again, refreshing
                // `chain` after. The bounds check below holds regardless.
                let block = unsafe { (*c.code).block(((pc & 0xfff) >> 1) as usize) };
                if let Some(b) = block.filter(|b| b.len as u64 <= left && b.start + b.len < c.len) {
                    // SAFETY: as above; the block's instructions are in the arena.
                    let ip = unsafe { c.insns.add(b.start) };
                    h.chain.block = ip;
                    h.chain.entry = left;
                    // SAFETY: as above.
                    let run = unsafe { (*ip).run };
                    return run(h, bus, ip, vbase, out, a1);
                }
            }
            (pc, left)
        }
        Err(t) if MEM == MEM_MAIN && t.cause == MISS => {
            handler::<OP, MEM_WATCHED, ANY, FWD_NONE, FWD_NONE>(h, bus, ip, vbase, a1, a2)
        }
        Err(t) if MEM == MEM_WATCHED && t.cause == MISS => {
            handler::<OP, MEM_FULL, ANY, FWD_NONE, FWD_NONE>(h, bus, ip, vbase, a1, a2)
        }
        Err(t) => {
            h.block_exit = (t, i, h.chain.pc(ip, vbase));
            (EXITED, left)
        }
    }
}

/// Where a handler reads an operand: from the register file, ...
const FROM_X: u8 = 0;
/// ... from the value the entry before it in the block wrote, ...
const FROM_1: u8 = 1;
/// ... or from the value the entry two before wrote.
const FROM_2: u8 = 2;

/// How a handler reads rs1 and rs2 (`FROM_X`, `FROM_1` or `FROM_2` each): the
/// `FWD` of [`handler`]. The values the last two entries wrote are passed along in
/// host registers, so a chain of dependent instructions does not wait for each store
/// to the register file to reach the next load (store forwarding adds several cycles
/// to each link).
const fn fwd(rs1: u8, rs2: u8) -> u8 {
    rs1 * 3 + rs2
}

/// Where operand `n` (0: rs1, 1: rs2) of a handler with `FWD = fwd` comes from.
#[inline(always)]
const fn fwd_src(fwd: u8, n: u8) -> u8 {
    if n == 0 {
        fwd / 3
    } else {
        fwd % 3
    }
}

const FWD_NONE: u8 = fwd(FROM_X, FROM_X);
/// The `FWD` values: 9 of them.
const FWD_COUNT: usize = 9;

/// `NEXT` of a handler that dispatches through the next entry (not a fused pair).
const ANY: u8 = u8::MAX;
const _: () = assert!(Op::COUNT <= ANY as usize);

/// The handlers of fused pairs: `($a, $b)` runs `$a`, then jumps straight to the
/// handler of `$b` when the block goes on (see [`pair_handler`]).
macro_rules! fused_pairs {
    ($(($a:ident, $b:ident)),* $(,)?) => {
        /// The handler for an entry of operation `a` (reading its operands as `fa`
        /// says) followed by one of operation `b` (as `fb` says) in the same block, if
        /// the pair is fused. Each entry still executes one instruction (counting,
        /// traps, misses and exits are unchanged); the first only knows the second's
        /// handler, saving the indirect jump through its entry. The pairs are the most
        /// frequent ones of a Debian boot (half of its instructions head one of them).
        fn pair_handler(a: Op, fa: u8, b: Op, fb: u8) -> Option<Handler> {
            const N: u8 = FWD_NONE;
            const R1: u8 = fwd(FROM_1, FROM_X);
            const R2: u8 = fwd(FROM_X, FROM_1);
            macro_rules! fwd {
                ($x:ident, $y:ident) => {
                    match (fa, fb) {
                        (N, N) => handler::<{ Op::$x as u8 }, MEM_MAIN, { Op::$y as u8 }, N, N>,
                        (N, R1) => handler::<{ Op::$x as u8 }, MEM_MAIN, { Op::$y as u8 }, N, R1>,
                        (N, R2) => handler::<{ Op::$x as u8 }, MEM_MAIN, { Op::$y as u8 }, N, R2>,
                        (R1, N) => handler::<{ Op::$x as u8 }, MEM_MAIN, { Op::$y as u8 }, R1, N>,
                        (R1, R1) => handler::<{ Op::$x as u8 }, MEM_MAIN, { Op::$y as u8 }, R1, R1>,
                        (R1, R2) => handler::<{ Op::$x as u8 }, MEM_MAIN, { Op::$y as u8 }, R1, R2>,
                        (R2, N) => handler::<{ Op::$x as u8 }, MEM_MAIN, { Op::$y as u8 }, R2, N>,
                        (R2, R1) => handler::<{ Op::$x as u8 }, MEM_MAIN, { Op::$y as u8 }, R2, R1>,
                        (R2, R2) => handler::<{ Op::$x as u8 }, MEM_MAIN, { Op::$y as u8 }, R2, R2>,
                        _ => return None,
                    }
                };
            }
            match (a, b) {
                $((Op::$a, Op::$b) => Some(fwd!($a, $b)),)*
                _ => None,
            }
        }
    };
}

fused_pairs!(
    (Ld, Ld),
    (Sd, Sd),
    (Add, Add),
    (Slli, Srli),
    (Addi, Beq),
    (Slli, Add),
    (Addi, Addi),
    (Ld, Add),
    (Sd, Addi),
    (Srli, Add),
    (Add, Ld),
    (Add, Beq),
    (Srli, Srli),
    (Add, Sltu),
    (Ld, Addi),
    (Add, Bgeu),
    (Xor, Xor),
    (Lbu, Addi),
    (Beq, Ld),
    (Sltu, Add),
    (Lbu, Lbu),
    (Srli, Mul),
    (Addi, Sd),
    (Mul, Add),
    (Add, Slli),
    (Addi, Add),
    (Beq, Lbu),
    (Addiw, Addi),
    (Add, Addiw),
    (Add, Sub),
    (Slli, Or),
    (Sd, Add),
    (Add, Addi),
    (Ld, Sub),
    (Add, Sd),
    (Bgeu, Ld),
    (Beq, Sub),
    (Slliw, Or),
    (Add, Lbu),
    (Beq, Sltu),
    (Sub, Slli),
    (And, Sltu),
    (Sltu, Sd),
    (Sltu, Or),
    (Sub, Sltiu),
    (Sltiu, And),
    (Ld, Addiw),
    (Addiw, Slli),
);

/// Sixteen handlers, for operations `16 * $hi` to `16 * $hi + 15`, reading their
/// operands from the register file.
macro_rules! handler_row {
    ($hi:literal) => {
        [
            handler::<{ $hi * 16 + 0 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 1 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 2 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 3 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 4 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 5 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 6 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 7 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 8 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 9 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 10 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 11 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 12 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 13 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 14 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
            handler::<{ $hi * 16 + 15 }, MEM_MAIN, ANY, FWD_NONE, FWD_NONE>,
        ]
    };
}

/// The handler of each operation reading its operands from the register file, by
/// discriminant (those past [`Op::COUNT`] are never used: they would treat the
/// instruction as illegal).
const PLAIN: [Handler; 256] = {
    const ROWS: [[Handler; 16]; 16] = [
        handler_row!(0),
        handler_row!(1),
        handler_row!(2),
        handler_row!(3),
        handler_row!(4),
        handler_row!(5),
        handler_row!(6),
        handler_row!(7),
        handler_row!(8),
        handler_row!(9),
        handler_row!(10),
        handler_row!(11),
        handler_row!(12),
        handler_row!(13),
        handler_row!(14),
        handler_row!(15),
    ];
    let mut t = [ROWS[0][0]; 256];
    let mut n = 0;
    while n < 256 {
        t[n] = ROWS[n / 16][n % 16];
        n += 1;
    }
    t
};

/// [`PLAIN`] with the handlers of the listed operations replaced by ones reading
/// their operands as `$fwd` says. (The other operations read the register file,
/// which is always up to date; the list keeps the number of handlers, and the build
/// time, down.)
macro_rules! forwarding_table {
    ($fwd:expr; $($op:ident),* $(,)?) => {{
        let mut t = PLAIN;
        $(t[Op::$op as usize] = handler::<{ Op::$op as u8 }, MEM_MAIN, ANY, $fwd, FWD_NONE>;)*
        t
    }};
}

/// The forwarding handlers for `FWD = $fwd`: the integer operations common in
/// kernels and firmware.
macro_rules! forwarding {
    ($fwd:expr) => {
        forwarding_table!($fwd;
            Jalr, Beq, Bne, Blt, Bge, Bltu, Bgeu,
            Lb, Lh, Lw, Ld, Lbu, Lhu, Lwu, Sb, Sh, Sw, Sd,
            Addi, Slti, Sltiu, Xori, Ori, Andi, Slli, Srli, Srai,
            Add, Sub, Sll, Slt, Sltu, Xor, Srl, Sra, Or, And,
            Addiw, Slliw, Srliw, Sraiw, Addw, Subw, Sllw, Srlw, Sraw,
            Mul, Mulh, Mulhu, Mulw, Divu, Remu, Divuw, Remuw,
            AddUw, Sh1add, Sh2add, Sh3add, SlliUw, Andn, Orn, Xnor, Rori, Ror, Rol,
        )
    };
}

/// The handler of each operation, by how it reads its operands (`FWD`) and
/// discriminant.
static HANDLERS: [[Handler; 256]; FWD_COUNT] = [
    PLAIN,
    forwarding!(1),
    forwarding!(2),
    forwarding!(3),
    forwarding!(4),
    forwarding!(5),
    forwarding!(6),
    forwarding!(7),
    forwarding!(8),
];

#[inline(always)]
fn read_ram(bus: &Bus, o: usize, size: u64) -> u64 {
    let mut b = [0u8; 8];
    b[..size as usize].copy_from_slice(&bus.ram.data[o..o + size as usize]);
    u64::from_le_bytes(b)
}

impl Hart {
    /// The result of an operation that may have ended the run (`end_run` zeroes the
    /// budget): `ENDED` makes the interpreter leave the block.
    #[inline(always)]
    pub(super) fn finish(&self) -> Result<(), Trap> {
        ended_if(self.budget == 0)
    }

    /// Notes a write to RAM by this hart (a store, an AMO, an A/D update): a write that
    /// changed decoded code ends the run, so the hart never goes on executing a block
    /// it has just overwritten.
    #[inline]
    pub(super) fn wrote_ram(&mut self, bus: &mut Bus, pa: u64, len: u64) {
        if bus.note_ram_write(pa, len) {
            self.end_run();
        }
    }
}

/// `ENDED` for an operation that completed and ended the run.
#[inline(always)]
fn ended_if(ended: bool) -> Result<(), Trap> {
    if ended {
        Err(Trap::new(ENDED, 0))
    } else {
        Ok(())
    }
}

/// The decoded instruction at `slot` of code page `page` (virtual address `pc`), decoded
/// from RAM and cached on first use (logged under `-d in_asm`). None for a 32-bit
/// instruction in the last slot: it crosses into the next page and is never cached.
fn decode_cached(bus: &mut Bus, page: usize, slot: usize, pc: u64) -> Option<Insn> {
    let cached = bus.icache.slot(page, slot)?;
    if cached.op() != Op::Undecoded {
        return Some(cached);
    }
    let off = page * 4096 + slot * 2;
    let d = &bus.ram.data;
    let lo = u16::from_le_bytes([d[off], d[off + 1]]);
    let raw = if lo & 3 != 3 {
        lo as u32
    } else if slot == SLOTS - 1 {
        return None;
    } else {
        u32::from_le_bytes([d[off], d[off + 1], d[off + 2], d[off + 3]])
    };
    let insn = decode(raw);
    if bus.log.in_asm {
        bus.log.write(format_args!(
            "IN: {pc:#018x}  {}",
            crate::disasm::one(pc, raw, insn.len())
        ));
    }
    bus.icache.set(page, slot, insn);
    Some(insn)
}

/// The value an AMO writes, from the old memory value and rs2 (word forms: the low 32
/// bits are written).
fn amo_value(op: Op, old: u64, src: u64) -> u64 {
    let (a, b) = (old as u32, src as u32);
    match op {
        Op::AmoSwapW | Op::AmoSwapD => src,
        Op::AmoXorW | Op::AmoXorD => old ^ src,
        Op::AmoAndW | Op::AmoAndD => old & src,
        Op::AmoOrW | Op::AmoOrD => old | src,
        Op::AmoAddW => a.wrapping_add(b) as u64,
        Op::AmoMinW => (a as i32).min(b as i32) as u32 as u64,
        Op::AmoMaxW => (a as i32).max(b as i32) as u32 as u64,
        Op::AmoMinuW => a.min(b) as u64,
        Op::AmoMaxuW => a.max(b) as u64,
        Op::AmoAddD => old.wrapping_add(src),
        Op::AmoMinD => (old as i64).min(src as i64) as u64,
        Op::AmoMaxD => (old as i64).max(src as i64) as u64,
        Op::AmoMinuD => old.min(src),
        _ => old.max(src),
    }
}

/// How each instruction of a block reads its operands (its handler's `FWD`). The
/// first is entered from anywhere, so it reads the register file.
fn operand_sources(insns: &[Insn]) -> Vec<u8> {
    (0..insns.len())
        .map(|k| {
            let i = insns[k];
            fwd(source(&insns[..k], i.rs1()), source(&insns[..k], i.rs2()))
        })
        .collect()
}

/// Where an entry after `before` in a block finds the value of register `r`: in the
/// value one of the two entries before it wrote when the later of them to write `r`
/// (or that may write it) passes it on, in the register file otherwise.
fn source(before: &[Insn], r: u8) -> u8 {
    for (back, src) in [(1, FROM_1), (2, FROM_2)] {
        let Some(p) = before.len().checked_sub(back).map(|k| before[k]) else {
            break;
        };
        if p.rd() == r && r != 0 {
            return if forwards(p) { src } else { FROM_X };
        }
    }
    FROM_X
}

/// Whether the handler of `i` passes the value it writes to rd on to the next one
/// (see `FWD_RS1`): the operations whose only effect is writing rd, and loads into a
/// register other than x0.
fn forwards(i: Insn) -> bool {
    only_writes_rd(i.op())
        || (matches!(
            i.op(),
            Op::Lb | Op::Lh | Op::Lw | Op::Ld | Op::Lbu | Op::Lhu | Op::Lwu
        ) && i.rd() != 0)
}

/// True for the operations that set `self.pc` themselves when they end the run.
#[inline(always)]
fn sets_pc(op: Op) -> bool {
    matches!(op, Op::Mret | Op::Sret)
}

/// True for the operations that always choose the next pc: they end a block, and no
/// [`Op::Goto`] follows them. (A conditional branch does not end a block: taken, it
/// leaves it; not taken, execution goes on in the block.)
fn always_sets_pc(op: Op) -> bool {
    sets_pc(op) || matches!(op, Op::Jal | Op::Jalr | Op::Goto)
}

/// A load's result as (value, whether the load ended the run): a slow-path load that
/// ended the run still returns its value, in the `ENDED_LOAD` error.
#[inline(always)]
fn loaded(r: Result<u64, Trap>) -> Result<(u64, bool), Trap> {
    match r {
        Ok(v) => Ok((v, false)),
        Err(t) if t.cause == ENDED_LOAD => Ok((t.tval, true)),
        Err(t) => Err(t),
    }
}

/// The branch taken exactly when the conditional branch `op` is not.
fn inverse_branch(op: Op) -> Option<Op> {
    Some(match op {
        Op::Beq => Op::Bne,
        Op::Bne => Op::Beq,
        Op::Blt => Op::Bge,
        Op::Bge => Op::Blt,
        Op::Bltu => Op::Bgeu,
        Op::Bgeu => Op::Bltu,
        _ => return None,
    })
}

/// True for the operations that end a block: control transfers, and those that trap,
/// stop or change privilege or translation unconditionally.
fn ends_block(op: Op) -> bool {
    always_sets_pc(op)
        || matches!(
            op,
            Op::Ecall
                | Op::Ebreak
                | Op::Wfi
                | Op::SfenceVma
                | Op::FenceI
                | Op::Illegal
                | Op::Breakpoint
        )
}

impl Hart {
    /// An AMO's or SC's write to RAM; a write to decoded code ends the run.
    #[inline(always)]
    fn write_ram(&mut self, bus: &mut Bus, pa: u64, o: usize, size: u64, v: u64) {
        bus.ram.data[o..o + size as usize].copy_from_slice(&v.to_le_bytes()[..size as usize]);
        self.wrote_ram(bus, pa, size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Ram;
    use crate::irq::IrqState;
    use crate::logging::Log;

    /// A bus with 1 MiB of RAM at 0x8000_0000 and one hart's interrupt lines.
    fn test_bus() -> Bus {
        Bus::new(
            Ram::new(0x8000_0000, 1 << 20),
            Ram::new(0x1000, 0x1000),
            IrqState::new(1),
            Log::default(),
        )
    }

    /// Operations that only write rd store their result without zeroing x0 afterwards,
    /// relying on decoding to have made them `Op::Nop` when rd is x0. Execute every
    /// 16-bit encoding and a spread of 32-bit ones with x0 as rd (whatever they decode
    /// to, with every register nonzero), and x0 must still read zero.
    #[test]
    fn no_instruction_leaves_x0_nonzero() {
        let mut bus = test_bus();
        let mut h = Hart::new(0);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut raws: Vec<u32> = (0..=0xffffu32).filter(|r| r & 3 != 3).collect();
        for _ in 0..200_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // A 32-bit encoding with rd (bits 11:7) = x0.
            raws.push(((seed >> 32) as u32 | 3) & !(31 << 7));
        }
        for raw in raws {
            for r in 1..32 {
                h.x[r] = 0x8000_0100 + r as u64 * 8;
            }
            h.pc = 0x8000_0000;
            h.budget = 1 << 40;
            let _ = h.execute(&mut bus, decode(raw));
            assert_eq!(h.x[0], 0, "{raw:#010x} wrote x0");
        }
    }

    fn r_type(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
        f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op
    }

    fn i_type(imm: u32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
        (imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op
    }

    /// Where each instruction of a block reads its operands: from the value of one
    /// of the two before only when that one is the last to write the register and
    /// passes its value on.
    #[test]
    fn operands_come_from_the_last_writer_only_when_it_passes_its_value_on() {
        let add = |rd, rs1, rs2| decode(r_type(0, rs2, rs1, 0, rd, 0x33));
        let addi = |rd, rs1| decode(i_type(1, rs1, 0, rd, 0x13));
        let ld = |rd, rs1| decode(i_type(8, rs1, 3, rd, 0x03));
        let sd = |rs2: u32, rs1: u32| decode(rs2 << 20 | rs1 << 15 | 3 << 12 | 0x23);
        let csrr = |rd| decode(i_type(0x340, 0, 2, rd, 0x73));
        let cases: [(&str, Vec<Insn>, u8); 9] = [
            (
                "rs1 of the one before",
                vec![addi(5, 6), add(7, 5, 8)],
                fwd(FROM_1, FROM_X),
            ),
            (
                "rs2 of the one before",
                vec![addi(5, 6), add(7, 8, 5)],
                fwd(FROM_X, FROM_1),
            ),
            (
                "both",
                vec![ld(5, 6), addi(9, 9), add(7, 9, 5)],
                fwd(FROM_1, FROM_2),
            ),
            (
                "two back, past a store",
                vec![addi(5, 6), sd(5, 6), add(7, 5, 5)],
                fwd(FROM_2, FROM_2),
            ),
            (
                "the later writer wins",
                vec![addi(5, 6), ld(5, 6), add(7, 5, 0)],
                fwd(FROM_1, FROM_X),
            ),
            (
                "a CSR read in between",
                vec![addi(5, 6), csrr(5), add(7, 5, 0)],
                fwd(FROM_X, FROM_X),
            ),
            (
                "a CSR read before",
                vec![csrr(5), add(7, 5, 0)],
                fwd(FROM_X, FROM_X),
            ),
            (
                "a load into x0",
                vec![ld(0, 6), add(7, 0, 0)],
                fwd(FROM_X, FROM_X),
            ),
            (
                "three back",
                vec![addi(5, 6), addi(8, 8), addi(9, 9), add(7, 5, 0)],
                fwd(FROM_X, FROM_X),
            ),
        ];
        for (what, insns, want) in cases {
            let got = operand_sources(&insns);
            assert_eq!(
                got[0], FWD_NONE,
                "{what}: the first reads the register file"
            );
            assert_eq!(*got.last().unwrap(), want, "{what}");
        }
    }

    /// Random straight-line code dense in dependences (few registers), with writers
    /// that do not pass their value on (CSR reads, AMOs) mixed in: run as blocks,
    /// whose handlers take operands from the instructions before, it must leave the
    /// registers and memory exactly as single steps, which read the register file.
    #[test]
    fn forwarded_operands_give_the_state_of_single_steps() {
        const BASE: u64 = 0x8000_8000;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = |n: u32| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % n as u64) as u32
        };
        for program in 0..40 {
            // Destinations: x1..x5 and x11 (x10 holds the data address).
            let mut code = Vec::new();
            for _ in 0..300 {
                let rd = [1, 2, 3, 4, 5, 11][rand(6) as usize];
                let regs = [0, 1, 2, 3, 4, 5, 10, 11];
                let (rs1, rs2) = (regs[rand(8) as usize], regs[rand(8) as usize]);
                let raw = match rand(12) {
                    0..=3 => {
                        // add sub sll slt sltu xor srl sra or and mul mulhu divu remu,
                        // addw subw sllw srlw sraw mulw divuw remuw.
                        let (f7, f3, op) = [
                            (0, 0, 0x33),
                            (0x20, 0, 0x33),
                            (0, 1, 0x33),
                            (0, 2, 0x33),
                            (0, 3, 0x33),
                            (0, 4, 0x33),
                            (0, 5, 0x33),
                            (0x20, 5, 0x33),
                            (0, 6, 0x33),
                            (0, 7, 0x33),
                            (1, 0, 0x33),
                            (1, 3, 0x33),
                            (1, 5, 0x33),
                            (1, 7, 0x33),
                            (0, 0, 0x3b),
                            (0x20, 0, 0x3b),
                            (0, 1, 0x3b),
                            (0, 5, 0x3b),
                            (0x20, 5, 0x3b),
                            (1, 0, 0x3b),
                            (1, 5, 0x3b),
                            (1, 7, 0x3b),
                        ][rand(22) as usize];
                        r_type(f7, rs2, rs1, f3, rd, op)
                    }
                    4..=6 => {
                        // addi slti sltiu xori ori andi, addiw.
                        let (f3, op) = [
                            (0, 0x13),
                            (2, 0x13),
                            (3, 0x13),
                            (4, 0x13),
                            (6, 0x13),
                            (7, 0x13),
                            (0, 0x1b),
                        ][rand(7) as usize];
                        i_type(rand(4096), rs1, f3, rd, op)
                    }
                    7 => {
                        // slli srli srai.
                        let (f3, hi) = [(1, 0), (5, 0), (5, 0x400)][rand(3) as usize];
                        i_type(rand(64) | hi, rs1, f3, rd, 0x13)
                    }
                    8 => {
                        // A load from the data area at x10.
                        let f3 = rand(7);
                        let size = 1 << (f3 & 3);
                        i_type(rand(256 / size) * size, 10, f3, rd, 0x03)
                    }
                    9 => {
                        let f3 = rand(4);
                        let off = rand(256 >> f3) << f3;
                        (off >> 5) << 25 | rs2 << 20 | 10 << 15 | f3 << 12 | (off & 31) << 7 | 0x23
                    }
                    10 => i_type(0x340, 0, 2, rd, 0x73), // csrr rd, mscratch
                    _ => r_type(0, rs2, 10, 3, rd, 0x2f), // amoadd.d rd, rs2, (x10)
                };
                code.push(raw);
            }
            code.push(0x0000_006f); // j .
            let insns: Vec<Insn> = code.iter().map(|&r| decode(r)).collect();
            let forwarded = operand_sources(&insns)
                .iter()
                .filter(|&&f| f != FWD_NONE)
                .count();
            assert!(
                forwarded > 30,
                "program {program}: only {forwarded} forwarded operands"
            );
            let run = |slice: u64| {
                let mut bus = test_bus();
                let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
                assert!(bus.ram.write_bytes(0x8000_0000, &bytes));
                let data: Vec<u8> = (0..256u32).map(|b| (b * 37 + 11) as u8).collect();
                assert!(bus.ram.write_bytes(BASE, &data));
                let mut h = Hart::new(0);
                h.pc = 0x8000_0000;
                h.csr.mscratch = 0x0123_4567_89ab_cdef;
                for r in 1..32 {
                    h.x[r] = (r as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                }
                h.x[10] = BASE;
                let mut done = 0;
                while done < code.len() as u64 - 1 {
                    h.run(&mut bus, slice, done);
                    done += slice;
                }
                let mut mem = [0u8; 256];
                assert!(bus.ram.read_bytes(BASE, &mut mem));
                (h.pc, h.x, mem.to_vec(), h.retired())
            };
            let reference = run(1);
            assert_eq!(
                reference.0,
                0x8000_0000 + 4 * 300,
                "program {program}: ran to its end"
            );
            assert_eq!(run(300), reference, "program {program}");
        }
    }

    /// A fused pair whose second instruction traps: the first has completed, the
    /// second has not, and the trap names the second's pc, exactly as unfused.
    #[test]
    fn a_trap_in_the_second_of_a_fused_pair_is_precise() {
        // ld a0,0(a1); ld a2,0(a3)  and  sd a0,8(a1); sd a0,0(a3); each pair then
        // `j .` (the handler at mtvec is a `j .` too).
        let cases: [(Op, [u32; 3], u64); 2] = [
            (Op::Ld, [0x0005_b503, 0x0006_b603, 0x0000_006f], 5),
            (Op::Sd, [0x00a5_b423, 0x00a6_b023, 0x0000_006f], 7),
        ];
        for (op, code, cause) in cases {
            assert!(
                pair_handler(op, FWD_NONE, op, FWD_NONE).is_some(),
                "{op:?} pairs are fused"
            );
            let mut bus = test_bus();
            let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
            assert!(bus.ram.write_bytes(0x8000_0000, &bytes));
            assert!(bus
                .ram
                .write_bytes(0x8000_0100, &0x0000_006fu32.to_le_bytes()));
            assert!(bus
                .ram
                .write_bytes(0x8000_0800, &0x1122_3344_5566_7788u64.to_le_bytes()));
            let mut h = Hart::new(0);
            h.pc = 0x8000_0000;
            h.csr.mtvec = 0x8000_0100;
            h.x[11] = 0x8000_0800; // a1: RAM
            h.x[13] = 0; // a3: nothing there, an access fault
            h.x[12] = 0xdead; // a2: the faulting load must not write it
            h.run(&mut bus, 50, 0);
            assert_eq!(h.csr.mcause, cause, "{op:?}");
            assert_eq!(
                h.csr.mepc, 0x8000_0004,
                "{op:?}: the second instruction's pc"
            );
            assert_eq!(h.csr.mtval, 0, "{op:?}");
            assert_eq!(h.pc, 0x8000_0100, "{op:?}");
            // 50 steps, and the faulting one does not retire.
            assert_eq!(h.retired(), 49, "{op:?}");
            let mut word = [0u8; 8];
            assert!(bus.ram.read_bytes(0x8000_0808, &mut word));
            if op == Op::Ld {
                assert_eq!(h.x[10], 0x1122_3344_5566_7788, "the first load completed");
                assert_eq!(h.x[12], 0xdead);
                assert_eq!(word, [0; 8]);
            } else {
                assert_eq!(
                    word,
                    0u64.to_le_bytes(),
                    "a0 is 0: the first store wrote it"
                );
                assert_eq!(h.x[12], 0xdead);
            }
        }
    }
}
