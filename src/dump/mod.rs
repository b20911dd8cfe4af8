//! `dump-guest-memory`: ELF core files and kdump-compressed dumps of a stopped machine.
//!
//! The formats are QEMU's (see docs/crash-dumps.md for the byte layouts as haltpoint
//! writes them):
//! - [`elf`]: an ELF64 core (ET_CORE, EM_RISCV): one NT_PRSTATUS note per hart, the
//!   guest's VMCOREINFO note, one PT_LOAD per RAM/ROM region. With `paging`, PT_LOADs
//!   carry the virtual addresses of the guest's page tables ([`paging`]), which QEMU
//!   cannot do on riscv.
//! - [`kdump`]: makedumpfile's kdump-compressed ("diskdump") format, flattened (a stream
//!   of `{offset, size, data}` records that `makedumpfile -R` reassembles) or raw
//!   (written in place into a seekable file), with zlib, LZO1X ([`lzo`]) or Snappy pages.
//!
//! # Running a dump
//! A dump is a [`DumpJob`]: [`DumpJob::start`] takes a [`Snapshot`]-able machine and
//! [`DumpOptions`] and lays the file out; [`DumpJob::step`] writes at most `max_bytes` of
//! guest memory per call and reports [`Progress`] in bytes, as QMP's `query-dump` does.
//! The event loop can therefore run a detached dump in slices while gdb and QMP keep
//! answering. The caller guarantees the machine does not run between `start` and the
//! last `step` (the dump reads guest memory at each step).
//!
//! # Safety of the output
//! - A `file:` dump ([`Sink::create`]) is written to a temporary file in the same
//!   directory and renamed over the destination only after every byte was written and
//!   fsync'd. Any error, or dropping an unfinished job, removes the temporary file: a
//!   failed dump never leaves a file behind.
//! - An `fd:` dump ([`Sink::from_file`]) cannot be renamed; the bytes go straight into
//!   the descriptor. The part that marks a file as valid (the ELF header, the kdump
//!   disk_dump_header block) is written last whenever the output allows it (a seekable
//!   file, or any kdump stream since flattened records carry their offsets), so an
//!   interrupted dump does not look complete. An ELF dump into a pipe necessarily starts
//!   with its header.
//! - Nothing here panics on guest data: page tables and the guest note are read with
//!   bounds checks, and host I/O failures are [`DumpError`]s with readable messages.
//!
//! # Arguments
//! [`validate`] checks `dump-guest-memory` arguments in QEMU's order with QEMU's error
//! texts; [`open_output`] opens the protocol's target; [`start_dump`] does both and
//! starts the job. [`capability_formats`] is `query-dump-guest-memory-capability`.
//! [`hmp`] is the human-monitor syntax (the gdb `monitor dump-guest-memory`).

pub mod elf;
pub mod hmp;
pub mod kdump;
pub mod lzo;
pub mod paging;

use crate::machine::Machine;
use std::fmt;
use std::fs::File;
use std::io::{self, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Guest page size of the dump formats (and of RISC-V base pages).
pub const PAGE_SIZE: u64 = 4096;

/// `DumpGuestMemoryFormat`, QEMU's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpFormat {
    Elf,
    KdumpZlib,
    KdumpLzo,
    KdumpSnappy,
    KdumpRawZlib,
    KdumpRawLzo,
    KdumpRawSnappy,
    /// Windows crash dump: x86-64 only, always refused here.
    WinDmp,
}

