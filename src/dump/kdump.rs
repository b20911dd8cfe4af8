//! The kdump-compressed writer (makedumpfile's "diskdump" format).
//!
//! File layout (block = 4096 bytes; numbers little-endian, as the guest's):
//!
//! ```text
//! block 0                 disk_dump_header (464 bytes): "KDUMP   ", version 6, utsname,
//!                         timestamp, status = compression, block_size, sub_hdr_size,
//!                         bitmap_blocks, max_mapnr (32-bit), nr_cpus
//! block 1                 kdump_sub_header (104 bytes): phys_base, dump_level 1,
//!                         offset/size of the VMCOREINFO desc and of the notes,
//!                         max_mapnr_64; the notes follow right after it
//! block 1+sub_hdr_size    bitmap 1 (pages present), then bitmap 2 (pages dumped): one
//!                         bit per page frame from pfn 0, LSB first; both the same here
//! next block              page descriptors, one per dumped page, ascending pfn:
//!                         {u64 offset, u32 size, u32 flags, u64 page_flags = 0}
//! right after them        page data: first one zero page shared by every all-zero page,
//!                         then each page compressed when that is smaller, else raw
//! ```
//!
//! The flattened variant (kdump-zlib etc.) is a stream: a 4096-byte header
//! (`"makedumpfile"`, be64 type 1, be64 version 1), then records `{be64 offset, be64
//! size, data}` that place bytes at offsets of the layout above, then an end record
//! (offset = size = -1). `makedumpfile -R` turns it into the layout. The raw variant
//! (kdump-raw-*) writes the same bytes in place. Either way, block 0 is written last,
//! so a dump cut short has no KDUMP signature.

use super::elf::notes;
use super::{guest_bytes, lzo, Compression, DumpError, Sink, Snapshot, Writer, PAGE_SIZE};
use crate::machine::Machine;

pub const BLOCK: u64 = 4096;
pub const HEADER_SIZE: usize = 464;
pub const SUB_HEADER_SIZE: usize = 104;
pub const DESC_SIZE: u64 = 24;
const FLAT_HEADER_SIZE: usize = 4096;
/// Buffered descriptors/data are flushed past this size.
const FLUSH: usize = 1 << 20;

/// Where the desc of a VMCOREINFO note sits inside it, and its size; None when the
/// header does not fit the bytes.
pub fn note_desc(note: &[u8]) -> Option<(usize, usize)> {
    let namesz = u32::from_le_bytes(note.get(0..4)?.try_into().ok()?) as usize;
    let descsz = u32::from_le_bytes(note.get(4..8)?.try_into().ok()?) as usize;
    let off = 12usize.checked_add(namesz.checked_add(3)? & !3)?;
    (off.checked_add(descsz)? <= note.len()).then_some((off, descsz))
}

/// `OSRELEASE=` from VMCOREINFO text.
pub fn osrelease(desc: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(desc);
    text.lines()
        .find_map(|l| l.strip_prefix("OSRELEASE="))
        .map(|s| s.to_string())
}

/// Fixed header values of one dump.
#[derive(Clone, Debug)]
pub struct Header {
    pub compression: Compression,
    pub sub_hdr_size: u32,
    pub bitmap_blocks: u32,
    pub max_mapnr: u64,
    pub nr_cpus: u32,
    pub release: String,
    pub timestamp: (u64, u64),
    pub phys_base: u64,
    pub offset_vmcoreinfo: u64,
    pub size_vmcoreinfo: u64,
    pub offset_note: u64,
    pub size_note: u64,
}

fn put_str(b: &mut [u8], off: usize, s: &str) {
    let n = s.len().min(64);
    b[off..off + n].copy_from_slice(&s.as_bytes()[..n]);
}

impl Header {
    /// disk_dump_header.
    pub fn disk_dump_header(&self) -> [u8; HEADER_SIZE] {
        let mut h = [0u8; HEADER_SIZE];
        h[0..8].copy_from_slice(b"KDUMP   ");
        h[8..12].copy_from_slice(&6u32.to_le_bytes());
        // utsname at 12: sysname, nodename, release, version, machine, domainname.
        if !self.release.is_empty() {
            put_str(&mut h, 12, "Linux");
        }
        put_str(&mut h, 12 + 2 * 65, &self.release);
        put_str(&mut h, 12 + 4 * 65, "riscv64");
        h[408..416].copy_from_slice(&self.timestamp.0.to_le_bytes());
        h[416..424].copy_from_slice(&self.timestamp.1.to_le_bytes());
        h[424..428].copy_from_slice(&self.compression.flag().to_le_bytes());
        h[428..432].copy_from_slice(&(BLOCK as u32).to_le_bytes());
        h[432..436].copy_from_slice(&self.sub_hdr_size.to_le_bytes());
        h[436..440].copy_from_slice(&self.bitmap_blocks.to_le_bytes());
        let mapnr32 = self.max_mapnr.min(u32::MAX as u64) as u32;
        h[440..444].copy_from_slice(&mapnr32.to_le_bytes());
        h[460..464].copy_from_slice(&self.nr_cpus.to_le_bytes());
        h
    }

