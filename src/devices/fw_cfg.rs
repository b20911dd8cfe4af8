//! QEMU's firmware configuration device (fw_cfg), in its MMIO form with DMA.
//!
//! ```text
//! 0x00 data      read 1-8 bytes of the selected item, in item order ("string
//!                preserving": the byte at the lowest address comes first), advancing
//! 0x08 selector  16-bit big-endian write: select an item, offset back to 0
//! 0x10 dma       64-bit big-endian address of a DMA descriptor; a write of the low
//!                half (at 0x14) or of all 8 bytes starts the transfer; reads return
//!                the signature "QEMU CFG"
//! ```
//!
//! A DMA descriptor is big-endian `{u32 control; u32 length; u64 address}`. Control bits:
//! ERROR 0x01, READ 0x02, SKIP 0x04, SELECT 0x08 (the key in bits 31..16), WRITE 0x10.
//! The device performs it at once and writes the control word back: 0, or ERROR. As in
//! QEMU, reading past the end of an item fills zeros, a write must fit inside a writable
//! file, and a descriptor outside RAM is answered with ERROR (when the control word itself
//! can be written).
//!
//! Items (keys): SIGNATURE "QEMU", ID (traditional and DMA interfaces: 3), UUID (zero),
//! NOGRAPHIC, NB_CPUS, BOOT_MENU, the FILE_DIR and the files from key 0x20 on, sorted by
//! name, each key following the sorted order. The files are QEMU riscv virt's own
//! (`bios-geometry`, `bootorder`, `etc/boot-fail-wait`), `etc/vmcoreinfo` (see
//! [`super::vmcoreinfo`]) unless disabled, and those given with `-fw_cfg`. Only
//! `etc/vmcoreinfo` is writable.
//!
//! The DT node sits at the root of the tree, as in QEMU's: `fw-cfg@10100000` with
//! `compatible = "qemu,fw-cfg-mmio"` and `dma-coherent`.

use super::vmcoreinfo::{self, VmcoreinfoReg};
use crate::bus::{DevCtx, Device, FdtCtx};
use std::any::Any;

/// Name used in logs.
pub const NAME: &str = "fw_cfg";
/// Size of the register window.
pub const SIZE: u64 = 0x18;
/// The DMA register's read value: "QEMU CFG" in big-endian.
pub const DMA_SIGNATURE: u64 = 0x5145_4d55_2043_4647;
/// Longest file name, without its NUL (the directory entry holds 56 bytes).
pub const MAX_NAME: usize = 55;
/// Most files the directory holds (QEMU's default `x-file-slots`).
pub const FILE_SLOTS: usize = 32;

const DATA: u64 = 0x00;
const SELECTOR: u64 = 0x08;
const DMA: u64 = 0x10;

/// Item keys.
pub mod key {
    pub const SIGNATURE: u16 = 0x00;
    pub const ID: u16 = 0x01;
    pub const UUID: u16 = 0x02;
    pub const NOGRAPHIC: u16 = 0x04;
    pub const NB_CPUS: u16 = 0x05;
    pub const BOOT_MENU: u16 = 0x0e;
    pub const FILE_DIR: u16 = 0x19;
    pub const FILE_FIRST: u16 = 0x20;
}

/// DMA control bits.
pub mod ctl {
    pub const ERROR: u32 = 0x01;
    pub const READ: u32 = 0x02;
    pub const SKIP: u32 = 0x04;
    pub const SELECT: u32 = 0x08;
    pub const WRITE: u32 = 0x10;
}

/// ID bits: the traditional interface and DMA.
const ID_TRADITIONAL: u32 = 1;
const ID_DMA: u32 = 2;

/// One file of the directory.
#[derive(Clone, Debug)]
struct File {
    name: String,
    key: u16,
    data: Vec<u8>,
    writable: bool,
}

/// The fw_cfg device.
pub struct FwCfg {
    /// Non-file items, by key.
    items: Vec<(u16, Vec<u8>)>,
    /// Files, sorted by name; `files[i].key == FILE_FIRST + i`.
    files: Vec<File>,
    /// The selected key, and the read offset into it.
    cur: u16,
    offset: u32,
    /// DMA address being assembled from its two halves.
    dma_addr: u64,
    /// Index in `files` of `etc/vmcoreinfo`, when the device has it.
    vmcoreinfo: Option<usize>,
    /// True once the guest completed a valid registration (QEMU's `has_vmcoreinfo`).
    vmcoreinfo_set: bool,
}

