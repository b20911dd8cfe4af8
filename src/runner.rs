//! The event loop: runs the machine in slices and serves the console, the gdb server,
//! the QMP server and host signals with mio, all in one thread.
//!
//! While the VM is `running`, the loop polls without blocking between slices of
//! [`SLICE_STEPS`]; when the guest idles or the VM is stopped it blocks in `poll` until
//! input, a rate-limited QMP event, or the next wall-clock deadline. There is no busy
//! waiting.
//!
//! Guest requests and host requests both go through [`crate::runstate::Vm`]: a guest
//! poweroff is a SHUTDOWN (then exit, or a stop with `-no-shutdown`), a guest reset a
//! RESET (or a shutdown with `-no-reboot`), SIGINT/SIGTERM a SHUTDOWN with reason
//! `host-signal`, and QMP `quit` a SHUTDOWN with reason `host-qmp-quit`.

use crate::console::{Escape, Key, RawTerminal, Sink, HELP};
use crate::devices::uart::Uart;
use crate::gdb::server::{Addr, GdbServer};
use crate::gdb::target::Emu;
use crate::machine::debug::BpHit;
use crate::machine::{Machine, Outcome};
use crate::qmp::commands::Info;
use crate::qmp::server::{ListenSpec, QmpServer};
use crate::runstate::{Request, RunState, ShutdownCause, WatchdogAction};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use serde_json::json;
use std::io::Read;
use std::time::Duration;

/// Steps per slice between host polls (about 10 ms of host time at 200 MIPS).
pub const SLICE_STEPS: u64 = 2_000_000;
/// Steps per slice while a debugger or a QMP client is attached (Ctrl-C and commands
/// are answered within a slice).
pub const DEBUG_SLICE_STEPS: u64 = 200_000;
/// How long the loop keeps polling without sleeping after it served gdb while the
/// machine is stopped. A debugger that steps sends its next packet within tens of
/// microseconds; a thread that slept must first be woken, which costs about as much
/// again (far more on a virtual machine whose idle vCPU halts). Past this window the
/// loop sleeps as usual, so an idle debugger costs no CPU.
const GDB_SPIN: Duration = Duration::from_micros(500);
/// Bytes of a detached dump written per turn of the loop.
const DUMP_SLICE_BYTES: u64 = 16 << 20;
const STDIN: Token = Token(0);
const SIGNALS: Token = Token(1);

/// How the run is set up.
pub struct Options {
    pub max_steps: Option<u64>,
    pub stats: bool,
    /// Read console input from stdin.
    pub stdin_console: bool,
    pub raw_terminal: bool,
    /// Listen for gdb here.
    pub gdb: Option<Addr>,
    /// QMP listeners.
    pub qmp: Vec<ListenSpec>,
    /// Do not start the VM until gdb or QMP continues it (-S).
    pub freeze: bool,
    /// Wait in `--preconfig` until QMP `x-exit-preconfig`.
    pub preconfig: bool,
    /// Facts for QMP (name, thread id).
    pub info: Info,
    /// Write a dump here (with these arguments) when the guest panics, before the panic
    /// action (`--dump-on-panic`).
    pub dump_on_panic: Option<crate::dump::DumpArgs>,
}

/// SIGINT and SIGTERM delivered as readable data on a file descriptor.
struct SignalFd(libc::c_int);

impl SignalFd {
    fn new() -> Option<SignalFd> {
        // SAFETY: the sigset is initialised by sigemptyset before use; pthread_sigmask and
        // signalfd only read it. Blocking SIGINT/SIGTERM in this (the only) thread makes
        // the kernel queue them for the signalfd instead of killing the process.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return None;
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
            (fd >= 0).then_some(SignalFd(fd))
        }
    }

    /// The next pending signal number.
    fn read(&self) -> Option<u32> {
        // SAFETY: signalfd_siginfo is plain data; read writes at most its size into it.
        unsafe {
            let mut info: libc::signalfd_siginfo = std::mem::zeroed();
            let n = libc::read(
                self.0,
                &mut info as *mut _ as *mut libc::c_void,
                std::mem::size_of::<libc::signalfd_siginfo>(),
            );
            (n == std::mem::size_of::<libc::signalfd_siginfo>() as isize).then_some(info.ssi_signo)
        }
    }
}

impl Drop for SignalFd {
    fn drop(&mut self) {
        // SAFETY: closing the descriptor this struct owns.
        unsafe {
            libc::close(self.0);
        }
    }
}