    /// kdump_sub_header.
    pub fn sub_header(&self) -> [u8; SUB_HEADER_SIZE] {
        let mut s = [0u8; SUB_HEADER_SIZE];
        s[0..8].copy_from_slice(&self.phys_base.to_le_bytes());
        s[8..12].copy_from_slice(&1u32.to_le_bytes()); // dump_level
        s[32..40].copy_from_slice(&self.offset_vmcoreinfo.to_le_bytes());
        s[40..48].copy_from_slice(&self.size_vmcoreinfo.to_le_bytes());
        s[48..56].copy_from_slice(&self.offset_note.to_le_bytes());
        s[56..64].copy_from_slice(&self.size_note.to_le_bytes());
        s[96..104].copy_from_slice(&self.max_mapnr.to_le_bytes());
        s
    }
}

/// The flattened-format stream header.
pub fn flat_header() -> Vec<u8> {
    let mut h = vec![0u8; FLAT_HEADER_SIZE];
    h[..12].copy_from_slice(b"makedumpfile");
    h[16..24].copy_from_slice(&1u64.to_be_bytes()); // type: flattened
    h[24..32].copy_from_slice(&1u64.to_be_bytes()); // version
    h
}

/// Compresses one page with reusable state.
struct Codec {
    kind: Compression,
    zlib: flate2::Compress,
    snappy: snap::raw::Encoder,
}

impl Codec {
    fn new(kind: Compression) -> Codec {
        Codec {
            kind,
            // QEMU uses zlib's best speed; the stream has a zlib header, as uncompress() wants.
            zlib: flate2::Compress::new(flate2::Compression::fast(), true),
            snappy: snap::raw::Encoder::new(),
        }
    }

    /// The compressed page in `out` when it is smaller than the page.
    fn compress(&mut self, page: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        match self.kind {
            Compression::Zlib => {
                out.reserve(page.len());
                self.zlib.reset();
                let st = self
                    .zlib
                    .compress_vec(page, out, flate2::FlushCompress::Finish);
                matches!(st, Ok(flate2::Status::StreamEnd)) && out.len() < page.len()
            }
            Compression::Snappy => {
                out.resize(snap::raw::max_compress_len(page.len()), 0);
                match self.snappy.compress(page, out) {
                    Ok(n) => {
                        out.truncate(n);
                        n < page.len()
                    }
                    Err(_) => false,
                }
            }
            Compression::Lzo => {
                lzo::compress(page, out);
                out.len() < page.len()
            }
        }
    }
}

/// Writes a kdump-compressed dump in slices.
pub struct KdumpWriter {
    header: Header,
    raw: bool,
    /// Sub header and notes, block 1 onwards (padded to sub_hdr_size blocks).
    sub: Vec<u8>,
    /// One bitmap, block-padded.
    bitmap: Vec<u8>,
    offset_bitmap: u64,
    /// Page frames to dump: (first pfn, count), ascending.
    runs: Vec<(u64, u64)>,
    run: usize,
    in_run: u64,
    started: bool,
    zero_off: u64,
    next_data: u64,
    desc_buf: Vec<u8>,
    desc_at: u64,
    data_buf: Vec<u8>,
    data_at: u64,
    codec: Codec,
    scratch: Vec<u8>,
    total: u64,
}