impl FwCfg {
    /// A fw_cfg for `harts` harts with the user's `files` (name, contents), and
    /// `etc/vmcoreinfo` when `vmcoreinfo`. Fails on a duplicate or over-long name.
    pub fn new(
        harts: usize,
        files: &[(String, Vec<u8>)],
        vmcoreinfo: bool,
    ) -> Result<FwCfg, String> {
        let mut list: Vec<File> = vec![
            file("bios-geometry", Vec::new()),
            file("bootorder", Vec::new()),
            // -1: the firmware does not reboot after a boot failure.
            file("etc/boot-fail-wait", (-1i32).to_le_bytes().to_vec()),
        ];
        if vmcoreinfo {
            let mut f = file(
                vmcoreinfo::FILE,
                VmcoreinfoReg::reset_value().to_bytes().to_vec(),
            );
            f.writable = true;
            list.push(f);
        }
        for (name, data) in files {
            if name.len() > MAX_NAME {
                return Err(format!(
                    "fw_cfg file name too long (max. {MAX_NAME} char): {name}"
                ));
            }
            if list.iter().any(|f| &f.name == name) {
                return Err(format!("duplicate fw_cfg file name: {name}"));
            }
            list.push(file(name, data.clone()));
        }
        list.sort_by(|a, b| a.name.cmp(&b.name));
        if list.len() > FILE_SLOTS {
            return Err(format!(
                "Too many fw_cfg files: {} (at most {FILE_SLOTS})",
                list.len()
            ));
        }
        for (i, f) in list.iter_mut().enumerate() {
            f.key = key::FILE_FIRST + i as u16;
        }
        let items = vec![
            (key::SIGNATURE, b"QEMU".to_vec()),
            (key::ID, (ID_TRADITIONAL | ID_DMA).to_le_bytes().to_vec()),
            (key::UUID, vec![0; 16]),
            // haltpoint has no display.
            (key::NOGRAPHIC, 1u16.to_le_bytes().to_vec()),
            (key::NB_CPUS, (harts as u16).to_le_bytes().to_vec()),
            (key::BOOT_MENU, 0u16.to_le_bytes().to_vec()),
            (key::FILE_DIR, directory(&list)),
        ];
        let vmcoreinfo = list.iter().position(|f| f.name == vmcoreinfo::FILE);
        Ok(FwCfg {
            items,
            files: list,
            cur: key::SIGNATURE,
            offset: 0,
            dma_addr: 0,
            vmcoreinfo,
            vmcoreinfo_set: false,
        })
    }

    /// True when the device offers `etc/vmcoreinfo`.
    pub fn has_vmcoreinfo(&self) -> bool {
        self.vmcoreinfo.is_some()
    }

    /// The guest's vmcoreinfo registration: the file's contents, when the last write to
    /// it was a complete one with a format other than none.
    pub fn vmcoreinfo(&self) -> Option<VmcoreinfoReg> {
        let f = &self.files[self.vmcoreinfo?];
        if !self.vmcoreinfo_set {
            return None;
        }
        let b: &[u8; vmcoreinfo::SIZE] = f.data.as_slice().try_into().ok()?;
        Some(VmcoreinfoReg::from_bytes(b))
    }

