//! vmcoreinfo: where the guest tells the host about its crash-dump note.
//!
//! QEMU's `vmcoreinfo` device is only a fw_cfg file, `etc/vmcoreinfo`, that the guest may
//! write. Its 16 bytes are little-endian:
//!
//! ```text
//! 0x00 u16 host_format    formats the host understands: 1 (ELF), set at reset
//! 0x02 u16 guest_format   format of the guest's note: 0 (none, disables) or 1 (ELF)
//! 0x04 u32 size           size of the note in guest memory
//! 0x08 u64 paddr          physical address of the note
//! ```
//!
//! Only a complete 16-byte write at offset 0 registers a note (any other write to the
//! file withdraws it); [`crate::devices::fw_cfg`] applies that rule and keeps the bytes.
//! Linux's qemu_fw_cfg driver writes `guest_format = 1`, the size of its vmcoreinfo note
//! and the note's physical address, with one DMA write.
//!
//! This module reads the note back: [`read_guest_note`] checks it as QEMU does at dump
//! time (format 1, `12 <= size <= 1 MiB`, a header whose name and descriptor fit in
//! `size`) and, beyond QEMU, requires the name `VMCOREINFO` and parses the `KEY=VALUE`
//! lines of its text. A failed check is a warning for the caller to print: the dump goes
//! on without the note.

use crate::bus::Ram;
use std::collections::BTreeMap;

/// Name of the fw_cfg file.
pub const FILE: &str = "etc/vmcoreinfo";
/// Size of the file.
pub const SIZE: usize = 16;
/// `guest_format`/`host_format` value: no note.
pub const FORMAT_NONE: u16 = 0;
/// `guest_format`/`host_format` value: an ELF note.
pub const FORMAT_ELF: u16 = 1;
/// The smallest acceptable note: its 12-byte header.
pub const MIN_NOTE_SIZE: u32 = 12;
/// The largest acceptable note (QEMU's limit).
pub const MAX_NOTE_SIZE: u32 = 1 << 20;
/// The note name Linux uses (without its terminating NUL).
pub const NOTE_NAME: &str = "VMCOREINFO";

/// The contents of `etc/vmcoreinfo`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmcoreinfoReg {
    pub host_format: u16,
    pub guest_format: u16,
    pub size: u32,
    pub paddr: u64,
}

impl VmcoreinfoReg {
    /// The value after reset: everything zero but `host_format` = ELF.
    pub fn reset_value() -> VmcoreinfoReg {
        VmcoreinfoReg {
            host_format: FORMAT_ELF,
            ..VmcoreinfoReg::default()
        }
    }

    pub fn from_bytes(b: &[u8; SIZE]) -> VmcoreinfoReg {
        VmcoreinfoReg {
            host_format: u16::from_le_bytes([b[0], b[1]]),
            guest_format: u16::from_le_bytes([b[2], b[3]]),
            size: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            paddr: u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]),
        }
    }

    pub fn to_bytes(&self) -> [u8; SIZE] {
        let mut b = [0u8; SIZE];
        b[0..2].copy_from_slice(&self.host_format.to_le_bytes());
        b[2..4].copy_from_slice(&self.guest_format.to_le_bytes());
        b[4..8].copy_from_slice(&self.size.to_le_bytes());
        b[8..16].copy_from_slice(&self.paddr.to_le_bytes());
        b
    }
}

/// The guest's note, checked and parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestNote {
    /// The complete ELF note as it goes into a dump: 12-byte header, name and descriptor,
    /// each padded to 4 bytes.
    pub note: Vec<u8>,
    /// The descriptor as text (`KEY=VALUE` lines), trailing NULs removed.
    pub text: String,
    /// Every `KEY=VALUE` line of the text (`NUMBER(phys_ram_base)`, `OSRELEASE`, ...).
    pub keys: BTreeMap<String, String>,
    /// The physical base of the kernel's direct map: `NUMBER(phys_ram_base)` (riscv64),
    /// else `NUMBER(phys_base)` (x86_64's spelling).
    pub phys_base: Option<u64>,
}

impl GuestNote {
    /// Offset of the descriptor inside [`GuestNote::note`].
    pub fn desc_offset(&self) -> usize {
        12 + pad4(NOTE_NAME.len() + 1)
    }

    /// Size of the descriptor as the note header gives it.
    pub fn desc_size(&self) -> usize {
        u32::from_le_bytes([self.note[4], self.note[5], self.note[6], self.note[7]]) as usize
    }
}

fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// Parses a vmcoreinfo number: `0x`-prefixed hexadecimal, or decimal (Linux prints
/// `VMCOREINFO_NUMBER()` values with `%ld`, so negative values wrap to two's complement).
pub fn parse_number(v: &str) -> Option<u64> {
    let v = v.trim();
    if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok();
    }
    v.parse::<u64>()
        .ok()
        .or_else(|| v.parse::<i64>().ok().map(|n| n as u64))
}