impl KdumpWriter {
    pub fn new(
        snap: &Snapshot,
        compression: Compression,
        raw: bool,
        timestamp: (u64, u64),
    ) -> KdumpWriter {
        let notes = notes(snap);
        let offset_note = BLOCK + SUB_HEADER_SIZE as u64;
        let (offset_vmcoreinfo, size_vmcoreinfo, release) = match &snap.vmcoreinfo {
            Some(v) => {
                let start = notes.len() - v.len();
                match note_desc(v) {
                    Some((off, size)) => (
                        offset_note + (start + off) as u64,
                        size as u64,
                        osrelease(&v[off..off + size]).unwrap_or_default(),
                    ),
                    None => (0, 0, String::new()),
                }
            }
            None => (0, 0, String::new()),
        };
        let sub_hdr_size = (SUB_HEADER_SIZE as u64 + notes.len() as u64).div_ceil(BLOCK);
        // Page frames present: every page of every region (pfn = pa / 4096).
        let runs: Vec<(u64, u64)> = snap
            .regions
            .iter()
            .map(|r| {
                (
                    r.start / PAGE_SIZE,
                    r.end().div_ceil(PAGE_SIZE) - r.start / PAGE_SIZE,
                )
            })
            .filter(|&(_, n)| n > 0)
            .collect();
        let max_mapnr = runs.iter().map(|&(p, n)| p + n).max().unwrap_or(0);
        let bitmap_len = max_mapnr.div_ceil(8).div_ceil(BLOCK) * BLOCK;
        let mut bitmap = vec![0u8; bitmap_len as usize];
        for &(p, n) in &runs {
            set_bits(&mut bitmap, p, p + n);
        }
        let bitmap_blocks = 2 * bitmap_len / BLOCK;
        let offset_bitmap = (1 + sub_hdr_size) * BLOCK;
        let offset_desc = offset_bitmap + bitmap_blocks * BLOCK;
        let pages: u64 = runs.iter().map(|&(_, n)| n).sum();
        let zero_off = offset_desc + pages * DESC_SIZE;
        let header = Header {
            compression,
            sub_hdr_size: sub_hdr_size as u32,
            bitmap_blocks: bitmap_blocks as u32,
            max_mapnr,
            nr_cpus: snap.harts.len() as u32,
            release,
            timestamp,
            phys_base: snap.phys_base,
            offset_vmcoreinfo,
            size_vmcoreinfo,
            offset_note,
            size_note: notes.len() as u64,
        };
        let mut sub = header.sub_header().to_vec();
        sub.extend_from_slice(&notes);
        sub.resize((sub_hdr_size * BLOCK) as usize, 0);
        KdumpWriter {
            header,
            raw,
            sub,
            bitmap,
            offset_bitmap,
            runs,
            run: 0,
            in_run: 0,
            started: false,
            zero_off,
            next_data: zero_off + PAGE_SIZE,
            desc_buf: Vec::new(),
            desc_at: offset_desc,
            data_buf: Vec::new(),
            data_at: zero_off,
            codec: Codec::new(compression),
            scratch: Vec::with_capacity(lzo::worst_case(PAGE_SIZE as usize)),
            total: pages * PAGE_SIZE,
        }
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Places `data` at `off` of the layout: in place, or as a flattened record.
    fn put(&self, sink: &mut Sink, off: u64, data: &[u8]) -> Result<(), DumpError> {
        if data.is_empty() {
            return Ok(());
        }
        if self.raw {
            sink.write_at(off, data)
        } else {
            let mut rec = [0u8; 16];
            rec[..8].copy_from_slice(&off.to_be_bytes());
            rec[8..].copy_from_slice(&(data.len() as u64).to_be_bytes());
            sink.append(&rec)?;
            sink.append(data)
        }
    }

    fn flush(&mut self, sink: &mut Sink) -> Result<(), DumpError> {
        let descs = std::mem::take(&mut self.desc_buf);
        self.put(sink, self.desc_at, &descs)?;
        self.desc_at += descs.len() as u64;
        self.desc_buf = descs;
        self.desc_buf.clear();
        let data = std::mem::take(&mut self.data_buf);
        self.put(sink, self.data_at, &data)?;
        self.data_at += data.len() as u64;
        self.data_buf = data;
        self.data_buf.clear();
        Ok(())
    }

    fn desc(&mut self, off: u64, size: u32, flags: u32) {
        self.desc_buf.extend_from_slice(&off.to_le_bytes());
        self.desc_buf.extend_from_slice(&size.to_le_bytes());
        self.desc_buf.extend_from_slice(&flags.to_le_bytes());
        self.desc_buf.extend_from_slice(&0u64.to_le_bytes());
    }
}

impl Writer for KdumpWriter {
    fn total(&self) -> u64 {
        self.total
    }

