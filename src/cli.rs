//! The command line: QEMU's own spellings, parsed with clap.
//!
//! QEMU writes long options with one dash (`-machine virt`, `-smp 4`). Before clap sees
//! the arguments, [`normalize`] rewrites every known single-dash long option to its
//! double-dash form, so a `qemu-system-riscv64 …` line runs unchanged. An unknown option
//! is an error that names it, with exit status 1.

use clap::{ArgAction, Parser};

/// haltpoint: a RISC-V 64 full-system emulator built for debugging.
#[derive(Parser, Debug, Default, Clone)]
#[command(
    name = "haltpoint",
    version,
    about = "A RISC-V 64 full-system emulator built for debugging (QEMU virt compatible)",
    long_about = "haltpoint runs RV64GC guests on a QEMU-virt-compatible board: OpenSBI, Linux, \
or bare-metal programs. It accepts qemu-system-riscv64's options with their single dash.\n\n\
With no arguments it runs a small embedded demo guest.",
    after_help = "Examples:\n  \
haltpoint                                  run the embedded demo guest\n  \
haltpoint -M virt -bios none -kernel prog.elf -nographic\n  \
haltpoint -M virt -m 512M -smp 2 -nographic -bios fw_dynamic.bin \\\n      \
-kernel Image -initrd initrd.gz -append \"console=ttyS0\"\n\n\
Single-dash long options (-machine, -smp, -kernel, ...) are accepted as QEMU spells them."
)]
pub struct Cli {
    /// Machine type and properties: virt[,dumpdtb=FILE]
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
    /// GDB server: tcp:[HOST]:PORT, unix:PATH, or chardev:ID
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
    /// Add a drive: file=PATH,format=raw,if=virtio[,id=ID]
    #[arg(long = "drive", value_name = "OPTIONS")]
    pub drive: Vec<String>,
    /// Add a fw_cfg file: name=opt/NAME,file=PATH or name=opt/NAME,string=TEXT
    #[arg(long = "fw_cfg", value_name = "name=NAME,file=PATH|string=TEXT")]
    pub fw_cfg: Vec<String>,
    /// VM name (query-name)
    #[arg(long = "name", value_name = "NAME")]
    pub name: Option<String>,
    /// Time source: `virtual` (default: mtime from retired instructions) or `wall`
    #[arg(long = "clock", value_name = "virtual|wall", default_value = "virtual")]
    pub clock: String,
    /// Kernel symbols for panic detection (ELF vmlinux or System.map)
    #[arg(long = "symbols", value_name = "FILE")]
    pub symbols: Option<String>,
    /// Print the number of instructions retired by each hart at exit
    #[arg(long = "stats", action = ArgAction::SetTrue)]
    pub stats: bool,
    /// Stop after this many machine steps (instructions per hart) and exit with status 3
    #[arg(long = "max-steps", value_name = "N")]
    pub max_steps: Option<u64>,
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
    "symbols",
    "stats",
    "max-steps",
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
}
