//! The human-monitor form of `dump-guest-memory`, as QEMU's HMP writes it:
//!
//! ```text
//! dump-guest-memory [-p] [-d] [-z|-l|-s|-w] [-R] FILENAME [BEGIN LENGTH]
//! ```
//!
//! `-p` paging (ELF only), `-z`/`-l`/`-s` kdump with zlib/LZO/Snappy, `-R` the raw
//! (not flattened) kdump variant, `-w` Windows dump (refused: x86-64 only), BEGIN and
//! LENGTH a physical range (ELF only). `-d` (detach) is accepted, but the gdb monitor
//! has no way to report completion later, so the dump runs to completion before the
//! command returns either way.

use super::{start_dump, DumpArgs, DumpFormat};
use crate::machine::Machine;
use std::fmt::Write;
use std::time::Instant;

/// The usage line, for `help`.
pub const USAGE: &str = "dump-guest-memory [-p] [-z|-l|-s] [-R] FILE [BEGIN LENGTH]";

fn num(s: &str) -> Option<i64> {
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok()?,
        None => s.parse::<u64>().ok()?,
    };
    i64::try_from(v).ok()
}

/// Parses the arguments into QMP's form.
pub fn parse(args: &str) -> Result<DumpArgs, String> {
    let (mut paging, mut detach, mut raw) = (false, false, false);
    let mut kind: Option<char> = None;
    let mut pos = Vec::new();
    for tok in args.split_whitespace() {
        match tok.strip_prefix('-') {
            Some(flags) if !flags.is_empty() && pos.is_empty() => {
                for c in flags.chars() {
                    match c {
                        'p' => paging = true,
                        'd' => detach = true,
                        'R' => raw = true,
                        'z' | 'l' | 's' | 'w' => {
                            if kind.is_some_and(|k| k != c) {
                                return Err("only one of '-z|-l|-s|-w' can be set".into());
                            }
                            kind = Some(c);
                        }
                        _ => return Err(format!("invalid option '-{c}'")),
                    }
                }
            }
            _ => pos.push(tok),
        }
    }
    let format = match (kind, raw) {
        (None, false) => None,
        (Some('z'), false) => Some(DumpFormat::KdumpZlib),
        (Some('l'), false) => Some(DumpFormat::KdumpLzo),
        (Some('s'), false) => Some(DumpFormat::KdumpSnappy),
        (Some('z'), true) => Some(DumpFormat::KdumpRawZlib),
        (Some('l'), true) => Some(DumpFormat::KdumpRawLzo),
        (Some('s'), true) => Some(DumpFormat::KdumpRawSnappy),
        (Some('w'), false) => Some(DumpFormat::WinDmp),
        _ => return Err("'-R' applies only to the kdump formats (-z, -l, -s)".into()),
    };
    let (file, begin, length) = match pos.as_slice() {
        [f] => (*f, None, None),
        [f, b, l] => {
            let b = num(b).ok_or_else(|| format!("invalid BEGIN '{b}'"))?;
            let l = num(l).ok_or_else(|| format!("invalid LENGTH '{l}'"))?;
            (*f, Some(b), Some(l))
        }
        _ => return Err(format!("usage: {USAGE}")),
    };
    Ok(DumpArgs {
        paging,
        protocol: format!("file:{file}"),
        detach,
        begin,
        length,
        format,
    })
}

/// Runs the command to completion; returns what to print.
pub fn run(m: &Machine, args: &str) -> String {
    let mut out = String::new();
    let a = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(out, "dump-guest-memory: {e}");
            return out;
        }
    };
    let t0 = Instant::now();
    let mut job = match start_dump(m, &a, &mut |_| None) {
        Ok(j) => j,
        Err(e) => {
            let _ = writeln!(out, "dump-guest-memory: {e}");
            return out;
        }
    };
    let result = job.run(m);
    for w in &job.warnings {
        let _ = writeln!(out, "dump-guest-memory: warning: {w}");
    }
    match result {
        Ok(p) => {
            let secs = t0.elapsed().as_secs_f64();
            let file = a.protocol.trim_start_matches("file:");
            let _ = writeln!(
                out,
                "dumped {} bytes of guest memory to {file} ({}{}) in {secs:.2} s",
                p.total,
                a.format.unwrap_or(DumpFormat::Elf).name(),
                if a.paging { ", paging" } else { "" },
            );
        }
        Err(e) => {
            let _ = writeln!(out, "dump-guest-memory: {e}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hmp_syntax() {
        let a = parse("-p core 0x80000000 4096").unwrap();
        assert!(a.paging);
        assert_eq!(a.protocol, "file:core");
        assert_eq!((a.begin, a.length), (Some(0x8000_0000), Some(4096)));
        assert_eq!(a.format, None);
        let a = parse("-z -R /tmp/x.kdump").unwrap();
        assert_eq!(a.format, Some(DumpFormat::KdumpRawZlib));
        assert_eq!(parse("-s f").unwrap().format, Some(DumpFormat::KdumpSnappy));
        assert_eq!(parse("-l f").unwrap().format, Some(DumpFormat::KdumpLzo));
        assert_eq!(
            parse("-z -s f").unwrap_err(),
            "only one of '-z|-l|-s|-w' can be set"
        );
        assert!(parse("-R f").is_err());
        assert!(parse("").unwrap_err().starts_with("usage: "));
        assert!(parse("f 1").unwrap_err().starts_with("usage: "));
        assert_eq!(parse("-q f").unwrap_err(), "invalid option '-q'");
    }
}
