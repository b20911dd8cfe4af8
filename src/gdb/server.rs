//! The gdb server: a listening socket, at most one session, and gdbstub's state
//! machine, all driven by the event loop in [`crate::runner`] (no thread, no busy
//! polling).
//!
//! - A new connection pauses the machine; the first `?` reports the stop.
//! - Bytes read from the socket go through [`Framer`], then one by one into
//!   `GdbStubStateMachine::incoming_data`. A resume request from gdb ([`RunReq`]) is
//!   carried out here: a single step at once, a continue by unpausing the machine.
//! - A stop found by the event loop (breakpoint, watchpoint, power-off) is reported with
//!   `report_stop`; Ctrl-C pauses the machine and reports SIGINT with the thread.
//! - Detach (or a vanished client) lets the guest run on; `kill` ends haltpoint.

use super::arch::{Rv64RegId, Rv64Regs, G_REGS};
use super::conn::{Frame, Framer, OutBuf};
use super::target::{tid, Emu, RunReq};
use crate::machine::debug::BpKind;
use crate::machine::Outcome;
use crate::net::{parse_endpoint, Endpoint, Listener, Stream};
use crate::runstate::RunState;
use gdbstub::arch::Registers;
use gdbstub::common::Signal;
use gdbstub::conn::Connection;
use gdbstub::stub::state_machine::{state, GdbStubStateMachine, GdbStubStateMachineInner};
use gdbstub::stub::{DisconnectReason, GdbStub, GdbStubError, MultiThreadStopReason};
use gdbstub::target::ext::base::multithread::MultiThreadBase;
use mio::{Registry, Token};
use std::io::{Read, Write};

pub const LISTEN: Token = Token(10);
pub const CONN: Token = Token(11);

/// Where the server listens.
pub type Addr = Endpoint;

/// Parses a `-gdb` device: `tcp:[HOST]:PORT`, `unix:PATH`, or a bare port. Options
/// after a comma (`,server,wait=off`) are accepted and ignored.
pub fn parse_addr(spec: &str) -> Result<Addr, String> {
    parse_endpoint("-gdb", spec)
}

type Machine = GdbStubStateMachine<'static, Emu, OutBuf>;
type Running = GdbStubStateMachineInner<'static, state::Running, Emu, OutBuf>;
type StubResult = Result<Machine, GdbStubError<&'static str, std::convert::Infallible>>;

struct Session {
    stream: Stream,
    out: OutBuf,
    framer: Framer,
    sm: Option<Machine>,
}

/// The gdb server of one haltpoint process.
pub struct GdbServer {
    listener: Listener,
    session: Option<Session>,
    /// Set when gdb killed the target: haltpoint exits with this status.
    pub exit: Option<i32>,
    /// Where it listens, for messages.
    pub desc: String,
}

impl GdbServer {
    /// Binds the listening socket (loopback by default) and registers it.
    pub fn bind(addr: &Addr, registry: &Registry) -> Result<GdbServer, String> {
        let (listener, desc) = Listener::bind("-gdb", addr, registry, LISTEN)?;
        Ok(GdbServer {
            listener,
            session: None,
            exit: None,
            desc,
        })
    }

