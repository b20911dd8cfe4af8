//! The command line: QEMU's own spellings, parsed with clap.
//!
//! QEMU writes long options with one dash (`-machine virt`, `-smp 4`). Before clap sees
//! the arguments, [`normalize`] rewrites every known single-dash long option to its
//! double-dash form, so a `qemu-system-riscv64 …` line runs unchanged. An unknown option
//! is an error that names it, with exit status 1.

use crate::machine::board::DriveConfig;
use clap::{ArgAction, Parser};

/// haltpoint: a RISC-V 64 full-system emulator built for debugging.
#[derive(Parser, Debug, Default, Clone)]
#[command(
    name = "haltpoint",
    version,
    about = "A RISC-V 64 full-system emulator built for debugging (QEMU virt compatible)",
    long_about = "haltpoint runs RV64GC guests on a QEMU-virt-compatible board: OpenSBI, Linux, \
or bare-metal programs. It accepts qemu-system-riscv64's options with their single dash.\n\n\
Without -kernel and -bios it runs a small embedded demo guest.",
    after_help = "Examples:\n  \
haltpoint                                  run the embedded demo guest\n  \
haltpoint -M virt -bios none -kernel prog.elf -nographic\n  \
haltpoint -M virt -m 512M -smp 2 -nographic -bios fw_dynamic.bin \\\n      \
-kernel Image -initrd initrd.gz -append \"console=ttyS0\"\n\n\
Single-dash long options (-machine, -smp, -kernel, ...) are accepted as QEMU spells them."
)]
pub struct Cli {
    /// Machine type and properties: virt[,dumpdtb=FILE][,vmcoreinfo=on|off]
    #[arg(short = 'M', long = "machine", value_name = "virt[,PROP=VALUE...]")]
    pub machine: Option<String>,
    /// RAM size (default unit MiB; suffixes K, M, G)
    #[arg(short = 'm', long = "memory", value_name = "SIZE")]
    pub memory: Option<String>,
    /// Number of harts: N or cpus=N
    #[arg(long = "smp", value_name = "N")]
    pub smp: Option<String>,
    /// CPU model (only rv64 / max are accepted)
    #[arg(long = "cpu", value_name = "MODEL")]
    pub cpu: Option<String>,
    /// Firmware: a file (OpenSBI fw_dynamic/fw_jump, .bin or .elf), `none`, or `default`
    #[arg(long = "bios", value_name = "FILE|none")]
    pub bios: Option<String>,
    /// Kernel: an ELF, a RISC-V Linux Image, or a flat binary
    #[arg(long = "kernel", value_name = "FILE")]
    pub kernel: Option<String>,
    /// Initial ramdisk
    #[arg(long = "initrd", value_name = "FILE")]
    pub initrd: Option<String>,
    /// Kernel command line
    #[arg(long = "append", value_name = "CMDLINE")]
    pub append: Option<String>,
    /// Use this device tree blob instead of the generated one
    #[arg(long = "dtb", value_name = "FILE")]
    pub dtb: Option<String>,
    /// No graphical output: the serial console is on stdio
    #[arg(long = "nographic", action = ArgAction::SetTrue)]
    pub nographic: bool,
    /// Serial port backend: stdio, none, null, file:PATH, mon:stdio
    #[arg(long = "serial", value_name = "DEV")]
    pub serial: Vec<String>,
    /// Display backend (only `none` exists)
    #[arg(long = "display", value_name = "TYPE")]
    pub display: Option<String>,
    /// Human monitor backend (only `none` is accepted; use QMP's human-monitor-command)
    #[arg(long = "monitor", value_name = "DEV")]
    pub monitor: Option<String>,
    /// Do not start the harts: wait for gdb or QMP `cont`
    #[arg(short = 'S', action = ArgAction::SetTrue)]
    pub freeze: bool,
    /// Shorthand for -gdb tcp::1234
    #[arg(short = 's', action = ArgAction::SetTrue)]
    pub gdb_default: bool,
    /// GDB server: tcp:[HOST]:PORT (host defaults to 127.0.0.1; port 0 picks one), unix:PATH,
    /// or chardev:ID (a -chardev socket)
    #[arg(long = "gdb", value_name = "DEV")]
    pub gdb: Vec<String>,
    /// QMP server: unix:PATH,server[=on],wait=off or tcp:HOST:PORT,server,wait=off
    #[arg(long = "qmp", value_name = "DEV")]
    pub qmp: Vec<String>,
    /// Character device definitions (socket backends for -gdb chardev:ID and -mon)
    #[arg(long = "chardev", value_name = "BACKEND,id=ID,...")]
    pub chardev: Vec<String>,
    /// Monitor on a chardev: chardev=ID,mode=control
    #[arg(long = "mon", value_name = "chardev=ID,mode=control")]
    pub mon: Vec<String>,
    /// Stop before the machine is built; configure over QMP (x-exit-preconfig)
    #[arg(long = "preconfig", action = ArgAction::SetTrue)]
    pub preconfig: bool,
    /// Exit instead of rebooting
    #[arg(long = "no-reboot", action = ArgAction::SetTrue)]
    pub no_reboot: bool,
    /// Stop instead of exiting when the guest powers off
    #[arg(long = "no-shutdown", action = ArgAction::SetTrue)]
    pub no_shutdown: bool,
    /// Actions: reboot=reset|shutdown,shutdown=poweroff|pause,panic=...,watchdog=...
    #[arg(long = "action", value_name = "EVENT=ACTION,...")]
    pub action: Vec<String>,
    /// Watchdog expiry action: reset, shutdown, poweroff, pause, debug, none, inject-nmi
    #[arg(long = "watchdog-action", value_name = "ACTION")]
    pub watchdog_action: Option<String>,
    /// Log categories, comma separated (guest_errors, unimp, in_asm, exec, int, cpu; help)
    #[arg(short = 'd', value_name = "ITEM,...")]
    pub debug_log: Option<String>,
    /// Write the log to FILE instead of stderr
    #[arg(short = 'D', value_name = "FILE")]
    pub log_file: Option<String>,
    /// Add a device: vmcoreinfo, virtio-blk-device,drive=ID, pvpanic-mmio, ...
    #[arg(long = "device", value_name = "DRIVER[,PROP=VALUE...]")]
    pub device: Vec<String>,
    /// Add a drive: file=PATH,format=raw[,if=virtio|none][,id=ID][,readonly=on]
    #[arg(long = "drive", value_name = "OPTIONS")]
    pub drive: Vec<String>,
    /// Add a fw_cfg file: name=opt/NAME,file=PATH or name=opt/NAME,string=TEXT
    #[arg(long = "fw_cfg", value_name = "name=NAME,file=PATH|string=TEXT")]
    pub fw_cfg: Vec<String>,
    /// VM name (query-name)
    #[arg(long = "name", value_name = "NAME")]
    pub name: Option<String>,
    /// Seed for the guest's randomness: the 32-byte `rng-seed` in the device tree's
    /// /chosen, as QEMU's -seed. A fixed default, so every run hands the guest the same
    /// bytes
    #[arg(long = "seed", value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Time source: `virtual` (default: mtime from retired instructions) or `wall`
    #[arg(long = "clock", value_name = "virtual|wall", default_value = "virtual")]
    pub clock: String,
    /// Kernel symbols for panic detection (ELF vmlinux or System.map; default: the
    /// -kernel ELF's own symbols)
    #[arg(long = "symbols", value_name = "FILE")]
    pub symbols: Option<String>,
    /// Functions whose execution means the guest panicked (comma separated; stopped after
    /// their prologue when --symbols is an ELF with their code, else at their entry).
    /// Default: `__crash_kexec` when the symbols have it (the kernel has printed its panic
    /// message there, which the crash utility needs), else `panic`
    #[arg(long = "panic-symbols", value_name = "NAME,...")]
    pub panic_symbols: Option<String>,
    /// Print the number of instructions retired by each hart at exit
    #[arg(long = "stats", action = ArgAction::SetTrue)]
    pub stats: bool,
    /// Stop after this many machine steps (instructions per hart) and exit with status 3
    #[arg(long = "max-steps", value_name = "N")]
    pub max_steps: Option<u64>,
    /// Keep the last N executed instructions per hart and print them when the guest
    /// panics or a hart loops on a trap (also `monitor flight` in gdb). Slows the
    /// interpreter down (one instruction per dispatch) while on.
    #[arg(long = "flight-recorder", value_name = "N")]
    pub flight_recorder: Option<usize>,
    /// When the guest panics, write a dump to FILE first (ELF; `FILE,format=kdump-zlib`,
    /// `FILE,paging=on`), then apply the panic action
    #[arg(long = "dump-on-panic", value_name = "FILE[,format=F][,paging=on]")]
    pub dump_on_panic: Option<String>,
    /// Print the QMP reference (Markdown, as docs/qmp.md) and exit
    #[arg(long = "qmp-reference", action = ArgAction::SetTrue)]
    pub qmp_reference: bool,
}