impl DumpFormat {
    /// Every format, in QAPI order.
    pub const ALL: [DumpFormat; 8] = [
        DumpFormat::Elf,
        DumpFormat::KdumpZlib,
        DumpFormat::KdumpLzo,
        DumpFormat::KdumpSnappy,
        DumpFormat::KdumpRawZlib,
        DumpFormat::KdumpRawLzo,
        DumpFormat::KdumpRawSnappy,
        DumpFormat::WinDmp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DumpFormat::Elf => "elf",
            DumpFormat::KdumpZlib => "kdump-zlib",
            DumpFormat::KdumpLzo => "kdump-lzo",
            DumpFormat::KdumpSnappy => "kdump-snappy",
            DumpFormat::KdumpRawZlib => "kdump-raw-zlib",
            DumpFormat::KdumpRawLzo => "kdump-raw-lzo",
            DumpFormat::KdumpRawSnappy => "kdump-raw-snappy",
            DumpFormat::WinDmp => "win-dmp",
        }
    }

    pub fn from_name(s: &str) -> Option<DumpFormat> {
        DumpFormat::ALL.into_iter().find(|f| f.name() == s)
    }

    /// The page compression of a kdump format; None for ELF and win-dmp.
    pub fn compression(self) -> Option<Compression> {
        match self {
            DumpFormat::KdumpZlib | DumpFormat::KdumpRawZlib => Some(Compression::Zlib),
            DumpFormat::KdumpLzo | DumpFormat::KdumpRawLzo => Some(Compression::Lzo),
            DumpFormat::KdumpSnappy | DumpFormat::KdumpRawSnappy => Some(Compression::Snappy),
            DumpFormat::Elf | DumpFormat::WinDmp => None,
        }
    }

    /// A kdump format written in place (seekable output) rather than flattened.
    pub fn is_raw(self) -> bool {
        matches!(
            self,
            DumpFormat::KdumpRawZlib | DumpFormat::KdumpRawLzo | DumpFormat::KdumpRawSnappy
        )
    }

    /// Whether this build can write the format.
    pub fn available(self) -> bool {
        self != DumpFormat::WinDmp
    }
}

/// `query-dump-guest-memory-capability`: the formats this build can write.
pub fn capability_formats() -> Vec<DumpFormat> {
    DumpFormat::ALL
        .into_iter()
        .filter(|f| f.available())
        .collect()
}

/// Page compression of the kdump formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Zlib,
    Lzo,
    Snappy,
}

impl Compression {
    /// The `DUMP_DH_COMPRESSED_*` flag: disk_dump_header.status and page_desc.flags.
    pub fn flag(self) -> u32 {
        match self {
            Compression::Zlib => 0x1,
            Compression::Lzo => 0x2,
            Compression::Snappy => 0x4,
        }
    }
}

/// One hart's registers as the dump records them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HartRegs {
    /// Hart index (NT_PRSTATUS pr_pid is index + 1).
    pub index: u32,
    pub pc: u64,
    /// x0..x31 (x0 is not written).
    pub x: [u64; 32],
    /// satp, for `paging` dumps.
    pub satp: u64,
}

/// A range of guest physical memory backed by RAM or ROM (never MMIO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemRegion {
    pub start: u64,
    pub size: u64,
}

impl MemRegion {
    pub fn end(&self) -> u64 {
        self.start + self.size
    }
}

/// What a dump records besides memory contents: registers, the memory map, the guest note.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub harts: Vec<HartRegs>,
    /// Ascending, non-overlapping.
    pub regions: Vec<MemRegion>,
    /// The guest's VMCOREINFO ELF note: header, name and desc, each padded to 4 bytes.
    pub vmcoreinfo: Option<Vec<u8>>,
    /// kdump sub-header phys_base (riscv64 Linux: `NUMBER(phys_ram_base)`).
    pub phys_base: u64,
}

impl Snapshot {
    /// The machine's harts and memory map (the reset ROM and RAM).
    pub fn of(m: &Machine, vmcoreinfo: Option<Vec<u8>>, phys_base: u64) -> Snapshot {
        let harts = m
            .harts
            .iter()
            .enumerate()
            .map(|(i, h)| HartRegs {
                index: i as u32,
                pc: h.pc,
                x: h.x,
                satp: h.csr.satp,
            })
            .collect();
        let mut regions: Vec<MemRegion> = [&m.bus.rom, &m.bus.ram]
            .iter()
            .filter(|r| r.size() > 0)
            .map(|r| MemRegion {
                start: r.base,
                size: r.size(),
            })
            .collect();
        regions.sort_by_key(|r| r.start);
        Snapshot {
            harts,
            regions,
            vmcoreinfo,
            phys_base,
        }
    }
}

