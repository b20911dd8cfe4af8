//! The ELF core writer (format `elf`).
//!
//! Layout (all little-endian, ELF64):
//!
//! ```text
//! 0                ELF header (64 bytes): ET_CORE, EM_RISCV
//! 64               program headers, 56 bytes each: PT_NOTE, then the PT_LOADs
//! ...              notes: NT_PRSTATUS per hart, then the guest's VMCOREINFO note
//! ...              ".shstrtab" string table, then two section headers (null, .shstrtab)
//! page-aligned     memory: each physical range dumped, ascending, back to back
//! ```
//!
//! Memory is always laid out by physical range, once. Without `paging`, there is one
//! PT_LOAD per range with `p_vaddr = p_paddr`. With `paging`, the PT_LOADs are the
//! virtual mappings of the first hart whose satp translates ([`super::paging`]): each
//! one points (`p_offset`) into the physical layout, so memory mapped twice is stored
//! once, and physical memory that nothing maps is in the file but in no PT_LOAD.
//!
//! With 65535 or more program headers, e_phnum is 0xffff and the count is in the null
//! section header's sh_info (PN_XNUM, as QEMU and Linux do).

use super::paging::{self, PF_R, PF_W, PF_X};
use super::{guest_bytes, DumpError, DumpOptions, HartRegs, MemRegion, Sink, Snapshot, Writer};
use crate::machine::Machine;

pub const EM_RISCV: u16 = 243;
pub const ET_CORE: u16 = 4;
pub const PT_LOAD: u32 = 1;
pub const PT_NOTE: u32 = 4;
pub const NT_PRSTATUS: u32 = 1;
/// Size of the riscv64 `elf_prstatus` (the NT_PRSTATUS desc).
pub const PRSTATUS_SIZE: usize = 376;
const PN_XNUM: usize = 0xffff;
const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
const SHDR_SIZE: usize = 64;
const SHSTRTAB: &[u8] = b"\0.shstrtab\0";

fn align(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

/// An ELF note: header, name (NUL-terminated, padded to 4) and desc (padded to 4).
pub fn note(name: &str, ty: u32, desc: &[u8]) -> Vec<u8> {
    let namesz = name.len() + 1;
    let mut n = Vec::with_capacity(12 + align(namesz, 4) + align(desc.len(), 4));
    n.extend_from_slice(&(namesz as u32).to_le_bytes());
    n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    n.extend_from_slice(&ty.to_le_bytes());
    n.extend_from_slice(name.as_bytes());
    n.resize(12 + align(namesz, 4), 0);
    n.extend_from_slice(desc);
    n.resize(12 + align(namesz, 4) + align(desc.len(), 4), 0);
    n
}

/// The riscv64 NT_PRSTATUS desc of a hart: pr_pid = index + 1 at 32, pc at 112, x1..x31
/// from 120; everything else zero.
pub fn prstatus_desc(h: &HartRegs) -> [u8; PRSTATUS_SIZE] {
    let mut d = [0u8; PRSTATUS_SIZE];
    d[32..36].copy_from_slice(&(h.index + 1).to_le_bytes());
    d[112..120].copy_from_slice(&h.pc.to_le_bytes());
    for i in 1..32 {
        let o = 112 + 8 * i;
        d[o..o + 8].copy_from_slice(&h.x[i].to_le_bytes());
    }
    d
}

/// The notes of a dump, ELF or kdump: NT_PRSTATUS per hart, then the guest note as given.
pub fn notes(snap: &Snapshot) -> Vec<u8> {
    let mut n = Vec::new();
    for h in &snap.harts {
        n.extend_from_slice(&note("CORE", NT_PRSTATUS, &prstatus_desc(h)));
    }
    if let Some(v) = &snap.vmcoreinfo {
        n.extend_from_slice(v);
    }
    n
}

/// One program header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phdr {
    pub p_type: u32,
    pub p_flags: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_paddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
    pub p_align: u64,
}