/// The servers asked for on the command line.
#[derive(Debug, Default, PartialEq)]
pub struct Servers {
    pub gdb: Option<crate::net::Endpoint>,
    pub qmp: Vec<crate::qmp::server::ListenSpec>,
}

/// A `-chardev socket,id=ID,(path=PATH|host=H,port=P),server=on[,wait=off]`.
fn parse_chardev(spec: &str) -> Result<(String, crate::qmp::server::ListenSpec), String> {
    use crate::net::{loopback_default, Endpoint};
    let opts = split_opts(spec);
    let backend = opts.first().map(|(k, _)| k.as_str()).unwrap_or_default();
    if backend != "socket" {
        return Err(format!(
            "-chardev {spec}: only 'socket' chardevs are supported"
        ));
    }
    let (mut id, mut path, mut host, mut port) = (None, None, None, None);
    let (mut server, mut wait) = (false, true);
    for (k, v) in opts.iter().skip(1) {
        let v = v.clone().unwrap_or_default();
        match k.as_str() {
            "id" => id = Some(v),
            "path" => path = Some(v),
            "host" => host = Some(v),
            "port" => port = Some(v),
            "server" => server = v.is_empty() || v == "on",
            "nowait" => wait = false,
            "wait" => wait = v.is_empty() || v == "on",
            "telnet" | "tls-creds" | "websocket" | "reconnect" => {
                return Err(format!("-chardev {spec}: '{k}' is not supported"))
            }
            _ => return Err(format!("-chardev {spec}: Invalid parameter '{k}'")),
        }
    }
    let id = id.ok_or_else(|| format!("-chardev {spec}: Parameter 'id' is missing"))?;
    if !server {
        return Err(format!(
            "-chardev {spec}: haltpoint only listens (add server=on,wait=off)"
        ));
    }
    let ep = match (path, port) {
        (Some(p), None) => Endpoint::Unix(p.into()),
        (None, Some(p)) => Endpoint::Tcp(
            loopback_default(&host.unwrap_or_default()),
            p.parse()
                .map_err(|_| format!("-chardev {spec}: bad port '{p}'"))?,
        ),
        _ => {
            return Err(format!(
                "-chardev {spec}: give either path=PATH or host=HOST,port=PORT"
            ))
        }
    };
    Ok((id, crate::qmp::server::ListenSpec { ep, wait }))
}