/// The one place that supplies the guest's VMCOREINFO note and phys_base to dumps:
/// the note the guest registered through fw_cfg `etc/vmcoreinfo`, read and checked now
/// ([`crate::devices::vmcoreinfo::read_guest_note`]), and its `NUMBER(phys_ram_base)`
/// (or `NUMBER(phys_base)`). A bad registration is a warning: the dump goes on
/// without the note.
pub fn guest_vmcoreinfo(m: &Machine) -> (Option<Vec<u8>>, u64) {
    match m.vmcoreinfo() {
        Ok(Some(n)) => (Some(n.note), n.phys_base.unwrap_or(0)),
        Ok(None) => (None, 0),
        Err(w) => {
            eprintln!("haltpoint: warning: vmcoreinfo: {w}; the dump goes on without the note");
            (None, 0)
        }
    }
}

/// How to dump.
#[derive(Clone, Debug)]
pub struct DumpOptions {
    pub format: DumpFormat,
    /// ELF only: PT_LOADs with the virtual addresses of the guest page tables.
    pub paging: bool,
    /// ELF only: dump only physical `[begin, begin + length)`.
    pub filter: Option<(u64, u64)>,
    /// See [`Snapshot::vmcoreinfo`].
    pub vmcoreinfo: Option<Vec<u8>>,
    pub phys_base: u64,
    /// disk_dump_header timestamp (seconds, microseconds); None: the host's clock.
    pub timestamp: Option<(u64, u64)>,
}

impl DumpOptions {
    pub fn new(format: DumpFormat) -> DumpOptions {
        DumpOptions {
            format,
            paging: false,
            filter: None,
            vmcoreinfo: None,
            phys_base: 0,
            timestamp: None,
        }
    }
}

/// A dump's progress in bytes of guest memory, as `query-dump` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub completed: u64,
    pub total: u64,
    /// Every byte is written and the file is in place.
    pub done: bool,
}

/// Why a dump could not be made.
#[derive(Debug)]
pub enum DumpError {
    /// An argument the dump cannot take (QEMU's error text).
    Invalid(String),
    /// The output file could not be created.
    Create { path: PathBuf, err: io::Error },
    /// Writing the output failed (the partial output is removed when it is ours).
    Write { target: String, err: io::Error },
    /// Guest memory the layout promised was not there when it was read.
    Memory(u64),
    /// `step` was called on a job that already failed.
    Failed,
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpError::Invalid(s) => f.write_str(s),
            DumpError::Create { path, err } => {
                write!(
                    f,
                    "Could not open '{}': {}",
                    path.display(),
                    crate::qmp::os_error_text(err)
                )
            }
            DumpError::Write { target, err } => {
                write!(
                    f,
                    "Could not write the dump to {target}: {}",
                    crate::qmp::os_error_text(err)
                )
            }
            DumpError::Memory(pa) => {
                write!(f, "Guest memory at {pa:#x} disappeared during the dump")
            }
            DumpError::Failed => f.write_str("The dump already failed"),
        }
    }
}

impl std::error::Error for DumpError {}

/// Where dump bytes go: an owned temporary file renamed at the end, or a descriptor.
pub struct Sink {
    file: File,
    /// The temporary file and the final name, for a `file:` dump.
    tmp: Option<(PathBuf, PathBuf)>,
    /// For messages.
    label: String,
    /// Stream position at the start: in-place writes are relative to it.
    base: u64,
    seekable: bool,
    /// Bytes appended so far.
    pos: u64,
}

/// The granule of holes in a sparse dump file: a guest page.
const HOLE_BLOCK: usize = 4096;

