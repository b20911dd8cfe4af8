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

use super::conn::{Frame, Framer, OutBuf};
use super::target::{tid, Emu, RunReq};
use crate::machine::debug::BpKind;
use crate::machine::Outcome;
use gdbstub::common::Signal;
use gdbstub::conn::Connection;
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{DisconnectReason, GdbStub, MultiThreadStopReason};
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

pub const LISTEN: Token = Token(10);
pub const CONN: Token = Token(11);

/// Where the server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addr {
    Tcp(String, u16),
    Unix(PathBuf),
}

/// Parses a `-gdb` device: `tcp:[HOST]:PORT`, `unix:PATH`, or a bare port. Options
/// after a comma (`,server,wait=off`) are accepted and ignored.
pub fn parse_addr(spec: &str) -> Result<Addr, String> {
    let main = spec.split(',').next().unwrap_or_default();
    if let Some(p) = main.strip_prefix("unix:") {
        if p.is_empty() {
            return Err(format!("-gdb {spec}: missing socket path"));
        }
        return Ok(Addr::Unix(PathBuf::from(p)));
    }
    let hp = main.strip_prefix("tcp:").unwrap_or(main);
    let (host, port) = match hp.rsplit_once(':') {
        Some((h, p)) => (h, p),
        None => ("", hp),
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("-gdb {spec}: expected tcp:[HOST]:PORT or unix:PATH"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    Ok(Addr::Tcp(host.to_string(), port))
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
}

type Machine = GdbStubStateMachine<'static, Emu, OutBuf>;

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

impl Drop for GdbServer {
    fn drop(&mut self) {
        if let Listener::Unix(_, p) = &self.listener {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl GdbServer {
    /// Binds the listening socket (loopback by default) and registers it.
    pub fn bind(addr: &Addr, registry: &Registry) -> Result<GdbServer, String> {
        let (mut listener, desc) = match addr {
            Addr::Tcp(host, port) => {
                let sa: SocketAddr = format!("{host}:{port}")
                    .parse()
                    .or_else(|_| {
                        use std::net::ToSocketAddrs;
                        (host.as_str(), *port)
                            .to_socket_addrs()
                            .ok()
                            .and_then(|mut a| a.next())
                            .ok_or(())
                    })
                    .map_err(|_| format!("-gdb: cannot resolve host '{host}'"))?;
                let l = TcpListener::bind(sa)
                    .map_err(|e| format!("-gdb: cannot listen on {sa}: {e}"))?;
                let local = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
                (Listener::Tcp(l), format!("tcp:{local}"))
            }
            Addr::Unix(path) => {
                use std::os::unix::fs::{FileTypeExt, PermissionsExt};
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                    let _ = std::fs::remove_file(path);
                }
                let l = UnixListener::bind(path)
                    .map_err(|e| format!("-gdb: cannot listen on {}: {e}", path.display()))?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| format!("-gdb: cannot chmod {}: {e}", path.display()))?;
                (
                    Listener::Unix(l, path.clone()),
                    format!("unix:{}", path.display()),
                )
            }
        };
        let r = match &mut listener {
            Listener::Tcp(l) => registry.register(l, LISTEN, Interest::READABLE),
            Listener::Unix(l, _) => registry.register(l, LISTEN, Interest::READABLE),
        };
        r.map_err(|e| format!("-gdb: cannot register the socket: {e}"))?;
        Ok(GdbServer {
            listener,
            session: None,
            exit: None,
            desc,
        })
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
        loop {
            let stream = match &self.listener {
                Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
                Listener::Unix(l, _) => l.accept().map(|(s, _)| Stream::Unix(s)),
            };
            let mut stream = match stream {
                Ok(s) => s,
                Err(_) => return,
            };
            if self.session.is_some() {
                // One debugger at a time: refuse the newcomer.
                continue;
            }
            let r = match &mut stream {
                Stream::Tcp(s) => {
                    let _ = s.set_nodelay(true);
                    registry.register(s, CONN, Interest::READABLE | Interest::WRITABLE)
                }
                Stream::Unix(s) => {
                    registry.register(s, CONN, Interest::READABLE | Interest::WRITABLE)
                }
            };
            if r.is_err() {
                continue;
            }
            let out = OutBuf::default();
            emu.m.debug_pause();
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
    fn settle(
        &mut self,
        emu: &mut Emu,
        registry: &Registry,
        r: Result<Machine, gdbstub::stub::GdbStubError<&'static str, std::convert::Infallible>>,
    ) {
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
                    emu.m.debug_pause();
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
                    Some(RunReq::Step(h)) => {
                        emu.cur = h;
                        let o = emu.m.debug_step(h);
                        let reason = stop_reason(emu, o, true);
                        emu.m.debug_pause();
                        if let Some(code) = exit_code(o) {
                            self.exit = Some(code);
                        }
                        match g.report_stop(emu, reason) {
                            Ok(sm) => sm,
                            Err(e) => return self.settle(emu, registry, Err(e)),
                        }
                    }
                    Some(RunReq::Continue) => match emu.m.debug_resume() {
                        None => GdbStubStateMachine::Running(g),
                        Some(o) => {
                            let reason = stop_reason(emu, o, false);
                            emu.m.debug_pause();
                            if let Some(code) = exit_code(o) {
                                self.exit = Some(code);
                            }
                            match g.report_stop(emu, reason) {
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
                emu.m.debug_pause();
                let r = g.report_stop(emu, reason);
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
        let _ = match &mut s.stream {
            Stream::Tcp(t) => registry.deregister(t),
            Stream::Unix(u) => registry.deregister(u),
        };
        if kill {
            eprintln!("haltpoint: killed by gdb");
            self.exit = Some(0);
            return;
        }
        eprintln!("haltpoint: gdb detached");
        emu.unfreeze();
        emu.req = None;
        if emu.m.debug.paused {
            if let Some(o) = emu.m.debug_resume() {
                log::info!("gdb: after detach the machine stopped at once: {o:?}");
            }
        }
    }
}

/// The exit status an outcome ends haltpoint with, if it does.
pub fn exit_code(o: Outcome) -> Option<i32> {
    match o {
        Outcome::PowerOff => Some(0),
        Outcome::Fail(c) => Some(c as i32),
        _ => None,
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
        Outcome::Watchpoint { hart, kind, addr } => {
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