/// Splits a vmcoreinfo text into its `KEY=VALUE` lines (lines without `=` are skipped;
/// a repeated key keeps its first value).
pub fn parse_keys(text: &str) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            keys.entry(k.to_string()).or_insert_with(|| v.to_string());
        }
    }
    keys
}

/// Reads and checks the note the guest registered with `reg`.
///
/// Errors are warnings in QEMU's words where QEMU has them: the caller prints them and
/// goes on without the note.
pub fn read_guest_note(ram: &Ram, reg: &VmcoreinfoReg) -> Result<GuestNote, String> {
    if reg.guest_format != FORMAT_ELF {
        return Err(format!(
            "guest note format is unsupported: {}",
            reg.guest_format
        ));
    }
    if reg.size < MIN_NOTE_SIZE || reg.size > MAX_NOTE_SIZE {
        return Err(format!("guest note size is invalid: {}", reg.size));
    }
    let mut buf = vec![0u8; reg.size as usize];
    if !ram.read_bytes(reg.paddr, &mut buf) {
        return Err(format!(
            "guest note at {:#x} ({} bytes) is outside RAM",
            reg.paddr, reg.size
        ));
    }
    let word = |o: usize| u32::from_le_bytes([buf[o], buf[o + 1], buf[o + 2], buf[o + 3]]);
    let (namesz, descsz) = (word(0) as usize, word(4) as usize);
    let total = 12usize
        .saturating_add(pad4(namesz))
        .saturating_add(pad4(descsz));
    if namesz > MAX_NOTE_SIZE as usize || descsz > MAX_NOTE_SIZE as usize || total > buf.len() {
        return Err("Invalid guest note header".into());
    }
    let name = &buf[12..12 + namesz];
    let name = name.strip_suffix(&[0]).unwrap_or(name);
    if name != NOTE_NAME.as_bytes() {
        return Err(format!(
            "guest note is named {:?}, not {NOTE_NAME:?}",
            String::from_utf8_lossy(name)
        ));
    }
    let desc_at = 12 + pad4(namesz);
    let desc = &buf[desc_at..desc_at + descsz];
    let text = String::from_utf8_lossy(desc)
        .trim_end_matches('\0')
        .to_string();
    let keys = parse_keys(&text);
    let phys_base = ["NUMBER(phys_ram_base)", "NUMBER(phys_base)"]
        .iter()
        .find_map(|k| keys.get(*k).and_then(|v| parse_number(v)));
    buf.truncate(total);
    Ok(GuestNote {
        note: buf,
        text,
        keys,
        phys_base,
    })
}

