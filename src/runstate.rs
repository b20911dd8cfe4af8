//! The VM's run state: QEMU's `RunState` machine, the actions that decide what guest
//! and host requests do, and the queue of QMP events they produce.
//!
//! Every change of state goes through [`Vm::set`], which checks QEMU's transition table
//! ([`RunState::may_become`]). An invalid transition is a bug in haltpoint: it is
//! refused, logged, and counted in [`Vm::invalid_transitions`] (tests assert it stays
//! 0). [`Vm::stop`] and [`Vm::start`] add QEMU's STOP and RESUME rules on top.
//!
//! The gdb server and the QMP server share the one [`Vm`] held by the machine, so a
//! gdb stop shows as `debug` in `query-status`, and QMP `cont` resumes a VM that gdb
//! stopped (QEMU's combined behaviour).

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::time::SystemTime;

macro_rules! qapi_enum {
    ($(#[$m:meta])* $name:ident { $($var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($var),+ }
        impl $name {
            /// Every value, in QAPI order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// The QAPI names, in order.
            pub const NAMES: &'static [&'static str] = &[$($s),+];
            /// The QAPI name of the value.
            pub fn name(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
            /// The value with QAPI name `s`.
            pub fn from_name(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$var),)+ _ => None }
            }
        }
    };
}

qapi_enum!(
    /// QEMU's RunState, in QAPI order.
    RunState {
        Debug = "debug",
        Inmigrate = "inmigrate",
        InternalError = "internal-error",
        IoError = "io-error",
        Paused = "paused",
        Postmigrate = "postmigrate",
        Prelaunch = "prelaunch",
        FinishMigrate = "finish-migrate",
        RestoreVm = "restore-vm",
        Running = "running",
        SaveVm = "save-vm",
        Shutdown = "shutdown",
        Suspended = "suspended",
        Watchdog = "watchdog",
        GuestPanicked = "guest-panicked",
        Colo = "colo",
    }
);

qapi_enum!(
    /// Why the VM shut down or reset, in QAPI order (`guest` is true from
    /// `GuestShutdown` on).
    ShutdownCause {
        None = "none",
        HostError = "host-error",
        HostQmpQuit = "host-qmp-quit",
        HostQmpSystemReset = "host-qmp-system-reset",
        HostSignal = "host-signal",
        HostUi = "host-ui",
        GuestShutdown = "guest-shutdown",
        GuestReset = "guest-reset",
        GuestPanic = "guest-panic",
        SubsystemReset = "subsystem-reset",
        SnapshotLoad = "snapshot-load",
    }
);

qapi_enum!(
    /// What a guest reboot request does (`-no-reboot` = shutdown).
    RebootAction { Reset = "reset", Shutdown = "shutdown" }
);

qapi_enum!(
    /// What a guest shutdown request does (`-no-shutdown` = pause).
    ShutdownAction { Poweroff = "poweroff", Pause = "pause" }
);

qapi_enum!(
    /// What a guest panic does.
    PanicAction {
        Pause = "pause",
        Shutdown = "shutdown",
        ExitFailure = "exit-failure",
        None = "none",
    }
);

qapi_enum!(
    /// What an expired watchdog does.
    WatchdogAction {
        Reset = "reset",
        Shutdown = "shutdown",
        Poweroff = "poweroff",
        Pause = "pause",
        Debug = "debug",
        None = "none",
        InjectNmi = "inject-nmi",
    }
);

qapi_enum!(
    /// The action reported in GUEST_PANICKED / GUEST_CRASHLOADED.
    GuestPanicAction { Pause = "pause", Poweroff = "poweroff", Run = "run" }
);

impl ShutdownCause {
    /// True for causes the guest itself triggered.
    pub fn guest(self) -> bool {
        (self as u8) >= (ShutdownCause::GuestShutdown as u8)
    }

    /// SHUTDOWN's and RESET's `data`.
    fn event_data(self) -> Value {
        json!({"guest": self.guest(), "reason": self.name()})
    }
}