    /// True while gdb waits for a stop (it resumed the target).
    pub fn waiting(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| matches!(s.sm, Some(GdbStubStateMachine::Running(_))))
    }

    /// True while a gdb is attached.
    pub fn connected(&self) -> bool {
        self.session.is_some()
    }

    /// Handles readiness of the listener or the session socket.
    pub fn handle_event(&mut self, token: Token, emu: &mut Emu, registry: &Registry) {
        if token == LISTEN {
            self.accept(emu, registry);
        } else if token == CONN {
            self.read(emu, registry);
            self.flush(emu, registry);
        }
    }

    fn accept(&mut self, emu: &mut Emu, registry: &Registry) {
        while let Some(mut stream) = self.listener.accept() {
            if self.session.is_some() {
                // One debugger at a time: refuse the newcomer.
                continue;
            }
            if stream.register(registry, CONN).is_err() {
                continue;
            }
            let out = OutBuf::default();
            // QEMU: a debugger connecting stops a running VM in `paused`.
            emu.m.vm_stop(RunState::Paused);
            let sm = match GdbStub::new(out.clone()).run_state_machine(emu) {
                Ok(sm) => sm,
                Err(e) => {
                    log::warn!("gdb: cannot start a session: {e}");
                    continue;
                }
            };
            eprintln!("haltpoint: gdb connected");
            self.session = Some(Session {
                stream,
                out,
                framer: Framer::default(),
                sm: Some(sm),
            });
        }
    }

    fn read(&mut self, emu: &mut Emu, registry: &Registry) {
        let mut buf = [0u8; 4096];
        loop {
            let Some(s) = self.session.as_mut() else {
                return;
            };
            let n = match s.stream.read(&mut buf) {
                Ok(0) => {
                    self.end_session(emu, registry, false);
                    return;
                }
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.end_session(emu, registry, false);
                    return;
                }
            };
            for &b in &buf[..n] {
                let Some(s) = self.session.as_mut() else {
                    return;
                };
                match s.framer.feed(b) {
                    None => {}
                    Some(Frame::Bad) => s.out.0.borrow_mut().push(b'-'),
                    Some(Frame::Byte(x)) => self.feed(emu, registry, &[x]),
                    Some(Frame::Packet(p)) => self.feed(emu, registry, &p),
                }
            }
        }
    }

    /// Feeds checked bytes to the state machine, then acts on its new state.
    fn feed(&mut self, emu: &mut Emu, registry: &Registry, bytes: &[u8]) {
        for &b in bytes {
            let Some(s) = self.session.as_mut() else {
                return;
            };
            let Some(sm) = s.sm.take() else {
                return;
            };
            let r = match sm {
                GdbStubStateMachine::Idle(g) => g.incoming_data(emu, b),
                GdbStubStateMachine::Running(g) => g.incoming_data(emu, b),
                other => Ok(other),
            };
            self.settle(emu, registry, r);
        }
    }

    /// Puts the state machine back after a call, handling Ctrl-C, disconnects, and
    /// resume requests.
    fn settle(&mut self, emu: &mut Emu, registry: &Registry, r: StubResult) {
        let mut sm = match r {
            Ok(sm) => sm,
            Err(e) => {
                log::warn!("gdb: session ended: {e}");
                eprintln!("haltpoint: gdb session error: {e}");
                self.end_session(emu, registry, false);
                return;
            }
        };
        loop {
            sm = match sm {
                GdbStubStateMachine::CtrlCInterrupt(g) => {
                    emu.m.vm_stop(RunState::Paused);
                    let reason = MultiThreadStopReason::SignalWithThread {
                        tid: tid(emu.cur),
                        signal: Signal::SIGINT,
                    };
                    match g.interrupt_handled(emu, Some(reason)) {
                        Ok(sm) => sm,
                        Err(e) => return self.settle(emu, registry, Err(e)),
                    }
                }
                GdbStubStateMachine::Disconnected(g) => {
                    let kill = g.get_reason() == DisconnectReason::Kill;
                    self.end_session(emu, registry, kill);
                    return;
                }
                GdbStubStateMachine::Running(g) => match emu.req.take() {
                    Some(RunReq::Step(_) | RunReq::Range(..)) if emu.m.vm.state().needs_reset() => {
                        // QEMU does not resume such a VM; say so at once.
                        let reason =
                            state_reason(emu).unwrap_or(MultiThreadStopReason::SignalWithThread {
                                tid: tid(emu.cur),
                                signal: Signal::SIGQUIT,
                            });
                        match report_stop(g, emu, reason) {
                            Ok(sm) => sm,
                            Err(e) => return self.settle(emu, registry, Err(e)),
                        }
                    }
                    Some(req @ (RunReq::Step(h) | RunReq::Range(h, ..))) => {
                        emu.cur = h;
                        // A step is a resume and a debug stop: RESUME, then STOP.
                        emu.m.vm.start();
                        let (reason, o) = match req {
                            RunReq::Range(_, start, end) => range_step(emu, h, start..end),
                            _ => {
                                let o = emu.m.debug_step(h);
                                (stop_reason(emu, o, true), o)
                            }
                        };
                        emu.m.vm_stop(RunState::Debug);
                        if let Some(code) = exit_code(o) {
                            self.exit = Some(code);
                        }
                        match report_stop(g, emu, reason) {
                            Ok(sm) => sm,
                            Err(e) => return self.settle(emu, registry, Err(e)),
                        }
                    }
                    Some(RunReq::Continue) => match emu.m.vm_start() {
                        None if emu.m.running() => GdbStubStateMachine::Running(g),
                        None => {
                            // Not startable (it needs a reset): report where it is.
                            let reason = state_reason(emu).unwrap_or(
                                MultiThreadStopReason::SignalWithThread {
                                    tid: tid(emu.cur),
                                    signal: Signal::SIGQUIT,
                                },
                            );
                            match report_stop(g, emu, reason) {
                                Ok(sm) => sm,
                                Err(e) => return self.settle(emu, registry, Err(e)),
                            }
                        }
                        Some(o) => {
                            let reason = stop_reason(emu, o, false);
                            emu.m.vm_stop(RunState::Debug);
                            if let Some(code) = exit_code(o) {
                                self.exit = Some(code);
                            }
                            match report_stop(g, emu, reason) {
                                Ok(sm) => sm,
                                Err(e) => return self.settle(emu, registry, Err(e)),
                            }
                        }
                    },
                    None => GdbStubStateMachine::Running(g),
                },
                idle @ GdbStubStateMachine::Idle(_) => idle,
            };
            let again = match &sm {
                GdbStubStateMachine::CtrlCInterrupt(_) | GdbStubStateMachine::Disconnected(_) => {
                    true
                }
                GdbStubStateMachine::Running(_) => emu.req.is_some(),
                GdbStubStateMachine::Idle(_) => false,
            };
            if !again {
                break;
            }
        }
        if let Some(s) = self.session.as_mut() {
            s.sm = Some(sm);
        }
    }

    /// Reports a stop found by the event loop. Returns false when no gdb is waiting
    /// for one (the caller then lets the machine go on, or exits).
    pub fn report(&mut self, emu: &mut Emu, registry: &Registry, o: Outcome) -> bool {
        let Some(s) = self.session.as_mut() else {
            return false;
        };
        let Some(sm) = s.sm.take() else {
            return false;
        };
        match sm {
            GdbStubStateMachine::Running(g) => {
                let reason = stop_reason(emu, o, false);
                let r = report_stop(g, emu, reason);
                self.settle(emu, registry, r);
                self.flush(emu, registry);
                true
            }
            other => {
                s.sm = Some(other);
                false
            }
        }
    }

    /// Tells a waiting gdb that the VM stopped for another reason than its own (QMP
    /// `stop`, a panic or watchdog pause, a guest shutdown with `-no-shutdown`), with
    /// QEMU's signal for the state. Returns true when a stop was reported.
    pub fn report_state(&mut self, emu: &mut Emu, registry: &Registry) -> bool {
        if emu.m.running() || emu.req.is_some() {
            return false;
        }
        let Some(s) = self.session.as_mut() else {
            return false;
        };
        if !matches!(s.sm, Some(GdbStubStateMachine::Running(_))) {
            return false;
        }
        let Some(reason) = state_reason(emu) else {
            return false;
        };
        let Some(GdbStubStateMachine::Running(g)) = s.sm.take() else {
            return false;
        };
        let r = report_stop(g, emu, reason);
        self.settle(emu, registry, r);
        self.flush(emu, registry);
        true
    }

    /// Sends pending output.
    pub fn flush(&mut self, emu: &mut Emu, registry: &Registry) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let data = std::mem::take(&mut *s.out.0.borrow_mut());
        let mut off = 0;
        while off < data.len() {
            match s.stream.write(&data[off..]) {
                Ok(0) => break,
                Ok(n) => off += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // Keep the rest for the next writable event.
                    let mut out = s.out.0.borrow_mut();
                    let rest = out.split_off(0);
                    out.extend_from_slice(&data[off..]);
                    out.extend_from_slice(&rest);
                    return;
                }
                Err(_) => {
                    self.end_session(emu, registry, false);
                    return;
                }
            }
        }
        let _ = s.out.clone().flush();
    }

    fn end_session(&mut self, emu: &mut Emu, registry: &Registry, kill: bool) {
        let Some(mut s) = self.session.take() else {
            return;
        };
        // Best effort: send what is pending (the reply to `D`).
        let data = std::mem::take(&mut *s.out.0.borrow_mut());
        let _ = s.stream.write(&data);
        s.stream.deregister(registry);
        if kill {
            eprintln!("haltpoint: killed by gdb");
            self.exit = Some(0);
            return;
        }
        eprintln!("haltpoint: gdb detached");
        emu.unfreeze();
        emu.req = None;
        // QEMU continues the VM when its debugger leaves, unless it needs a reset.
        if !emu.m.running() && !emu.m.vm.state().needs_reset() {
            if let Some(o) = emu.m.vm_start() {
                log::info!("gdb: after detach the machine stopped at once: {o:?}");
            }
        }
    }
}