    /// The contents of the item `k`, if it exists.
    fn item(&self, k: u16) -> Option<&[u8]> {
        if k >= key::FILE_FIRST {
            return self
                .files
                .get(usize::from(k - key::FILE_FIRST))
                .map(|f| f.data.as_slice());
        }
        self.items
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, d)| d.as_slice())
    }

    fn select(&mut self, k: u16) {
        self.cur = k;
        self.offset = 0;
    }

    /// The next `n` bytes of the selected item from the current offset, zero past its end.
    fn bytes_at(&self, n: usize) -> u64 {
        let data = self.item(self.cur).unwrap_or(&[]);
        let mut v = 0u64;
        for i in 0..n {
            let b = data.get(self.offset as usize + i).copied().unwrap_or(0);
            v |= u64::from(b) << (8 * i);
        }
        v
    }

    /// Reads the descriptor at the assembled address and performs it.
    fn dma_transfer(&mut self, ctx: &mut DevCtx) {
        let desc_at = std::mem::take(&mut self.dma_addr);
        let mut d = [0u8; 16];
        if !ctx.dma_read(desc_at, &mut d) {
            ctx.guest_error(
                NAME,
                format_args!("DMA descriptor at {desc_at:#x} is outside RAM"),
            );
            ctx.dma_write(desc_at, &ctl::ERROR.to_be_bytes());
            return;
        }
        let control = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        let mut length = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
        let mut addr = u64::from_be_bytes([d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]]);
        if control & ctl::SELECT != 0 {
            self.select((control >> 16) as u16);
        }
        let (read, write) = if control & ctl::READ != 0 {
            (true, false)
        } else if control & ctl::WRITE != 0 {
            (false, true)
        } else if control & ctl::SKIP != 0 {
            (false, false)
        } else {
            length = 0;
            (false, false)
        };
        let mut status = 0;
        let file = self.cur.checked_sub(key::FILE_FIRST).map(usize::from);
        while length > 0 && status & ctl::ERROR == 0 {
            let data_len = self.item(self.cur).map_or(0, |d| d.len()) as u64;
            let off = u64::from(self.offset);
            let len;
            if off >= data_len {
                // Past the end (or no such item): reads see zeros, writes fail.
                len = length;
                if read && !dma_zero(ctx, addr, u64::from(len)) {
                    status |= ctl::ERROR;
                }
                if write {
                    status |= ctl::ERROR;
                }
            } else {
                len = u64::from(length).min(data_len - off) as u32;
                let range = off as usize..(off + u64::from(len)) as usize;
                if read {
                    let chunk = self.item(self.cur).map(|d| d[range.clone()].to_vec());
                    if !chunk.is_some_and(|c| ctx.dma_write(addr, &c)) {
                        status |= ctl::ERROR;
                    }
                }
                if write {
                    let writable = file
                        .and_then(|i| self.files.get(i))
                        .is_some_and(|f| f.writable);
                    let mut buf = vec![0; len as usize];
                    if !writable || len != length || !ctx.dma_read(addr, &mut buf) {
                        status |= ctl::ERROR;
                    } else if let Some(i) = file {
                        self.files[i].data[range].copy_from_slice(&buf);
                        self.written(i, off, len);
                    }
                }
                self.offset += len;
            }
            addr = addr.wrapping_add(u64::from(len));
            length -= len;
        }
        if status & ctl::ERROR != 0 {
            ctx.guest_error(
                NAME,
                format_args!("DMA control {control:#x} on key {:#x} failed", self.cur),
            );
        }
        ctx.dma_write(desc_at, &status.to_be_bytes());
    }

    /// A guest write landed in file `i`: apply the vmcoreinfo rule (only a full write
    /// at offset 0 with a format other than none registers a note).
    fn written(&mut self, i: usize, off: u64, len: u32) {
        if Some(i) == self.vmcoreinfo {
            let guest_format = u16::from_le_bytes([self.files[i].data[2], self.files[i].data[3]]);
            self.vmcoreinfo_set = off == 0
                && len as usize == vmcoreinfo::SIZE
                && guest_format != vmcoreinfo::FORMAT_NONE;
        }
    }
}

/// Writes `len` zero bytes at `addr`; false, with nothing written, when any lies outside RAM.
fn dma_zero(ctx: &mut DevCtx, addr: u64, len: u64) -> bool {
    if ctx.ram.offset(addr, len).is_none() {
        return false;
    }
    let zeros = [0u8; 4096];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(zeros.len() as u64);
        ctx.dma_write(addr + done, &zeros[..n as usize]);
        done += n;
    }
    true
}

fn file(name: &str, data: Vec<u8>) -> File {
    File {
        name: name.to_string(),
        key: 0,
        data,
        writable: false,
    }
}

/// The FILE_DIR item: be32 count, then per file `{be32 size, be16 select, u16 reserved,
/// char name[56]}`.
fn directory(files: &[File]) -> Vec<u8> {
    let mut d = (files.len() as u32).to_be_bytes().to_vec();
    for f in files {
        d.extend_from_slice(&(f.data.len() as u32).to_be_bytes());
        d.extend_from_slice(&f.key.to_be_bytes());
        d.extend_from_slice(&[0, 0]);
        let mut name = [0u8; 56];
        name[..f.name.len()].copy_from_slice(f.name.as_bytes());
        d.extend_from_slice(&name);
    }
    d
}

