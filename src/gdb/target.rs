//! The gdbstub [`Target`]: every hart is a thread (tid = hart index + 1), registers and
//! memory go through the machine's debug API ([`crate::machine::debug`]).
//!
//! Resuming only records what gdb asked for ([`RunReq`]); the event loop carries it out
//! (a single step at once, a continue by running the machine in slices).

use super::arch::{reg_of, Rv64, Rv64Regs};
use crate::machine::debug::Reg;
use crate::machine::Machine;
use gdbstub::common::{Signal, Tid};
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadRangeStepping, MultiThreadRangeSteppingOps, MultiThreadResume,
    MultiThreadResumeOps, MultiThreadSchedulerLocking, MultiThreadSchedulerLockingOps,
    MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::base::single_register_access::{
    SingleRegisterAccess, SingleRegisterAccessOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::thread_extra_info::{ThreadExtraInfo, ThreadExtraInfoOps};
use gdbstub::target::{Target, TargetError, TargetResult};

/// What gdb asked the machine to do when it resumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunReq {
    /// Step this hart while its pc stays in `[start, end)` (gdb's range stepping, for
    /// `step` and `next`): at least one instruction.
    Range(usize, u64, u64),
    /// Execute one instruction of this hart.
    Step(usize),
    /// Run (harts not resumed under scheduler locking stay frozen).
    Continue,
}

/// What gdb asked one hart to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Continue,
    Step,
    /// Step while pc is in `[start, end)`.
    Range(u64, u64),
}

/// The machine as gdb sees it.
pub struct Emu {
    pub m: Machine,
    /// The resume request of the last `c`/`s`/`vCont`, taken by the event loop.
    pub req: Option<RunReq>,
    /// Resume actions: per hart, None when not mentioned.
    actions: Vec<Option<Act>>,
    sched_lock: bool,
    /// The hart of the last stop (reported with Ctrl-C).
    pub cur: usize,
}

pub fn tid(h: usize) -> Tid {
    Tid::new(h + 1).unwrap_or(Tid::MIN)
}

fn hart_of(t: Tid) -> usize {
    t.get() - 1
}

impl Emu {
    pub fn new(m: Machine) -> Emu {
        let n = m.harts.len();
        Emu {
            m,
            req: None,
            actions: vec![None; n],
            sched_lock: false,
            cur: 0,
        }
    }

    /// Lets every hart run again (after a detach).
    pub fn unfreeze(&mut self) {
        for h in &mut self.m.harts {
            h.debug_frozen = false;
        }
    }

    fn hart_ok(&self, t: Tid) -> Result<usize, TargetError<&'static str>> {
        let h = hart_of(t);
        if h < self.m.harts.len() {
            Ok(h)
        } else {
            Err(TargetError::NonFatal)
        }
    }
}

impl Target for Emu {
    type Arch = Rv64;
    type Error = &'static str;

    fn base_ops(&mut self) -> BaseOps<'_, Rv64, &'static str> {
        BaseOps::MultiThread(self)
    }

    fn support_breakpoints(
        &mut self,
    ) -> Option<gdbstub::target::ext::breakpoints::BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_monitor_cmd(
        &mut self,
    ) -> Option<gdbstub::target::ext::monitor_cmd::MonitorCmdOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadBase for Emu {
    fn read_registers(&mut self, regs: &mut Rv64Regs, t: Tid) -> TargetResult<(), Self> {
        let h = self.hart_ok(t)?;
        let hart = &self.m.harts[h];
        regs.x = hart.x;
        regs.pc = hart.pc;
        Ok(())
    }

    fn write_registers(&mut self, regs: &Rv64Regs, t: Tid) -> TargetResult<(), Self> {
        let h = self.hart_ok(t)?;
        for (i, &v) in regs.x.iter().enumerate() {
            self.m.debug_reg_write(h, Reg::X(i as u8), v);
        }
        self.m.debug_reg_write(h, Reg::Pc, regs.pc);
        Ok(())
    }

    fn support_single_register_access(&mut self) -> Option<SingleRegisterAccessOps<'_, Tid, Self>> {
        Some(self)
    }

    fn read_addrs(&mut self, start: u64, data: &mut [u8], t: Tid) -> TargetResult<usize, Self> {
        let h = self.hart_ok(t)?;
        let n = self.m.debug_mem_read(h, start, data);
        if n == 0 && !data.is_empty() {
            return Err(TargetError::Errno(14));
        }
        Ok(n)
    }

