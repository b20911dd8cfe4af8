//! QEMU-style log categories (`-d guest_errors,unimp,in_asm,exec,int`) and `-D FILE`.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::sync::Mutex;

/// The `-d` categories haltpoint understands, with their help text.
pub const CATEGORIES: &[(&str, &str)] = &[
    (
        "guest_errors",
        "log when the guest misprograms a device or touches unmapped memory",
    ),
    ("unimp", "log when the guest uses an unimplemented feature"),
    (
        "in_asm",
        "show each translated page's instructions when first decoded",
    ),
    (
        "exec",
        "show a trace line for every executed instruction (slow)",
    ),
    ("int", "show interrupts and exceptions as they are taken"),
    (
        "cpu",
        "show the register file with each exec line (with exec)",
    ),
];

/// Enabled log categories and the log sink.
#[derive(Default)]
pub struct Log {
    pub guest_errors: bool,
    pub unimp: bool,
    pub in_asm: bool,
    pub exec: bool,
    pub int: bool,
    pub cpu: bool,
    file: Option<Mutex<File>>,
}

impl Log {
    /// Parses a `-d` list such as `guest_errors,unimp`.
    pub fn parse(list: &str) -> Result<Log, String> {
        let mut log = Log::default();
        log.enable(list)?;
        Ok(log)
    }

    pub fn enable(&mut self, list: &str) -> Result<(), String> {
        for item in list.split(',').filter(|s| !s.is_empty()) {
            match item {
                "guest_errors" => self.guest_errors = true,
                "unimp" => self.unimp = true,
                "in_asm" => self.in_asm = true,
                "exec" => self.exec = true,
                "int" => self.int = true,
                "cpu" => self.cpu = true,
                "help" => {
                    return Err(CATEGORIES
                        .iter()
                        .map(|(n, h)| format!("{n:<14}{h}"))
                        .collect::<Vec<_>>()
                        .join("\n"))
                }
                other => {
                    return Err(format!(
                        "Unknown log category '{other}' in -d (try -d help)"
                    ))
                }
            }
        }
        Ok(())
    }

    /// Sends log output to `path` (`-D`).
    pub fn set_file(&mut self, path: &str) -> std::io::Result<()> {
        self.file = Some(Mutex::new(File::create(path)?));
        Ok(())
    }

    pub fn write(&self, args: fmt::Arguments<'_>) {
        match &self.file {
            Some(f) => {
                if let Ok(mut f) = f.lock() {
                    let _ = writeln!(f, "{args}");
                }
            }
            None => eprint!("{args}\r\n"),
        }
    }

    pub fn guest_error(&self, args: fmt::Arguments<'_>) {
        if self.guest_errors {
            self.write(args);
        }
    }

    pub fn unimp(&self, args: fmt::Arguments<'_>) {
        if self.unimp {
            self.write(args);
        }
    }

    pub fn int(&self, args: fmt::Arguments<'_>) {
        if self.int {
            self.write(args);
        }
    }
}
