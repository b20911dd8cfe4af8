//! The event loop: runs the machine in slices and waits on host input with mio.
//!
//! The interpreter and every host-side source (the console, the gdb server; QMP will
//! join here) share one thread. While the guest runs, the loop polls without blocking
//! between slices of [`SLICE_STEPS`]; when the guest idles it blocks in `poll` until input
//! or the next wall-clock deadline. There is no busy waiting.

use crate::console::{Escape, Key, RawTerminal, Sink, HELP};
use crate::devices::uart::Uart;
use crate::gdb::server::{Addr, GdbServer};
use crate::gdb::target::Emu;
use crate::machine::{Machine, Outcome};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::io::Read;
use std::time::Duration;

/// Steps per slice between host polls (about 10 ms of host time at 200 MIPS).
pub const SLICE_STEPS: u64 = 2_000_000;
const STDIN: Token = Token(0);

/// How the run is set up.
pub struct Options {
    pub no_reboot: bool,
    pub max_steps: Option<u64>,
    pub stats: bool,
    /// Read console input from stdin.
    pub stdin_console: bool,
    pub raw_terminal: bool,
    /// Listen for gdb here.
    pub gdb: Option<Addr>,
    /// Do not start the harts until a debugger (or monitor) continues them (-S).
    pub freeze: bool,
}

/// Steps per slice while a debugger is attached (Ctrl-C answers within a slice).
pub const DEBUG_SLICE_STEPS: u64 = 200_000;

/// Runs the machine until it powers off, fails, or is stopped; returns the exit status.
pub fn run(m: Machine, mut sink: Sink, opts: Options) -> i32 {
    let mut poll = match Poll::new() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("haltpoint: cannot create the event loop: {e}");
            return 1;
        }
    };
    let mut emu = Emu::new(m);
    let mut gdb = match &opts.gdb {
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
    if opts.freeze {
        emu.m.debug_pause();
    }
    let mut stdin_open = opts.stdin_console
        && poll
            .registry()
            .register(&mut SourceFd(&0), STDIN, Interest::READABLE)
            .is_ok();
    let mut term = if opts.raw_terminal && stdin_open {
        RawTerminal::enable()
    } else {
        RawTerminal::none()
    };
    let mut events = Events::with_capacity(16);
    let mut escape = Escape::default();
    let mut pending_input: Vec<u8> = Vec::new();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(code) = gdb.as_ref().and_then(|g| g.exit) {
            break code;
        }
        let attached = gdb.as_ref().is_some_and(|g| g.connected());
        let mut timeout = None;
        if !emu.m.debug.paused {
            let base = if attached {
                DEBUG_SLICE_STEPS
            } else {
                SLICE_STEPS
            };
            let slice = match opts.max_steps {
                Some(max) if emu.m.steps >= max => {
                    flush(&mut emu.m, &mut sink);
                    eprintln!(
                        "\r\nhaltpoint: stopped after {} steps (--max-steps)",
                        emu.m.steps
                    );
                    break 3;
                }
                Some(max) => base.min(max - emu.m.steps),
                None => base,
            };
            let out = emu.m.run(slice);
            flush(&mut emu.m, &mut sink);
            timeout = match out {
                Outcome::Budget => Some(Duration::ZERO),
                Outcome::Idle => {
                    if !stdin_open
                        && pending_input.is_empty()
                        && emu.m.bus.clock.is_virtual()
                        && gdb.is_none()
                    {
                        eprintln!("\r\nhaltpoint: every hart waits for an interrupt that can never come; stopping");
                        break 2;
                    }
                    if emu.m.bus.clock.is_virtual() {
                        None
                    } else {
                        Some(Duration::from_millis(1))
                    }
                }
                Outcome::PowerOff | Outcome::Fail(_) => {
                    if let Some(g) = gdb.as_mut() {
                        g.report(&mut emu, poll.registry(), out);
                    }
                    break match out {
                        Outcome::Fail(code) => code as i32,
                        _ => 0,
                    };
                }
                // Placeholders for the action machinery: QEMU's default actions.
                // panic=shutdown: log, then a guest-panic shutdown (exit 0).
                Outcome::GuestPanicked => {
                    eprintln!("\r\nhaltpoint: Guest crashed");
                    break 0;
                }
                // A crash kernel was loaded: the guest goes on.
                Outcome::GuestCrashLoaded => Some(Duration::ZERO),
                // pvpanic SHUTDOWN: a guest shutdown follows.
                Outcome::GuestPvShutdown => break 0,
                // watchdog=reset (a shutdown with -no-reboot).
                Outcome::Watchdog => {
                    eprintln!("\r\nwatchdog: timer fired");
                    if opts.no_reboot {
                        break 0;
                    }
                    emu.m.reset();
                    continue;
                }
                Outcome::Reset => {
                    if opts.no_reboot {
                        break 0;
                    }
                    emu.m.reset();
                    continue;
                }
                Outcome::Breakpoint(h) => {
                    if emu.m.debug_breakpoint_hit(h) {
                        let reported = gdb
                            .as_mut()
                            .is_some_and(|g| g.report(&mut emu, poll.registry(), out));
                        if !reported {
                            // Nobody to tell: go on over the breakpoint.
                            let _ = emu.m.debug_resume();
                        }
                    }
                    Some(Duration::ZERO)
                }
                Outcome::Watchpoint { hart, .. } => {
                    emu.m.debug_watchpoint_hit(hart);
                    let reported = gdb
                        .as_mut()
                        .is_some_and(|g| g.report(&mut emu, poll.registry(), out));
                    if !reported {
                        let _ = emu.m.debug_resume();
                    }
                    Some(Duration::ZERO)
                }
            };
        }
        if !pending_input.is_empty() {
            feed_uart(&mut emu.m, &mut pending_input);
        }
        if !stdin_open && gdb.is_none() {
            if emu.m.debug.paused {
                // -S without a debugger: nothing can ever continue the machine.
                eprintln!("haltpoint: the machine is stopped (-S) and there is no debugger");
                break 2;
            }
            continue;
        }
        let timeout = if pending_input.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                eprintln!("haltpoint: poll failed: {e}");
                break 1;
            }
        }
        for ev in events.iter() {
            if ev.token() == STDIN && pending_input.len() < 4096 {
                let mut buf = [0u8; 1024];
                match std::io::stdin().lock().read(&mut buf) {
                    Ok(0) => {
                        let _ = poll.registry().deregister(&mut SourceFd(&0));
                        stdin_open = false;
                    }
                    Ok(n) => {
                        for &b in &buf[..n] {
                            match escape.feed(b) {
                                Key::Guest(g) => pending_input.extend(g),
                                Key::Exit => {
                                    term.restore();
                                    flush(&mut emu.m, &mut sink);
                                    eprintln!("haltpoint: terminated");
                                    return 0;
                                }
                                Key::Help => sink.write(HELP.as_bytes()),
                                Key::None => {}
                            }
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => stdin_open = false,
                }
            } else if let Some(g) = gdb.as_mut() {
                g.handle_event(ev.token(), &mut emu, poll.registry());
            }
        }
        if let Some(g) = gdb.as_mut() {
            g.flush(&mut emu, poll.registry());
        }
        if !pending_input.is_empty() {
            feed_uart(&mut emu.m, &mut pending_input);
        }
    };
    term.restore();
    flush(&mut emu.m, &mut sink);
    if opts.stats {
        let m = &emu.m;
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
