//! virtio-blk (virtio 1.x, section 5.2): a block device over a raw host image file.
//!
//! One request queue of 256 entries. Each request is a chain of
//!
//! ```text
//! readable   header   type u32 (IN 0, OUT 1, FLUSH 4, GET_ID 8), reserved u32, sector u64
//! readable   data     (OUT: the bytes to write)
//! writable   data     (IN: the bytes read; GET_ID: the serial, up to 20 bytes)
//! writable   status   u8: OK 0, IOERR 1, UNSUPP 2 (the last byte of the chain)
//! ```
//!
//! The readable and the writable bytes are each taken as one stream, so the header may
//! share or straddle descriptors (any layout, as virtio 1.x requires). Requests are served
//! synchronously when the driver notifies the queue: reads and writes go straight to the
//! file with positioned I/O (pread/pwrite), FLUSH syncs the file's data to the host disk.
//!
//! Configuration space (little-endian):
//!
//! ```text
//! 0x00 capacity   u64  size in 512-byte sectors
//! 0x08 size_max   u32  0 (VIRTIO_BLK_F_SIZE_MAX not offered)
//! 0x0c seg_max    u32  queue size - 2 (VIRTIO_BLK_F_SEG_MAX)
//! 0x10 geometry   u32  0 (not offered)
//! 0x14 blk_size   u32  512 (VIRTIO_BLK_F_BLK_SIZE)
//! 0x18 topology   8 bytes of 0 (not offered)
//! 0x20 writeback  u8   0, unused u8
//! 0x22 num_queues u16  1
//! ```
//!
//! Guest mistakes never panic: a request with a bad sector range or length completes with
//! IOERR, an unknown type with UNSUPP, a request without room for its status is returned
//! with no status (logged under `-d guest_errors`). Host I/O errors complete with IOERR.

use super::virtio_mmio::{VirtQueue, VirtioBackend};
use super::virtqueue::{self, Chain};
use crate::bus::DevCtx;
use std::any::Any;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Name used in logs.
pub const NAME: &str = "virtio-blk";
/// virtio device type of a block device.
pub const DEVICE_ID: u32 = 2;
/// Entries of the request queue.
pub const QUEUE_SIZE: u32 = 256;
/// Bytes per sector: capacity and request sectors are in these units.
pub const SECTOR_SIZE: u64 = 512;
/// Bytes of the GET_ID answer.
pub const ID_BYTES: usize = 20;

/// Feature bits (virtio 1.x, 5.2.3).
pub mod feature {
    /// `seg_max` is valid: the most data segments in a request.
    pub const SEG_MAX: u64 = 1 << 2;
    /// The device is read-only.
    pub const RO: u64 = 1 << 5;
    /// `blk_size` is valid.
    pub const BLK_SIZE: u64 = 1 << 6;
    /// The FLUSH command is supported.
    pub const FLUSH: u64 = 1 << 9;
}

/// Request types.
pub mod req {
    pub const IN: u32 = 0;
    pub const OUT: u32 = 1;
    pub const FLUSH: u32 = 4;
    pub const GET_ID: u32 = 8;
}

/// Request status values.
pub mod status {
    pub const OK: u8 = 0;
    pub const IOERR: u8 = 1;
    pub const UNSUPP: u8 = 2;
}

/// Bytes of the request header.
const HEADER: u64 = 16;
/// Bytes copied between the file and guest RAM at a time.
const CHUNK: usize = 128 << 10;
/// Size of the configuration space presented (up to and including `num_queues`).
const CONFIG_SIZE: usize = 0x24;

/// Errors opening a drive.
#[derive(Debug)]
pub enum BlkError {
    /// The image could not be opened or sized.
    Open { path: PathBuf, source: io::Error },
    /// The image is a directory or another file that cannot hold a disk.
    NotAFile { path: PathBuf },
}

impl fmt::Display for BlkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlkError::Open { path, source } => {
                write!(f, "Could not open '{}': {source}", path.display())
            }
            BlkError::NotAFile { path } => write!(
                f,
                "Could not open '{}': not a regular file or block device",
                path.display()
            ),
        }
    }
}