/// Sends the stop reply for `reason`. A `T` reply carries the registers of the `g`
/// packet (x0..x31 and pc) of the thread it names as expedited registers, so gdb need
/// not ask for them before it decides what to do next: one round trip less per stop.
fn report_stop(g: Running, emu: &mut Emu, reason: MultiThreadStopReason<u64>) -> StubResult {
    let tid = match reason {
        MultiThreadStopReason::SignalWithThread { tid, .. }
        | MultiThreadStopReason::SwBreak(tid)
        | MultiThreadStopReason::HwBreak(tid)
        | MultiThreadStopReason::Watch { tid, .. } => tid,
        _ => return g.report_stop(emu, reason),
    };
    let mut regs = Rv64Regs::default();
    if emu.read_registers(&mut regs, tid).is_err() {
        return g.report_stop(emu, reason);
    }
    // The `g` packet's bytes, 8 per register in regnum order.
    let mut bytes = [0u8; G_REGS * 8];
    let mut n = 0;
    regs.gdb_serialize(|b| {
        if let Some(slot) = bytes.get_mut(n) {
            *slot = b.unwrap_or(0);
        }
        n += 1;
    });
    let mut expedited = bytes
        .chunks_exact(8)
        .enumerate()
        .map(|(regnum, v)| (Rv64RegId(regnum), v));
    g.report_stop_with_regs(emu, reason, &mut expedited)
}