/// Collects the gdb and QMP servers from -gdb/-s, -qmp, -chardev and -mon.
pub fn servers(cli: &Cli) -> Result<Servers, String> {
    let mut chardevs = Vec::new();
    for c in &cli.chardev {
        let (id, spec) = parse_chardev(c)?;
        if chardevs.iter().any(|(i, _, _)| i == &id) {
            return Err(format!(
                "-chardev {c}: attempt to add duplicate chardev id '{id}'"
            ));
        }
        chardevs.push((id, spec, false));
    }
    let mut take = |id: &str, user: &str| -> Result<crate::qmp::server::ListenSpec, String> {
        match chardevs.iter_mut().find(|(i, _, _)| i == id) {
            None => Err(format!("{user}: chardev '{id}' not found")),
            Some((_, _, true)) => Err(format!("{user}: chardev '{id}' is already in use")),
            Some((_, spec, used)) => {
                *used = true;
                Ok(spec.clone())
            }
        }
    };
    let mut out = Servers::default();
    for q in &cli.qmp {
        out.qmp.push(crate::qmp::server::parse_qmp(q)?);
    }
    for m in &cli.mon {
        let mut chardev = None;
        let mut mode = "readline".to_string();
        for (k, v) in split_opts(m) {
            match (k.as_str(), v) {
                ("chardev", Some(c)) => chardev = Some(c),
                ("mode", Some(v)) => mode = v,
                ("pretty", _) => {}
                (k, _) => return Err(format!("-mon {m}: Invalid parameter '{k}'")),
            }
        }
        let id = chardev.ok_or_else(|| format!("-mon {m}: Parameter 'chardev' is missing"))?;
        if mode != "control" {
            return Err(format!(
                "-mon {m}: only mode=control (QMP) is supported; HMP is reachable through \
                 QMP's human-monitor-command"
            ));
        }
        out.qmp.push(take(&id, "-mon")?);
    }
    if cli.gdb.len() > 1 || (cli.gdb_default && !cli.gdb.is_empty()) {
        return Err("-gdb: only one gdb server is supported".into());
    }
    out.gdb = match (cli.gdb.first(), cli.gdb_default) {
        (Some(d), _) if d == "none" => None,
        (Some(d), _) => match d.strip_prefix("chardev:") {
            Some(id) => Some(take(id, "-gdb")?.ep),
            None => Some(crate::net::parse_endpoint("-gdb", d)?),
        },
        (None, true) => Some(crate::net::Endpoint::Tcp("127.0.0.1".into(), 1234)),
        (None, false) => None,
    };
    if let Some((id, _, _)) = chardevs.iter().find(|(_, _, used)| !used) {
        return Err(format!(
            "-chardev: chardev '{id}' is not used by -mon or -gdb"
        ));
    }
    Ok(out)
}