impl std::error::Error for BlkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BlkError::Open { source, .. } => Some(source),
            BlkError::NotAFile { .. } => None,
        }
    }
}

/// A virtio block device backed by a raw image.
pub struct VirtioBlk {
    file: File,
    /// Image size in bytes; the last sector may be partial (it reads as zeros past the
    /// end, and writing it extends the file, as QEMU's raw format does).
    len: u64,
    read_only: bool,
    /// GET_ID answer: the serial, zero-padded.
    id: [u8; ID_BYTES],
    /// Transfer buffer, reused across requests.
    buf: Vec<u8>,
}

impl VirtioBlk {
    /// Opens the raw image at `path` (read-only when `read_only`). `serial` is the
    /// GET_ID answer, truncated to 20 bytes.
    pub fn open(path: &Path, read_only: bool, serial: &str) -> Result<VirtioBlk, BlkError> {
        let open_err = |source| BlkError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(path)
            .map_err(open_err)?;
        let ft = file.metadata().map_err(open_err)?.file_type();
        {
            use std::os::unix::fs::FileTypeExt;
            if !(ft.is_file() || ft.is_block_device()) {
                return Err(BlkError::NotAFile {
                    path: path.to_path_buf(),
                });
            }
        }
        VirtioBlk::from_file(file, read_only, serial).map_err(open_err)
    }

    /// A device over an open image file.
    pub fn from_file(mut file: File, read_only: bool, serial: &str) -> io::Result<VirtioBlk> {
        let len = file.seek(SeekFrom::End(0))?;
        let mut id = [0u8; ID_BYTES];
        let n = serial.len().min(ID_BYTES);
        id[..n].copy_from_slice(&serial.as_bytes()[..n]);
        Ok(VirtioBlk {
            file,
            len,
            read_only,
            id,
            buf: vec![0; CHUNK],
        })
    }