    fn write_addrs(&mut self, start: u64, data: &[u8], t: Tid) -> TargetResult<(), Self> {
        let h = self.hart_ok(t)?;
        if self.m.debug_mem_write(h, start, data) {
            Ok(())
        } else {
            Err(TargetError::Errno(14))
        }
    }

    fn list_active_threads(&mut self, f: &mut dyn FnMut(Tid)) -> Result<(), &'static str> {
        for h in 0..self.m.harts.len() {
            f(tid(h));
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }

    fn support_thread_extra_info(&mut self) -> Option<ThreadExtraInfoOps<'_, Self>> {
        Some(self)
    }
}

impl SingleRegisterAccess<Tid> for Emu {
    fn read_register(
        &mut self,
        t: Tid,
        reg: super::arch::Rv64RegId,
        buf: &mut [u8],
    ) -> TargetResult<usize, Self> {
        let h = self.hart_ok(t)?;
        let (r, size) = reg_of(reg.0).ok_or(TargetError::NonFatal)?;
        let v = self.m.debug_reg_read(h, r).ok_or(TargetError::NonFatal)?;
        let n = size.min(buf.len());
        buf[..n].copy_from_slice(&v.to_le_bytes()[..n]);
        Ok(n)
    }

    fn write_register(
        &mut self,
        t: Tid,
        reg: super::arch::Rv64RegId,
        val: &[u8],
    ) -> TargetResult<(), Self> {
        let h = self.hart_ok(t)?;
        let (r, _) = reg_of(reg.0).ok_or(TargetError::NonFatal)?;
        let mut b = [0u8; 8];
        let n = val.len().min(8);
        b[..n].copy_from_slice(&val[..n]);
        if self.m.debug_reg_write(h, r, u64::from_le_bytes(b)) {
            Ok(())
        } else {
            Err(TargetError::NonFatal)
        }
    }
}

impl MultiThreadResume for Emu {
    fn resume(&mut self) -> Result<(), &'static str> {
        for (h, a) in self.actions.iter().enumerate() {
            match a {
                Some(Act::Step) => self.req = Some(RunReq::Step(h)),
                Some(Act::Range(start, end)) => self.req = Some(RunReq::Range(h, *start, *end)),
                _ => continue,
            }
            return Ok(());
        }
        let lock = self.sched_lock;
        for (hart, a) in self.m.harts.iter_mut().zip(&self.actions) {
            hart.debug_frozen = lock && a.is_none();
        }
        self.req = Some(RunReq::Continue);
        Ok(())
    }

    fn clear_resume_actions(&mut self) -> Result<(), &'static str> {
        self.actions.iter_mut().for_each(|a| *a = None);
        self.sched_lock = false;
        Ok(())
    }

    fn set_resume_action_continue(
        &mut self,
        t: Tid,
        _signal: Option<Signal>,
    ) -> Result<(), &'static str> {
        if let Some(a) = self.actions.get_mut(hart_of(t)) {
            *a = Some(Act::Continue);
        }
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }

    fn support_range_step(&mut self) -> Option<MultiThreadRangeSteppingOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadSingleStep for Emu {
    fn set_resume_action_step(
        &mut self,
        t: Tid,
        _signal: Option<Signal>,
    ) -> Result<(), &'static str> {
        if let Some(a) = self.actions.get_mut(hart_of(t)) {
            *a = Some(Act::Step);
        }
        Ok(())
    }
}

impl MultiThreadRangeStepping for Emu {
    fn set_resume_action_range_step(
        &mut self,
        t: Tid,
        start: u64,
        end: u64,
    ) -> Result<(), &'static str> {
        if let Some(a) = self.actions.get_mut(hart_of(t)) {
            *a = Some(Act::Range(start, end));
        }
        Ok(())
    }
}

impl MultiThreadSchedulerLocking for Emu {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), &'static str> {
        self.sched_lock = true;
        Ok(())
    }
}

impl ThreadExtraInfo for Emu {
    fn thread_extra_info(&self, t: Tid, buf: &mut [u8]) -> Result<usize, &'static str> {
        let Some(hart) = self.m.harts.get(hart_of(t)) else {
            return Ok(0);
        };
        let state = if hart.debug_frozen {
            "frozen"
        } else if hart.state == crate::cpu::HartState::Wfi {
            "wfi"
        } else {
            "running"
        };
        let s = format!(
            "hart {} {}-mode {state}",
            hart.id,
            Machine::prv_name(hart.prv)
        );
        let n = s.len().min(buf.len());
        buf[..n].copy_from_slice(&s.as_bytes()[..n]);
        Ok(n)
    }
}