/// Long options QEMU spells with a single dash.
const LONG: &[&str] = &[
    "machine",
    "memory",
    "smp",
    "cpu",
    "bios",
    "kernel",
    "initrd",
    "append",
    "dtb",
    "nographic",
    "serial",
    "display",
    "monitor",
    "gdb",
    "qmp",
    "chardev",
    "mon",
    "preconfig",
    "no-reboot",
    "no-shutdown",
    "action",
    "watchdog-action",
    "device",
    "drive",
    "fw_cfg",
    "name",
    "clock",
    "seed",
    "symbols",
    "panic-symbols",
    "stats",
    "max-steps",
    "qmp-reference",
    "flight-recorder",
    "dump-on-panic",
    "help",
    "version",
];

/// Options that take no value.
const FLAGS: &[&str] = &[
    "nographic",
    "preconfig",
    "no-reboot",
    "no-shutdown",
    "stats",
    "qmp-reference",
    "help",
    "version",
];
/// Short options that take a value.
const SHORT_WITH_VALUE: &[&str] = &["M", "m", "d", "D"];

/// Rewrites QEMU-style single-dash long options to clap's double-dash form.
///
/// The argument after an option that takes a value is passed through untouched, so
/// `-append "-v"` keeps its value.
pub fn normalize(args: impl IntoIterator<Item = String>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut it = args.into_iter();
    if let Some(prog) = it.next() {
        out.push(prog);
    }
    while let Some(a) = it.next() {
        let Some(body) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) else {
            out.push(a);
            continue;
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let (flag, takes_value) = if name.len() == 1 {
            if !"MmdDSsh".contains(name) {
                return Err(format!("-{name}: invalid option (see haltpoint --help)"));
            }
            (format!("-{name}"), SHORT_WITH_VALUE.contains(&name))
        } else if LONG.contains(&name) {
            (format!("--{name}"), !FLAGS.contains(&name))
        } else {
            return Err(format!("-{name}: invalid option (see haltpoint --help)"));
        };
        // Values are joined with '=' so one that starts with '-' stays a value.
        let value = match inline {
            Some(v) => Some(v),
            None if takes_value => match it.next() {
                Some(v) => Some(v),
                None => return Err(format!("-{name}: requires an argument")),
            },
            None => None,
        };
        match value {
            Some(v) => out.push(format!("{flag}={v}")),
            None => out.push(flag),
        }
    }
    Ok(out)
}

/// Parses a QEMU size: a number with an optional K/M/G/T suffix, MiB by default.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.strip_prefix("size=").unwrap_or(s);
    let (num, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&s[..s.len() - 1], 1 << 20),
        Some('g' | 'G') => (&s[..s.len() - 1], 1 << 30),
        Some('t' | 'T') => (&s[..s.len() - 1], 1 << 40),
        Some('b' | 'B') => (&s[..s.len() - 1], 1),
        _ => (s, 1 << 20),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("Parameter 'size' expects a size, got '{s}'"))?;
    if !(n.is_finite() && n >= 0.0) {
        return Err(format!("Parameter 'size' expects a size, got '{s}'"));
    }
    Ok((n * mult as f64) as u64)
}

/// Splits `a=b,c=d,flag` option lists as QEMU does (",," escapes a comma).
pub fn split_opts(s: &str) -> Vec<(String, Option<String>)> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                cur.push(',');
            } else {
                parts.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (p, None),
        })
        .collect()
}

/// Parses `-smp`: `N` or `cpus=N[,...]`.
pub fn parse_smp(s: &str) -> Result<usize, String> {
    for (k, v) in split_opts(s) {
        let n = match (k.as_str(), v) {
            ("cpus", Some(v)) => v,
            (n, None) => n.to_string(),
            _ => continue,
        };
        return n
            .parse::<usize>()
            .map_err(|_| format!("Invalid -smp value '{s}'"));
    }
    Err(format!("Invalid -smp value '{s}'"))
}

/// Disks from `-drive` and `-device virtio-blk-device`, in the order they are plugged.
#[derive(Debug, Default)]
pub struct Drives {
    pub drives: Vec<DriveConfig>,
    /// Warnings to print (a format that was not given, for example).
    pub warnings: Vec<String>,
}