/// Everything the loop serves.
struct Loop {
    poll: Poll,
    emu: Emu,
    sink: Sink,
    gdb: Option<GdbServer>,
    qmp: Option<QmpServer>,
    /// The VM starts once every `wait=on` QMP listener had its client.
    start_when_ready: bool,
    dump_on_panic: Option<crate::dump::DumpArgs>,
}

/// Runs the machine until it powers off, fails, or is stopped; returns the exit status.
pub fn run(m: Machine, sink: Sink, opts: Options) -> i32 {
    let poll = match Poll::new() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("haltpoint: cannot create the event loop: {e}");
            return 1;
        }
    };
    let gdb = match &opts.gdb {
        None => None,
        Some(a) => match GdbServer::bind(a, poll.registry()) {
            Ok(g) => {
                eprintln!("haltpoint: gdb server listening on {}", g.desc);
                Some(g)
            }
            Err(e) => {
                eprintln!("haltpoint: {e}");
                return 1;
            }
        },
    };
    let qmp = if opts.qmp.is_empty() {
        None
    } else {
        match QmpServer::bind(&opts.qmp, poll.registry(), opts.info.clone()) {
            Ok(q) => {
                for d in q.descriptions() {
                    eprintln!("haltpoint: QMP server listening on {d}");
                }
                Some(q)
            }
            Err(e) => {
                eprintln!("haltpoint: {e}");
                return 1;
            }
        }
    };
    let mut l = Loop {
        poll,
        emu: Emu::new(m),
        sink,
        gdb,
        qmp,
        start_when_ready: false,
        dump_on_panic: opts.dump_on_panic.clone(),
    };
    if opts.preconfig {
        l.emu.m.vm.preconfig = true;
        l.emu.m.vm.stay_stopped = opts.freeze;
    } else if !opts.freeze {
        l.start_when_ready = true;
    }
    if l.qmp.as_ref().is_some_and(|q| q.waiting()) {
        eprintln!("haltpoint: waiting for a QMP client before starting");
    }
    let signals = SignalFd::new();
    if let Some(s) = &signals {
        let _ = l
            .poll
            .registry()
            .register(&mut SourceFd(&s.0), SIGNALS, Interest::READABLE);
    }
    let mut stdin_open = opts.stdin_console
        && l.poll
            .registry()
            .register(&mut SourceFd(&0), STDIN, Interest::READABLE)
            .is_ok();
    let mut term = if opts.raw_terminal && stdin_open {
        RawTerminal::enable()
    } else {
        RawTerminal::none()
    };
    let mut events = Events::with_capacity(64);
    let mut escape = Escape::default();
    let mut pending_input: Vec<u8> = Vec::new();
    let started = std::time::Instant::now();
    // When gdb was last served while the machine stood still (see GDB_SPIN).
    let mut gdb_served: Option<std::time::Instant> = None;
    let status = 'outer: loop {
        if let Some(code) = l.gdb.as_ref().and_then(|g| g.exit) {
            break code;
        }
        if let Some(code) = l.requests() {
            break code;
        }
        if l.start_when_ready && !l.qmp.as_ref().is_some_and(|q| q.waiting()) {
            l.start_when_ready = false;
            if let Some(o) = l.emu.m.vm_start() {
                l.emu.m.pending_outcome = Some(o);
            }
        }
        if let Some(o) = l.emu.m.pending_outcome.take() {
            l.outcome(o);
            continue;
        }
        let attached = l.gdb.as_ref().is_some_and(|g| g.connected())
            || l.qmp.as_ref().is_some_and(|q| q.clients() > 0);
        let mut timeout = None;
        if l.emu.m.running() {
            let base = if attached {
                DEBUG_SLICE_STEPS
            } else {
                SLICE_STEPS
            };
            let slice = match opts.max_steps {
                Some(max) if l.emu.m.steps >= max => {
                    l.flush_console();
                    eprintln!(
                        "\r\nhaltpoint: stopped after {} steps (--max-steps)",
                        l.emu.m.steps
                    );
                    break 3;
                }
                Some(max) => base.min(max - l.emu.m.steps),
                None => base,
            };
            let out = l.emu.m.run(slice);
            l.flush_console();
            for h in l.emu.m.take_trap_loops() {
                let (pc, cause, _, _) = l.emu.m.harts[h].trap_repeat;
                eprintln!(
                    "\r\nhaltpoint: hart {h} is in a trap loop: {} at pc {pc:#x} again and again (its trap vector does not work)",
                    crate::cpu::trap::cause_name(cause)
                );
                l.print_flight(h);
            }
            timeout = match out {
                Outcome::Budget => Some(Duration::ZERO),
                Outcome::Idle => {
                    let wall = !l.emu.m.bus.clock.is_virtual();
                    if !wall
                        && !stdin_open
                        && pending_input.is_empty()
                        && l.gdb.is_none()
                        && l.qmp.is_none()
                    {
                        eprintln!("\r\nhaltpoint: every hart waits for an interrupt that can never come; stopping");
                        break 2;
                    }
                    wall.then_some(Duration::from_millis(1))
                }
                o => {
                    l.outcome(o);
                    Some(Duration::ZERO)
                }
            };
        }
        if !pending_input.is_empty() {
            feed_uart(&mut l.emu.m, &mut pending_input);
        }
        // A detached dump advances a slice per turn; gdb and QMP keep answering.
        let dumping = match l.qmp.as_mut() {
            Some(q) => q.dump.step(&mut l.emu.m, DUMP_SLICE_BYTES),
            None => false,
        };
        if dumping {
            timeout = Some(Duration::ZERO);
        }
        l.notify();
        if let Some(code) = l.requests() {
            break code;
        }
        if !l.emu.m.running()
            && !stdin_open
            && l.gdb.is_none()
            && l.qmp.is_none()
            && l.emu.m.pending_outcome.is_none()
        {
            eprintln!(
                "haltpoint: the machine is stopped (-S) and there is no debugger or QMP client"
            );
            break 2;
        }
        let mut timeout = if pending_input.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        if let Some(t) = l.qmp.as_ref().and_then(|q| q.timeout()) {
            timeout = Some(timeout.map_or(t, |x| x.min(t)));
        }
        if timeout != Some(Duration::ZERO)
            && !l.emu.m.running()
            && gdb_served.is_some_and(|t| t.elapsed() < GDB_SPIN)
        {
            timeout = Some(Duration::ZERO);
        }
        if let Err(e) = l.poll.poll(&mut events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                eprintln!("haltpoint: poll failed: {e}");
                break 1;
            }
        }
        for ev in events.iter() {
            let t = ev.token();
            if t == STDIN && pending_input.len() < 4096 {
                let mut buf = [0u8; 1024];
                match std::io::stdin().lock().read(&mut buf) {
                    Ok(0) => {
                        let _ = l.poll.registry().deregister(&mut SourceFd(&0));
                        stdin_open = false;
                    }
                    Ok(n) => {
                        for &b in &buf[..n] {
                            match escape.feed(b) {
                                Key::Guest(g) => pending_input.extend(g),
                                Key::Exit => {
                                    term.restore();
                                    l.flush_console();
                                    eprintln!("haltpoint: terminated");
                                    // QEMU's Ctrl-A x is a `quit`.
                                    l.emu.m.vm.emit_shutdown(ShutdownCause::HostQmpQuit);
                                    l.finish();
                                    return 0;
                                }
                                Key::Help => l.sink.write(HELP.as_bytes()),
                                Key::None => {}
                            }
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => stdin_open = false,
                }
            } else if t == SIGNALS {
                while let Some(sig) = signals.as_ref().and_then(|s| s.read()) {
                    l.flush_console();
                    eprintln!("\r\nhaltpoint: terminating on signal {sig}");
                    l.emu.m.vm.shutdown(ShutdownCause::HostSignal, 0);
                }
            } else if l.qmp.as_ref().is_some_and(|q| q.owns(t)) {
                if let Some(q) = l.qmp.as_mut() {
                    q.handle_event(t, &mut l.emu.m, l.poll.registry());
                }
                if l.emu.m.vm.request.is_some() {
                    continue 'outer;
                }
            } else if let Some(g) = l.gdb.as_mut() {
                g.handle_event(t, &mut l.emu, l.poll.registry());
                gdb_served = Some(std::time::Instant::now());
            }
        }
        if let Some(g) = l.gdb.as_mut() {
            g.flush(&mut l.emu, l.poll.registry());
        }
        l.notify();
        if !pending_input.is_empty() {
            feed_uart(&mut l.emu.m, &mut pending_input);
        }
    };
    term.restore();
    l.flush_console();
    l.finish();
    if opts.stats {
        let m = &l.emu.m;
        let secs = started.elapsed().as_secs_f64();
        for h in &m.harts {
            eprintln!(
                "haltpoint: hart {} retired {} instructions",
                h.id, h.instret
            );
        }
        eprintln!(
            "haltpoint: {} instructions in {:.3} s host time ({:.1} MIPS), {:.6} s guest time",
            m.retired(),
            secs,
            m.retired() as f64 / secs / 1e6,
            m.guest_seconds()
        );
    }
    status
}

