//! Loading firmware and kernels into guest memory, and the reset ROM.
//!
//! Images are recorded as [`Blob`]s so a reset can copy them in again, as QEMU does with
//! its ROM blobs.

use goblin::elf::{program_header::PT_LOAD, Elf};

/// Bytes to place at a physical address at every reset.
#[derive(Clone, Debug)]
pub struct Blob {
    pub name: String,
    pub addr: u64,
    pub data: Vec<u8>,
}

/// What kind of image a file holds.
#[derive(Debug, PartialEq, Eq)]
pub enum ImageKind {
    Elf,
    /// A RISC-V Linux `Image` (header magic "RISCV\0\0\0" and "RSC\x05").
    LinuxImage,
    Flat,
}

/// A loaded image: its blobs, entry point, end address and symbols of interest.
#[derive(Debug)]
pub struct Loaded {
    pub blobs: Vec<Blob>,
    pub entry: u64,
    /// One past the highest loaded byte.
    pub end: u64,
    /// Address of the HTIF `tohost` symbol, if the ELF defines one.
    pub tohost: Option<u64>,
    /// Symbols (name, address, size) from the ELF symbol table.
    pub symbols: Vec<(String, u64, u64)>,
}

pub fn kind(data: &[u8]) -> ImageKind {
    if data.len() >= 4 && &data[..4] == b"\x7fELF" {
        ImageKind::Elf
    } else if data.len() >= 0x40
        && &data[0x30..0x38] == b"RISCV\0\0\0"
        && &data[0x38..0x3c] == b"RSC\x05"
    {
        ImageKind::LinuxImage
    } else {
        ImageKind::Flat
    }
}

/// Loads an ELF by its physical addresses (p_paddr), as QEMU does.
///
/// A position-independent ELF (ET_DYN, such as Debian's OpenSBI `fw_*.elf`, linked at
/// 0) is loaded at `pie_base` instead; QEMU 7.2 refuses these.
pub fn load_elf(name: &str, data: &[u8], pie_base: u64) -> Result<Loaded, String> {
    let elf = Elf::parse(data).map_err(|e| format!("{name}: Not a usable ELF file: {e}"))?;
    if elf.header.e_machine != goblin::elf::header::EM_RISCV || !elf.is_64 {
        return Err(format!("{name}: Not a 64-bit RISC-V ELF file"));
    }
    let bias = if elf.header.e_type == goblin::elf::header::ET_DYN {
        pie_base
    } else {
        0
    };
    let mut blobs = Vec::new();
    let mut end = 0u64;
    for ph in elf.program_headers.iter().filter(|p| p.p_type == PT_LOAD) {
        let off = ph.p_offset as usize;
        let filesz = ph.p_filesz as usize;
        let bytes = data
            .get(off..off.checked_add(filesz).ok_or("bad segment")?)
            .ok_or_else(|| format!("{name}: Segment at {:#x} lies outside the file", ph.p_paddr))?;
        let mut seg = bytes.to_vec();
        // The zero-filled tail (.bss) is part of the blob so a reset clears it too.
        seg.resize(ph.p_memsz.max(ph.p_filesz) as usize, 0);
        let paddr = ph.p_paddr.wrapping_add(bias);
        end = end.max(paddr + seg.len() as u64);
        if !seg.is_empty() {
            blobs.push(Blob {
                name: name.to_string(),
                addr: paddr,
                data: seg,
            });
        }
    }
    let mut symbols = Vec::new();
    let mut tohost = None;
    for sym in elf.syms.iter() {
        if let Some(n) = elf.strtab.get_at(sym.st_name) {
            if n.is_empty() {
                continue;
            }
            let value = sym.st_value.wrapping_add(bias);
            if n == "tohost" {
                tohost = Some(value);
            }
            symbols.push((n.to_string(), value, sym.st_size));
        }
    }
    // Map the entry from virtual to physical when the two differ.
    let mut entry = elf.entry;
    for ph in elf.program_headers.iter().filter(|p| p.p_type == PT_LOAD) {
        if entry >= ph.p_vaddr && entry < ph.p_vaddr + ph.p_memsz {
            entry = entry - ph.p_vaddr + ph.p_paddr;
            break;
        }
    }
    let entry = entry.wrapping_add(bias);
    Ok(Loaded {
        blobs,
        entry,
        end,
        tohost,
        symbols,
    })
}