impl Sink {
    /// A `file:PATH` output: a new temporary file next to `path` (mode 0600, as QEMU
    /// creates dump files), renamed to `path` when the dump completes.
    pub fn create(path: &Path) -> Result<Sink, DumpError> {
        Sink::create_with_mode(path, 0o600)
    }

    /// As [`Sink::create`], with the file created with `mode` (before the umask).
    pub fn create_with_mode(path: &Path, mode: u32) -> Result<Sink, DumpError> {
        use std::os::unix::fs::OpenOptionsExt;
        let name = path.file_name().ok_or_else(|| DumpError::Create {
            path: path.to_path_buf(),
            err: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
        })?;
        let dir = path.parent().unwrap_or(Path::new(""));
        let mut last = None;
        for n in 0..100u32 {
            let tmp = dir.join(format!(
                ".{}.haltpoint-{}-{n}.tmp",
                name.to_string_lossy(),
                std::process::id()
            ));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&tmp)
            {
                Ok(file) => {
                    return Ok(Sink {
                        file,
                        tmp: Some((tmp, path.to_path_buf())),
                        label: format!("'{}'", path.display()),
                        base: 0,
                        seekable: true,
                        pos: 0,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(err) => {
                    return Err(DumpError::Create {
                        path: path.to_path_buf(),
                        err,
                    })
                }
            }
        }
        Err(DumpError::Create {
            path: path.to_path_buf(),
            err: last.unwrap_or_else(|| io::Error::other("no temporary name free")),
        })
    }

    /// An already-open descriptor (QMP `fd:NAME`): written from its current position;
    /// nothing is renamed or removed. `name` is for messages. The descriptor is made
    /// blocking (a dump writes all its bytes or fails); one opened with O_APPEND is
    /// written sequentially, as a pipe is, since positioned writes would append.
    pub fn from_file(mut file: File, name: &str) -> Sink {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        // SAFETY: fcntl on a descriptor this File owns; F_GETFL/F_SETFL only read and
        // change its status flags.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags >= 0 && flags & libc::O_NONBLOCK != 0 {
            // SAFETY: as above.
            unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) };
        }
        let append = flags >= 0 && flags & libc::O_APPEND != 0;
        let (base, seekable) = match file.stream_position() {
            Ok(p) if !append => (p, true),
            _ => (0, false),
        };
        Sink {
            file,
            tmp: None,
            label: format!("fd '{name}'"),
            base,
            seekable,
            pos: 0,
        }
    }

    /// Whether bytes can be written at an offset (lseek works).
    pub fn seekable(&self) -> bool {
        self.seekable
    }

    fn err(&self, err: io::Error) -> DumpError {
        DumpError::Write {
            target: self.label.clone(),
            err,
        }
    }

    /// Appends `data` at the end of what was written.
    pub fn append(&mut self, data: &[u8]) -> Result<(), DumpError> {
        // A file this sink created is all zeros until written, so its zero blocks can
        // stay holes; a descriptor may hold older bytes and gets every byte.
        if self.tmp.is_some() {
            return self.append_sparse(data);
        }
        let r = if self.seekable {
            self.file.write_all_at(data, self.base + self.pos)
        } else {
            self.file.write_all(data)
        };
        r.map_err(|e| self.err(e))?;
        self.pos += data.len() as u64;
        Ok(())
    }

    /// Appends `data` to a new file, skipping its all-zero blocks: most of a guest's
    /// RAM is zero, and a hole costs neither a write nor disk space. Non-zero blocks
    /// in a row go out in one write.
    fn append_sparse(&mut self, data: &[u8]) -> Result<(), DumpError> {
        let mut run: Option<usize> = None;
        let mut at = 0;
        for block in data.chunks(HOLE_BLOCK) {
            let zero = block.iter().fold(0, |a, &b| a | b) == 0;
            match (zero, run) {
                (false, None) => run = Some(at),
                (true, Some(start)) => {
                    self.write_run(&data[start..at], start)?;
                    run = None;
                }
                _ => {}
            }
            at += block.len();
        }
        if let Some(start) = run {
            self.write_run(&data[start..], start)?;
        }
        self.pos += data.len() as u64;
        Ok(())
    }

    /// Writes `bytes`, which start `at` bytes past the current end.
    fn write_run(&mut self, bytes: &[u8], at: usize) -> Result<(), DumpError> {
        self.file
            .write_all_at(bytes, self.base + self.pos + at as u64)
            .map_err(|e| self.err(e))
    }

    /// Writes `data` at `off` (seekable outputs only).
    fn write_at(&mut self, off: u64, data: &[u8]) -> Result<(), DumpError> {
        if !self.seekable {
            return Err(self.err(io::Error::other("the output is not seekable")));
        }
        self.file
            .write_all_at(data, self.base + off)
            .map_err(|e| self.err(e))?;
        self.pos = self.pos.max(off + data.len() as u64);
        Ok(())
    }

    /// Makes the output durable and, for a `file:` dump, puts it in place.
    pub fn finish(&mut self) -> Result<(), DumpError> {
        if let Some((tmp, dest)) = &self.tmp {
            // Trailing holes (see `append`): the length is what was appended.
            let len = self.base + self.pos;
            self.file.set_len(len).map_err(|e| self.err(e))?;
            self.file.sync_all().map_err(|e| self.err(e))?;
            std::fs::rename(tmp, dest).map_err(|e| self.err(e))?;
            self.tmp = None;
        } else {
            self.file.flush().map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Removes the temporary file of an unfinished `file:` dump.
    fn discard(&mut self) {
        if let Some((tmp, _)) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.discard();
    }
}

/// Guest memory `[pa, pa+len)` from RAM or ROM, read in place.
fn guest_bytes(m: &Machine, pa: u64, len: u64) -> Result<&[u8], DumpError> {
    for r in [&m.bus.ram, &m.bus.rom] {
        if let Some(o) = r.offset(pa, len) {
            return Ok(&r.data[o..o + len as usize]);
        }
    }
    Err(DumpError::Memory(pa))
}

/// What a format writer does for a [`DumpJob`].
trait Writer {
    /// Bytes of guest memory the dump covers.
    fn total(&self) -> u64;
    /// Writes the fixed parts (on the first call) and up to `budget` bytes of guest
    /// memory. Returns the memory bytes done and whether all are.
    fn step(&mut self, m: &Machine, sink: &mut Sink, budget: u64)
        -> Result<(u64, bool), DumpError>;
    /// Writes what marks the output complete (after the last step).
    fn finish(&mut self, sink: &mut Sink) -> Result<(), DumpError>;
}

/// A dump in progress; see the module documentation.
pub struct DumpJob {
    writer: Box<dyn Writer>,
    sink: Sink,
    total: u64,
    completed: u64,
    done: bool,
    failed: bool,
    /// Things the dump left out and why (e.g. a page-table walk cut short).
    pub warnings: Vec<String>,
}

impl DumpJob {
    /// Lays the dump out (registers are taken now) and checks the options. Nothing is
    /// written until the first [`DumpJob::step`].
    pub fn start(m: &Machine, opts: DumpOptions, sink: Sink) -> Result<DumpJob, DumpError> {
        if let Some((_, 0)) = opts.filter {
            return Err(DumpError::Invalid(
                "parameter 'length' expects a non-zero size".into(),
            ));
        }
        let snap = Snapshot::of(m, opts.vmcoreinfo.clone(), opts.phys_base);
        let mut warnings = Vec::new();
        let writer: Box<dyn Writer> = match opts.format.compression() {
            None if opts.format == DumpFormat::Elf => {
                Box::new(elf::ElfWriter::new(m, &snap, &opts, &mut warnings)?)
            }
            None => {
                return Err(DumpError::Invalid(
                    "Windows dump is only available for x86-64".into(),
                ))
            }
            Some(c) => {
                if opts.paging || opts.filter.is_some() {
                    return Err(DumpError::Invalid(
                        "kdump-compressed format doesn't support paging or filter".into(),
                    ));
                }
                if opts.format.is_raw() && !sink.seekable() {
                    return Err(DumpError::Invalid(
                        "kdump-raw formats require a seekable file".into(),
                    ));
                }
                Box::new(kdump::KdumpWriter::new(
                    &snap,
                    c,
                    opts.format.is_raw(),
                    opts.timestamp.unwrap_or_else(now),
                ))
            }
        };
        let total = writer.total();
        Ok(DumpJob {
            writer,
            sink,
            total,
            completed: 0,
            done: false,
            failed: false,
            warnings,
        })
    }

    pub fn progress(&self) -> Progress {
        Progress {
            completed: self.completed,
            total: self.total,
            done: self.done,
        }
    }

    /// Writes up to `max_bytes` of guest memory (at least one page). On the last step the
    /// file is completed and put in place. On error the output is discarded and every
    /// later call returns [`DumpError::Failed`].
    pub fn step(&mut self, m: &Machine, max_bytes: u64) -> Result<Progress, DumpError> {
        if self.failed {
            return Err(DumpError::Failed);
        }
        if self.done {
            return Ok(self.progress());
        }
        match self.step_inner(m, max_bytes.max(PAGE_SIZE)) {
            Ok(p) => Ok(p),
            Err(e) => {
                self.failed = true;
                self.sink.discard();
                Err(e)
            }
        }
    }

    fn step_inner(&mut self, m: &Machine, budget: u64) -> Result<Progress, DumpError> {
        let (n, last) = self.writer.step(m, &mut self.sink, budget)?;
        self.completed += n;
        if last {
            self.writer.finish(&mut self.sink)?;
            self.sink.finish()?;
            self.done = true;
        }
        Ok(self.progress())
    }

    /// Runs the job to completion (a synchronous dump).
    pub fn run(&mut self, m: &Machine) -> Result<Progress, DumpError> {
        loop {
            let p = self.step(m, 64 << 20)?;
            if p.done {
                return Ok(p);
            }
        }
    }
}

fn now() -> (u64, u64) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.subsec_micros() as u64)
}