impl Loop {
    fn flush_console(&mut self) {
        flush(&mut self.emu.m, &mut self.sink);
    }

    /// Sends QMP events and tells a waiting gdb about stops it did not cause.
    fn notify(&mut self) {
        if let Some(q) = self.qmp.as_mut() {
            q.broadcast(&mut self.emu.m, self.poll.registry());
        } else {
            self.emu.m.vm.events.clear();
        }
        if let Some(g) = self.gdb.as_mut() {
            g.report_state(&mut self.emu, self.poll.registry());
        }
    }

    /// Last words: pending events to QMP clients.
    fn finish(&mut self) {
        if let Some(q) = self.qmp.as_mut() {
            q.broadcast(&mut self.emu.m, self.poll.registry());
            q.drain(Duration::from_millis(500));
        }
    }

    /// Carries out a request made by a command or a guest; returns an exit status.
    fn requests(&mut self) -> Option<i32> {
        match self.emu.m.vm.request.take()? {
            Request::Exit(code) => {
                self.notify();
                Some(code)
            }
            Request::Quit => {
                self.emu.m.vm.emit_shutdown(ShutdownCause::HostQmpQuit);
                self.notify();
                Some(0)
            }
            Request::Reset => {
                self.emu.m.system_reset();
                self.notify();
                None
            }
        }
    }

