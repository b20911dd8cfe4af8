//! The `haltpoint` command: parses a QEMU-style command line, builds the board, runs it.

use clap::Parser;
use haltpoint::cli::{self, Cli};
use haltpoint::console::Sink;
use haltpoint::logging::Log;
use haltpoint::machine::board::{self, Config, Image};
use haltpoint::machine::layout::DEFAULT_RAM_SIZE;
use haltpoint::runner::{self, Options};
use std::process::ExitCode;

/// The demo guest run when haltpoint is started without arguments (tests/guests/demo).
static DEMO: &[u8] = include_bytes!("../tests/guests/demo/demo.elf");

/// Where Debian's opensbi package installs the generic fw_dynamic firmware.
const DEFAULT_BIOS: &[&str] = &[
    "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin",
    "/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin",
];

fn main() -> ExitCode {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .try_init();
    match real_main() {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("haltpoint: {e}");
            ExitCode::from(1)
        }
    }
}

fn read(path: &str) -> Result<Image, String> {
    let data = std::fs::read(path).map_err(|e| format!("Cannot read {path}: {e}"))?;
    Ok(Image {
        name: path.to_string(),
        data,
    })
}

fn real_main() -> Result<i32, String> {
    let raw: Vec<String> = std::env::args().collect();
    let args = cli::normalize(raw)?;
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                print!("{e}");
                return Ok(0);
            }
            return Err(e
                .to_string()
                .trim_start_matches("error: ")
                .trim_end()
                .to_string());
        }
    };

    // Without -kernel and -bios, haltpoint runs its embedded demo guest.
    let demo = cli.kernel.is_none() && cli.bios.is_none();
    let mut log = Log::default();
    if let Some(d) = &cli.debug_log {
        if d == "help" {
            println!("Log items (comma separated):");
            for (n, h) in haltpoint::logging::CATEGORIES {
                println!("{n:<14}{h}");
            }
            return Ok(0);
        }
        log.enable(d)?;
    }
    if let Some(f) = &cli.log_file {
        log.set_file(f)
            .map_err(|e| format!("Cannot open log file {f}: {e}"))?;
    }

    // -machine virt[,dumpdtb=FILE]
    let mut dumpdtb = None;
    let mut vmcoreinfo = true;
    if let Some(m) = &cli.machine {
        for (i, (k, v)) in cli::split_opts(m).into_iter().enumerate() {
            match (i, k.as_str(), v) {
                (0, "virt", None) => {}
                (0, "help", None) => {
                    println!("Supported machines are:\nvirt                 RISC-V VirtIO board (default)");
                    return Ok(0);
                }
                (0, other, None) => {
                    return Err(format!(
                        "-machine {other}: unsupported machine type (only 'virt')"
                    ))
                }
                (_, "type", Some(t)) if t == "virt" => {}
                (_, "dumpdtb", Some(f)) => dumpdtb = Some(f),
                (_, "vmcoreinfo", v) => {
                    vmcoreinfo = cli::parse_bool("vmcoreinfo", v.as_deref())
                        .map_err(|e| format!("-machine: {e}"))?
                }
                (_, "accel", Some(a)) if a == "tcg" => {}
                (_, key, _) => return Err(format!("-machine: property '{key}' is not supported")),
            }
        }
    }
    let ram_size = match &cli.memory {
        Some(s) => cli::parse_size(s)?,
        None => DEFAULT_RAM_SIZE,
    };
    let harts = match &cli.smp {
        Some(s) => cli::parse_smp(s)?,
        None => 1,
    };
    if let Some(c) = &cli.cpu {
        if !matches!(c.as_str(), "rv64" | "max" | "any") {
            return Err(format!(
                "-cpu {c}: unsupported CPU model (haltpoint provides rv64)"
            ));
        }
    }
    let clock_wall = match cli.clock.as_str() {
        "virtual" => false,
        "wall" => true,
        other => return Err(format!("--clock {other}: expected 'virtual' or 'wall'")),
    };
    // -drive and -device: the disks, in the order they are plugged.
    let drives = cli::drives(&cli.drive, &cli.device)?;
    let fw_cfg = cli::fw_cfg_files(&cli.fw_cfg)?;
    for w in drives.warnings.iter().chain(&fw_cfg.warnings) {
        eprintln!("haltpoint: warning: {w}");
    }
    for (opt, vals) in [
        ("-qmp", &cli.qmp),
        ("-chardev", &cli.chardev),
        ("-mon", &cli.mon),
    ] {
        if !vals.is_empty() {
            return Err(format!("{opt}: this server is not implemented yet"));
        }
    }
    if cli.gdb.len() > 1 || (cli.gdb_default && !cli.gdb.is_empty()) {
        return Err("-gdb: only one gdb server is supported".into());
    }
    let gdb = match (cli.gdb.first(), cli.gdb_default) {
        (Some(d), _) if d == "none" => None,
        (Some(d), _) if d.starts_with("chardev:") => {
            return Err(format!(
                "-gdb {d}: chardev backends are not implemented yet (use tcp: or unix:)"
            ))
        }
        (Some(d), _) => Some(haltpoint::gdb::server::parse_addr(d)?),
        (None, true) => Some(haltpoint::gdb::server::Addr::Tcp("127.0.0.1".into(), 1234)),
        (None, false) => None,
    };
    if cli.preconfig {
        return Err("--preconfig needs the QMP server, which is not implemented yet".into());
    }
    if let Some(m) = &cli.monitor {
        if m != "none" {
            return Err(format!(
                "-monitor {m}: only -monitor none is supported (use QMP)"
            ));
        }
    }
    if let Some(d) = &cli.display {
        if d != "none" {
            return Err(format!("-display {d}: only -display none is supported"));
        }
    }
    let mut sink = Sink::Stdout;
    let mut stdin_console = true;
    if let Some(s) = cli.serial.first() {
        match s.as_str() {
            "stdio" | "mon:stdio" => {}
            "none" | "null" => {
                sink = Sink::Discard;
                stdin_console = false;
            }
            f if f.starts_with("file:") => {
                let path = &f[5..];
                let file = std::fs::File::create(path)
                    .map_err(|e| format!("-serial {f}: cannot create {path}: {e}"))?;
                sink = Sink::File(file);
                stdin_console = false;
            }
            other => {
                return Err(format!(
                    "-serial {other}: unsupported backend (stdio, none, file:PATH)"
                ))
            }
        }
    }
    for a in &cli.action {
        for (k, v) in cli::split_opts(a) {
            let v = v.unwrap_or_default();
            let ok = match k.as_str() {
                "reboot" => matches!(v.as_str(), "reset" | "shutdown"),
                "shutdown" => matches!(v.as_str(), "poweroff" | "pause"),
                "panic" => matches!(v.as_str(), "pause" | "shutdown" | "exit-failure" | "none"),
                "watchdog" => matches!(
                    v.as_str(),
                    "reset" | "shutdown" | "poweroff" | "pause" | "debug" | "none" | "inject-nmi"
                ),
                _ => return Err(format!("-action: invalid parameter '{k}'")),
            };
            if !ok {
                return Err(format!(
                    "-action: Parameter '{k}' does not accept value '{v}'"
                ));
            }
        }
    }

    let bios = match (cli.bios.as_deref(), demo) {
        (_, true) | (Some("none"), _) => None,
        (Some("default") | None, false) => {
            let path = DEFAULT_BIOS.iter().find(|p| std::path::Path::new(p).exists()).ok_or(
                "No default firmware found: pass -bios FILE (OpenSBI fw_dynamic.bin) or -bios none",
            )?;
            Some(read(path)?)
        }
        (Some(f), false) => Some(read(f)?),
    };
    let kernel = if demo {
        Some(Image {
            name: "demo".into(),
            data: DEMO.to_vec(),
        })
    } else {
        cli.kernel.as_deref().map(read).transpose()?
    };
    if bios.is_none() && kernel.is_none() {
        return Err("Nothing to run: give -kernel FILE (and -bios FILE or -bios none)".into());
    }
    let cfg = Config {
        ram_size,
        harts,
        bios,
        kernel,
        initrd: cli.initrd.as_deref().map(read).transpose()?,
        append: cli.append.clone(),
        dtb: cli
            .dtb
            .as_deref()
            .map(|p| std::fs::read(p).map_err(|e| format!("Cannot read {p}: {e}")))
            .transpose()?,
        wall_clock: clock_wall,
        log,
        drives: drives.drives,
        fw_cfg: fw_cfg.files,
        vmcoreinfo: vmcoreinfo || cli::wants_vmcoreinfo(&cli.device),
    };
    let machine = board::build(cfg)?;
    if let Some(f) = dumpdtb {
        std::fs::write(&f, &machine.fdt).map_err(|e| format!("Cannot write {f}: {e}"))?;
        eprintln!("haltpoint: device tree written to {f}");
        return Ok(0);
    }
    let no_reboot = cli.no_reboot
        || cli.action.iter().any(|a| {
            cli::split_opts(a)
                .iter()
                .any(|(k, v)| k == "reboot" && v.as_deref() == Some("shutdown"))
        });
    let opts = Options {
        no_reboot,
        max_steps: cli.max_steps,
        stats: cli.stats,
        stdin_console,
        raw_terminal: cli.nographic || cli.serial.iter().any(|s| s.ends_with("stdio")),
        gdb,
        freeze: cli.freeze,
    };
    Ok(runner::run(machine, sink, opts))
}