/// How a `-drive` is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Interface {
    /// `if=virtio`: a virtio-blk device of its own.
    Virtio,
    /// `if=none`: only through `-device virtio-blk-device,drive=ID`.
    None,
}

/// One parsed `-drive`.
struct Drive {
    /// The option as given, for messages.
    spec: String,
    id: Option<String>,
    iface: Interface,
    cfg: DriveConfig,
    taken: bool,
}

/// The qcow2 magic, "QFI\xfb": such an image is refused rather than used as raw.
const QCOW2_MAGIC: &[u8; 4] = b"QFI\xfb";

/// Parses a QEMU boolean (`on`, `off`, `yes`, `no`, `true`, `false`; a bare key is on).
pub fn parse_bool(key: &str, v: Option<&str>) -> Result<bool, String> {
    match v {
        None | Some("on" | "yes" | "true") => Ok(true),
        Some("off" | "no" | "false") => Ok(false),
        Some(_) => Err(format!("Parameter '{key}' expects 'on' or 'off'")),
    }
}

fn parse_drive(spec: &str, warnings: &mut Vec<String>) -> Result<Drive, String> {
    let err = |m: String| format!("-drive {spec}: {m}");
    let (mut file, mut format, mut iface, mut id) = (None, None, None, None);
    let mut read_only = false;
    for (k, v) in split_opts(spec) {
        let value = || {
            v.clone()
                .ok_or_else(|| err(format!("Parameter '{k}' expects a value")))
        };
        match k.as_str() {
            "file" => file = Some(value()?),
            "format" => format = Some(value()?),
            "if" => iface = Some(value()?),
            "id" => id = Some(value()?),
            "readonly" => read_only = parse_bool(&k, v.as_deref()).map_err(err)?,
            "media" if v.as_deref() == Some("disk") => {}
            "media" => return Err(err("only media=disk is supported".into())),
            // I/O always goes straight to the file, and FLUSH syncs it: every cache
            // mode behaves as writeback would with a guest that flushes.
            "cache" => match v.as_deref() {
                Some("none" | "writeback" | "writethrough" | "directsync" | "unsafe") => {}
                _ => {
                    return Err(err(format!(
                        "invalid cache option '{}'",
                        v.unwrap_or_default()
                    )))
                }
            },
            _ => return Err(err(format!("Invalid parameter '{k}'"))),
        }
    }
    let iface = match iface.as_deref() {
        // As QEMU's virt machine: the default block interface is virtio.
        None | Some("virtio") => Interface::Virtio,
        Some("none") => Interface::None,
        Some(other) => {
            return Err(err(format!(
                "interface if={other} is not supported (use if=virtio, or if=none with \
                 -device virtio-blk-device,drive=ID)"
            )))
        }
    };
    let Some(path) = file.filter(|f| !f.is_empty()) else {
        return Err(err(
            "file=PATH is required (empty drives are not supported)".into(),
        ));
    };
    match format.as_deref() {
        Some("raw") => {}
        Some(f) => {
            return Err(err(format!(
                "image format '{f}' is not supported (only format=raw)"
            )))
        }
        None => {
            let mut magic = [0u8; 4];
            let qcow2 = std::fs::File::open(&path)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
                .is_ok()
                && &magic == QCOW2_MAGIC;
            if qcow2 {
                return Err(err(format!(
                    "'{path}' is a qcow2 image; only raw images are supported"
                )));
            }
            warnings.push(format!(
                "Image format was not specified for '{path}': using raw (add format=raw)"
            ));
        }
    }
    Ok(Drive {
        spec: spec.to_string(),
        id,
        iface,
        cfg: DriveConfig {
            path,
            read_only,
            serial: String::new(),
        },
        taken: false,
    })
}