/// Builds an ELF note (`namesz`, `descsz`, `type`, padded name and descriptor), as a
/// guest would lay it out. Used by tests and by anything that needs to synthesise one.
pub fn build_note(name: &str, note_type: u32, desc: &[u8]) -> Vec<u8> {
    let namesz = name.len() + 1;
    let mut n = Vec::with_capacity(12 + pad4(namesz) + pad4(desc.len()));
    n.extend_from_slice(&(namesz as u32).to_le_bytes());
    n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    n.extend_from_slice(&note_type.to_le_bytes());
    n.extend_from_slice(name.as_bytes());
    n.resize(12 + pad4(namesz), 0);
    n.extend_from_slice(desc);
    n.resize(12 + pad4(namesz) + pad4(desc.len()), 0);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "OSRELEASE=6.12.0\nPAGESIZE=4096\nNUMBER(phys_ram_base)=2147483648\n\
NUMBER(PAGE_OFFSET)=0xff60000000000000\n";
    const AT: u64 = 0x8001_0000;

    fn ram_with(note: &[u8]) -> Ram {
        let mut ram = Ram::new(0x8000_0000, 1 << 20);
        assert!(ram.write_bytes(AT, note));
        ram
    }

    fn reg(size: u32) -> VmcoreinfoReg {
        VmcoreinfoReg {
            host_format: FORMAT_ELF,
            guest_format: FORMAT_ELF,
            size,
            paddr: AT,
        }
    }

    #[test]
    fn register_bytes_round_trip() {
        let r = VmcoreinfoReg {
            host_format: 1,
            guest_format: 1,
            size: 0x1000,
            paddr: 0x8123_4000,
        };
        #[rustfmt::skip]
        let want = [
            0x01, 0x00,                                     // host_format = ELF
            0x01, 0x00,                                     // guest_format = ELF
            0x00, 0x10, 0x00, 0x00,                         // size = 0x1000
            0x00, 0x40, 0x23, 0x81, 0x00, 0x00, 0x00, 0x00, // paddr = 0x8123_4000
        ];
        assert_eq!(r.to_bytes(), want);
        assert_eq!(VmcoreinfoReg::from_bytes(&want), r);
        assert_eq!(VmcoreinfoReg::reset_value().to_bytes()[..4], [1, 0, 0, 0]);
    }

    #[test]
    fn note_layout() {
        #[rustfmt::skip]
        let want = [
            0x0b, 0, 0, 0,                      // namesz = 11 ("VMCOREINFO\0")
            0x03, 0, 0, 0,                      // descsz = 3
            0x00, 0, 0, 0,                      // type = 0
            b'V', b'M', b'C', b'O',             // name
            b'R', b'E', b'I', b'N',
            b'F', b'O', 0, 0,                   // NUL, padding to 4
            b'A', b'=', b'1', 0,                // desc "A=1", padding to 4
        ];
        assert_eq!(build_note(NOTE_NAME, 0, b"A=1"), want);
    }

    #[test]
    fn good_note_is_parsed() {
        let note = build_note(NOTE_NAME, 0, TEXT.as_bytes());
        // Linux registers a size larger than the note (its fixed buffer): fine.
        let ram = ram_with(&note);
        let g = read_guest_note(&ram, &reg(4096)).unwrap();
        assert_eq!(g.note, note);
        assert_eq!(g.text, TEXT);
        assert_eq!(g.keys["OSRELEASE"], "6.12.0");
        assert_eq!(g.keys["NUMBER(PAGE_OFFSET)"], "0xff60000000000000");
        assert_eq!(g.phys_base, Some(0x8000_0000));
        assert_eq!(g.desc_offset(), 24);
        assert_eq!(g.desc_size(), TEXT.len());
    }

    #[test]
    fn phys_base_spellings() {
        for (text, want) in [
            ("NUMBER(phys_base)=0x1000000\n", Some(0x100_0000)),
            ("NUMBER(phys_base)=16\n", Some(16)),
            ("NUMBER(phys_ram_base)=0x80000000\n", Some(0x8000_0000)),
            ("NUMBER(phys_ram_base)=-1\n", Some(u64::MAX)),
            ("NUMBER(phys_ram_base)=junk\n", None),
            ("PAGESIZE=4096\n", None),
        ] {
            let ram = ram_with(&build_note(NOTE_NAME, 0, text.as_bytes()));
            let g = read_guest_note(&ram, &reg(256)).unwrap();
            assert_eq!(g.phys_base, want, "{text}");
        }
    }

    #[test]
    fn bad_notes_are_warnings() {
        let ram = ram_with(&build_note(NOTE_NAME, 0, TEXT.as_bytes()));
        let err = |r: VmcoreinfoReg| read_guest_note(&ram, &r).unwrap_err();
        let mut r = reg(4096);
        r.guest_format = 2;
        assert_eq!(err(r), "guest note format is unsupported: 2");
        assert_eq!(err(reg(11)), "guest note size is invalid: 11");
        assert_eq!(
            err(reg(MAX_NOTE_SIZE + 1)),
            "guest note size is invalid: 1048577"
        );
        // The note is larger than the size the guest registered.
        assert_eq!(err(reg(40)), "Invalid guest note header");
        let mut r = reg(4096);
        r.paddr = 0x8000_0000 + (1 << 20) - 100;
        assert!(err(r).contains("outside RAM"), "{}", err(r));
        // Exactly 1 MiB passes the size check (here the bytes at the RAM base are no
        // note: zeros).
        let mut r = reg(MAX_NOTE_SIZE);
        r.paddr = 0x8000_0000;
        assert_eq!(err(r), "guest note is named \"\", not \"VMCOREINFO\"");
    }

    #[test]
    fn inconsistent_headers_are_warnings() {
        let mut note = build_note(NOTE_NAME, 0, TEXT.as_bytes());
        note[4..8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes()); // descsz
        let ram = ram_with(&note);
        assert_eq!(
            read_guest_note(&ram, &reg(4096)).unwrap_err(),
            "Invalid guest note header"
        );
        let mut note = build_note(NOTE_NAME, 0, TEXT.as_bytes());
        note[0..4].copy_from_slice(&u32::MAX.to_le_bytes()); // namesz
        let ram = ram_with(&note);
        assert_eq!(
            read_guest_note(&ram, &reg(4096)).unwrap_err(),
            "Invalid guest note header"
        );
        let ram = ram_with(&build_note("CORE", 1, b"x"));
        assert!(read_guest_note(&ram, &reg(4096))
            .unwrap_err()
            .contains("named \"CORE\""));
    }

    #[test]
    fn only_the_first_note_is_used() {
        let mut two = build_note(NOTE_NAME, 0, b"A=1\n");
        two.extend(build_note(NOTE_NAME, 0, b"B=2\n"));
        let ram = ram_with(&two);
        let g = read_guest_note(&ram, &reg(two.len() as u32)).unwrap();
        assert_eq!(g.note.len(), two.len() / 2);
        assert!(g.keys.contains_key("A") && !g.keys.contains_key("B"));
    }
}
