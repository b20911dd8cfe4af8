//! The QMP command and event table, and the commands' implementations.
//!
//! [`COMMANDS`] and [`EVENTS`] are the single definition of haltpoint's QMP: the
//! dispatcher checks arguments against them, `query-commands` and `query-qmp-schema` are
//! generated from them, and so is docs/qmp.md ([`reference`]).

use super::fds::MonitorFds;
use super::hmp;
use super::schema::{self, object, opt, req, EnumTy, Member, ObjTy, Ty};
use crate::machine::Machine;
use crate::runstate::{self, RunState, ShutdownCause, WatchdogAction};
use serde_json::{json, Map, Value};

/// A QMP error: its class and QEMU's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QmpError {
    pub class: &'static str,
    pub desc: String,
}

impl QmpError {
    pub fn generic(desc: impl Into<String>) -> QmpError {
        QmpError {
            class: "GenericError",
            desc: desc.into(),
        }
    }

    pub fn not_found(desc: impl Into<String>) -> QmpError {
        QmpError {
            class: "CommandNotFound",
            desc: desc.into(),
        }
    }
}

/// Process-wide facts the commands report.
#[derive(Clone, Debug, Default)]
pub struct Info {
    /// `-name`.
    pub name: Option<String>,
    /// The host thread that runs every hart.
    pub thread_id: i64,
}

/// The state of `dump-guest-memory` (one dump at a time), for `query-dump`.
pub struct DumpSlot {
    /// A detached dump in progress.
    pub job: Option<crate::dump::DumpJob>,
    /// `none`, `active`, `completed` or `failed`.
    pub status: &'static str,
    pub completed: u64,
    pub total: u64,
    /// Why the last dump failed.
    pub error: Option<String>,
    /// The VM was running when the dump began: resume it afterwards.
    pub resume: bool,
}

impl Default for DumpSlot {
    fn default() -> DumpSlot {
        DumpSlot {
            job: None,
            status: "none",
            completed: 0,
            total: 0,
            error: None,
            resume: false,
        }
    }
}

impl DumpSlot {
    /// `query-dump`'s answer.
    pub fn result(&self) -> Value {
        json!({
            "status": self.status,
            "completed": self.completed,
            "total": self.total,
        })
    }

    /// Ends the dump: DUMP_COMPLETED, then the VM resumes if it was running.
    pub fn finish(&mut self, m: &mut Machine, outcome: Result<crate::dump::Progress, String>) {
        self.job = None;
        match outcome {
            Ok(p) => {
                self.status = "completed";
                self.completed = p.completed;
                self.total = p.total;
                self.error = None;
            }
            Err(e) => {
                self.status = "failed";
                self.error = Some(e);
            }
        }
        let mut data = json!({ "result": self.result() });
        if let Some(e) = &self.error {
            data["error"] = json!(e);
        }
        m.vm.emit("DUMP_COMPLETED", Some(data));
        if std::mem::take(&mut self.resume) && m.vm.state() == RunState::SaveVm {
            if let Some(o) = m.vm_start() {
                m.pending_outcome = Some(o);
            }
        }
    }

    /// Runs a detached dump for up to `bytes`; true while it goes on.
    pub fn step(&mut self, m: &mut Machine, bytes: u64) -> bool {
        let Some(mut job) = self.job.take() else {
            return false;
        };
        match job.step(m, bytes) {
            Ok(p) if !p.done => {
                self.completed = p.completed;
                self.total = p.total;
                self.job = Some(job);
                true
            }
            Ok(p) => {
                self.finish(m, Ok(p));
                false
            }
            Err(e) => {
                self.finish(m, Err(e.to_string()));
                false
            }
        }
    }
}

/// What a command runs with.
pub struct Ctx<'a> {
    pub m: &'a mut Machine,
    pub info: &'a Info,
    pub dump: &'a mut DumpSlot,
    /// The descriptors of the connection the command came on (its monitor's).
    pub fds: &'a mut MonitorFds,
}