impl Device for FwCfg {
    fn name(&self) -> &'static str {
        NAME
    }

    fn size(&self) -> u64 {
        SIZE
    }

    fn read(&mut self, offset: u64, size: u8, ctx: &mut DevCtx) -> u64 {
        match offset {
            DATA => {
                let v = self.bytes_at(size as usize);
                let len = self.item(self.cur).map_or(0, |d| d.len()) as u32;
                self.offset = (self.offset + u32::from(size)).min(len.max(self.offset));
                v
            }
            DMA..=0x17 => self.peek(offset, size),
            _ => {
                ctx.guest_error(NAME, format_args!("read at {offset:#x} size {size}"));
                0
            }
        }
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, ctx: &mut DevCtx) {
        match (offset, size) {
            (SELECTOR, 2) => self.select((value as u16).swap_bytes()),
            (DMA, 4) => self.dma_addr = u64::from((value as u32).swap_bytes()) << 32,
            (0x14, 4) => {
                self.dma_addr |= u64::from((value as u32).swap_bytes());
                self.dma_transfer(ctx);
            }
            (DMA, 8) => {
                self.dma_addr = value.swap_bytes();
                self.dma_transfer(ctx);
            }
            (DATA, _) => ctx.guest_error(
                NAME,
                format_args!("write {value:#x} to the data register ignored (use DMA)"),
            ),
            _ => ctx.guest_error(
                NAME,
                format_args!("write {value:#x} at {offset:#x} size {size}"),
            ),
        }
    }

    fn peek(&self, offset: u64, size: u8) -> u64 {
        match offset {
            DATA => self.bytes_at(size as usize),
            DMA..=0x17 => {
                // The register is big-endian: bytes in address order are "QEMU CFG".
                let sig = DMA_SIGNATURE.to_be_bytes();
                let o = (offset - DMA) as usize;
                let mut v = 0u64;
                for i in 0..(size as usize).min(8 - o) {
                    v |= u64::from(sig[o + i]) << (8 * i);
                }
                v
            }
            _ => 0,
        }
    }

    fn fdt_at_root(&self) -> bool {
        true
    }

    fn fdt(
        &self,
        base: u64,
        _irq: Option<u32>,
        fdt: &mut vm_fdt::FdtWriter,
        _ctx: &FdtCtx,
    ) -> vm_fdt::FdtWriterResult<()> {
        let node = fdt.begin_node(&format!("fw-cfg@{base:x}"))?;
        fdt.property_null("dma-coherent")?;
        super::fdt_reg(fdt, base, SIZE)?;
        fdt.property_string("compatible", "qemu,fw-cfg-mmio")?;
        fdt.end_node(node)
    }

    /// As QEMU: the signature item is selected again. `etc/vmcoreinfo` returns to its
    /// reset value, so a rebooted guest must register its note again.
    fn reset(&mut self) {
        self.select(key::SIGNATURE);
        self.dma_addr = 0;
        if let Some(i) = self.vmcoreinfo {
            self.files[i].data = VmcoreinfoReg::reset_value().to_bytes().to_vec();
            self.vmcoreinfo_set = false;
        }
    }

    /// Section fields: selected key (u16), read offset (u32), DMA address (u64), the
    /// guest's vmcoreinfo registration (bool + 16 bytes; all zero without the file).
    fn save_state(&self) -> Option<Vec<u8>> {
        let mut e = crate::devstate::Enc::default();
        e.u16(self.cur);
        e.u32(self.offset);
        e.u64(self.dma_addr);
        e.bool(self.vmcoreinfo_set);
        let reg = match self.vmcoreinfo {
            Some(i) => self.files[i].data.clone(),
            None => vec![0; 16],
        };
        e.bytes(&reg);
        Some(e.0)
    }

    fn load_state(&mut self, data: &[u8], apply: bool) -> Result<(), String> {
        let mut d = crate::devstate::Dec::new(data, "section 'fw_cfg'");
        let cur = d.u16()?;
        let offset = d.u32()?;
        let dma_addr = d.u64()?;
        let set = d.bool()?;
        let reg = d.bytes(16)?.to_vec();
        d.end()?;
        if reg.len() != 16 {
            return Err("section 'fw_cfg': the vmcoreinfo register must be 16 bytes".into());
        }
        if apply {
            self.select(cur);
            self.offset = offset;
            self.dma_addr = dma_addr;
            if let Some(i) = self.vmcoreinfo {
                self.files[i].data = reg;
                self.vmcoreinfo_set = set;
            }
        }
        Ok(())
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Bus;
    use crate::devices::testutil::{bus_with, fuzz, rd, wr};

    const B: u64 = 0x1010_0000;
    const RAM: u64 = 0x8000_0000;
    const DESC: u64 = RAM + 0x1000;
    const BUF: u64 = RAM + 0x2000;

    fn cfg_bus(files: &[(&str, &[u8])], vmcoreinfo: bool) -> Bus {
        let files: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_vec()))
            .collect();
        let dev = FwCfg::new(2, &files, vmcoreinfo).unwrap();
        bus_with(1, B, None, Box::new(dev))
    }

    /// Selects `k` as Linux does (iowrite16be).
    fn select(bus: &mut Bus, k: u16) {
        wr(bus, B + SELECTOR, 2, u64::from(k.swap_bytes()));
    }

    fn read_bytes(bus: &mut Bus, n: usize) -> Vec<u8> {
        (0..n).map(|_| rd(bus, B + DATA, 1) as u8).collect()
    }

    /// Runs one DMA descriptor through the two-halves protocol; returns the control word
    /// written back.
    fn dma(bus: &mut Bus, control: u32, len: u32, addr: u64) -> u32 {
        let mut d = control.to_be_bytes().to_vec();
        d.extend_from_slice(&len.to_be_bytes());
        d.extend_from_slice(&addr.to_be_bytes());
        assert!(bus.ram.write_bytes(DESC, &d));
        wr(
            bus,
            B + DMA,
            4,
            u64::from(((DESC >> 32) as u32).swap_bytes()),
        );
        wr(bus, B + 0x14, 4, u64::from((DESC as u32).swap_bytes()));
        let mut c = [0u8; 4];
        assert!(bus.ram.read_bytes(DESC, &mut c));
        u32::from_be_bytes(c)
    }

    fn ram(bus: &Bus, at: u64, n: usize) -> Vec<u8> {
        let mut b = vec![0; n];
        assert!(bus.ram.read_bytes(at, &mut b));
        b
    }

    #[test]
    fn signature_id_and_cpus_through_the_data_register() {
        let mut bus = cfg_bus(&[], true);
        // After reset the signature is selected.
        assert_eq!(read_bytes(&mut bus, 4), b"QEMU");
        select(&mut bus, key::SIGNATURE);
        // A 4-byte read is string preserving: "QEMU" in address order.
        assert_eq!(
            rd(&mut bus, B + DATA, 4),
            u64::from(u32::from_le_bytes(*b"QEMU"))
        );
        // Past the end: zeros, and the offset stops there.
        assert_eq!(rd(&mut bus, B + DATA, 8), 0);
        select(&mut bus, key::ID);
        assert_eq!(rd(&mut bus, B + DATA, 4), 3);
        select(&mut bus, key::NB_CPUS);
        assert_eq!(rd(&mut bus, B + DATA, 2), 2);
        select(&mut bus, key::UUID);
        assert_eq!(rd(&mut bus, B + DATA, 8), 0);
        select(&mut bus, 0x1234);
        assert_eq!(rd(&mut bus, B + DATA, 8), 0);
        // DMA register reads give the signature, big-endian in address order.
        assert_eq!(rd(&mut bus, B + DMA, 8).to_le_bytes(), *b"QEMU CFG");
        assert_eq!(rd(&mut bus, B + 0x14, 4).to_le_bytes()[..4], *b" CFG");
    }

    #[test]
    fn file_directory_golden_bytes() {
        let mut bus = cfg_bus(&[("opt/a", b"hello")], true);
        select(&mut bus, key::FILE_DIR);
        let dir = read_bytes(&mut bus, 4 + 5 * 64);
        let entry = |size: u32, key: u16, name: &str| {
            let mut e = size.to_be_bytes().to_vec();
            e.extend_from_slice(&key.to_be_bytes());
            e.extend_from_slice(&[0, 0]);
            let mut n = [0u8; 56];
            n[..name.len()].copy_from_slice(name.as_bytes());
            e.extend_from_slice(&n);
            e
        };
        let mut want = vec![0, 0, 0, 5]; // count = 5, big-endian
        want.extend(entry(0, 0x20, "bios-geometry")); // empty, as on QEMU virt
        want.extend(entry(0, 0x21, "bootorder")); // empty
        want.extend(entry(4, 0x22, "etc/boot-fail-wait")); // le32 -1
        want.extend(entry(16, 0x23, "etc/vmcoreinfo")); // the vmcoreinfo struct
        want.extend(entry(5, 0x24, "opt/a")); // the user's file
        assert_eq!(dir, want);
        #[rustfmt::skip]
        let first = [
            0x00, 0x00, 0x00, 0x00, // size 0
            0x00, 0x20,             // select 0x20
            0x00, 0x00,             // reserved
            b'b', b'i', b'o', b's', // name "bios-geometry", NUL padded to 56
        ];
        assert_eq!(dir[4..16], first);
        select(&mut bus, 0x24);
        assert_eq!(read_bytes(&mut bus, 6), b"hello\0");
        select(&mut bus, 0x22);
        assert_eq!(rd(&mut bus, B + DATA, 4), 0xffff_ffff);
        // Without vmcoreinfo the file is absent.
        let mut bus = cfg_bus(&[], false);
        select(&mut bus, key::FILE_DIR);
        assert_eq!(read_bytes(&mut bus, 4), [0, 0, 0, 3]);
    }

    #[test]
    fn bad_file_names_are_refused() {
        let long = ("opt/".to_string() + &"x".repeat(52), vec![]);
        assert!(FwCfg::new(1, &[long], true).is_err_and(|e| e.contains("too long")));
        let dup = ("etc/vmcoreinfo".to_string(), vec![]);
        assert!(FwCfg::new(1, std::slice::from_ref(&dup), true)
            .is_err_and(|e| e == "duplicate fw_cfg file name: etc/vmcoreinfo"));
        assert!(FwCfg::new(1, &[dup], false).is_ok());
    }

    #[test]
    fn dma_read_select_skip() {
        let mut bus = cfg_bus(&[("opt/x", b"0123456789")], false);
        let k = 0x23; // opt/x sorts after the three board files
        let c = dma(&mut bus, (k << 16) | ctl::SELECT | ctl::READ, 4, BUF);
        assert_eq!(c, 0);
        assert_eq!(ram(&bus, BUF, 4), b"0123");
        assert_eq!(dma(&mut bus, ctl::SKIP, 2, 0), 0);
        // Reading past the end fills zeros.
        bus.ram.write_bytes(BUF, &[0xaa; 8]);
        assert_eq!(dma(&mut bus, ctl::READ, 8, BUF), 0);
        assert_eq!(ram(&bus, BUF, 8), b"6789\0\0\0\0");
        // No operation bit: nothing happens, success.
        assert_eq!(dma(&mut bus, 0, 8, BUF), 0);
        // The data register continues from the DMA offset (at the end: zeros).
        assert_eq!(rd(&mut bus, B + DATA, 1), 0);
        // A full 8-byte write of the address also starts a transfer.
        let mut d = ((k << 16) | ctl::SELECT | ctl::READ).to_be_bytes().to_vec();
        d.extend_from_slice(&2u32.to_be_bytes());
        d.extend_from_slice(&BUF.to_be_bytes());
        bus.ram.write_bytes(DESC, &d);
        wr(&mut bus, B + DMA, 8, DESC.swap_bytes());
        assert_eq!(ram(&bus, DESC, 4), [0; 4]);
        assert_eq!(ram(&bus, BUF, 2), b"01");
    }

    #[test]
    fn dma_errors() {
        let mut bus = cfg_bus(&[("opt/x", b"abc")], true);
        // Read to an address outside RAM.
        assert_eq!(
            dma(&mut bus, (0x24 << 16) | ctl::SELECT | ctl::READ, 3, 0x10),
            ctl::ERROR
        );
        // Writes to a read-only file, or past the end of the file.
        assert_eq!(
            dma(&mut bus, (0x24 << 16) | ctl::SELECT | ctl::WRITE, 1, BUF),
            ctl::ERROR
        );
        assert_eq!(
            dma(&mut bus, (0x23 << 16) | ctl::SELECT | ctl::WRITE, 17, BUF),
            ctl::ERROR
        );
        // A descriptor outside RAM: nothing to write back to, nothing happens.
        wr(&mut bus, B + DMA, 8, 0x10u64.swap_bytes());
        // A descriptor whose control word is in RAM but the rest is not.
        let last = RAM + (1 << 20) - 8;
        wr(&mut bus, B + DMA, 8, last.swap_bytes());
        assert_eq!(ram(&bus, last, 4), ctl::ERROR.to_be_bytes());
    }

    fn register(bus: &mut Bus, reg: &[u8], offset: u32) -> u32 {
        bus.ram.write_bytes(BUF, reg);
        let key = 0x23u32; // etc/vmcoreinfo
        if offset > 0 {
            assert_eq!(
                dma(bus, (key << 16) | ctl::SELECT | ctl::SKIP, offset, 0),
                0
            );
            dma(bus, ctl::WRITE, reg.len() as u32, BUF)
        } else {
            dma(
                bus,
                (key << 16) | ctl::SELECT | ctl::WRITE,
                reg.len() as u32,
                BUF,
            )
        }
    }

    fn vmci(bus: &mut Bus) -> Option<VmcoreinfoReg> {
        bus.device_mut::<FwCfg>(0).and_then(|d| d.vmcoreinfo())
    }

    #[test]
    fn vmcoreinfo_write_rules() {
        let mut bus = cfg_bus(&[], true);
        let good = VmcoreinfoReg {
            host_format: 1,
            guest_format: 1,
            size: 0x1000,
            paddr: 0x8123_4000,
        };
        // The reset value reads back: host_format 1, the rest zero.
        select(&mut bus, 0x23);
        assert_eq!(
            read_bytes(&mut bus, 16),
            VmcoreinfoReg::reset_value().to_bytes()
        );
        assert_eq!(vmci(&mut bus), None);
        assert_eq!(register(&mut bus, &good.to_bytes(), 0), 0);
        assert_eq!(vmci(&mut bus), Some(good));
        // A partial write withdraws the registration (the bytes change all the same).
        assert_eq!(register(&mut bus, &[2, 0], 2), 0);
        assert_eq!(vmci(&mut bus), None);
        assert_eq!(register(&mut bus, &good.to_bytes(), 0), 0);
        assert_eq!(register(&mut bus, &good.to_bytes()[..8], 0), 0);
        assert_eq!(vmci(&mut bus), None);
        // guest_format 0 disables.
        let none = VmcoreinfoReg {
            guest_format: 0,
            ..good
        };
        assert_eq!(register(&mut bus, &none.to_bytes(), 0), 0);
        assert_eq!(vmci(&mut bus), None);
        // Any other format registers; the reader refuses it later with a warning.
        let other = VmcoreinfoReg {
            guest_format: 7,
            ..good
        };
        assert_eq!(register(&mut bus, &other.to_bytes(), 0), 0);
        assert_eq!(vmci(&mut bus), Some(other));
        // Reset forgets the registration and restores the reset value.
        bus.reset_devices();
        assert_eq!(vmci(&mut bus), None);
        select(&mut bus, 0x23);
        assert_eq!(
            read_bytes(&mut bus, 16),
            VmcoreinfoReg::reset_value().to_bytes()
        );
    }

    #[test]
    fn reset_selects_the_signature() {
        let mut bus = cfg_bus(&[], true);
        select(&mut bus, key::ID);
        rd(&mut bus, B + DATA, 1);
        bus.reset_devices();
        assert_eq!(read_bytes(&mut bus, 4), b"QEMU");
        // peek does not advance.
        select(&mut bus, key::SIGNATURE);
        assert_eq!(bus.peek(B, 1), Some(u64::from(b'Q')));
        assert_eq!(bus.peek(B, 1), Some(u64::from(b'Q')));
    }

    #[test]
    fn fuzz_never_panics() {
        let mut bus = cfg_bus(&[("opt/f", b"data")], true);
        fuzz(&mut bus, &[0, 8, 0x10, 0x14], 30_000, 6);
    }
}