/// The arguments of QMP `dump-guest-memory`.
#[derive(Clone, Debug, Default)]
pub struct DumpArgs {
    pub paging: bool,
    pub protocol: String,
    pub detach: bool,
    pub begin: Option<i64>,
    pub length: Option<i64>,
    /// None: ELF.
    pub format: Option<DumpFormat>,
}

/// Where a dump goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `file:PATH`
    File(PathBuf),
    /// `fd:NAME`: a descriptor the client passed with `getfd`.
    Fd(String),
}

/// A checked `dump-guest-memory` request.
#[derive(Clone, Debug)]
pub struct DumpRequest {
    pub options: DumpOptions,
    pub protocol: Protocol,
    pub detach: bool,
}

/// Checks `dump-guest-memory` arguments that need no file, in QEMU's order and with its
/// texts. The caller checks first for a dump in progress (`There is a dump in process,
/// please wait.`); [`open_output`] and [`DumpJob::start`] make the remaining checks
/// (opening the target, `kdump-raw formats require a seekable file`, then
/// `parameter 'length' expects a non-zero size`). The guest note is left empty: fill
/// `options.vmcoreinfo`/`phys_base` from [`guest_vmcoreinfo`].
pub fn validate(args: &DumpArgs) -> Result<DumpRequest, String> {
    let format = args.format.unwrap_or(DumpFormat::Elf);
    if format != DumpFormat::Elf && (args.paging || args.begin.is_some() || args.length.is_some()) {
        return Err("kdump-compressed format doesn't support paging or filter".into());
    }
    let filter = match (args.begin, args.length) {
        (Some(_), None) => return Err("Parameter 'length' is missing".into()),
        (None, Some(_)) => return Err("Parameter 'begin' is missing".into()),
        (Some(b), Some(l)) => Some((b as u64, l as u64)),
        (None, None) => None,
    };
    if format == DumpFormat::WinDmp {
        return Err("Windows dump is only available for x86-64".into());
    }
    let protocol = if let Some(name) = args.protocol.strip_prefix("fd:") {
        Protocol::Fd(name.to_string())
    } else if let Some(path) = args.protocol.strip_prefix("file:") {
        Protocol::File(PathBuf::from(path))
    } else {
        return Err("parameter 'protocol' must start with 'file:' or 'fd:'".into());
    };
    let mut options = DumpOptions::new(format);
    options.paging = args.paging;
    options.filter = filter;
    Ok(DumpRequest {
        options,
        protocol,
        detach: args.detach,
    })
}