/// Resolves `-drive` and `-device` options into the disks to plug, in QEMU's order:
/// `-device virtio-blk-device` in command-line order, then each `-drive if=virtio` (QEMU
/// turns those into devices after the command line's own). Any other `-device` model is
/// refused.
pub fn drives(drive: &[String], device: &[String]) -> Result<Drives, String> {
    let mut out = Drives::default();
    let mut parsed: Vec<Drive> = Vec::new();
    for spec in drive {
        let d = parse_drive(spec, &mut out.warnings)?;
        if let Some(id) = &d.id {
            if parsed.iter().any(|p| p.id.as_deref() == Some(id)) {
                return Err(format!("-drive {spec}: Duplicate ID '{id}' for drive"));
            }
        }
        parsed.push(d);
    }
    for spec in device {
        let opts = split_opts(spec);
        let driver = opts.first().map(|p| p.0.clone()).unwrap_or_default();
        if BOARD_DEVICES.contains(&driver.as_str()) {
            board_device(spec)?;
            continue;
        }
        if driver != "virtio-blk-device" {
            return Err(format!(
                "-device {driver}: '{driver}' is not a valid device model name for this build"
            ));
        }
        let err = |m: String| format!("-device {spec}: {m}");
        let (mut drive_id, mut serial) = (None, String::new());
        for (k, v) in opts.into_iter().skip(1) {
            match (k.as_str(), v) {
                ("drive", Some(v)) => drive_id = Some(v),
                ("serial", Some(v)) => serial = v,
                ("id", Some(_)) => {}
                (k, None) if matches!(k, "drive" | "serial" | "id") => {
                    return Err(err(format!("Parameter '{k}' expects a value")))
                }
                (k, _) => return Err(err(format!("Property '{driver}.{k}' not found"))),
            }
        }
        let Some(drive_id) = drive_id else {
            return Err(err("drive property not set".into()));
        };
        let Some(d) = parsed
            .iter_mut()
            .find(|d| d.id.as_deref() == Some(drive_id.as_str()))
        else {
            return Err(err(format!(
                "Property '{driver}.drive' can't find value '{drive_id}'"
            )));
        };
        if d.iface == Interface::Virtio {
            return Err(err(format!(
                "Drive '{drive_id}' is already in use because it has been automatically \
                 connected to another device (did you need 'if=none' in the drive options?)"
            )));
        }
        if d.taken {
            return Err(err(format!("Drive '{drive_id}' is already in use")));
        }
        d.taken = true;
        out.drives.push(DriveConfig {
            serial,
            ..d.cfg.clone()
        });
    }
    for d in &parsed {
        match d.iface {
            Interface::Virtio => out.drives.push(d.cfg.clone()),
            Interface::None if !d.taken => out.warnings.push(format!(
                "-drive {}: not attached to any device (add -device virtio-blk-device,drive=ID)",
                d.spec
            )),
            Interface::None => {}
        }
    }
    Ok(out)
}

/// `-device` models that name devices the board always has (vmcoreinfo unless turned
/// off with `-machine virt,vmcoreinfo=off`): naming them is accepted, and changes nothing
/// else, however often they are named.
pub const BOARD_DEVICES: &[&str] = &["vmcoreinfo", "pvpanic-mmio"];

/// Checks a `-device` of a [`BOARD_DEVICES`] model: only `id=` may follow the model.
fn board_device(spec: &str) -> Result<(), String> {
    let opts = split_opts(spec);
    let driver = opts.first().map(|p| p.0.as_str()).unwrap_or_default();
    for (k, v) in opts.iter().skip(1) {
        match (k.as_str(), v) {
            ("id", Some(_)) => {}
            ("id", None) => return Err(format!("-device {spec}: Parameter 'id' expects a value")),
            (k, _) => return Err(format!("-device {spec}: Property '{driver}.{k}' not found")),
        }
    }
    Ok(())
}

/// True when a `-device vmcoreinfo` asks for the vmcoreinfo device (it wins over
/// `-machine virt,vmcoreinfo=off`).
pub fn wants_vmcoreinfo(device: &[String]) -> bool {
    device.iter().any(|d| {
        split_opts(d)
            .first()
            .is_some_and(|(m, _)| m == "vmcoreinfo")
    })
}

/// Files from `-fw_cfg`, and warnings to print.
#[derive(Debug, Default)]
pub struct FwCfgFiles {
    /// Name and contents, in command-line order.
    pub files: Vec<(String, Vec<u8>)>,
    pub warnings: Vec<String>,
}