    fn step(
        &mut self,
        m: &Machine,
        sink: &mut Sink,
        budget: u64,
    ) -> Result<(u64, bool), DumpError> {
        if !self.started {
            if !self.raw {
                sink.append(&flat_header())?;
            }
            let sub = std::mem::take(&mut self.sub);
            self.put(sink, BLOCK, &sub)?;
            let bm = std::mem::take(&mut self.bitmap);
            self.put(sink, self.offset_bitmap, &bm)?;
            self.put(sink, self.offset_bitmap + bm.len() as u64, &bm)?;
            self.data_buf.resize(PAGE_SIZE as usize, 0); // the shared zero page
            self.started = true;
        }
        let mut done = 0;
        while done < budget {
            let Some(&(first, count)) = self.runs.get(self.run) else {
                break;
            };
            let pa = (first + self.in_run) * PAGE_SIZE;
            let page = page_of(m, pa)?;
            if page.iter().all(|&b| b == 0) {
                self.desc(self.zero_off, PAGE_SIZE as u32, 0);
            } else {
                let mut out = std::mem::take(&mut self.scratch);
                let (size, flags) = if self.codec.compress(&page, &mut out) {
                    self.data_buf.extend_from_slice(&out);
                    (out.len() as u32, self.header.compression.flag())
                } else {
                    self.data_buf.extend_from_slice(&page);
                    (PAGE_SIZE as u32, 0)
                };
                self.scratch = out;
                self.desc(self.next_data, size, flags);
                self.next_data += size as u64;
            }
            done += PAGE_SIZE;
            self.in_run += 1;
            if self.in_run == count {
                self.run += 1;
                self.in_run = 0;
            }
            if self.data_buf.len() >= FLUSH || self.desc_buf.len() >= FLUSH {
                self.flush(sink)?;
            }
        }
        self.flush(sink)?;
        Ok((done, self.run == self.runs.len()))
    }