pub type Handler = fn(&mut Ctx<'_>, &Map<String, Value>) -> Result<Value, QmpError>;

/// A command: its schema and its implementation.
pub struct Command {
    pub name: &'static str,
    pub args: &'static [Member],
    /// None: the command returns `{}`.
    pub ret: Option<Ty>,
    /// Allowed in `--preconfig` state.
    pub preconfig: bool,
    pub doc: &'static str,
    pub run: Handler,
}

/// An event: its name and data members.
pub struct EventDef {
    pub name: &'static str,
    pub data: &'static [Member],
    pub doc: &'static str,
}

/// The QEMU release whose QMP haltpoint speaks (reported by `query-version`).
pub const QEMU_VERSION: (u32, u32, u32) = (9, 2, 0);

// ---- types ----

macro_rules! enum_ty {
    ($id:ident, $name:literal, $values:expr) => {
        static $id: EnumTy = EnumTy {
            name: $name,
            values: $values,
        };
    };
}

enum_ty!(RUN_STATE, "RunState", RunState::NAMES);
enum_ty!(SHUTDOWN_CAUSE, "ShutdownCause", ShutdownCause::NAMES);
enum_ty!(REBOOT_ACTION, "RebootAction", runstate::RebootAction::NAMES);
enum_ty!(
    SHUTDOWN_ACTION,
    "ShutdownAction",
    runstate::ShutdownAction::NAMES
);
enum_ty!(PANIC_ACTION, "PanicAction", runstate::PanicAction::NAMES);
enum_ty!(WATCHDOG_ACTION, "WatchdogAction", WatchdogAction::NAMES);
enum_ty!(
    GUEST_PANIC_ACTION,
    "GuestPanicAction",
    runstate::GuestPanicAction::NAMES
);
enum_ty!(QMP_CAPABILITY, "QMPCapability", &["oob"]);
enum_ty!(
    SYS_EMU_TARGET,
    "SysEmuTarget",
    &[
        "aarch64",
        "alpha",
        "arm",
        "avr",
        "hppa",
        "i386",
        "loongarch64",
        "m68k",
        "microblaze",
        "microblazeel",
        "mips",
        "mips64",
        "mips64el",
        "mipsel",
        "or1k",
        "ppc",
        "ppc64",
        "riscv32",
        "riscv64",
        "rx",
        "s390x",
        "sh4",
        "sh4eb",
        "sparc",
        "sparc64",
        "tricore",
        "x86_64",
        "xtensa",
        "xtensaeb",
    ]
);
enum_ty!(
    DUMP_STATUS,
    "DumpStatus",
    &["none", "active", "completed", "failed"]
);
enum_ty!(
    GUEST_PANIC_INFO_TYPE,
    "GuestPanicInformationType",
    &["hyper-v", "s390"]
);

static STATUS_INFO: ObjTy = object(
    "StatusInfo",
    &[
        req("running", Ty::Bool, "true only in `running`"),
        req("status", Ty::Enum(&RUN_STATE), "the run state"),
    ],
);
static VERSION_TRIPLE: ObjTy = object(
    "VersionTriple",
    &[
        req("major", Ty::Int, ""),
        req("minor", Ty::Int, ""),
        req("micro", Ty::Int, ""),
    ],
);
static VERSION_INFO: ObjTy = object(
    "VersionInfo",
    &[
        req(
            "qemu",
            Ty::Object(&VERSION_TRIPLE),
            "the QEMU release whose QMP haltpoint speaks",
        ),
        req("package", Ty::Str, "haltpoint and its version"),
    ],
);
static NAME_INFO: ObjTy = object("NameInfo", &[opt("name", Ty::Str, "`-name`")]);
static TARGET_INFO: ObjTy = object(
    "TargetInfo",
    &[req("arch", Ty::Enum(&SYS_EMU_TARGET), "always `riscv64`")],
);
static COMMAND_INFO: ObjTy = object("CommandInfo", &[req("name", Ty::Str, "")]);
static CPU_PROPS: ObjTy = object(
    "CpuInstanceProperties",
    &[
        opt("node-id", Ty::Int, ""),
        opt("socket-id", Ty::Int, ""),
        opt("die-id", Ty::Int, ""),
        opt("cluster-id", Ty::Int, ""),
        opt("core-id", Ty::Int, "the hart index"),
        opt("thread-id", Ty::Int, ""),
    ],
);
static CPU_INFO_FAST: ObjTy = object(
    "CpuInfoFast",
    &[
        req("cpu-index", Ty::Int, "the hart index"),
        req("qom-path", Ty::Str, "`/machine/soc0/harts[N]`"),
        req(
            "thread-id",
            Ty::Int,
            "the host thread running the hart (one thread runs them all)",
        ),
        opt("props", Ty::Object(&CPU_PROPS), ""),
        req("target", Ty::Enum(&SYS_EMU_TARGET), "`riscv64`"),
    ],
);
static DUMP_QUERY_RESULT: ObjTy = object(
    "DumpQueryResult",
    &[
        req("status", Ty::Enum(&DUMP_STATUS), ""),
        req("completed", Ty::Int, "bytes written"),
        req("total", Ty::Int, "bytes to write"),
    ],
);
static GUEST_PANIC_INFO: ObjTy = object(
    "GuestPanicInformation",
    &[req("type", Ty::Enum(&GUEST_PANIC_INFO_TYPE), "")],
);

enum_ty!(
    DUMP_FORMAT,
    "DumpGuestMemoryFormat",
    &[
        "elf",
        "kdump-zlib",
        "kdump-lzo",
        "kdump-snappy",
        "kdump-raw-zlib",
        "kdump-raw-lzo",
        "kdump-raw-snappy",
        "win-dmp",
    ]
);
static DUMP_CAPABILITY: ObjTy = object(
    "DumpGuestMemoryCapability",
    &[req("formats", Ty::Array(&Ty::Enum(&DUMP_FORMAT)), "")],
);

static VMCOREINFO_INFO: ObjTy = object(
    "XVmcoreinfo",
    &[
        req(
            "available",
            Ty::Bool,
            "the board offers `etc/vmcoreinfo` (off with `-machine virt,vmcoreinfo=off`)",
        ),
        req("registered", Ty::Bool, "the guest registered a note"),
        opt("paddr", Ty::Int, "guest physical address of the note"),
        opt("size", Ty::Int, "the size the guest gave"),
        opt(
            "phys-base",
            Ty::Int,
            "`NUMBER(phys_ram_base)` (riscv64), or `NUMBER(phys_base)`",
        ),
        opt(
            "keys",
            Ty::Any,
            "every `KEY=VALUE` line of the note, as an object of strings",
        ),
        opt(
            "warning",
            Ty::Str,
            "why a registered note is not usable (a dump then goes on without it)",
        ),
    ],
);

// SchemaInfo, the element type of query-qmp-schema's answer (a flat union on meta-type).
enum_ty!(
    SCHEMA_META_TYPE,
    "SchemaMetaType",
    &[
        "builtin",
        "enum",
        "array",
        "object",
        "alternate",
        "command",
        "event"
    ]
);
enum_ty!(
    JSON_TYPE,
    "JSONType",
    &["string", "number", "int", "boolean", "null", "object", "array", "value"]
);
static SI_BUILTIN: ObjTy = object(
    "SchemaInfoBuiltin",
    &[req("json-type", Ty::Enum(&JSON_TYPE), "")],
);
static SI_ENUM_MEMBER: ObjTy = object("SchemaInfoEnumMember", &[req("name", Ty::Str, "")]);
static SI_ENUM: ObjTy = object(
    "SchemaInfoEnum",
    &[
        req("members", Ty::Array(&Ty::Object(&SI_ENUM_MEMBER)), ""),
        req("values", Ty::Array(&Ty::Str), ""),
    ],
);
static SI_ARRAY: ObjTy = object("SchemaInfoArray", &[req("element-type", Ty::Str, "")]);
static SI_OBJECT_MEMBER: ObjTy = object(
    "SchemaInfoObjectMember",
    &[
        req("name", Ty::Str, ""),
        req("type", Ty::Str, ""),
        opt("default", Ty::Any, ""),
    ],
);
static SI_VARIANT: ObjTy = object(
    "SchemaInfoObjectVariant",
    &[req("case", Ty::Str, ""), req("type", Ty::Str, "")],
);
static SI_OBJECT: ObjTy = object(
    "SchemaInfoObject",
    &[
        req("members", Ty::Array(&Ty::Object(&SI_OBJECT_MEMBER)), ""),
        opt("tag", Ty::Str, ""),
        opt("variants", Ty::Array(&Ty::Object(&SI_VARIANT)), ""),
    ],
);
static SI_ALTERNATE_MEMBER: ObjTy =
    object("SchemaInfoAlternateMember", &[req("type", Ty::Str, "")]);
static SI_ALTERNATE: ObjTy = object(
    "SchemaInfoAlternate",
    &[req(
        "members",
        Ty::Array(&Ty::Object(&SI_ALTERNATE_MEMBER)),
        "",
    )],
);
static SI_COMMAND: ObjTy = object(
    "SchemaInfoCommand",
    &[
        req("arg-type", Ty::Str, ""),
        req("ret-type", Ty::Str, ""),
        opt("allow-oob", Ty::Bool, ""),
    ],
);
static SI_EVENT: ObjTy = object("SchemaInfoEvent", &[req("arg-type", Ty::Str, "")]);
static SCHEMA_INFO: ObjTy = ObjTy {
    name: "SchemaInfo",
    members: &[
        req("name", Ty::Str, ""),
        req("meta-type", Ty::Enum(&SCHEMA_META_TYPE), ""),
        opt("features", Ty::Array(&Ty::Str), ""),
    ],
    tag: Some("meta-type"),
    variants: &[
        ("builtin", &SI_BUILTIN),
        ("enum", &SI_ENUM),
        ("array", &SI_ARRAY),
        ("object", &SI_OBJECT),
        ("alternate", &SI_ALTERNATE),
        ("command", &SI_COMMAND),
        ("event", &SI_EVENT),
    ],
};

// ---- the table ----

/// Every QMP command, in the order `query-commands` lists them.
pub static COMMANDS: &[Command] = &[
    Command {
        name: "qmp_capabilities",
        args: &[opt(
            "enable",
            Ty::Array(&Ty::Enum(&QMP_CAPABILITY)),
            "capabilities to enable (haltpoint offers none)",
        )],
        ret: None,
        preconfig: true,
        doc: "Leaves capabilities negotiation mode; only then do other commands and events work.",
        run: qmp_capabilities,
    },
    Command {
        name: "query-version",
        args: &[],
        ret: Some(Ty::Object(&VERSION_INFO)),
        preconfig: true,
        doc:
            "The QEMU release whose QMP haltpoint speaks, and haltpoint's own version in `package`.",
        run: query_version,
    },
    Command {
        name: "query-name",
        args: &[],
        ret: Some(Ty::Object(&NAME_INFO)),
        preconfig: true,
        doc: "The VM's `-name`, if it has one.",
        run: query_name,
    },
    Command {
        name: "query-target",
        args: &[],
        ret: Some(Ty::Object(&TARGET_INFO)),
        preconfig: false,
        doc: "The guest architecture.",
        run: query_target,
    },
    Command {
        name: "query-status",
        args: &[],
        ret: Some(Ty::Object(&STATUS_INFO)),
        preconfig: true,
        doc: "The run state. gdb stops show as `debug`.",
        run: query_status,
    },
    Command {
        name: "query-commands",
        args: &[],
        ret: Some(Ty::Array(&Ty::Object(&COMMAND_INFO))),
        preconfig: true,
        doc: "Every command of this table.",
        run: query_commands,
    },
    Command {
        name: "query-qmp-schema",
        args: &[],
        ret: Some(Ty::Array(&Ty::Object(&SCHEMA_INFO))),
        preconfig: true,
        doc: "The schema of every command and event, in QEMU's SchemaInfo format; type names \
              other than the builtins are masked as numbers.",
        run: query_qmp_schema,
    },
    Command {
        name: "query-cpus-fast",
        args: &[],
        ret: Some(Ty::Array(&Ty::Object(&CPU_INFO_FAST))),
        preconfig: false,
        doc: "One entry per hart.",
        run: query_cpus_fast,
    },
    Command {
        name: "stop",
        args: &[],
        ret: None,
        preconfig: false,
        doc: "Pauses a live VM (STOP, state `paused`). A stopped VM is left as it is.",
        run: stop,
    },
    Command {
        name: "cont",
        args: &[],
        ret: None,
        preconfig: false,
        doc: "Resumes a stopped VM (RESUME), also one that gdb stopped (gdb is not told). \
              Refused in `shutdown` and `internal-error` until `system_reset`.",
        run: cont,
    },
    Command {
        name: "system_reset",
        args: &[],
        ret: None,
        preconfig: false,
        doc: "Resets the machine (RESET). With `-no-reboot` (reboot action `shutdown`) it \
              shuts down instead. A VM that was not running is left in `prelaunch`.",
        run: system_reset,
    },
    Command {
        name: "system_powerdown",
        args: &[],
        ret: None,
        preconfig: false,
        doc: "Emits POWERDOWN. The virt board has no power button, so the guest is not told \
              (as with QEMU's riscv virt).",
        run: system_powerdown,
    },
    Command {
        name: "system_wakeup",
        args: &[],
        ret: None,
        preconfig: false,
        doc: "The virt board cannot suspend, so this fails as QEMU's does.",
        run: system_wakeup,
    },
    Command {
        name: "quit",
        args: &[],
        ret: None,
        preconfig: true,
        doc: "Replies, emits SHUTDOWN (`host-qmp-quit`) and exits with status 0.",
        run: quit,
    },
    Command {
        name: "set-action",
        args: &[
            opt(
                "reboot",
                Ty::Enum(&REBOOT_ACTION),
                "what a guest reboot does",
            ),
            opt(
                "shutdown",
                Ty::Enum(&SHUTDOWN_ACTION),
                "what a guest shutdown does",
            ),
            opt("panic", Ty::Enum(&PANIC_ACTION), "what a guest panic does"),
            opt(
                "watchdog",
                Ty::Enum(&WATCHDOG_ACTION),
                "what an expired watchdog does",
            ),
        ],
        ret: None,
        preconfig: true,
        doc: "Sets the actions taken on guest events (as `-action`).",
        run: set_action,
    },
    Command {
        name: "watchdog-set-action",
        args: &[req("action", Ty::Enum(&WATCHDOG_ACTION), "")],
        ret: None,
        preconfig: false,
        doc: "Sets the watchdog action (as `-watchdog-action`).",
        run: watchdog_set_action,
    },
    Command {
        name: "inject-nmi",
        args: &[],
        ret: None,
        preconfig: false,
        doc: "RISC-V has no NMI that haltpoint implements; this fails as QEMU's riscv does.",
        run: inject_nmi,
    },
    Command {
        name: "human-monitor-command",
        args: &[
            req("command-line", Ty::Str, "the HMP command"),
            opt("cpu-index", Ty::Int, "the hart the command works on"),
        ],
        ret: Some(Ty::Str),
        preconfig: false,
        doc: "Runs an HMP command and returns its text. Supported: `info status`, `info \
              registers [-a]`, `info cpus`, `info qtree-lite`, `info dump`, `x`, `xp`, \
              `stop`, `cont`, `system_reset`, `dump-guest-memory`, `getfd`, `closefd` \
              (as in QEMU they act on the temporary monitor that runs the line, which \
              holds no descriptors), `help`.",
        run: human_monitor_command,
    },
    Command {
        name: "x-exit-preconfig",
        args: &[],
        ret: None,
        preconfig: true,
        doc: "Leaves `--preconfig`: completes machine initialisation and starts the VM \
              unless `-S` was given.",
        run: x_exit_preconfig,
    },
    Command {
        name: "getfd",
        args: &[req(
            "fdname",
            Ty::Str,
            "the name to give it (not starting with a digit)",
        )],
        ret: None,
        preconfig: false,
        doc: "Names the file descriptor this connection passed with SCM_RIGHTS (unix \
              sockets only), sent with or before this command: the first of the last \
              batch received (the others are closed). An existing descriptor of that \
              name is closed and replaced. Descriptors belong to the connection and are \
              closed when it ends.",
        run: getfd,
    },
    Command {
        name: "closefd",
        args: &[req("fdname", Ty::Str, "a name given by `getfd`")],
        ret: None,
        preconfig: false,
        doc: "Closes a descriptor named by `getfd` on this connection.",
        run: closefd,
    },
    Command {
        name: "dump-guest-memory",
        args: &[
            req(
                "paging",
                Ty::Bool,
                "ELF only: PT_LOADs with the virtual addresses of the guest page tables \
                 (QEMU cannot do this on riscv)",
            ),
            req(
                "protocol",
                Ty::Str,
                "`file:PATH`, or `fd:NAME`: a descriptor this connection passed with \
                 `getfd` (the dump takes it: the name is gone afterwards)",
            ),
            opt(
                "detach",
                Ty::Bool,
                "return at once; watch query-dump and DUMP_COMPLETED",
            ),
            opt("begin", Ty::Int, "ELF only: first physical address"),
            opt("length", Ty::Int, "ELF only: bytes from `begin`"),
            opt("format", Ty::Enum(&DUMP_FORMAT), "default `elf`"),
        ],
        ret: None,
        preconfig: false,
        doc: "Writes the guest's memory and every hart's registers (one NT_PRSTATUS each), \
              the guest's VMCOREINFO note and phys_base, as an ELF core or a \
              kdump-compressed file (see docs/crash-dumps.md). A running VM is stopped \
              in `save-vm` (STOP) during the dump and resumed after it (RESUME). A \
              `file:` target is written under a temporary name and renamed when \
              complete; an `fd:` one is written in place from its current offset. \
              DUMP_COMPLETED follows every dump.",
        run: dump_guest_memory,
    },
    Command {
        name: "query-dump",
        args: &[],
        ret: Some(Ty::Object(&DUMP_QUERY_RESULT)),
        preconfig: false,
        doc: "The progress of the current or last dump, in bytes.",
        run: query_dump,
    },
    Command {
        name: "query-dump-guest-memory-capability",
        args: &[],
        ret: Some(Ty::Object(&DUMP_CAPABILITY)),
        preconfig: false,
        doc: "The dump formats haltpoint writes.",
        run: query_dump_capability,
    },
    Command {
        name: "xen-save-devices-state",
        args: &[
            req("filename", Ty::Str, "file to write"),
            opt("live", Ty::Bool, "accepted; the state is always consistent"),
        ],
        ret: None,
        preconfig: false,
        doc: "Saves every hart's and device's state (not RAM) in QEMU's QEVM v3 format, \
              one section per hart and device (docs/crash-dumps.md). A running VM is \
              stopped in `save-vm` meanwhile.",
        run: xen_save_devices_state,
    },
    Command {
        name: "xen-load-devices-state",
        args: &[req("filename", Ty::Str, "file to read")],
        ret: None,
        preconfig: false,
        doc: "Loads a file written by xen-save-devices-state into a stopped VM. The whole \
              file is checked first: a bad or truncated one is refused and the VM is \
              left untouched.",
        run: xen_load_devices_state,
    },
    Command {
        name: "x-query-vmcoreinfo",
        args: &[],
        ret: Some(Ty::Object(&VMCOREINFO_INFO)),
        preconfig: false,
        doc: "haltpoint's own: the guest's VMCOREINFO note as a dump would use it, read \
              from guest memory now (the registration through fw_cfg `etc/vmcoreinfo` \
              and the parsed `KEY=VALUE` lines, phys_base among them).",
        run: x_query_vmcoreinfo,
    },
    Command {
        name: "memsave",
        args: &[
            req("val", Ty::Int, "virtual address"),
            req("size", Ty::Int, "bytes"),
            req("filename", Ty::Str, "file to write"),
            opt("cpu-index", Ty::Int, "the hart whose translation is used"),
        ],
        ret: None,
        preconfig: false,
        doc: "Saves virtual memory, as a hart sees it, to a file (written to a temporary \
              name and renamed: a failure leaves no file).",
        run: memsave,
    },
    Command {
        name: "pmemsave",
        args: &[
            req("val", Ty::Int, "physical address"),
            req("size", Ty::Int, "bytes"),
            req("filename", Ty::Str, "file to write"),
        ],
        ret: None,
        preconfig: false,
        doc: "Saves physical memory to a file (unmapped bytes read as 0).",
        run: pmemsave,
    },
];

/// SHUTDOWN's and RESET's data.
const CAUSE_DATA: &[Member] = &[
    req("guest", Ty::Bool, "the guest asked for it"),
    req("reason", Ty::Enum(&SHUTDOWN_CAUSE), ""),
];

/// GUEST_PANICKED's and GUEST_CRASHLOADED's data.
const GUEST_PANIC_DATA: &[Member] = &[
    req("action", Ty::Enum(&GUEST_PANIC_ACTION), ""),
    opt("info", Ty::Object(&GUEST_PANIC_INFO), ""),
];

/// Every QMP event haltpoint can emit.
pub static EVENTS: &[EventDef] = &[
    EventDef {
        name: "SHUTDOWN",
        data: CAUSE_DATA,
        doc: "The VM shuts down: guest poweroff (sifive_test), `quit`, SIGINT/SIGTERM, a \
              panic with the panic action `shutdown`.",
    },
    EventDef {
        name: "POWERDOWN",
        data: &[],
        doc: "`system_powerdown` was issued.",
    },
    EventDef {
        name: "RESET",
        data: CAUSE_DATA,
        doc: "The machine was reset (guest reboot through sifive_test, `system_reset`).",
    },
    EventDef {
        name: "STOP",
        data: &[],
        doc: "A live VM stopped (`stop`, a gdb stop, a panic or watchdog pause).",
    },
    EventDef {
        name: "RESUME",
        data: &[],
        doc: "The VM started running.",
    },
    EventDef {
        name: "SUSPEND",
        data: &[],
        doc: "Never emitted: the virt board cannot suspend.",
    },
    EventDef {
        name: "SUSPEND_DISK",
        data: &[],
        doc: "Never emitted: the virt board cannot suspend.",
    },
    EventDef {
        name: "WAKEUP",
        data: &[],
        doc: "Never emitted: the virt board cannot suspend.",
    },
    EventDef {
        name: "WATCHDOG",
        data: &[req("action", Ty::Enum(&WATCHDOG_ACTION), "")],
        doc: "The watchdog expired; the action follows. Rate-limited to one per second.",
    },
    EventDef {
        name: "GUEST_PANICKED",
        data: GUEST_PANIC_DATA,
        doc: "The guest panicked.",
    },
    EventDef {
        name: "GUEST_CRASHLOADED",
        data: GUEST_PANIC_DATA,
        doc: "The guest panicked and has a crash kernel loaded.",
    },
    EventDef {
        name: "GUEST_PVSHUTDOWN",
        data: &[],
        doc: "The guest requested shutdown through pvpanic.",
    },
    EventDef {
        name: "DUMP_COMPLETED",
        data: &[
            req("result", Ty::Object(&DUMP_QUERY_RESULT), ""),
            opt("error", Ty::Str, ""),
        ],
        doc: "A guest memory dump ended.",
    },
];

/// Finds a command.
pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

fn infos() -> (
    Vec<schema::CommandInfo<'static>>,
    Vec<schema::EventInfo<'static>>,
) {
    let cmds = COMMANDS
        .iter()
        .map(|c| schema::CommandInfo {
            name: c.name,
            args: c.args,
            ret: c.ret,
            preconfig: c.preconfig,
            doc: c.doc,
        })
        .collect();
    let evs = EVENTS
        .iter()
        .map(|e| schema::EventInfo {
            name: e.name,
            data: e.data,
            doc: e.doc,
        })
        .collect();
    (cmds, evs)
}

/// The QMP reference (docs/qmp.md).
pub fn reference() -> String {
    let (c, e) = infos();
    schema::markdown(&c, &e, REFERENCE_INTRO)
}

const REFERENCE_INTRO: &str = "# QMP reference\n\n\
<!-- Generated from src/qmp/commands.rs by `make qmp-doc` (haltpoint --qmp-reference). \
Do not edit: tests/qmp.rs fails when this file is stale. -->\n\n\
haltpoint speaks QEMU's QMP: the greeting, `qmp_capabilities` negotiation, `id` echo, \
QEMU's error classes and texts, and events with wall-clock timestamps. Start a server with \
`-qmp unix:PATH,server=on,wait=off`, `-qmp tcp:HOST:PORT,server=on,wait=off`, or \
`-chardev socket,id=ID,path=PATH,server=on,wait=off -mon chardev=ID,mode=control`. Unix \
sockets are created with mode 0600; TCP binds to the given host (use 127.0.0.1). Each \
socket accepts several clients, each with its own negotiation. Over a unix socket a \
client can pass file descriptors with SCM_RIGHTS (`getfd`, then `dump-guest-memory` \
`fd:NAME`); they belong to that connection and are closed when it ends. See \
docs/debugging.md for how QMP and gdb share the run state.\n";

// ---- commands ----

fn no_args() -> Result<Value, QmpError> {
    Ok(json!({}))
}

fn qmp_capabilities(_: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    // The server answers it in negotiation mode; here the session is already negotiated.
    Err(QmpError::not_found(
        "Capabilities negotiation is already complete, command ignored",
    ))
}

fn query_version(_: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    let (major, minor, micro) = QEMU_VERSION;
    Ok(json!({
        "qemu": {"major": major, "minor": minor, "micro": micro},
        "package": concat!("haltpoint ", env!("CARGO_PKG_VERSION")),
    }))
}

fn query_name(c: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    Ok(match &c.info.name {
        Some(n) => json!({ "name": n }),
        None => json!({}),
    })
}

fn query_target(_: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    Ok(json!({"arch": "riscv64"}))
}

/// `query-status`'s answer.
pub fn status(m: &Machine) -> Value {
    json!({"running": m.vm.is_running(), "status": m.vm.state().name()})
}

fn query_status(c: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    Ok(status(c.m))
}

fn query_commands(_: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    Ok(Value::Array(
        COMMANDS.iter().map(|c| json!({"name": c.name})).collect(),
    ))
}

fn query_qmp_schema(_: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    let (c, e) = infos();
    Ok(schema::introspect(&c, &e))
}

fn query_cpus_fast(c: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    Ok(Value::Array(
        (0..c.m.harts.len())
            .map(|i| {
                json!({
                    "cpu-index": i,
                    "qom-path": format!("/machine/soc0/harts[{i}]"),
                    "thread-id": c.info.thread_id,
                    "props": {"core-id": i},
                    "target": "riscv64",
                })
            })
            .collect(),
    ))
}

/// `stop`, shared with HMP.
pub fn stop(c: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    if c.dump.job.is_some() {
        return Err(QmpError::generic(DUMP_BUSY));
    }
    c.m.vm_stop(RunState::Paused);
    no_args()
}

/// `cont`, shared with HMP.
pub fn cont(c: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    if c.dump.job.is_some() {
        return Err(QmpError::generic(DUMP_BUSY));
    }
    let st = c.m.vm.state();
    if st.needs_reset() {
        return Err(QmpError::generic(
            "Resetting the Virtual Machine is required",
        ));
    }
    if st == RunState::Suspended {
        return no_args();
    }
    if let Some(o) = c.m.vm_start() {
        // Stepping over the instruction of a gdb stop already ended the run.
        c.m.pending_outcome = Some(o);
    }
    no_args()
}

/// `system_reset`, shared with HMP.
pub fn system_reset(c: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    c.m.vm.reset(ShutdownCause::HostQmpSystemReset);
    if c.m.vm.request == Some(runstate::Request::Reset) {
        c.m.vm.request = None;
        c.m.system_reset();
    }
    no_args()
}

fn system_powerdown(c: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    c.m.vm.emit("POWERDOWN", None);
    no_args()
}

fn system_wakeup(_: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    Err(QmpError::generic(
        "wake-up from suspend is not supported by this guest",
    ))
}

fn quit(c: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    c.m.vm.request = Some(runstate::Request::Quit);
    no_args()
}

fn set_action(c: &mut Ctx<'_>, a: &Map<String, Value>) -> Result<Value, QmpError> {
    // Arguments were checked against the table: every value is a valid enum name.
    let mut actions = c.m.vm.actions;
    for (k, v) in a {
        actions
            .set(k, v.as_str().unwrap_or_default())
            .map_err(QmpError::generic)?;
    }
    c.m.vm.actions = actions;
    no_args()
}

fn watchdog_set_action(c: &mut Ctx<'_>, a: &Map<String, Value>) -> Result<Value, QmpError> {
    let v = a.get("action").and_then(|v| v.as_str()).unwrap_or_default();
    c.m.vm
        .actions
        .set("watchdog", v)
        .map_err(QmpError::generic)?;
    no_args()
}

fn fdname(a: &Map<String, Value>) -> &str {
    a.get("fdname").and_then(|v| v.as_str()).unwrap_or_default()
}

pub fn getfd(c: &mut Ctx<'_>, a: &Map<String, Value>) -> Result<Value, QmpError> {
    c.fds.getfd(fdname(a)).map_err(QmpError::generic)?;
    no_args()
}

pub fn closefd(c: &mut Ctx<'_>, a: &Map<String, Value>) -> Result<Value, QmpError> {
    c.fds.closefd(fdname(a)).map_err(QmpError::generic)?;
    no_args()
}

fn inject_nmi(_: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    Err(QmpError::generic(
        "this feature or command is not currently supported",
    ))
}

/// Checks an optional `cpu-index` argument; QEMU's text on a bad one.
fn cpu_index(c: &Ctx<'_>, a: &Map<String, Value>) -> Result<usize, QmpError> {
    match a.get("cpu-index").and_then(|v| v.as_i64()) {
        None => Ok(0),
        Some(i) if i >= 0 && (i as usize) < c.m.harts.len() => Ok(i as usize),
        Some(_) => Err(QmpError::generic(
            "Parameter 'cpu-index' expects a CPU number",
        )),
    }
}

fn human_monitor_command(c: &mut Ctx<'_>, a: &Map<String, Value>) -> Result<Value, QmpError> {
    let cpu = cpu_index(c, a)?;
    let line = a
        .get("command-line")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    // QEMU runs the line in a temporary HMP monitor, whose descriptor list is its own
    // (and empty): the connection's `getfd` names are not visible to HMP.
    let mut fds = MonitorFds::default();
    let mut hmp_ctx = Ctx {
        m: &mut *c.m,
        info: c.info,
        dump: &mut *c.dump,
        fds: &mut fds,
    };
    Ok(Value::String(hmp::run(&mut hmp_ctx, cpu, line)))
}

fn x_exit_preconfig(c: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    if !c.m.vm.preconfig {
        return Err(QmpError::generic(
            "The command is permitted only before machine initialization",
        ));
    }
    c.m.vm.preconfig = false;
    if !c.m.vm.stay_stopped {
        c.m.vm_start();
    }
    no_args()
}

const DUMP_BUSY: &str = "There is a dump in process, please wait.";

/// Starts a dump: the checks, the VM stopped in save-vm, then either the whole dump
/// now or a detached job the event loop runs in slices.
pub fn start_dump(c: &mut Ctx<'_>, args: &crate::dump::DumpArgs) -> Result<(), QmpError> {
    if c.dump.job.is_some() {
        return Err(QmpError::generic(DUMP_BUSY));
    }
    let fds = &mut *c.fds;
    let job = crate::dump::start_dump(c.m, args, &mut |name| fds.take(name))
        .map_err(QmpError::generic)?;
    for w in &job.warnings {
        eprintln!("haltpoint: dump: {w}");
    }
    let p = job.progress();
    c.dump.status = "active";
    c.dump.completed = p.completed;
    c.dump.total = p.total;
    c.dump.resume = c.m.vm_stop(RunState::SaveVm);
    c.dump.job = Some(job);
    if args.detach {
        return Ok(());
    }
    while c.dump.step(c.m, 64 << 20) {}
    match &c.dump.error {
        None => Ok(()),
        Some(e) => Err(QmpError::generic(e.clone())),
    }
}

fn dump_guest_memory(c: &mut Ctx<'_>, a: &Map<String, Value>) -> Result<Value, QmpError> {
    let args = crate::dump::DumpArgs {
        paging: a.get("paging").and_then(|v| v.as_bool()).unwrap_or(false),
        protocol: a
            .get("protocol")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string(),
        detach: a.get("detach").and_then(|v| v.as_bool()).unwrap_or(false),
        begin: a.get("begin").and_then(|v| v.as_i64()),
        length: a.get("length").and_then(|v| v.as_i64()),
        format: a
            .get("format")
            .and_then(|v| v.as_str())
            .and_then(crate::dump::DumpFormat::from_name),
    };
    start_dump(c, &args)?;
    no_args()
}

fn query_dump(c: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    Ok(c.dump.result())
}

fn query_dump_capability(_: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    let f: Vec<&str> = crate::dump::capability_formats()
        .into_iter()
        .map(|f| f.name())
        .collect();
    Ok(json!({ "formats": f }))
}

fn xen_save_devices_state(c: &mut Ctx<'_>, a: &Map<String, Value>) -> Result<Value, QmpError> {
    let f = a
        .get("filename")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let resume = c.m.vm_stop(RunState::SaveVm);
    let r = crate::devstate::save_file(c.m, std::path::Path::new(f));
    if resume {
        if let Some(o) = c.m.vm_start() {
            c.m.pending_outcome = Some(o);
        }
    }
    r.map_err(QmpError::generic)?;
    no_args()
}

fn xen_load_devices_state(c: &mut Ctx<'_>, a: &Map<String, Value>) -> Result<Value, QmpError> {
    if c.m.vm.is_running() {
        return Err(QmpError::generic(
            "Cannot update device state while vm is running",
        ));
    }
    let f = a
        .get("filename")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    crate::devstate::load_file(c.m, std::path::Path::new(f)).map_err(QmpError::generic)?;
    no_args()
}

fn x_query_vmcoreinfo(c: &mut Ctx<'_>, _: &Map<String, Value>) -> Result<Value, QmpError> {
    let m = &*c.m;
    let mut v = json!({"available": m.has_vmcoreinfo(), "registered": false});
    if let Some(reg) = m.vmcoreinfo_reg() {
        v["registered"] = json!(true);
        v["paddr"] = json!(reg.paddr);
        v["size"] = json!(reg.size);
        match m.vmcoreinfo() {
            Ok(Some(note)) => {
                if let Some(pb) = note.phys_base {
                    v["phys-base"] = json!(pb);
                }
                v["keys"] = json!(note.keys);
            }
            Ok(None) => {}
            Err(w) => v["warning"] = json!(w),
        }
    }
    Ok(v)
}

fn mem_args(a: &Map<String, Value>) -> (u64, i64, String) {
    let val = a.get("val").and_then(|v| v.as_i64()).unwrap_or(0) as u64;
    let size = a.get("size").and_then(|v| v.as_i64()).unwrap_or(0);
    let file = a
        .get("filename")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    (val, size, file)
}

/// Writes `size` bytes produced by `read(addr, buf) -> ok` to `file` through the dump
/// writers' output ([`crate::dump::Sink`]): a temporary file renamed at the end, so
/// nothing is left behind on failure. The file mode is QEMU's for memsave (0666 before
/// the umask).
fn save_memory(
    file: &str,
    addr: u64,
    size: i64,
    mut read: impl FnMut(u64, &mut [u8]) -> bool,
) -> Result<(), QmpError> {
    use crate::dump::{DumpError, Sink};
    let failed = |e: DumpError| {
        QmpError::generic(match e {
            DumpError::Write { err, .. } => format!(
                "writing memory to '{file}' failed: {}",
                crate::qmp::os_error_text(&err)
            ),
            other => other.to_string(),
        })
    };
    let mut out = Sink::create_with_mode(std::path::Path::new(file), 0o666).map_err(failed)?;
    let invalid = || QmpError::generic(format!("Invalid addr 0x{addr:016x}/size {size} specified"));
    if size < 0 {
        return Err(invalid());
    }
    let mut done: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while done < size as u64 {
        let n = (size as u64 - done).min(buf.len() as u64) as usize;
        if !read(addr.wrapping_add(done), &mut buf[..n]) {
            return Err(invalid());
        }
        out.append(&buf[..n]).map_err(failed)?;
        done += n as u64;
    }
    out.finish().map_err(failed)
}

fn memsave(c: &mut Ctx<'_>, a: &Map<String, Value>) -> Result<Value, QmpError> {
    let cpu = cpu_index(c, a)?;
    let (val, size, file) = mem_args(a);
    let m = &*c.m;
    save_memory(&file, val, size, |addr, buf| {
        m.debug_mem_read_virt(cpu, addr, buf) == buf.len()
    })?;
    no_args()
}

fn pmemsave(c: &mut Ctx<'_>, a: &Map<String, Value>) -> Result<Value, QmpError> {
    let (val, size, file) = mem_args(a);
    let m = &*c.m;
    save_memory(&file, val, size, |addr, buf| {
        m.phys_read(addr, buf);
        true
    })?;
    no_args()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let mut names: Vec<_> = COMMANDS.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len(), "duplicate command");
        for e in crate::runstate::Vm::EVENTS {
            assert!(
                EVENTS.iter().any(|d| d.name == *e),
                "event {e} not declared"
            );
        }
        // The spec's allow-preconfig list.
        let pre: Vec<_> = COMMANDS
            .iter()
            .filter(|c| c.preconfig)
            .map(|c| c.name)
            .collect();
        for n in [
            "qmp_capabilities",
            "query-version",
            "query-commands",
            "query-qmp-schema",
            "query-status",
            "set-action",
            "quit",
            "x-exit-preconfig",
        ] {
            assert!(pre.contains(&n), "{n} must be allowed in preconfig");
        }
    }
}