    /// Handles a run outcome other than Budget and Idle.
    fn outcome(&mut self, out: Outcome) {
        let m = &mut self.emu.m;
        match out {
            Outcome::Budget | Outcome::Idle => {}
            Outcome::PowerOff | Outcome::Fail(_) => {
                let code = match out {
                    Outcome::Fail(c) => c as i32,
                    _ => 0,
                };
                m.vm.shutdown(ShutdownCause::GuestShutdown, code);
                if matches!(m.vm.request, Some(Request::Exit(_))) {
                    if let Some(g) = self.gdb.as_mut() {
                        g.report(&mut self.emu, self.poll.registry(), out);
                    }
                }
            }
            Outcome::Reset => {
                m.vm.reset(ShutdownCause::GuestReset);
            }
            Outcome::GuestPanicked => self.guest_panicked(),
            Outcome::GuestCrashLoaded => {
                m.vm.emit("GUEST_CRASHLOADED", Some(json!({"action": "run"})));
            }
            Outcome::GuestPvShutdown => {
                m.vm.emit("GUEST_PVSHUTDOWN", None);
                m.vm.shutdown(ShutdownCause::GuestShutdown, 0);
            }
            Outcome::Watchdog => self.watchdog_fired(),
            Outcome::Breakpoint(h) => match m.debug_breakpoint_hit(h) {
                BpHit::Debugger => self.debug_stop(out),
                BpHit::Panic(name) => {
                    let pc = self.emu.m.harts[h].pc;
                    eprintln!("\r\nhaltpoint: hart {h} entered {name} at {pc:#x}");
                    self.emu.cur = h;
                    self.guest_panicked();
                }
                BpHit::None => {
                    if let Some(o) = self.emu.m.debug_continue() {
                        self.emu.m.pending_outcome = Some(o);
                    }
                }
            },
            Outcome::Watchpoint { hart, .. } => {
                m.debug_watchpoint_hit(hart);
                self.debug_stop(out);
            }
            // The write is done: nothing to step over when the machine resumes.
            Outcome::DmaWatch { hart, .. } => {
                self.emu.cur = hart;
                self.debug_stop(out);
            }
        }
    }