/// Parses `-fw_cfg [name=]NAME,file=PATH` and `-fw_cfg [name=]NAME,string=TEXT` as QEMU
/// does: the name and exactly one of `file` and `string` are needed (`gen_id` is not
/// supported), the name is at most 55 characters, a name outside `opt/` draws QEMU's
/// warning, a string is stored without a terminating NUL.
pub fn fw_cfg_files(specs: &[String]) -> Result<FwCfgFiles, String> {
    let mut out = FwCfgFiles::default();
    for spec in specs {
        let err = |m: String| format!("-fw_cfg {spec}: {m}");
        let (mut name, mut file, mut string, mut gen_id) = (None, None, None, None);
        for (i, (k, v)) in split_opts(spec).into_iter().enumerate() {
            match (k.as_str(), v) {
                // QEMU's implied option: a first element without '=' is the name.
                (n, None) if i == 0 => name = Some(n.to_string()),
                ("name", Some(v)) => name = Some(v),
                ("file", Some(v)) => file = Some(v),
                ("string", Some(v)) => string = Some(v),
                ("gen_id", Some(v)) => gen_id = Some(v),
                (k, _) => return Err(err(format!("Invalid parameter '{k}'"))),
            }
        }
        let given = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.is_empty());
        let sources = [&file, &string, &gen_id]
            .iter()
            .filter(|o| given(o))
            .count();
        let Some(name) = name.filter(|_| sources == 1).filter(|n| !n.is_empty()) else {
            return Err(err(
                "name, plus exactly one of file, string and gen_id, are needed".into(),
            ));
        };
        if name.len() > crate::devices::fw_cfg::MAX_NAME {
            return Err(err(format!(
                "name too long (max. {} char)",
                crate::devices::fw_cfg::MAX_NAME
            )));
        }
        if given(&gen_id) {
            return Err(err("gen_id is not supported by haltpoint".into()));
        }
        if !name.starts_with("opt/") {
            out.warnings.push(err(
                "externally provided fw_cfg item names should be prefixed with \"opt/\"".into(),
            ));
        }
        let data = match (string, file) {
            (Some(s), _) if !s.is_empty() => s.into_bytes(),
            (_, Some(f)) => std::fs::read(&f).map_err(|e| err(format!("can't load {f}: {e}")))?,
            _ => Vec::new(),
        };
        out.files.push((name, data));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        std::iter::once("haltpoint".to_string())
            .chain(s.split_whitespace().map(String::from))
            .collect()
    }

    #[test]
    fn qemu_spellings() {
        let a = normalize(args(
            "-machine virt -smp 4 -m 512M -nographic -bios none -s -S",
        ))
        .unwrap();
        let cli = Cli::try_parse_from(a).unwrap();
        assert_eq!(cli.machine.as_deref(), Some("virt"));
        assert_eq!(cli.smp.as_deref(), Some("4"));
        assert_eq!(cli.memory.as_deref(), Some("512M"));
        assert!(cli.nographic && cli.gdb_default && cli.freeze);
        assert_eq!(cli.bios.as_deref(), Some("none"));
    }

    #[test]
    fn unknown_option_is_named() {
        let e = normalize(args("-frobnicate 3")).unwrap_err();
        assert!(e.contains("-frobnicate"), "{e}");
        let a = normalize(args("-append -v -kernel k")).unwrap();
        let cli = Cli::try_parse_from(a).unwrap();
        assert_eq!(cli.append.as_deref(), Some("-v"));
        assert_eq!(cli.kernel.as_deref(), Some("k"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("128").unwrap(), 128 << 20);
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_smp("cpus=2,sockets=1").unwrap(), 2);
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn disk(path: &str, read_only: bool, serial: &str) -> DriveConfig {
        DriveConfig {
            path: path.into(),
            read_only,
            serial: serial.into(),
        }
    }

    #[test]
    fn drive_forms() {
        let d = drives(
            &strs(&[
                "file=a.img,format=raw,if=virtio",
                "file=b,,c.img,format=raw,if=none,id=hd0,readonly=on",
                "file=d.img,format=raw,id=x,readonly=off,cache=unsafe,media=disk",
            ]),
            &strs(&["virtio-blk-device,drive=hd0,serial=SN1,id=blk0"]),
        )
        .unwrap();
        // -device disks first, then the if=virtio ones, in order.
        assert_eq!(
            d.drives,
            vec![
                disk("b,c.img", true, "SN1"),
                disk("a.img", false, ""),
                disk("d.img", false, ""),
            ]
        );
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let d = drives(&strs(&["file=a.img,format=raw,if=none,id=z"]), &[]).unwrap();
        assert!(d.drives.is_empty());
        assert!(d.warnings[0].contains("not attached"), "{:?}", d.warnings);
    }

    #[test]
    fn drive_errors() {
        let bad = |drive: &[&str], device: &[&str], want: &str| {
            let e = drives(&strs(drive), &strs(device)).unwrap_err();
            assert!(e.contains(want), "{drive:?} {device:?}: {e}");
        };
        bad(
            &["file=a,format=qcow2"],
            &[],
            "image format 'qcow2' is not supported",
        );
        bad(
            &["file=a,format=raw,if=scsi"],
            &[],
            "if=scsi is not supported",
        );
        bad(
            &["file=a,format=raw,if=ide"],
            &[],
            "if=ide is not supported",
        );
        bad(&["format=raw,if=virtio"], &[], "file=PATH is required");
        bad(
            &["file=a,format=raw,readonly=maybe"],
            &[],
            "'readonly' expects",
        );
        bad(
            &["file=a,format=raw,snapshot=on"],
            &[],
            "Invalid parameter 'snapshot'",
        );
        bad(&["file=a,format=raw,media=cdrom"], &[], "media=disk");
        bad(
            &[
                "file=a,format=raw,if=none,id=d",
                "file=b,format=raw,if=none,id=d",
            ],
            &[],
            "Duplicate ID 'd'",
        );
        bad(
            &[],
            &["virtio-net-device"],
            "'virtio-net-device' is not a valid device model",
        );
        bad(
            &[],
            &["vmcoreinfo,size=3"],
            "Property 'vmcoreinfo.size' not found",
        );
        bad(&[], &["virtio-blk-device"], "drive property not set");
        bad(
            &[],
            &["virtio-blk-device,drive=hd9"],
            "can't find value 'hd9'",
        );
        bad(
            &["file=a,format=raw,if=none,id=d"],
            &["virtio-blk-device,drive=d,bogus=1"],
            "Property 'virtio-blk-device.bogus' not found",
        );
        bad(
            &["file=a,format=raw,if=none,id=d"],
            &["virtio-blk-device,drive=d", "virtio-blk-device,drive=d"],
            "Drive 'd' is already in use",
        );
        bad(
            &["file=a,format=raw,if=virtio,id=d"],
            &["virtio-blk-device,drive=d"],
            "did you need 'if=none'",
        );
    }

    #[test]
    fn missing_format_warns_or_refuses_qcow2() {
        let dir = std::env::temp_dir();
        let raw = dir.join(format!("haltpoint-cli-{}-raw.img", std::process::id()));
        let qcow = dir.join(format!("haltpoint-cli-{}-q.img", std::process::id()));
        std::fs::write(&raw, [0u8; 512]).unwrap();
        std::fs::write(&qcow, b"QFI\xfb\0\0\0\x03").unwrap();
        let d = drives(&[format!("file={}", raw.display())], &[]).unwrap();
        assert_eq!(d.drives.len(), 1);
        assert!(
            d.warnings[0].contains("format was not specified"),
            "{:?}",
            d.warnings
        );
        let e = drives(&[format!("file={}", qcow.display())], &[]).unwrap_err();
        assert!(e.contains("is a qcow2 image"), "{e}");
        std::fs::remove_file(raw).ok();
        std::fs::remove_file(qcow).ok();
    }
}

