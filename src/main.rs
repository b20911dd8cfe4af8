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

    if cli.qmp_reference {
        print!("{}", haltpoint::qmp::commands::reference());
        return Ok(0);
    }

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
    let servers = cli::servers(&cli)?;
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
    // -no-reboot, -no-shutdown, -action, -watchdog-action (QEMU applies them in this
    // order of appearance; haltpoint in this fixed order).
    let mut actions = haltpoint::runstate::Actions::default();
    if cli.no_reboot {
        actions.reboot = haltpoint::runstate::RebootAction::Shutdown;
    }
    if cli.no_shutdown {
        actions.shutdown = haltpoint::runstate::ShutdownAction::Pause;
    }
    for a in &cli.action {
        for (k, v) in cli::split_opts(a) {
            actions
                .set(&k, &v.unwrap_or_default())
                .map_err(|e| format!("-action {a}: {e}"))?;
        }
    }
    if let Some(w) = &cli.watchdog_action {
        actions
            .set("watchdog", w)
            .map_err(|_| format!("-watchdog-action {w}: unknown action (reset, shutdown, poweroff, pause, debug, none, inject-nmi)"))?;
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
    // `-bios none` without -kernel is an empty machine, as in QEMU (useful with -S and
    // a debugger or QMP that loads code).
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
        seed: cli.seed,
    };
    let machine = board::build(cfg)?;
    if let Some(f) = dumpdtb {
        std::fs::write(&f, &machine.fdt).map_err(|e| format!("Cannot write {f}: {e}"))?;
        eprintln!("haltpoint: device tree written to {f}");
        return Ok(0);
    }
    let mut machine = machine;
    machine.vm.actions = actions;
    if let Some(n) = cli.flight_recorder {
        machine.set_flight_recorder(n);
    }
    // Panic detection by symbol: --symbols FILE, else the -kernel ELF's symbols.
    // With an ELF --symbols, the traps go after the functions' prologues (see symbols.rs).
    let mut code = haltpoint::symbols::Code::new();
    let wanted = cli
        .panic_symbols
        .clone()
        .unwrap_or_else(|| haltpoint::symbols::DEFAULT_PANIC_SYMBOLS.to_string());
    let syms = match &cli.symbols {
        Some(f) => {
            let (s, c) = haltpoint::symbols::load(f, &wanted)?;
            code = c;
            Some(s)
        }
        None => {
            let s: haltpoint::symbols::Symbols = machine
                .symbols
                .iter()
                .map(|(n, a, _)| (n.clone(), *a))
                .collect();
            (!s.is_empty()).then_some(s)
        }
    };
    if let Some(syms) = syms {
        let list = match &cli.panic_symbols {
            Some(l) => l.clone(),
            None => haltpoint::symbols::default_panic_symbol(&syms).to_string(),
        };
        let (traps, missing) = haltpoint::symbols::panic_traps(&syms, &list, &code);
        if cli.symbols.is_some() && !missing.is_empty() {
            eprintln!(
                "haltpoint: warning: panic symbol(s) not found: {}",
                missing.join(", ")
            );
        }
        for (a, n) in &traps {
            log::info!("panic detection: {n} at {a:#x}");
        }
        machine.set_panic_traps(traps);
    }
    let opts = Options {
        max_steps: cli.max_steps,
        stats: cli.stats,
        stdin_console,
        raw_terminal: cli.nographic || cli.serial.iter().any(|s| s.ends_with("stdio")),
        gdb: servers.gdb,
        qmp: servers.qmp,
        freeze: cli.freeze,
        preconfig: cli.preconfig,
        dump_on_panic: cli
            .dump_on_panic
            .as_deref()
            .map(parse_dump_on_panic)
            .transpose()?,
        info: haltpoint::qmp::commands::Info {
            name: cli.name.clone(),
            // SAFETY: gettid has no preconditions and cannot fail.
            thread_id: unsafe { libc::gettid() } as i64,
        },
    };
    Ok(runner::run(machine, sink, opts))
}

/// `--dump-on-panic FILE[,format=F][,paging=on]`, checked as QMP would check it.
fn parse_dump_on_panic(spec: &str) -> Result<haltpoint::dump::DumpArgs, String> {
    let mut parts = spec.split(',');
    let file = parts.next().unwrap_or_default();
    if file.is_empty() {
        return Err("--dump-on-panic: give a file name".into());
    }
    let mut args = haltpoint::dump::DumpArgs {
        protocol: format!("file:{file}"),
        ..Default::default()
    };
    for p in parts {
        match p.split_once('=') {
            Some(("format", f)) => {
                args.format = Some(
                    haltpoint::dump::DumpFormat::from_name(f)
                        .ok_or_else(|| format!("--dump-on-panic: unknown format '{f}'"))?,
                )
            }
            Some(("paging", v)) => {
                args.paging = cli::parse_bool("paging", Some(v))
                    .map_err(|e| format!("--dump-on-panic: {e}"))?
            }
            _ => return Err(format!("--dump-on-panic: unknown option '{p}'")),
        }
    }
    haltpoint::dump::validate(&args).map_err(|e| format!("--dump-on-panic: {e}"))?;
    Ok(args)
}