impl RunState {
    /// QEMU's transition table: may a VM in `self` enter `to`? (Entering the same state
    /// is always allowed and does nothing.)
    pub fn may_become(self, to: RunState) -> bool {
        use RunState::*;
        if self == to {
            return true;
        }
        let allowed: &[RunState] = match self {
            Prelaunch => &[Inmigrate, Suspended, Running, FinishMigrate],
            Debug => &[Running, FinishMigrate, Prelaunch, Suspended],
            Inmigrate => &[
                InternalError,
                IoError,
                Paused,
                Running,
                Shutdown,
                Suspended,
                Watchdog,
                GuestPanicked,
                FinishMigrate,
                Prelaunch,
                Postmigrate,
                Colo,
            ],
            InternalError => &[Paused, FinishMigrate, Prelaunch],
            IoError => &[Running, FinishMigrate, Prelaunch],
            Paused => &[
                Running,
                FinishMigrate,
                Postmigrate,
                Prelaunch,
                Colo,
                Suspended,
            ],
            Postmigrate => &[Running, FinishMigrate, Prelaunch],
            FinishMigrate => &[
                Running,
                Paused,
                Postmigrate,
                Prelaunch,
                Colo,
                InternalError,
                IoError,
                Shutdown,
                Suspended,
                Watchdog,
                GuestPanicked,
            ],
            RestoreVm => &[Running, Prelaunch, Suspended],
            Colo => &[Running, Prelaunch, Shutdown],
            Running => &[
                Debug,
                InternalError,
                IoError,
                Paused,
                FinishMigrate,
                RestoreVm,
                SaveVm,
                Shutdown,
                Watchdog,
                GuestPanicked,
                Colo,
                Suspended,
            ],
            SaveVm => &[Running, Suspended],
            Shutdown => &[Paused, FinishMigrate, Prelaunch, Colo],
            Suspended => &[
                Running,
                FinishMigrate,
                Prelaunch,
                Colo,
                Paused,
                SaveVm,
                RestoreVm,
                Shutdown,
            ],
            Watchdog => &[Running, FinishMigrate, Prelaunch, Colo],
            GuestPanicked => &[Running, FinishMigrate, Prelaunch],
        };
        allowed.contains(&to)
    }

    /// States that need a `system_reset` before `cont`.
    pub fn needs_reset(self) -> bool {
        matches!(self, RunState::InternalError | RunState::Shutdown)
    }

    /// States in which the guest is live (stopping from them emits STOP).
    pub fn is_live(self) -> bool {
        matches!(self, RunState::Running | RunState::Suspended)
    }
}

/// The actions of `-action`, `set-action` and `watchdog-set-action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actions {
    pub reboot: RebootAction,
    pub shutdown: ShutdownAction,
    pub panic: PanicAction,
    pub watchdog: WatchdogAction,
}

impl Default for Actions {
    fn default() -> Actions {
        Actions {
            reboot: RebootAction::Reset,
            shutdown: ShutdownAction::Poweroff,
            panic: PanicAction::Shutdown,
            watchdog: WatchdogAction::Reset,
        }
    }
}

impl Actions {
    /// Applies one `key=value` of `-action` (or a `set-action` member). The error texts
    /// are QEMU's.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let bad = || format!("Parameter '{key}' does not accept value '{value}'");
        match key {
            "reboot" => self.reboot = RebootAction::from_name(value).ok_or_else(bad)?,
            "shutdown" => self.shutdown = ShutdownAction::from_name(value).ok_or_else(bad)?,
            "panic" => self.panic = PanicAction::from_name(value).ok_or_else(bad)?,
            "watchdog" => self.watchdog = WatchdogAction::from_name(value).ok_or_else(bad)?,
            _ => return Err(format!("Invalid parameter '{key}'")),
        }
        Ok(())
    }
}

/// A QMP event waiting to be sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub name: &'static str,
    /// The `data` member; None for events without members.
    pub data: Option<Value>,
    /// Host wall-clock time of the event (QMP timestamps are wall-clock).
    pub time: SystemTime,
}

/// What the event loop must do on behalf of a command or a device, after the current
/// request returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Leave haltpoint with this exit status (after SHUTDOWN was emitted).
    Exit(i32),
    /// `quit`: after the reply, SHUTDOWN (`host-qmp-quit`) and exit 0.
    Quit,
    /// Reset the machine (RESET was emitted).
    Reset,
}

/// Events kept at most, when nobody drains the queue.
const MAX_QUEUED_EVENTS: usize = 4096;