    /// Capacity in 512-byte sectors (a partial last sector counts).
    pub fn capacity(&self) -> u64 {
        self.len.div_ceil(SECTOR_SIZE)
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    fn config(&self) -> [u8; CONFIG_SIZE] {
        let mut c = [0u8; CONFIG_SIZE];
        c[0x00..0x08].copy_from_slice(&self.capacity().to_le_bytes()); // capacity
        c[0x0c..0x10].copy_from_slice(&(QUEUE_SIZE - 2).to_le_bytes()); // seg_max
        c[0x14..0x18].copy_from_slice(&(SECTOR_SIZE as u32).to_le_bytes()); // blk_size
        c[0x22..0x24].copy_from_slice(&1u16.to_le_bytes()); // num_queues
        c
    }

    /// Serves one request chain; returns the bytes written into it.
    fn request(&mut self, chain: &Chain, ctx: &mut DevCtx) -> u32 {
        let writable = chain.writable_len();
        if writable == 0 {
            ctx.guest_error(
                NAME,
                format_args!("request at head {} has no status byte", chain.head),
            );
            return 0;
        }
        let status_at = writable - 1;
        let mut header = [0u8; HEADER as usize];
        let (st, data_written) = if !chain.read(ctx, 0, &mut header) {
            ctx.guest_error(
                NAME,
                format_args!("request at head {} has a short header", chain.head),
            );
            (status::IOERR, 0)
        } else {
            let kind = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let mut s = [0u8; 8];
            s.copy_from_slice(&header[8..]);
            let sector = u64::from_le_bytes(s);
            match kind {
                req::IN => self.read(chain, ctx, sector, status_at),
                req::OUT => (self.write(chain, ctx, sector), 0),
                req::FLUSH => (self.flush(), 0),
                req::GET_ID => {
                    let n = (ID_BYTES as u64).min(status_at);
                    let id = self.id;
                    chain.write(ctx, 0, &id[..n as usize]);
                    (status::OK, n)
                }
                other => {
                    ctx.unimp(NAME, format_args!("request type {other}"));
                    (status::UNSUPP, 0)
                }
            }
        };
        chain.write(ctx, status_at, &[st]);
        // At most MAX_CHAIN_BYTES + 1, which fits.
        (data_written + 1) as u32
    }

    /// Checks a transfer of `len` bytes at `sector`; logs and returns false when it is
    /// not whole sectors or runs past the end of the disk.
    fn in_range(&self, ctx: &DevCtx, what: &str, sector: u64, len: u64) -> bool {
        let end = sector
            .checked_mul(SECTOR_SIZE)
            .and_then(|start| start.checked_add(len));
        let ok = len.is_multiple_of(SECTOR_SIZE)
            && end.is_some_and(|e| e <= self.capacity() * SECTOR_SIZE);
        if !ok {
            ctx.guest_error(
                NAME,
                format_args!(
                    "{what} of {len} bytes at sector {sector} is outside the disk of {} sectors",
                    self.capacity()
                ),
            );
        }
        ok
    }

    /// IN: reads `len` bytes at `sector` into the writable stream. Returns the status and
    /// the data bytes written.
    fn read(&mut self, chain: &Chain, ctx: &mut DevCtx, sector: u64, len: u64) -> (u8, u64) {
        if !self.in_range(ctx, "read", sector, len) {
            return (status::IOERR, 0);
        }
        let mut pos = sector * SECTOR_SIZE;
        let mut done = 0u64;
        for (addr, seg) in chain.segments(true, 0, len) {
            let mut off = 0u64;
            while off < seg {
                let n = (seg - off).min(CHUNK as u64) as usize;
                if let Err(e) = read_full_at(&self.file, &mut self.buf[..n], pos) {
                    log::error!("virtio-blk: read at byte {pos}: {e}");
                    return (status::IOERR, done);
                }
                if !ctx.dma_write(addr + off, &self.buf[..n]) {
                    return (status::IOERR, done);
                }
                (off, pos, done) = (off + n as u64, pos + n as u64, done + n as u64);
            }
        }
        (status::OK, done)
    }

    /// OUT: writes the readable stream after the header at `sector`.
    fn write(&mut self, chain: &Chain, ctx: &mut DevCtx, sector: u64) -> u8 {
        let len = chain.readable_len() - HEADER;
        if self.read_only {
            ctx.guest_error(NAME, format_args!("write to a read-only disk"));
            return status::IOERR;
        }
        if !self.in_range(ctx, "write", sector, len) {
            return status::IOERR;
        }
        let mut pos = sector * SECTOR_SIZE;
        for (addr, seg) in chain.segments(false, HEADER, len) {
            let mut off = 0u64;
            while off < seg {
                let n = (seg - off).min(CHUNK as u64) as usize;
                if !ctx.dma_read(addr + off, &mut self.buf[..n]) {
                    return status::IOERR;
                }
                if let Err(e) = self.file.write_all_at(&self.buf[..n], pos) {
                    log::error!("virtio-blk: write at byte {pos}: {e}");
                    return status::IOERR;
                }
                (off, pos) = (off + n as u64, pos + n as u64);
            }
        }
        status::OK
    }

    /// FLUSH: the writes so far reach the host disk.
    fn flush(&mut self) -> u8 {
        if self.read_only {
            return status::OK;
        }
        match self.file.sync_data() {
            Ok(()) => status::OK,
            Err(e) => {
                log::error!("virtio-blk: flush: {e}");
                status::IOERR
            }
        }
    }
}

/// Fills `buf` from `file` at `pos`; bytes past the end of the file read as zeros.
fn read_full_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], pos + done as u64) {
            Ok(0) => {
                buf[done..].fill(0);
                break;
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl VirtioBackend for VirtioBlk {
    fn device_id(&self) -> u32 {
        DEVICE_ID
    }

    fn features(&self) -> u64 {
        let ro = if self.read_only { feature::RO } else { 0 };
        feature::SEG_MAX | feature::BLK_SIZE | feature::FLUSH | ro
    }

    fn num_queues(&self) -> usize {
        1
    }

    fn queue_max_size(&self, _q: usize) -> u32 {
        QUEUE_SIZE
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        let c = self.config();
        for (i, d) in data.iter_mut().enumerate() {
            let at = offset.saturating_add(i as u64);
            *d = usize::try_from(at)
                .ok()
                .and_then(|a| c.get(a))
                .copied()
                .unwrap_or(0);
        }
    }

    fn notify(&mut self, index: usize, queue: &mut VirtQueue, ctx: &mut DevCtx) -> bool {
        if index != 0 {
            ctx.guest_error(NAME, format_args!("notify of missing queue {index}"));
            return false;
        }
        virtqueue::process(queue, ctx, NAME, |chain, ctx| self.request(chain, ctx))
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Bus;
    use crate::devices::virtqueue::tests::*;
    use crate::devices::virtqueue::{DESC_F_NEXT as NEXT, DESC_F_WRITE as WRITE};

    /// A scratch image file, removed when dropped.
    struct Img(PathBuf);

    impl Img {
        /// `sectors` sectors, sector n filled with byte n.
        fn new(name: &str, sectors: u64) -> Img {
            let path = std::env::temp_dir()
                .join(format!("haltpoint-blk-{}-{name}.img", std::process::id()));
            let data: Vec<u8> = (0..sectors * SECTOR_SIZE)
                .map(|i| (i / SECTOR_SIZE) as u8)
                .collect();
            std::fs::write(&path, data).expect("write test image");
            Img(path)
        }

        fn bytes(&self) -> Vec<u8> {
            std::fs::read(&self.0).expect("read test image")
        }
    }

    impl Drop for Img {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    const HDR: u64 = BUF;
    const DATA: u64 = BUF + 0x1000;
    const STATUS: u64 = BUF + 0x800;

    fn header(bus: &mut Bus, kind: u32, sector: u64) {
        let mut h = [0u8; 16];
        h[..4].copy_from_slice(&kind.to_le_bytes()); // type
        h[4..8].copy_from_slice(&0u32.to_le_bytes()); // reserved
        h[8..].copy_from_slice(&sector.to_le_bytes()); // sector
        assert!(bus.ram.write_bytes(HDR, &h));
        assert!(bus.ram.write_bytes(STATUS, &[0xff])); // so a written status shows
    }

    /// Sets up the usual 3-descriptor request at head 0: header, data (`data_flags`),
    /// status. `data_len` 0 leaves out the data descriptor.
    fn request(bus: &mut Bus, kind: u32, sector: u64, data_len: u32, data_flags: u16) {
        header(bus, kind, sector);
        if data_len == 0 {
            set_desc(bus, 0, HDR, 16, NEXT, 2);
        } else {
            set_desc(bus, 0, HDR, 16, NEXT, 1);
            set_desc(bus, 1, DATA, data_len, data_flags | NEXT, 2);
        }
        set_desc(bus, 2, STATUS, 1, WRITE, 0);
    }

    /// Notifies queue 0 once with head 0 published as entry `n`; returns (interrupt,
    /// status byte, used length).
    fn serve(bus: &mut Bus, dev: &mut VirtioBlk, q: &mut VirtQueue, n: u16) -> (bool, u8, u32) {
        publish(bus, 16, n, &[0], 0);
        let irq = with_ctx(bus, |ctx| dev.notify(0, q, ctx));
        let (idx, (id, len)) = used(bus, n, 16);
        assert_eq!((idx, id), (n.wrapping_add(1), 0));
        let mut st = [0u8; 1];
        assert!(bus.ram.read_bytes(STATUS, &mut st));
        (irq, st[0], len)
    }

    fn open(img: &Img, ro: bool) -> VirtioBlk {
        match VirtioBlk::open(&img.0, ro, "hp-serial-0123456789-extra") {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn identity_features_and_config() {
        let img = Img::new("cfg", 16);
        let dev = open(&img, false);
        assert_eq!(dev.device_id(), 2);
        assert_eq!(dev.num_queues(), 1);
        assert_eq!(dev.queue_max_size(0), 256);
        assert_eq!(dev.features(), (1 << 2) | (1 << 6) | (1 << 9));
        let mut c = [0xaau8; 0x28];
        dev.read_config(0, &mut c);
        #[rustfmt::skip]
        let want = [
            16, 0, 0, 0, 0, 0, 0, 0, // capacity: 16 sectors
            0, 0, 0, 0,              // size_max
            254, 0, 0, 0,            // seg_max
            0, 0, 0, 0,              // geometry
            0, 2, 0, 0,              // blk_size: 512
            0, 0, 0, 0, 0, 0, 0, 0,  // topology
            0, 0,                    // writeback, unused
            1, 0,                    // num_queues
            0, 0, 0, 0,              // past the end
        ];
        assert_eq!(c, want);
        let mut b = [0u8; 2];
        dev.read_config(0x14, &mut b);
        assert_eq!(b, [0, 2]);
        dev.read_config(u64::MAX, &mut b);
        assert_eq!(b, [0, 0]);
        let ro = open(&img, true);
        assert_eq!(ro.features() & (1 << 5), 1 << 5);
    }

    #[test]
    fn read_write_flush_get_id() {
        let img = Img::new("rw", 16);
        let mut dev = open(&img, false);
        let mut bus = ram_bus();
        let mut q = queue(16);
        // Read sectors 3 and 4.
        request(&mut bus, req::IN, 3, 1024, WRITE);
        assert_eq!(
            serve(&mut bus, &mut dev, &mut q, 0),
            (true, status::OK, 1025)
        );
        let mut got = vec![0u8; 1024];
        assert!(bus.ram.read_bytes(DATA, &mut got));
        assert!(got[..512].iter().all(|&b| b == 3) && got[512..].iter().all(|&b| b == 4));
        // Write sector 5.
        request(&mut bus, req::OUT, 5, 512, 0);
        assert!(bus.ram.write_bytes(DATA, &[0x5a; 512]));
        assert_eq!(serve(&mut bus, &mut dev, &mut q, 1), (true, status::OK, 1));
        let disk = img.bytes();
        assert!(disk[5 * 512..6 * 512].iter().all(|&b| b == 0x5a));
        assert!(disk[4 * 512..5 * 512].iter().all(|&b| b == 4));
        assert!(disk[6 * 512..7 * 512].iter().all(|&b| b == 6));
        // Flush.
        request(&mut bus, req::FLUSH, 0, 0, 0);
        assert_eq!(serve(&mut bus, &mut dev, &mut q, 2), (true, status::OK, 1));
        // GET_ID into a 32-byte buffer: 20 bytes, truncated serial.
        request(&mut bus, req::GET_ID, 0, 32, WRITE);
        assert!(bus.ram.write_bytes(DATA, &[0xee; 32]));
        assert_eq!(serve(&mut bus, &mut dev, &mut q, 3), (true, status::OK, 21));
        let mut id = [0u8; 32];
        assert!(bus.ram.read_bytes(DATA, &mut id));
        assert_eq!(&id[..20], b"hp-serial-0123456789");
        assert_eq!(id[20..], [0xee; 12]);
        // GET_ID of a short serial is zero-padded; into a 4-byte buffer, 4 bytes.
        let mut short =
            VirtioBlk::from_file(std::fs::File::open(&img.0).expect("reopen"), true, "ab")
                .expect("device");
        request(&mut bus, req::GET_ID, 0, 32, WRITE);
        assert_eq!(
            serve(&mut bus, &mut short, &mut q, 4),
            (true, status::OK, 21)
        );
        assert!(bus.ram.read_bytes(DATA, &mut id));
        assert_eq!(&id[..20], b"ab\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        request(&mut bus, req::GET_ID, 0, 4, WRITE);
        assert!(bus.ram.write_bytes(DATA, &[0xee; 8]));
        assert_eq!(serve(&mut bus, &mut dev, &mut q, 5), (true, status::OK, 5));
        assert!(bus.ram.read_bytes(DATA, &mut id[..8]));
        assert_eq!(&id[..8], b"hp-s\xee\xee\xee\xee");
    }

    #[test]
    fn header_and_data_may_share_descriptors() {
        // One readable descriptor: header then data; one writable: data then status.
        let img = Img::new("layout", 8);
        let mut dev = open(&img, false);
        let mut bus = ram_bus();
        let mut q = queue(16);
        header(&mut bus, req::OUT, 1);
        assert!(bus.ram.write_bytes(HDR + 16, &[0x77; 512]));
        set_desc(&mut bus, 0, HDR, 16 + 512, NEXT, 2);
        set_desc(&mut bus, 2, STATUS, 1, WRITE, 0);
        assert_eq!(serve(&mut bus, &mut dev, &mut q, 0), (true, status::OK, 1));
        assert!(img.bytes()[512..1024].iter().all(|&b| b == 0x77));
        // Read sector 1 into a buffer whose last byte is the status.
        header(&mut bus, req::IN, 1);
        set_desc(&mut bus, 0, HDR, 16, NEXT, 2);
        set_desc(&mut bus, 2, DATA, 513, WRITE, 0);
        publish(&mut bus, 16, 1, &[0], 0);
        assert!(with_ctx(&mut bus, |ctx| dev.notify(0, &mut q, ctx)));
        assert_eq!(used(&bus, 1, 16), (2, (0, 513)));
        let mut got = [0u8; 513];
        assert!(bus.ram.read_bytes(DATA, &mut got));
        assert!(got[..512].iter().all(|&b| b == 0x77));
        assert_eq!(got[512], status::OK);
    }

    #[test]
    fn out_of_range_and_partial_sectors_fail_with_ioerr() {
        let img = Img::new("range", 8);
        let mut dev = open(&img, false);
        let mut bus = ram_bus();
        let mut q = queue(16);
        let cases: [(u32, u64, u32); 6] = [
            (req::IN, 8, 512),              // starts at the end
            (req::IN, 7, 1024),             // runs past the end
            (req::OUT, 7, 1024),            // runs past the end
            (req::IN, u64::MAX / 256, 512), // sector * 512 overflows
            (req::IN, 0, 100),              // not whole sectors
            (req::OUT, 0, 100),             // not whole sectors
        ];
        for (n, &(kind, sector, len)) in cases.iter().enumerate() {
            let flags = if kind == req::IN { WRITE } else { 0 };
            request(&mut bus, kind, sector, len, flags);
            assert!(bus.ram.write_bytes(DATA, &[0xcc; 1024]));
            assert_eq!(
                serve(&mut bus, &mut dev, &mut q, n as u16),
                (true, status::IOERR, 1),
                "case {n}"
            );
            let mut b = [0u8; 1024];
            assert!(bus.ram.read_bytes(DATA, &mut b));
            assert!(b.iter().all(|&x| x == 0xcc), "case {n}: no data moved");
        }
        let disk = img.bytes();
        assert_eq!(disk.len(), 8 * 512);
        assert!(disk[..512].iter().all(|&b| b == 0) && disk[7 * 512..].iter().all(|&b| b == 7));
    }

    #[test]
    fn read_only_disk_refuses_writes() {
        let img = Img::new("ro", 4);
        let mut dev = open(&img, true);
        let mut bus = ram_bus();
        let mut q = queue(16);
        request(&mut bus, req::OUT, 0, 512, 0);
        assert_eq!(
            serve(&mut bus, &mut dev, &mut q, 0),
            (true, status::IOERR, 1)
        );
        request(&mut bus, req::FLUSH, 0, 0, 0);
        assert_eq!(serve(&mut bus, &mut dev, &mut q, 1), (true, status::OK, 1));
        assert!(img.bytes()[..512].iter().all(|&b| b == 0));
    }

    #[test]
    fn unknown_requests_are_unsupported() {
        let img = Img::new("unsupp", 4);
        let mut dev = open(&img, false);
        let mut bus = ram_bus();
        let mut q = queue(16);
        for (n, kind) in [11u32, 13, 0x8000_0000].into_iter().enumerate() {
            request(&mut bus, kind, 0, 0, 0);
            assert_eq!(
                serve(&mut bus, &mut dev, &mut q, n as u16),
                (true, status::UNSUPP, 1)
            );
        }
    }

    #[test]
    fn malformed_requests_never_panic() {
        let img = Img::new("bad", 4);
        let mut dev = open(&img, false);
        let mut bus = ram_bus();
        let mut q = queue(16);
        // No writable byte: no status can be given; used length 0.
        header(&mut bus, req::IN, 0);
        set_desc(&mut bus, 0, HDR, 16, 0, 0);
        assert_eq!(serve(&mut bus, &mut dev, &mut q, 0), (true, 0xff, 0));
        // A short header: IOERR.
        set_desc(&mut bus, 0, HDR, 8, NEXT, 2);
        set_desc(&mut bus, 2, STATUS, 1, WRITE, 0);
        assert_eq!(
            serve(&mut bus, &mut dev, &mut q, 1),
            (true, status::IOERR, 1)
        );
        // A descriptor loop: returned unprocessed, status untouched.
        header(&mut bus, req::IN, 0);
        set_desc(&mut bus, 0, HDR, 16, NEXT, 1);
        set_desc(&mut bus, 1, DATA, 512, WRITE | NEXT, 0);
        assert_eq!(serve(&mut bus, &mut dev, &mut q, 2), (true, 0xff, 0));
        // A data buffer outside RAM: returned unprocessed.
        request(&mut bus, req::IN, 0, 512, WRITE);
        set_desc(&mut bus, 1, 0x1000_0000, 512, WRITE | NEXT, 2);
        assert_eq!(serve(&mut bus, &mut dev, &mut q, 3), (true, 0xff, 0));
        // The device still works afterwards.
        request(&mut bus, req::IN, 1, 512, WRITE);
        assert_eq!(
            serve(&mut bus, &mut dev, &mut q, 4),
            (true, status::OK, 513)
        );
        // Notify of a queue that does not exist.
        assert!(!with_ctx(&mut bus, |ctx| dev.notify(1, &mut q, ctx)));
    }

    #[test]
    fn partial_last_sector_reads_zeros() {
        let img = Img::new("partial", 2);
        std::fs::write(&img.0, [9u8; 700]).expect("rewrite image");
        let mut dev = open(&img, false);
        assert_eq!(dev.capacity(), 2);
        let mut bus = ram_bus();
        let mut q = queue(16);
        request(&mut bus, req::IN, 1, 512, WRITE);
        assert_eq!(
            serve(&mut bus, &mut dev, &mut q, 0),
            (true, status::OK, 513)
        );
        let mut got = [0u8; 512];
        assert!(bus.ram.read_bytes(DATA, &mut got));
        assert!(got[..188].iter().all(|&b| b == 9) && got[188..].iter().all(|&b| b == 0));
    }

    #[test]
    fn open_errors_are_clear() {
        let missing = std::env::temp_dir().join("haltpoint-no-such-disk.img");
        let e = VirtioBlk::open(&missing, false, "")
            .err()
            .expect("must fail");
        assert!(e.to_string().starts_with("Could not open '"), "{e}");
        assert!(e.to_string().contains("No such file"), "{e}");
        let e = VirtioBlk::open(&std::env::temp_dir(), true, "")
            .err()
            .expect("a directory must fail");
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn through_the_transport() {
        use crate::devices::testutil::{bus_with, rd, wr};
        use crate::devices::virtio_mmio::VirtioMmio;
        const B: u64 = 0x1000_8000;
        let img = Img::new("mmio", 8);
        let dev = VirtioMmio::with_backend(8, Box::new(open(&img, false)));
        let mut bus = bus_with(1, B, Some(8), Box::new(dev));
        assert_eq!(rd(&mut bus, B + 0x008, 4), 2); // DeviceID
        assert_eq!(rd(&mut bus, B + 0x100, 4), 8); // capacity, low word
        wr(&mut bus, B + 0x070, 4, 1 | 2); // ACKNOWLEDGE | DRIVER
        wr(&mut bus, B + 0x024, 4, 0);
        wr(&mut bus, B + 0x020, 4, 1 << 9); // FLUSH
        wr(&mut bus, B + 0x024, 4, 1);
        wr(&mut bus, B + 0x020, 4, 1); // VERSION_1
        wr(&mut bus, B + 0x070, 4, 1 | 2 | 8); // FEATURES_OK
        assert_eq!(rd(&mut bus, B + 0x070, 4), 0xb);
        wr(&mut bus, B + 0x030, 4, 0); // QueueSel
        assert_eq!(rd(&mut bus, B + 0x034, 4), 256); // QueueNumMax
        wr(&mut bus, B + 0x038, 4, 16); // QueueNum
        wr(&mut bus, B + 0x080, 4, DESC & 0xffff_ffff);
        wr(&mut bus, B + 0x090, 4, AVAIL & 0xffff_ffff);
        wr(&mut bus, B + 0x0a0, 4, USED & 0xffff_ffff);
        wr(&mut bus, B + 0x044, 4, 1); // QueueReady
        wr(&mut bus, B + 0x070, 4, 0xf); // DRIVER_OK
        request(&mut bus, req::IN, 6, 512, WRITE);
        publish(&mut bus, 16, 0, &[0], 0);
        wr(&mut bus, B + 0x050, 4, 0); // QueueNotify
        assert!(bus.irq.level(8));
        assert_eq!(rd(&mut bus, B + 0x060, 4), 1); // InterruptStatus: used buffer
        assert_eq!(used(&bus, 0, 16), (1, (0, 513)));
        assert_eq!(bus.ram.read_u32(DATA), Some(0x0606_0606));
        let mut st = [0xffu8; 1];
        assert!(bus.ram.read_bytes(STATUS, &mut st));
        assert_eq!(st[0], status::OK);
    }

    #[test]
    fn random_rings_never_panic() {
        use crate::devices::testutil::Rng;
        let img = Img::new("fuzz", 64);
        let mut dev = open(&img, false);
        let mut bus = ram_bus();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut q = queue(16);
        let mut served = [0u32; 3];
        for round in 0..3000u32 {
            // Five requests of three descriptors (header, data, status) at 3j..3j+2 with
            // data of 0 to 2 sectors in either direction, then random damage: any field
            // of any descriptor may be replaced by something arbitrary.
            for j in 0..5u16 {
                let (i, base) = (3 * j, BUF + u64::from(j) * 0x1000);
                let dir = if rng.below(2) == 0 { WRITE } else { 0 };
                set_desc(&mut bus, i, base, 16, NEXT, i + 1);
                let data = 512 * rng.below(3) as u32;
                set_desc(&mut bus, i + 1, base + 0x100, data, dir | NEXT, i + 2);
                set_desc(&mut bus, i + 2, base + 0x800, 1, WRITE, 0);
            }
            for _ in 0..rng.below(4) {
                let at = DESC + 16 * rng.below(16) + rng.below(16);
                let junk = match rng.below(4) {
                    0 => rng.next(),
                    1 => rng.below(32),
                    2 => RAM + (1 << 20) - rng.below(1024),
                    _ => 0,
                };
                let n = [1, 2, 4, 8][rng.below(4) as usize];
                let _ = bus.ram.write_bytes(at, &junk.to_le_bytes()[..n]);
            }
            // Headers of every type, sectors near the end of the disk.
            for k in 0..5u64 {
                let mut h = [0u8; 16];
                h[..4].copy_from_slice(&(rng.below(10) as u32).to_le_bytes());
                h[8..].copy_from_slice(&(rng.below(80)).to_le_bytes());
                assert!(bus.ram.write_bytes(BUF + k * 0x1000, &h));
            }
            let count = if rng.below(16) == 0 {
                rng.next() as u16
            } else {
                rng.below(17) as u16
            };
            let heads: Vec<u16> = (0..count.min(64))
                .map(|_| match rng.below(8) {
                    0 => rng.below(18) as u16,
                    _ => 3 * rng.below(5) as u16,
                })
                .collect();
            publish(&mut bus, 16, q.last_avail, &heads, rng.below(2) as u16);
            if count > 64 {
                let idx = q.last_avail.wrapping_add(count);
                assert!(bus.ram.write_bytes(AVAIL + 2, &idx.to_le_bytes()));
            }
            let before = q.last_avail;
            with_ctx(&mut bus, |ctx| dev.notify(0, &mut q, ctx));
            let moved = q.last_avail.wrapping_sub(before);
            assert!(moved <= 16, "round {round}: consumed {moved} entries");
            for n in 0..moved {
                let (_, (_, len)) = used(&bus, before.wrapping_add(n), 16);
                served[usize::from(len > 0) + usize::from(len > 1)] += 1;
            }
        }
        assert_eq!(img.bytes().len(), 64 * 512, "writes stay inside the disk");
        // Malformed chains, requests with only a status, and data transfers all occurred.
        assert!(served.iter().all(|&n| n > 100), "{served:?}");
    }
}