/// Opens the output of a validated request. `fds` resolves an `fd:NAME` (QMP `getfd`);
/// None gives QEMU's `File descriptor named 'NAME' has not been found`.
pub fn open_output(
    req: &DumpRequest,
    fds: &mut dyn FnMut(&str) -> Option<File>,
) -> Result<Sink, String> {
    let sink = match &req.protocol {
        Protocol::File(p) => Sink::create(p).map_err(|e| e.to_string())?,
        Protocol::Fd(name) => match fds(name) {
            Some(f) => Sink::from_file(f, name),
            None => return Err(format!("File descriptor named '{name}' has not been found")),
        },
    };
    if req.options.format.is_raw() && !sink.seekable() {
        return Err("kdump-raw formats require a seekable file".into());
    }
    Ok(sink)
}

/// Validates, opens the output and starts the job: every check of `dump-guest-memory`
/// after "a dump in process", in QEMU's order. The guest note comes from
/// [`guest_vmcoreinfo`].
pub fn start_dump(
    m: &Machine,
    args: &DumpArgs,
    fds: &mut dyn FnMut(&str) -> Option<File>,
) -> Result<DumpJob, String> {
    let mut req = validate(args)?;
    let sink = open_output(&req, fds)?;
    let (note, phys_base) = guest_vmcoreinfo(m);
    req.options.vmcoreinfo = note;
    req.options.phys_base = phys_base;
    DumpJob::start(m, req.options, sink).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(protocol: &str) -> DumpArgs {
        DumpArgs {
            protocol: protocol.into(),
            ..Default::default()
        }
    }

    #[test]
    fn validate_order_and_texts() {
        let mut a = args("nonsense");
        a.format = Some(DumpFormat::KdumpZlib);
        a.paging = true;
        a.begin = Some(0);
        assert_eq!(
            validate(&a).unwrap_err(),
            "kdump-compressed format doesn't support paging or filter"
        );
        let mut a = args("nonsense");
        a.begin = Some(0x8000_0000);
        assert_eq!(validate(&a).unwrap_err(), "Parameter 'length' is missing");
        let mut a = args("nonsense");
        a.length = Some(4096);
        assert_eq!(validate(&a).unwrap_err(), "Parameter 'begin' is missing");
        let mut a = args("nonsense");
        a.format = Some(DumpFormat::WinDmp);
        assert_eq!(
            validate(&a).unwrap_err(),
            "Windows dump is only available for x86-64"
        );
        assert_eq!(
            validate(&args("nonsense")).unwrap_err(),
            "parameter 'protocol' must start with 'file:' or 'fd:'"
        );
        let r = validate(&args("fd:dumpfd")).unwrap();
        assert_eq!(r.protocol, Protocol::Fd("dumpfd".into()));
        let mut a = args("file:/tmp/x");
        a.begin = Some(0x8000_0000);
        a.length = Some(0x1000);
        a.paging = true;
        let r = validate(&a).unwrap();
        assert_eq!(r.protocol, Protocol::File("/tmp/x".into()));
        assert_eq!(r.options.filter, Some((0x8000_0000, 0x1000)));
        assert!(r.options.paging);
    }

    #[test]
    fn open_output_fd_lookup_and_seekable() {
        let mut a = args("fd:nope");
        a.format = Some(DumpFormat::KdumpRawZlib);
        let req = validate(&a).unwrap();
        let err = open_output(&req, &mut |_| None).err().unwrap();
        assert_eq!(err, "File descriptor named 'nope' has not been found");
        let (r, w) = pipe();
        drop(r);
        let err = open_output(&req, &mut |_| Some(w.try_clone().unwrap()))
            .err()
            .unwrap();
        assert_eq!(err, "kdump-raw formats require a seekable file");
        a.format = Some(DumpFormat::KdumpZlib);
        let req = validate(&a).unwrap();
        assert!(open_output(&req, &mut |_| Some(w.try_clone().unwrap())).is_ok());
    }

    #[test]
    fn append_descriptors_are_written_in_order() {
        let dir = std::env::temp_dir().join(format!("hp-append-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f");
        std::fs::write(&p, b"old").unwrap();
        let f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        let mut s = Sink::from_file(f, "f");
        assert!(!s.seekable());
        s.append(b"abc").unwrap();
        assert!(s.write_at(0, b"X").is_err());
        s.finish().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"oldabc");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn new_files_leave_zero_blocks_as_holes() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("hp-sparse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("core");
        let mut want = Vec::new();
        let mut s = Sink::create(&p).unwrap();
        // A header, 4 MiB of zeros, a page with one byte set, a partly zero run that is
        // not block-aligned, an in-place rewrite inside a hole, and trailing zeros.
        let mut parts: Vec<Vec<u8>> = vec![b"HEAD".to_vec(), vec![0; 4 << 20]];
        let mut page = vec![0; HOLE_BLOCK];
        page[HOLE_BLOCK - 1] = 7;
        parts.push(page);
        let mut odd = vec![0; 3 * HOLE_BLOCK + 100];
        odd[HOLE_BLOCK + 5] = 1;
        parts.push(odd);
        parts.push(vec![0; 8 << 20]);
        for part in &parts {
            s.append(part).unwrap();
            want.extend_from_slice(part);
        }
        let hole = 4 + (1 << 20);
        s.write_at(hole as u64, b"in a hole").unwrap();
        want[hole..hole + 9].copy_from_slice(b"in a hole");
        s.finish().unwrap();
        let got = std::fs::read(&p).unwrap();
        assert_eq!(got.len(), want.len());
        assert!(got == want, "contents differ");
        // Only a few blocks are on disk (st_blocks counts 512-byte units).
        let on_disk = std::fs::metadata(&p).unwrap().blocks() * 512;
        assert!(
            on_disk < 1 << 20,
            "{on_disk} bytes allocated of {}",
            want.len()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn pipe() -> (File, File) {
        use std::os::fd::FromRawFd;
        let mut fds = [0; 2];
        // SAFETY: pipe() fills two new descriptors that nothing else owns.
        let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
        assert_eq!(rc, 0);
        // SAFETY: the descriptors are valid, open and owned by nobody else.
        unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
    }

    #[test]
    fn capability_lists_the_writable_formats() {
        let names: Vec<_> = capability_formats().iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            [
                "elf",
                "kdump-zlib",
                "kdump-lzo",
                "kdump-snappy",
                "kdump-raw-zlib",
                "kdump-raw-lzo",
                "kdump-raw-snappy"
            ]
        );
    }

    #[test]
    fn file_sink_is_removed_unless_finished() {
        let dir = std::env::temp_dir().join(format!("hp-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("core");
        let mut s = Sink::create(&dest).unwrap();
        s.append(b"abc").unwrap();
        drop(s);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let mut s = Sink::create(&dest).unwrap();
        s.append(b"abc").unwrap();
        s.write_at(1, b"X").unwrap();
        s.finish().unwrap();
        drop(s);
        assert_eq!(std::fs::read(&dest).unwrap(), b"aXc");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let err = Sink::create(&dir.join("no/such/dir/core")).err().unwrap();
        assert!(err.to_string().starts_with("Could not open '"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