impl Phdr {
    fn bytes(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.p_type.to_le_bytes());
        out.extend_from_slice(&self.p_flags.to_le_bytes());
        for v in [
            self.p_offset,
            self.p_vaddr,
            self.p_paddr,
            self.p_filesz,
            self.p_memsz,
            self.p_align,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// The ELF header.
pub fn ehdr(phnum: usize, shoff: u64) -> [u8; EHDR_SIZE] {
    let mut h = [0u8; EHDR_SIZE];
    h[0..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // ELFCLASS64
    h[5] = 1; // ELFDATA2LSB
    h[6] = 1; // EV_CURRENT
    h[16..18].copy_from_slice(&ET_CORE.to_le_bytes());
    h[18..20].copy_from_slice(&EM_RISCV.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[32..40].copy_from_slice(&(EHDR_SIZE as u64).to_le_bytes()); // e_phoff
    h[40..48].copy_from_slice(&shoff.to_le_bytes());
    h[52..54].copy_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
    h[54..56].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
    h[56..58].copy_from_slice(&(phnum.min(PN_XNUM) as u16).to_le_bytes());
    h[58..60].copy_from_slice(&(SHDR_SIZE as u16).to_le_bytes());
    h[60..62].copy_from_slice(&2u16.to_le_bytes()); // e_shnum
    h[62..64].copy_from_slice(&1u16.to_le_bytes()); // e_shstrndx
    h
}

fn shdr(out: &mut Vec<u8>, name: u32, ty: u32, offset: u64, size: u64, info: u32, align: u64) {
    out.extend_from_slice(&name.to_le_bytes());
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // sh_flags
    out.extend_from_slice(&0u64.to_le_bytes()); // sh_addr
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // sh_link
    out.extend_from_slice(&info.to_le_bytes());
    out.extend_from_slice(&align.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // sh_entsize
}

/// Physical ranges to dump: the snapshot's regions, cut to the filter.
pub fn ranges(regions: &[MemRegion], filter: Option<(u64, u64)>) -> Vec<MemRegion> {
    let (b, e) = match filter {
        Some((b, l)) => (b, b.saturating_add(l)),
        None => (0, u64::MAX),
    };
    regions
        .iter()
        .filter_map(|r| {
            let (s, t) = (r.start.max(b), r.end().min(e));
            (s < t).then_some(MemRegion {
                start: s,
                size: t - s,
            })
        })
        .collect()
}

/// Everything before the memory, and where each range's bytes go.
pub struct Layout {
    /// ELF header, program headers, notes, string table, section headers, padding.
    pub head: Vec<u8>,
    /// Physical ranges in file order, with their file offsets.
    pub ranges: Vec<(MemRegion, u64)>,
    pub phdrs: Vec<Phdr>,
}

/// Lays out a core for `snap`. `loads` are the virtual mappings for `paging` (None:
/// one PT_LOAD per physical range at its physical address).
pub fn layout(snap: &Snapshot, ranges: &[MemRegion], loads: Option<&[paging::Mapping]>) -> Layout {
    let notes = notes(snap);
    let nload = loads.map_or(ranges.len(), |l| l.len());
    let phnum = 1 + nload;
    let notes_off = EHDR_SIZE + PHDR_SIZE * phnum;
    let strtab_off = notes_off + notes.len();
    let shoff = align(strtab_off + SHSTRTAB.len(), 8);
    let mem_off = align(shoff + 2 * SHDR_SIZE, super::PAGE_SIZE as usize) as u64;
    let mut placed = Vec::with_capacity(ranges.len());
    let mut off = mem_off;
    for r in ranges {
        placed.push((*r, off));
        off += r.size;
    }
    let file_off = |pa: u64| {
        placed
            .iter()
            .find(|(r, _)| pa >= r.start && pa < r.end())
            .map_or(0, |(r, o)| o + (pa - r.start))
    };
    let mut phdrs = vec![Phdr {
        p_type: PT_NOTE,
        p_flags: 0,
        p_offset: notes_off as u64,
        p_vaddr: 0,
        p_paddr: 0,
        p_filesz: notes.len() as u64,
        p_memsz: notes.len() as u64,
        p_align: 0,
    }];
    match loads {
        None => phdrs.extend(placed.iter().map(|(r, o)| Phdr {
            p_type: PT_LOAD,
            p_flags: PF_R | PF_W | PF_X,
            p_offset: *o,
            p_vaddr: r.start,
            p_paddr: r.start,
            p_filesz: r.size,
            p_memsz: r.size,
            p_align: 0,
        })),
        Some(maps) => phdrs.extend(maps.iter().map(|m| Phdr {
            p_type: PT_LOAD,
            p_flags: m.flags,
            p_offset: file_off(m.pa),
            p_vaddr: m.va,
            p_paddr: m.pa,
            p_filesz: m.len,
            p_memsz: m.len,
            p_align: 0,
        })),
    }
    let mut head = Vec::with_capacity(mem_off as usize);
    head.extend_from_slice(&ehdr(phnum, shoff as u64));
    for p in &phdrs {
        p.bytes(&mut head);
    }
    head.extend_from_slice(&notes);
    head.extend_from_slice(SHSTRTAB);
    head.resize(shoff, 0);
    let xnum = if phnum >= PN_XNUM { phnum as u32 } else { 0 };
    shdr(&mut head, 0, 0, 0, 0, xnum, 0);
    shdr(
        &mut head,
        1,
        3, // SHT_STRTAB
        strtab_off as u64,
        SHSTRTAB.len() as u64,
        0,
        1,
    );
    head.resize(mem_off as usize, 0);
    Layout {
        head,
        ranges: placed,
        phdrs,
    }
}

/// Writes an ELF core in slices.
pub struct ElfWriter {
    layout: Layout,
    head_written: bool,
    /// Next range to write, and how far into it.
    cur: usize,
    done_in_cur: u64,
}

impl ElfWriter {
    pub fn new(
        m: &Machine,
        snap: &Snapshot,
        opts: &DumpOptions,
        warnings: &mut Vec<String>,
    ) -> Result<ElfWriter, DumpError> {
        let ranges = ranges(&snap.regions, opts.filter);
        if ranges.is_empty() {
            return Err(DumpError::Invalid("dump: no guest memory to dump".into()));
        }
        let space = if opts.paging {
            let found = snap.harts.iter().find_map(|h| {
                paging::address_space(&m.bus.ram, h.satp, &ranges).map(|a| (h.index, a))
            });
            match found {
                Some((hart, a)) => {
                    if a.truncated {
                        warnings.push(format!(
                            "The page tables of hart {hart} have more than {} entries \
                             reachable; the mappings after that are left out",
                            paging::MAX_PTE_READS
                        ));
                    }
                    Some(a.mappings)
                }
                None => {
                    warnings.push(
                        "No hart has address translation on: PT_LOADs carry physical \
                         addresses"
                            .into(),
                    );
                    None
                }
            }
        } else {
            None
        };
        Ok(ElfWriter {
            layout: layout(snap, &ranges, space.as_deref()),
            head_written: false,
            cur: 0,
            done_in_cur: 0,
        })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }
}

impl Writer for ElfWriter {
    fn total(&self) -> u64 {
        self.layout.ranges.iter().map(|(r, _)| r.size).sum()
    }

    fn step(
        &mut self,
        m: &Machine,
        sink: &mut Sink,
        budget: u64,
    ) -> Result<(u64, bool), DumpError> {
        if !self.head_written {
            if sink.seekable() {
                // The ELF header goes in last (finish), so a cut-short file is no ELF.
                sink.append(&[0u8; EHDR_SIZE])?;
                sink.append(&self.layout.head[EHDR_SIZE..])?;
            } else {
                sink.append(&self.layout.head)?;
            }
            self.head_written = true;
        }
        let mut written = 0;
        while written < budget {
            let Some(&(r, _)) = self.layout.ranges.get(self.cur) else {
                break;
            };
            let n = (r.size - self.done_in_cur).min(budget - written);
            let data = guest_bytes(m, r.start + self.done_in_cur, n)?;
            sink.append(data)?;
            written += n;
            self.done_in_cur += n;
            if self.done_in_cur == r.size {
                self.cur += 1;
                self.done_in_cur = 0;
            }
        }
        Ok((written, self.cur == self.layout.ranges.len()))
    }

    fn finish(&mut self, sink: &mut Sink) -> Result<(), DumpError> {
        if sink.seekable() {
            sink.write_at(0, &self.layout.head[..EHDR_SIZE])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hart(index: u32) -> HartRegs {
        let mut x = [0u64; 32];
        for (i, v) in x.iter_mut().enumerate() {
            *v = 0x1111_0000_0000_0000 * (i as u64 % 16) + i as u64;
        }
        HartRegs {
            index,
            pc: 0x8000_1234,
            x,
            satp: 0,
        }
    }

    #[test]
    fn elf_header_golden() {
        let h = ehdr(3, 0x1f0);
        #[rustfmt::skip]
        let want: [u8; 64] = [
            0x7f, b'E', b'L', b'F',     // EI_MAG
            2,                          // EI_CLASS: ELFCLASS64
            1,                          // EI_DATA: little-endian
            1,                          // EI_VERSION
            0,                          // EI_OSABI: none
            0, 0, 0, 0, 0, 0, 0, 0,     // EI_ABIVERSION, padding
            4, 0,                       // e_type: ET_CORE
            243, 0,                     // e_machine: EM_RISCV
            1, 0, 0, 0,                 // e_version
            0, 0, 0, 0, 0, 0, 0, 0,     // e_entry
            64, 0, 0, 0, 0, 0, 0, 0,    // e_phoff: right after this header
            0xf0, 1, 0, 0, 0, 0, 0, 0,  // e_shoff
            0, 0, 0, 0,                 // e_flags
            64, 0,                      // e_ehsize
            56, 0,                      // e_phentsize
            3, 0,                       // e_phnum
            64, 0,                      // e_shentsize
            2, 0,                       // e_shnum: null + .shstrtab
            1, 0,                       // e_shstrndx
        ];
        assert_eq!(h, want);
        // PN_XNUM: the real count moves to section 0's sh_info.
        assert_eq!(&ehdr(70_000, 0)[56..58], &[0xff, 0xff]);
    }

    #[test]
    fn prstatus_note_golden() {
        let n = note("CORE", NT_PRSTATUS, &prstatus_desc(&hart(1)));
        assert_eq!(n.len(), 12 + 8 + 376);
        #[rustfmt::skip]
        let head: [u8; 20] = [
            5, 0, 0, 0,                 // n_namesz: "CORE\0"
            0x78, 1, 0, 0,              // n_descsz: 376
            1, 0, 0, 0,                 // n_type: NT_PRSTATUS
            b'C', b'O', b'R', b'E', 0, 0, 0, 0, // name, padded to 4
        ];
        assert_eq!(n[..20], head);
        let d = &n[20..];
        assert_eq!(d[..32], [0u8; 32], "pr_info, pr_cursig, sigpend, sighold");
        assert_eq!(d[32..36], [2, 0, 0, 0], "pr_pid = hart index + 1");
        assert_eq!(d[36..112], [0u8; 76], "ppid..cstime");
        assert_eq!(d[112..120], 0x8000_1234u64.to_le_bytes(), "pr_reg[0]: pc");
        assert_eq!(
            d[120..128],
            0x1111_0000_0000_0001u64.to_le_bytes(),
            "pr_reg[1]: ra"
        );
        let t6 = 0x1111_0000_0000_0000u64 * 15 + 31;
        assert_eq!(d[360..368], t6.to_le_bytes(), "pr_reg[31]: t6");
        assert_eq!(d[368..376], [0u8; 8], "pr_fpvalid + padding");
    }

    #[test]
    fn layout_physical_and_filter() {
        let snap = Snapshot {
            harts: vec![hart(0), hart(1)],
            regions: vec![
                MemRegion {
                    start: 0x1000,
                    size: 0xf000,
                },
                MemRegion {
                    start: 0x8000_0000,
                    size: 0x10_0000,
                },
            ],
            vmcoreinfo: Some(note("VMCOREINFO", 0, b"OSRELEASE=6.1\n")),
            phys_base: 0,
        };
        let l = layout(&snap, &ranges(&snap.regions, None), None);
        assert_eq!(l.phdrs.len(), 3);
        let nsz = 2 * 396 + 12 + 12 + 16;
        assert_eq!(l.phdrs[0].p_type, PT_NOTE);
        assert_eq!(l.phdrs[0].p_offset, 64 + 3 * 56);
        assert_eq!(l.phdrs[0].p_filesz, nsz);
        assert_eq!(l.head.len() % 4096, 0);
        let mem = l.head.len() as u64;
        assert_eq!(
            l.phdrs[1],
            Phdr {
                p_type: PT_LOAD,
                p_flags: 7,
                p_offset: mem,
                p_vaddr: 0x1000,
                p_paddr: 0x1000,
                p_filesz: 0xf000,
                p_memsz: 0xf000,
                p_align: 0
            }
        );
        assert_eq!(l.phdrs[2].p_offset, mem + 0xf000);
        assert_eq!(l.phdrs[2].p_paddr, 0x8000_0000);
        // The filter cuts ranges; nothing left is an empty list.
        let f = ranges(&snap.regions, Some((0x8000_0800, 0x1000)));
        assert_eq!(
            f,
            [MemRegion {
                start: 0x8000_0800,
                size: 0x1000
            }]
        );
        assert!(ranges(&snap.regions, Some((0x2000_0000, 0x1000))).is_empty());
    }
}