    /// Writes block 0 (and the flattened end record): the dump is complete after this.
    fn finish(&mut self, sink: &mut Sink) -> Result<(), DumpError> {
        let mut block0 = self.header.disk_dump_header().to_vec();
        block0.resize(BLOCK as usize, 0);
        self.put(sink, 0, &block0)?;
        if !self.raw {
            sink.append(&[0xff; 16])?;
        }
        Ok(())
    }
}

/// Sets bits `[from, to)` of an LSB-first bitmap, whole bytes at a time in the middle.
fn set_bits(map: &mut [u8], from: u64, to: u64) {
    let mut b = from;
    while b < to && !b.is_multiple_of(8) {
        map[(b / 8) as usize] |= 1 << (b % 8);
        b += 1;
    }
    let whole = (to - b) / 8;
    map[(b / 8) as usize..((b / 8) + whole) as usize].fill(0xff);
    b += whole * 8;
    while b < to {
        map[(b / 8) as usize] |= 1 << (b % 8);
        b += 1;
    }
}

/// A page of guest memory; a page that straddles the end of a region reads as zero past it.
fn page_of(m: &Machine, pa: u64) -> Result<std::borrow::Cow<'_, [u8]>, DumpError> {
    if let Ok(p) = guest_bytes(m, pa, PAGE_SIZE) {
        return Ok(std::borrow::Cow::Borrowed(p));
    }
    let mut buf = vec![0u8; PAGE_SIZE as usize];
    let mut any = false;
    for (i, b) in buf.iter_mut().enumerate() {
        if let Ok(s) = guest_bytes(m, pa + i as u64, 1) {
            *b = s[0];
            any = true;
        }
    }
    if any {
        Ok(std::borrow::Cow::Owned(buf))
    } else {
        Err(DumpError::Memory(pa))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::elf::note;
    use crate::dump::{HartRegs, MemRegion};

    fn snap() -> Snapshot {
        Snapshot {
            harts: vec![
                HartRegs {
                    index: 0,
                    pc: 0x8000_0000,
                    x: [0; 32],
                    satp: 0,
                };
                2
            ],
            regions: vec![
                MemRegion {
                    start: 0x1000,
                    size: 0xf000,
                },
                MemRegion {
                    start: 0x8000_0000,
                    size: 128 << 20,
                },
            ],
            vmcoreinfo: Some(note(
                "VMCOREINFO",
                0,
                b"OSRELEASE=6.12.0-test\nPAGESIZE=4096\n",
            )),
            phys_base: 0x8000_0000,
        }
    }

    #[test]
    fn disk_dump_header_golden() {
        let w = KdumpWriter::new(&snap(), Compression::Snappy, false, (0x6500_0000, 42));
        let h = w.header().disk_dump_header();
        assert_eq!(&h[0..8], b"KDUMP   ", "signature");
        assert_eq!(h[8..12], [6, 0, 0, 0], "header_version");
        assert_eq!(&h[12..18], b"Linux\0", "utsname.sysname");
        assert_eq!(h[12 + 65], 0, "utsname.nodename: empty");
        assert_eq!(&h[142..157], b"6.12.0-test\0\0\0\0", "utsname.release");
        assert_eq!(&h[272..280], b"riscv64\0", "utsname.machine");
        assert_eq!(h[402..408], [0; 6], "padding before timestamp");
        assert_eq!(
            h[408..416],
            0x6500_0000u64.to_le_bytes(),
            "timestamp.tv_sec"
        );
        assert_eq!(h[416..424], 42u64.to_le_bytes(), "timestamp.tv_usec");
        assert_eq!(
            h[424..428],
            [4, 0, 0, 0],
            "status: DUMP_DH_COMPRESSED_SNAPPY"
        );
        assert_eq!(h[428..432], [0, 0x10, 0, 0], "block_size: 4096");
        // Notes: 2 * 396 (NT_PRSTATUS) + 12 + 12 + 36 (VMCOREINFO) after 104 bytes.
        assert_eq!(h[432..436], [1, 0, 0, 0], "sub_hdr_size: one block");
        // max_mapnr = 0x88000 pfns -> 0x11000 bytes per bitmap = 17 blocks, two bitmaps.
        assert_eq!(h[436..440], [34, 0, 0, 0], "bitmap_blocks");
        assert_eq!(h[440..444], [0, 0x80, 8, 0], "max_mapnr: 0x88000");
        assert_eq!(h[444..460], [0; 16], "total_ram_blocks .. current_cpu");
        assert_eq!(h[460..464], [2, 0, 0, 0], "nr_cpus");
    }

    #[test]
    fn sub_header_golden() {
        let w = KdumpWriter::new(&snap(), Compression::Zlib, true, (0, 0));
        let s = w.header().sub_header();
        assert_eq!(s[0..8], 0x8000_0000u64.to_le_bytes(), "phys_base");
        assert_eq!(s[8..12], [1, 0, 0, 0], "dump_level");
        assert_eq!(s[12..32], [0; 20], "split, start_pfn, end_pfn");
        // The VMCOREINFO desc: after the sub header, two NT_PRSTATUS notes and the
        // VMCOREINFO note's header (12) and name (12).
        let vmci = 4096 + 104 + 2 * 396 + 24;
        assert_eq!(s[32..40], (vmci as u64).to_le_bytes(), "offset_vmcoreinfo");
        assert_eq!(s[40..48], 36u64.to_le_bytes(), "size_vmcoreinfo");
        assert_eq!(s[48..56], 4200u64.to_le_bytes(), "offset_note");
        assert_eq!(s[56..64], (2 * 396 + 60u64).to_le_bytes(), "size_note");
        assert_eq!(s[64..96], [0; 32], "eraseinfo, start_pfn_64, end_pfn_64");
        assert_eq!(s[96..104], 0x88000u64.to_le_bytes(), "max_mapnr_64");
    }

    #[test]
    fn flat_header_golden() {
        let h = flat_header();
        assert_eq!(h.len(), 4096);
        assert_eq!(&h[..16], b"makedumpfile\0\0\0\0", "signature");
        assert_eq!(
            h[16..24],
            [0, 0, 0, 0, 0, 0, 0, 1],
            "type: be64 1 (flattened)"
        );
        assert_eq!(h[24..32], [0, 0, 0, 0, 0, 0, 0, 1], "version: be64 1");
        assert!(h[32..].iter().all(|&b| b == 0));
    }

    #[test]
    fn bitmap_ranges() {
        let mut m = [0u8; 4];
        set_bits(&mut m, 3, 21);
        assert_eq!(m, [0b1111_1000, 0xff, 0b0001_1111, 0]);
        let mut m = [0u8; 2];
        set_bits(&mut m, 8, 16);
        assert_eq!(m, [0, 0xff]);
        set_bits(&mut m, 1, 2);
        assert_eq!(m, [2, 0xff]);
    }

    #[test]
    fn note_desc_checks_bounds() {
        let n = note("VMCOREINFO", 0, b"A=1\n");
        assert_eq!(note_desc(&n), Some((24, 4)));
        assert_eq!(note_desc(&n[..20]), None);
        let mut bad = n.clone();
        bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(note_desc(&bad), None);
        assert_eq!(
            osrelease(b"X=1\nOSRELEASE=6.1.0\n").as_deref(),
            Some("6.1.0")
        );
    }
}