    /// Writes a dump now, printing its progress (`--dump-on-panic`).
    fn dump_now(&mut self, args: &crate::dump::DumpArgs) {
        let m = &self.emu.m;
        let file = args.protocol.trim_start_matches("file:").to_string();
        let mut job = match crate::dump::start_dump(m, args, &mut |_| None) {
            Ok(j) => j,
            Err(e) => {
                eprintln!("haltpoint: dump on panic: {e}");
                return;
            }
        };
        let mut shown = 0;
        loop {
            match job.step(m, 64 << 20) {
                Ok(p) => {
                    let pct = (p.completed * 100).checked_div(p.total).unwrap_or(100);
                    if pct >= shown + 10 || p.done {
                        eprint!(
                            "\rhaltpoint: dump on panic: {pct}% of {} MiB",
                            p.total >> 20
                        );
                        shown = pct;
                    }
                    if p.done {
                        eprintln!("\nhaltpoint: dump on panic: written to {file}");
                        break;
                    }
                }
                Err(e) => {
                    eprintln!("\nhaltpoint: dump on panic failed: {e}");
                    break;
                }
            }
        }
    }

    /// Prints hart `h`'s flight recorder, when it is on.
    fn print_flight(&self, h: usize) {
        if let Some(log) = self.emu.m.flight_log(h) {
            eprintln!("haltpoint: flight recorder, hart {h}, oldest first:\n{log}");
        }
    }

    /// A guest panic (a panic symbol, or pvpanic): GUEST_PANICKED and the panic action.
    /// A stopped VM (`guest-panicked`) is reported to a waiting gdb by `notify`.
    fn guest_panicked(&mut self) {
        let cur = self.emu.cur;
        self.print_flight(cur);
        if let Some(args) = self.dump_on_panic.clone() {
            self.dump_now(&args);
        }
        let m = &mut self.emu.m;
        if m.vm.guest_panicked() {
            m.debug_disarm();
            if matches!(m.vm.request, Some(Request::Exit(_))) {
                if let Some(g) = self.gdb.as_mut() {
                    g.report(&mut self.emu, self.poll.registry(), Outcome::PowerOff);
                }
            }
        } else if let Some(o) = m.debug_continue() {
            m.pending_outcome = Some(o);
        }
    }

    /// The watchdog expired: WATCHDOG (rate-limited by the QMP server), then the action.
    fn watchdog_fired(&mut self) {
        let m = &mut self.emu.m;
        let action = m.vm.actions.watchdog;
        m.vm.emit("WATCHDOG", Some(json!({"action": action.name()})));
        match action {
            WatchdogAction::Reset => m.vm.reset(ShutdownCause::GuestReset),
            // QEMU: a power-button request (the virt board has no button to press).
            WatchdogAction::Shutdown => m.vm.emit("POWERDOWN", None),
            // QEMU exits at once, without SHUTDOWN.
            WatchdogAction::Poweroff => m.vm.request = Some(Request::Exit(0)),
            WatchdogAction::Pause => {
                m.vm_stop(RunState::Watchdog);
            }
            // QEMU only prints the line; haltpoint also stops in `debug`, which a
            // waiting gdb hears as SIGTRAP.
            WatchdogAction::Debug => {
                eprintln!("\r\nwatchdog: timer fired");
                m.vm_stop(RunState::Debug);
            }
            WatchdogAction::None => {}
            // RISC-V virt has no NMI (QMP inject-nmi fails the same way).
            WatchdogAction::InjectNmi => {
                log::warn!("watchdog: inject-nmi: this board has no NMI; nothing injected");
            }
        }
    }

    /// A breakpoint or watchpoint hit: stop in `debug` and tell gdb, or go on when no
    /// gdb waits for it.
    fn debug_stop(&mut self, out: Outcome) {
        if self.gdb.as_ref().is_some_and(|g| g.waiting()) {
            self.emu.m.vm_stop(RunState::Debug);
            if let Some(g) = self.gdb.as_mut() {
                g.report(&mut self.emu, self.poll.registry(), out);
            }
        } else if let Some(o) = self.emu.m.debug_continue() {
            self.emu.m.pending_outcome = Some(o);
        }
    }
}

fn flush(m: &mut Machine, sink: &mut Sink) {
    if !m.bus.console.is_empty() {
        sink.write(&m.bus.console);
        m.bus.console.clear();
    }
}

fn feed_uart(m: &mut Machine, pending: &mut Vec<u8>) {
    let idx = m.uart;
    let Some(uart) = m.bus.device_mut::<Uart>(idx) else {
        return;
    };
    let n = uart.push_input(pending);
    pending.drain(..n);
    m.bus.tick_devices(true);
    m.update_interrupts(m.steps);
}