/// The run state of the VM and everything that hangs off it.
#[derive(Debug)]
pub struct Vm {
    state: RunState,
    /// The machine is waiting in `--preconfig`: only allow-preconfig commands run.
    pub preconfig: bool,
    pub actions: Actions,
    /// QMP events not yet sent.
    pub events: VecDeque<Event>,
    /// Refused transitions (bugs); tests check this stays 0.
    pub invalid_transitions: u64,
    /// Work for the event loop (exit, reset), set by commands and guest requests.
    pub request: Option<Request>,
    /// Keep the VM stopped after a reset that happened while it was not running.
    pub stay_stopped: bool,
}

impl Default for Vm {
    fn default() -> Vm {
        Vm::new()
    }
}

impl Vm {
    /// A VM in `prelaunch`.
    pub fn new() -> Vm {
        Vm {
            state: RunState::Prelaunch,
            preconfig: false,
            actions: Actions::default(),
            events: VecDeque::new(),
            invalid_transitions: 0,
            request: None,
            stay_stopped: false,
        }
    }

    pub fn state(&self) -> RunState {
        self.state
    }

    pub fn is_running(&self) -> bool {
        self.state == RunState::Running
    }

    /// Enters `to` if QEMU's table allows it; otherwise logs the bug and stays.
    pub fn set(&mut self, to: RunState) -> bool {
        if self.state.may_become(to) {
            self.state = to;
            true
        } else {
            self.invalid_transitions += 1;
            log::error!(
                "invalid runstate transition: '{}' -> '{}'",
                self.state.name(),
                to.name()
            );
            eprintln!(
                "haltpoint: bug: invalid runstate transition '{}' -> '{}'",
                self.state.name(),
                to.name()
            );
            false
        }
    }

    /// Queues an event now.
    pub fn emit(&mut self, name: &'static str, data: Option<Value>) {
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(Event {
            name,
            data,
            time: SystemTime::now(),
        });
    }

    /// Stops a live VM in state `to` and emits STOP. A VM that is already stopped
    /// stays as it is and nothing is emitted. Returns true when the VM was stopped now.
    pub fn stop(&mut self, to: RunState) -> bool {
        if !self.state.is_live() {
            return false;
        }
        if self.set(to) {
            self.emit("STOP", None);
            true
        } else {
            false
        }
    }

    /// Stops the VM in `to` for a guest request: STOP when it was live; a VM that was
    /// already stopped (a request raised while stepping) just enters `to`.
    fn stop_in(&mut self, to: RunState) {
        if !self.stop(to) && !self.state.is_live() {
            self.set(to);
        }
    }

    /// Starts the VM: RESUME, then `running`. Nothing happens when it already runs.
    /// Returns true when the VM was started now.
    pub fn start(&mut self) -> bool {
        if self.state == RunState::Running {
            return false;
        }
        if !self.state.may_become(RunState::Running) {
            // Callers check `needs_reset` first; this is not a transition to make.
            log::debug!("not starting a VM in state '{}'", self.state.name());
            return false;
        }
        self.emit("RESUME", None);
        self.set(RunState::Running)
    }

    /// Emits SHUTDOWN for `cause`.
    pub fn emit_shutdown(&mut self, cause: ShutdownCause) {
        self.emit("SHUTDOWN", Some(cause.event_data()));
    }

    /// Emits RESET for `cause`.
    pub fn emit_reset(&mut self, cause: ShutdownCause) {
        self.emit("RESET", Some(cause.event_data()));
    }

    /// A shutdown request (QEMU's `qemu_system_shutdown_request`): SHUTDOWN, then either
    /// exit with `status`, or with the shutdown action `pause` (guest requests only) a
    /// stop in state `shutdown`.
    pub fn shutdown(&mut self, cause: ShutdownCause, status: i32) {
        self.emit_shutdown(cause);
        if cause.guest() && self.actions.shutdown == ShutdownAction::Pause {
            self.stop_in(RunState::Shutdown);
        } else {
            self.request = Some(Request::Exit(status));
        }
    }

    /// A reset request: with reboot action `shutdown` it becomes a shutdown with the same
    /// cause; otherwise RESET and a machine reset.
    pub fn reset(&mut self, cause: ShutdownCause) {
        if self.actions.reboot == RebootAction::Shutdown && cause != ShutdownCause::SubsystemReset {
            self.shutdown(cause, 0);
            return;
        }
        self.emit_reset(cause);
        self.request = Some(Request::Reset);
    }