/// The stop reply for a VM stopped in its current state (QEMU's signal per state);
/// None for states gdb is not told about (a dump in progress).
pub fn state_reason(emu: &Emu) -> Option<MultiThreadStopReason<u64>> {
    let signal = match emu.m.vm.state() {
        RunState::Running | RunState::SaveVm | RunState::RestoreVm => return None,
        RunState::Debug | RunState::GuestPanicked => Signal::SIGTRAP,
        RunState::Shutdown => Signal::SIGQUIT,
        RunState::IoError => Signal::SIGSTOP,
        RunState::Watchdog => Signal::SIGALRM,
        RunState::InternalError => Signal::SIGABRT,
        _ => Signal::SIGINT,
    };
    Some(MultiThreadStopReason::SignalWithThread {
        tid: tid(emu.cur),
        signal,
    })
}

/// The exit status an outcome ends haltpoint with, if it does.
pub fn exit_code(o: Outcome) -> Option<i32> {
    match o {
        Outcome::PowerOff => Some(0),
        Outcome::Fail(c) => Some(c as i32),
        _ => None,
    }
}

/// How long one range step may run before it reports (gdb then asks for the rest):
/// the loop reads Ctrl-C and other input only between requests.
const RANGE_STEP_TIME: std::time::Duration = std::time::Duration::from_millis(5);

/// Range-steps hart `h` (gdb's `vCont;r`, which `step` and `next` use): one instruction,
/// then more while pc stays in `range`, nothing else stops the machine, and no
/// breakpoint is at the new pc. What gdb does with many round trips against QEMU (one
/// `s` per instruction of a source line) takes one here. Returns the stop to report
/// and the outcome of the last step.
fn range_step(
    emu: &mut Emu,
    h: usize,
    range: std::ops::Range<u64>,
) -> (MultiThreadStopReason<u64>, Outcome) {
    let started = std::time::Instant::now();
    let mut n = 0u32;
    loop {
        let o = emu.m.debug_step(h);
        n += 1;
        if o != Outcome::Budget {
            return (stop_reason(emu, o, true), o);
        }
        let pc = emu.m.harts[h].pc;
        if emu.m.debug.breakpoint_at(pc).is_some() {
            return (stop_reason(emu, Outcome::Breakpoint(h), false), o);
        }
        let timed_out = n.is_multiple_of(1024) && started.elapsed() >= RANGE_STEP_TIME;
        if !range.contains(&pc) || timed_out {
            return (stop_reason(emu, o, true), o);
        }
    }
}

/// The stop reply for an outcome. `step` marks a completed single step.
pub fn stop_reason(emu: &mut Emu, o: Outcome, step: bool) -> MultiThreadStopReason<u64> {
    match o {
        Outcome::Breakpoint(h) if !step => {
            emu.cur = h;
            let pc = emu.m.harts[h].pc;
            match emu.m.debug.breakpoint_at(pc) {
                Some(BpKind::Hw) => MultiThreadStopReason::HwBreak(tid(h)),
                _ => MultiThreadStopReason::SwBreak(tid(h)),
            }
        }
        Outcome::Watchpoint { hart, kind, addr } | Outcome::DmaWatch { hart, kind, addr } => {
            emu.cur = hart;
            MultiThreadStopReason::Watch {
                tid: tid(hart),
                kind: super::breakpoints::gdb_kind(kind),
                addr,
            }
        }
        Outcome::PowerOff => MultiThreadStopReason::Exited(0),
        Outcome::Fail(c) => MultiThreadStopReason::Exited(c as u8),
        _ => MultiThreadStopReason::SignalWithThread {
            tid: tid(emu.cur),
            signal: if step {
                Signal::SIGTRAP
            } else {
                Signal::SIGINT
            },
        },
    }
}
