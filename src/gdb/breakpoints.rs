//! Breakpoints and watchpoints: native and unlimited (see [`crate::machine::debug`]).
//! Nothing is written into guest memory.

use super::target::Emu;
use crate::machine::debug::BpKind;
use crate::watch::WatchKind as Kind;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps, SwBreakpoint,
    SwBreakpointOps, WatchKind,
};
use gdbstub::target::TargetResult;

impl Breakpoints for Emu {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for Emu {
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        self.m.debug_add_breakpoint(addr, BpKind::Sw);
        Ok(true)
    }

    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.m.debug_remove_breakpoint(addr, BpKind::Sw))
    }
}

impl HwBreakpoint for Emu {
    fn add_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        self.m.debug_add_breakpoint(addr, BpKind::Hw);
        Ok(true)
    }

    fn remove_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.m.debug_remove_breakpoint(addr, BpKind::Hw))
    }
}

/// Our watch kind for gdb's.
pub fn kind_of(k: WatchKind) -> Kind {
    match k {
        WatchKind::Write => Kind::Write,
        WatchKind::Read => Kind::Read,
        WatchKind::ReadWrite => Kind::Access,
    }
}

/// gdb's watch kind for ours.
pub fn gdb_kind(k: Kind) -> WatchKind {
    match k {
        Kind::Write => WatchKind::Write,
        Kind::Read => WatchKind::Read,
        Kind::Access => WatchKind::ReadWrite,
    }
}

impl HwWatchpoint for Emu {
    fn add_hw_watchpoint(
        &mut self,
        addr: u64,
        len: u64,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        let h = self.cur;
        Ok(self.m.debug_add_watchpoint(h, addr, len, kind_of(kind)))
    }

    fn remove_hw_watchpoint(
        &mut self,
        addr: u64,
        len: u64,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        Ok(self.m.debug_remove_watchpoint(addr, len, kind_of(kind)))
    }
}