#[cfg(test)]
mod fw_cfg_tests {
    use super::*;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fw_cfg_forms() {
        let path = std::env::temp_dir().join(format!("haltpoint-fwcfg-{}", std::process::id()));
        std::fs::write(&path, b"from a file").unwrap();
        let f = fw_cfg_files(&strs(&[
            "name=opt/a,string=hello,,world",
            &format!("opt/b,file={}", path.display()),
            "name=etc/c,string=x",
        ]))
        .unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(
            f.files,
            vec![
                ("opt/a".to_string(), b"hello,world".to_vec()),
                ("opt/b".to_string(), b"from a file".to_vec()),
                ("etc/c".to_string(), b"x".to_vec()),
            ]
        );
        assert_eq!(
            f.warnings,
            [
                "-fw_cfg name=etc/c,string=x: externally provided fw_cfg item names should be \
              prefixed with \"opt/\""
            ]
        );
    }

    #[test]
    fn fw_cfg_errors() {
        let bad = |spec: &str, want: &str| {
            let e = fw_cfg_files(&strs(&[spec])).unwrap_err();
            assert!(e.contains(want), "{spec}: {e}");
            assert!(e.starts_with(&format!("-fw_cfg {spec}: ")), "{e}");
        };
        let need = "name, plus exactly one of file, string and gen_id, are needed";
        bad("string=x", need);
        bad("name=opt/a", need);
        bad("name=opt/a,string=x,file=y", need);
        bad("name=,string=x", need);
        bad("name=opt/a,string=", need);
        bad(
            &format!("name=opt/{},string=x", "x".repeat(52)),
            "name too long (max. 55 char)",
        );
        bad("name=opt/a,gen_id=g", "gen_id is not supported");
        bad("name=opt/a,color=red", "Invalid parameter 'color'");
        bad(
            "name=opt/a,file=/nonexistent/f",
            "can't load /nonexistent/f: ",
        );
    }

    #[test]
    fn board_devices_are_accepted() {
        let d = drives(
            &[],
            &strs(&["vmcoreinfo", "vmcoreinfo,id=v", "pvpanic-mmio"]),
        )
        .unwrap();
        assert!(d.drives.is_empty());
        assert!(wants_vmcoreinfo(&strs(&[
            "pvpanic-mmio",
            "vmcoreinfo,id=x"
        ])));
        assert!(!wants_vmcoreinfo(&strs(&["pvpanic-mmio"])));
    }
}