/// Loads a raw image (Linux Image or flat binary) at `addr`.
pub fn load_raw(name: &str, data: &[u8], addr: u64) -> Loaded {
    Loaded {
        blobs: vec![Blob {
            name: name.to_string(),
            addr,
            data: data.to_vec(),
        }],
        entry: addr,
        end: addr + data.len() as u64,
        tohost: None,
        symbols: Vec::new(),
    }
}

/// Loads any supported image: ELF at its addresses, otherwise raw at `addr`.
pub fn load_any(name: &str, data: &[u8], addr: u64) -> Result<Loaded, String> {
    match kind(data) {
        ImageKind::Elf => load_elf(name, data, addr),
        ImageKind::LinuxImage | ImageKind::Flat => Ok(load_raw(name, data, addr)),
    }
}

/// `struct fw_dynamic_info` magic ("OSBI").
pub const FW_DYNAMIC_MAGIC: u64 = 0x4942_534f;
/// fw_dynamic_info version we provide.
pub const FW_DYNAMIC_VERSION: u64 = 2;
/// fw_dynamic next_mode for S-mode.
pub const NEXT_MODE_S: u64 = 1;

/// The reset ROM, as on QEMU virt: it loads a0 = mhartid, a1 = DTB address and
/// a2 = &fw_dynamic_info, then jumps to `start`.
pub fn reset_rom(start: u64, fdt: u64, next_addr: u64) -> Vec<u8> {
    let code: [u32; 6] = [
        0x0000_0297, // auipc t0, 0
        0x0282_8613, // addi  a2, t0, 40   (fw_dynamic_info)
        0xf140_2573, // csrr  a0, mhartid
        0x0202_b583, // ld    a1, 32(t0)   (DTB address)
        0x0182_b283, // ld    t0, 24(t0)   (start address)
        0x0002_8067, // jr    t0
    ];
    let mut rom = Vec::with_capacity(0x58);
    for w in code {
        rom.extend_from_slice(&w.to_le_bytes());
    }
    rom.extend_from_slice(&start.to_le_bytes()); // 0x18
    rom.extend_from_slice(&fdt.to_le_bytes()); // 0x20
                                               // 0x28: struct fw_dynamic_info { magic, version, next_addr, next_mode, options, boot_hart }
    for v in [
        FW_DYNAMIC_MAGIC,
        FW_DYNAMIC_VERSION,
        next_addr,
        NEXT_MODE_S,
        0,
        0,
    ] {
        rom.extend_from_slice(&v.to_le_bytes());
    }
    rom
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rom_layout() {
        let rom = reset_rom(0x8000_0000, 0x8700_0000, 0x8020_0000);
        assert_eq!(&rom[0x18..0x20], &0x8000_0000u64.to_le_bytes()); // start
        assert_eq!(&rom[0x20..0x28], &0x8700_0000u64.to_le_bytes()); // dtb
        assert_eq!(&rom[0x28..0x30], &FW_DYNAMIC_MAGIC.to_le_bytes()); // magic
        assert_eq!(&rom[0x38..0x40], &0x8020_0000u64.to_le_bytes()); // next_addr
        assert_eq!(&rom[0x40..0x48], &NEXT_MODE_S.to_le_bytes()); // next_mode
    }

    #[test]
    fn detects_linux_image() {
        let mut img = vec![0u8; 0x40];
        img[0x30..0x38].copy_from_slice(b"RISCV\0\0\0");
        img[0x38..0x3c].copy_from_slice(b"RSC\x05");
        assert_eq!(kind(&img), ImageKind::LinuxImage);
        assert_eq!(kind(b"\x7fELF...."), ImageKind::Elf);
        assert_eq!(kind(&[0u8; 8]), ImageKind::Flat);
    }
}