    /// After the machine was reset: a VM that was not running is left in `prelaunch`
    /// (QEMU's rule), a running one runs on.
    pub fn after_reset(&mut self) {
        if self.state != RunState::Running {
            self.set(RunState::Prelaunch);
        }
    }

    /// A guest panic (pvpanic or a panic symbol): `Guest crashed`, GUEST_PANICKED and the
    /// panic action. Returns true when the VM stopped.
    pub fn guest_panicked(&mut self) -> bool {
        eprintln!("haltpoint: Guest crashed");
        let pause = self.actions.panic == PanicAction::Pause
            || (self.actions.panic == PanicAction::Shutdown
                && self.actions.shutdown == ShutdownAction::Pause);
        match self.actions.panic {
            _ if pause => {
                self.emit("GUEST_PANICKED", Some(json!({"action": "pause"})));
                self.stop_in(RunState::GuestPanicked);
                true
            }
            PanicAction::Shutdown | PanicAction::ExitFailure => {
                self.emit("GUEST_PANICKED", Some(json!({"action": "poweroff"})));
                self.stop_in(RunState::GuestPanicked);
                let status = if self.actions.panic == PanicAction::ExitFailure {
                    1
                } else {
                    0
                };
                self.emit_shutdown(ShutdownCause::GuestPanic);
                self.request = Some(Request::Exit(status));
                true
            }
            _ => {
                self.emit("GUEST_PANICKED", Some(json!({"action": "run"})));
                false
            }
        }
    }

    /// The names of the events this module emits (for the QMP table's checks).
    pub const EVENTS: &'static [&'static str] =
        &["STOP", "RESUME", "SHUTDOWN", "RESET", "GUEST_PANICKED"];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_spec_examples() {
        use RunState::*;
        assert!(Running.may_become(Debug));
        assert!(Debug.may_become(Running));
        assert!(!Debug.may_become(Paused));
        assert!(!Shutdown.may_become(Running));
        assert!(GuestPanicked.may_become(Running));
        assert!(!Prelaunch.may_become(Paused));
        assert!(Paused.may_become(Paused));
        assert_eq!(RunState::ALL.len(), 16);
        let n: usize = RunState::ALL
            .iter()
            .map(|a| {
                RunState::ALL
                    .iter()
                    .filter(|&&b| a != &b && a.may_become(b))
                    .count()
            })
            .sum();
        // 4+4+12+3+3+6+3+11+3+3+12+2+4+8+4+3 rows of the table.
        assert_eq!(n, 85);
    }

    #[test]
    fn stop_and_start_events() {
        let mut vm = Vm::new();
        assert!(!vm.stop(RunState::Paused), "prelaunch is not live");
        assert_eq!(vm.state(), RunState::Prelaunch);
        assert!(vm.start());
        assert!(!vm.start());
        assert!(vm.stop(RunState::Debug));
        assert!(!vm.stop(RunState::Paused));
        assert_eq!(vm.state(), RunState::Debug);
        let names: Vec<_> = vm.events.iter().map(|e| e.name).collect();
        assert_eq!(names, ["RESUME", "STOP"]);
        assert_eq!(vm.invalid_transitions, 0);
    }

    #[test]
    fn invalid_transition_is_refused_and_counted() {
        let mut vm = Vm::new();
        assert!(!vm.set(RunState::Paused));
        assert_eq!(vm.state(), RunState::Prelaunch);
        assert_eq!(vm.invalid_transitions, 1);
    }

    #[test]
    fn shutdown_cause_guest_flag() {
        assert!(!ShutdownCause::HostSignal.guest());
        assert!(ShutdownCause::GuestShutdown.guest());
        assert!(ShutdownCause::SnapshotLoad.guest());
    }

    #[test]
    fn panic_actions() {
        let mut vm = Vm::new();
        vm.start();
        vm.actions.panic = PanicAction::Pause;
        assert!(vm.guest_panicked());
        assert_eq!(vm.state(), RunState::GuestPanicked);
        let mut vm = Vm::new();
        vm.start();
        vm.actions.panic = PanicAction::ExitFailure;
        vm.guest_panicked();
        assert_eq!(vm.request, Some(Request::Exit(1)));
        let names: Vec<_> = vm.events.iter().map(|e| e.name).collect();
        assert_eq!(names, ["RESUME", "GUEST_PANICKED", "STOP", "SHUTDOWN"]);
    }
}
