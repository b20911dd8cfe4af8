//! Kernel symbols for panic detection: from an ELF's symbol table (a `vmlinux` from
//! Debian's `-dbg` package, or the `-kernel` ELF itself) or a `System.map`.
//!
//! haltpoint traps the first instruction of each panic function (`panic` by default,
//! `--panic-symbols` to change the list) with the same native breakpoints gdb uses, so a
//! kernel without pvpanic still raises GUEST_PANICKED and the panic action.

use std::collections::BTreeMap;

/// Symbol name → address.
pub type Symbols = BTreeMap<String, u64>;

/// The default list of panic functions.
pub const DEFAULT_PANIC_SYMBOLS: &str = "panic";

/// Reads symbols from an ELF file or a System.map.
pub fn load(path: &str) -> Result<Symbols, String> {
    let data = std::fs::read(path).map_err(|e| format!("--symbols {path}: {e}"))?;
    if data.starts_with(b"\x7fELF") {
        let elf = goblin::elf::Elf::parse(&data)
            .map_err(|e| format!("--symbols {path}: not a usable ELF: {e}"))?;
        let mut out = Symbols::new();
        for s in elf.syms.iter() {
            if s.st_value == 0 || s.st_type() != goblin::elf::sym::STT_FUNC {
                continue;
            }
            if let Some(n) = elf.strtab.get_at(s.st_name) {
                out.entry(n.to_string()).or_insert(s.st_value);
            }
        }
        if out.is_empty() {
            return Err(format!("--symbols {path}: the ELF has no function symbols"));
        }
        return Ok(out);
    }
    parse_system_map(&String::from_utf8_lossy(&data))
        .ok_or_else(|| format!("--symbols {path}: neither an ELF nor a System.map"))
}

/// Parses `ADDRESS TYPE NAME` lines; None when no line has that shape.
pub fn parse_system_map(text: &str) -> Option<Symbols> {
    let mut out = Symbols::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(a), Some(t), Some(n)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(a, 16) else {
            continue;
        };
        if t.len() == 1 && matches!(t, "T" | "t" | "W" | "w") && addr != 0 {
            out.entry(n.to_string()).or_insert(addr);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The panic traps for `names` (comma separated) found in `syms`, and the names that
/// were not found.
pub fn panic_traps(syms: &Symbols, names: &str) -> (BTreeMap<u64, String>, Vec<String>) {
    let mut traps = BTreeMap::new();
    let mut missing = Vec::new();
    for n in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match syms.get(n) {
            Some(&a) => {
                traps.insert(a, n.to_string());
            }
            None => missing.push(n.to_string()),
        }
    }
    (traps, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_map() {
        let m = parse_system_map(
            "ffffffff80000000 T _start\nffffffff80a0b0c0 T panic\nffffffff81000000 D data\n\
             0000000000000000 A zero\ngarbage line\n",
        )
        .unwrap();
        assert_eq!(m.get("panic"), Some(&0xffffffff80a0b0c0));
        assert!(!m.contains_key("data"), "data symbols are not code");
        let (t, missing) = panic_traps(&m, "panic, vpanic");
        assert_eq!(
            t.get(&0xffffffff80a0b0c0).map(String::as_str),
            Some("panic")
        );
        assert_eq!(missing, ["vpanic"]);
        // Debian's stub System.map has nothing usable.
        assert!(parse_system_map(
            "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n"
        )
        .is_none());
    }
}
