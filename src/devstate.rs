//! The device-state file (QMP `xen-save-devices-state` / `xen-load-devices-state`):
//! every piece of machine state except RAM, in QEMU's QEVM v3 container.
//!
//! ```text
//! u32 magic 0x5145564d ("QEVM"), u32 version 3            (big-endian, like all below)
//! per section, in machine order:
//!   u8 0x04 (SECTION_FULL), u32 section_id, u8 idlen, idstr, u32 instance_id,
//!   u32 version_id, u32 length, `length` bytes of fields,
//!   u8 0x7e (SECTION_FOOTER), u32 section_id
//! u8 0x00 (EOF)
//! ```
//!
//! The fields of a section are haltpoint's own (QEMU's are its devices'); they start
//! with their byte length so that the file can be checked as a whole before anything is
//! applied. The sections and their fields are listed in docs/crash-dumps.md ("Device
//! state"). Sections: `machine` (time), `cpu` (one per hart, instance = hart index),
//! `clint`, `plic`, then each bus device that has state, named `NAME@BASE` (hex).
//! Devices without state (sifive_test, the CLINT and PLIC front-ends) have no section.
//!
//! [`load`] checks everything first — magic, version, that the sections are exactly
//! this machine's, in order, with known versions, lengths and footers, and each
//! section's fields — and only then applies them, so a bad file leaves the machine as
//! it was. After loading, TLBs are flushed and interrupt outputs recomputed. RAM is not
//! in the file: the caller restores it (or keeps it) separately.

use crate::cpu::csr::{Csrs, PMP_ENTRIES};
use crate::cpu::{HartState, PRV_M, PRV_S, PRV_U};
use crate::irq::{IrqState, PLIC_SOURCES};
use crate::machine::Machine;
use std::path::Path;

pub const MAGIC: u32 = 0x5145_564d;
pub const VERSION: u32 = 3;
const SECTION_FULL: u8 = 0x04;
const SECTION_FOOTER: u8 = 0x7e;
const EOF: u8 = 0x00;
/// The field layout version of every section haltpoint writes (2: `cpu` gained
/// stimecmp).
pub const SECTION_VERSION: u32 = 2;

/// Big-endian field writer.
#[derive(Default)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn bool(&mut self, v: bool) {
        self.0.push(v as u8);
    }
    pub fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    /// u32 length, then the bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
}

/// Big-endian field reader; every read checks the length.
pub struct Dec<'a> {
    data: &'a [u8],
    pos: usize,
    /// For messages.
    what: &'a str,
}

impl<'a> Dec<'a> {
    pub fn new(data: &'a [u8], what: &'a str) -> Dec<'a> {
        Dec { data, pos: 0, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(e) => {
                let s = &self.data[self.pos..e];
                self.pos = e;
                Ok(s)
            }
            None => Err(format!("Truncated {} at byte {}", self.what, self.pos)),
        }
    }
    pub fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    pub fn bool(&mut self) -> Result<bool, String> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(format!("Invalid boolean {v} in {}", self.what)),
        }
    }
    pub fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().unwrap_or([0; 2]),
        ))
    }
    pub fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().unwrap_or([0; 4]),
        ))
    }
    pub fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().unwrap_or([0; 8]),
        ))
    }
    /// u32 length (at most `max`), then the bytes.
    pub fn bytes(&mut self, max: usize) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(format!(
                "{} holds {n} bytes where at most {max} fit",
                self.what
            ));
        }
        self.take(n)
    }
    /// Checks that every byte was used.
    pub fn end(&self) -> Result<(), String> {
        if self.pos == self.data.len() {
            Ok(())
        } else {
            Err(format!(
                "{} has {} unexpected bytes at its end",
                self.what,
                self.data.len() - self.pos
            ))
        }
    }
}

/// One section as the machine would write it (or found in a file).
struct Section {
    id: String,
    instance: u32,
    version: u32,
    fields: Vec<u8>,
}

fn plic_words(w: &[u32], e: &mut Enc) {
    for &v in w {
        e.u32(v);
    }
}

fn save_irq(irq: &IrqState) -> (Vec<u8>, Vec<u8>) {
    let mut c = Enc::default();
    c.u32(irq.harts.len() as u32);
    for h in &irq.harts {
        c.bool(h.msip);
        c.u64(h.mtimecmp);
    }
    let mut p = Enc::default();
    let p_ = &irq.plic;
    p.u32(PLIC_SOURCES as u32);
    plic_words(&irq.levels, &mut p);
    for &v in &p_.priority {
        p.u32(v);
    }
    plic_words(&p_.pending, &mut p);
    plic_words(&p_.claimed, &mut p);
    p.u32(p_.contexts() as u32);
    for (en, th) in p_.enable.iter().zip(&p_.threshold) {
        plic_words(en, &mut p);
        p.u32(*th);
    }
    (c.0, p.0)
}

/// The 64-bit CSRs of a `cpu` section, in file order (PMP follows separately).
fn csr_words(c: &mut Csrs) -> [&mut u64; CSR_WORDS] {
    [
        &mut c.mstatus,
        &mut c.medeleg,
        &mut c.mideleg,
        &mut c.mie,
        &mut c.mip,
        &mut c.mtvec,
        &mut c.mcounteren,
        &mut c.menvcfg,
        &mut c.mcountinhibit,
        &mut c.mscratch,
        &mut c.mepc,
        &mut c.mcause,
        &mut c.mtval,
        &mut c.stvec,
        &mut c.scounteren,
        &mut c.senvcfg,
        &mut c.sscratch,
        &mut c.sepc,
        &mut c.scause,
        &mut c.stval,
        &mut c.satp,
        &mut c.mseccfg,
        &mut c.mhartid,
        &mut c.stimecmp,
    ]
}

const CSR_WORDS: usize = 24;

fn save_cpu(h: &crate::cpu::Hart) -> Vec<u8> {
    let mut e = Enc::default();
    e.u64(h.pc);
    h.x.iter().for_each(|&v| e.u64(v));
    h.f.iter().for_each(|&v| e.u64(v));
    e.u32(h.fflags);
    e.u32(h.frm);
    e.u8(h.prv);
    e.bool(h.state == HartState::Wfi);
    e.u64(h.instret);
    e.bool(h.reservation.is_some());
    e.u64(h.reservation.unwrap_or(0));
    e.u64(h.reservation_value);
    let mut c = h.csr.clone();
    for v in csr_words(&mut c) {
        e.u64(*v);
    }
    e.u32(PMP_ENTRIES as u32);
    c.pmpcfg.iter().for_each(|&v| e.u8(v));
    c.pmpaddr.iter().for_each(|&v| e.u64(v));
    e.0
}

/// The sections of machine `m`, in file order.
fn sections(m: &Machine) -> Vec<Section> {
    let sec = |id: &str, instance: u32, fields: Vec<u8>| Section {
        id: id.to_string(),
        instance,
        version: SECTION_VERSION,
        fields,
    };
    let mut v = Vec::new();
    let mut e = Enc::default();
    e.u64(m.steps);
    e.u64(m.bus.clock.offset);
    e.u32(m.harts.len() as u32);
    e.u64(m.bus.ram.size());
    v.push(sec("machine", 0, e.0));
    for (i, h) in m.harts.iter().enumerate() {
        v.push(sec("cpu", i as u32, save_cpu(h)));
    }
    let (clint, plic) = save_irq(&m.bus.irq);
    v.push(sec("clint", 0, clint));
    v.push(sec("plic", 0, plic));
    for s in &m.bus.devices {
        if let Some(f) = s.dev.save_state() {
            v.push(sec(&format!("{}@{:x}", s.dev.name(), s.base), 0, f));
        }
    }
    v
}

/// The device state of `m` as a QEVM v3 file.
pub fn save(m: &Machine) -> Vec<u8> {
    let mut e = Enc::default();
    e.u32(MAGIC);
    e.u32(VERSION);
    for (n, s) in sections(m).iter().enumerate() {
        let id = n as u32 + 1;
        e.u8(SECTION_FULL);
        e.u32(id);
        e.u8(s.id.len() as u8);
        e.0.extend_from_slice(s.id.as_bytes());
        e.u32(s.instance);
        e.u32(s.version);
        e.bytes(&s.fields);
        e.u8(SECTION_FOOTER);
        e.u32(id);
    }
    e.u8(EOF);
    e.0
}

/// Reads the container: every section, checked for framing only.
fn parse(data: &[u8]) -> Result<Vec<Section>, String> {
    let mut d = Dec::new(data, "device state file");
    let magic = d.u32()?;
    if magic != MAGIC {
        return Err(format!(
            "Not a device state file (magic {magic:#010x}, expected 0x5145564d \"QEVM\")"
        ));
    }
    let version = d.u32()?;
    if version != VERSION {
        return Err(format!(
            "Unsupported device state file version {version} (expected 3)"
        ));
    }
    let mut out = Vec::new();
    loop {
        match d.u8()? {
            EOF => break,
            SECTION_FULL => {}
            t => {
                return Err(format!(
                    "Unexpected section type {t:#04x} in the device state file"
                ))
            }
        }
        let id = d.u32()?;
        let n = d.u8()? as usize;
        let name = String::from_utf8_lossy(d.take(n)?).into_owned();
        let instance = d.u32()?;
        let version = d.u32()?;
        let fields = d.bytes(usize::MAX)?.to_vec();
        if d.u8()? != SECTION_FOOTER || d.u32()? != id {
            return Err(format!(
                "Section '{name}' instance {instance} is not followed by its footer"
            ));
        }
        out.push(Section {
            id: name,
            instance,
            version,
            fields,
        });
    }
    d.end()?;
    Ok(out)
}

fn load_machine(m: &mut Machine, f: &[u8], apply: bool) -> Result<(), String> {
    let mut d = Dec::new(f, "section 'machine'");
    let steps = d.u64()?;
    let offset = d.u64()?;
    let harts = d.u32()?;
    let ram = d.u64()?;
    d.end()?;
    if harts as usize != m.harts.len() || ram != m.bus.ram.size() {
        return Err(format!(
            "The device state is of a machine with {harts} harts and {ram:#x} bytes of RAM; \
             this one has {} and {:#x}",
            m.harts.len(),
            m.bus.ram.size()
        ));
    }
    if apply {
        m.steps = steps;
        m.bus.clock.offset = offset;
    }
    Ok(())
}

fn load_cpu(m: &mut Machine, i: usize, f: &[u8], apply: bool) -> Result<(), String> {
    let what = format!("section 'cpu' instance {i}");
    let mut d = Dec::new(f, &what);
    let pc = d.u64()?;
    let mut x = [0u64; 32];
    for v in &mut x {
        *v = d.u64()?;
    }
    let mut fr = [0u64; 32];
    for v in &mut fr {
        *v = d.u64()?;
    }
    let fflags = d.u32()?;
    let frm = d.u32()?;
    let prv = d.u8()?;
    let wfi = d.bool()?;
    let instret = d.u64()?;
    let has_res = d.bool()?;
    let res = d.u64()?;
    let res_value = d.u64()?;
    let mut c = [0u64; CSR_WORDS];
    for v in &mut c {
        *v = d.u64()?;
    }
    if d.u32()? as usize != PMP_ENTRIES {
        return Err(format!("{what}: another number of PMP entries"));
    }
    let mut pmpcfg = [0u8; PMP_ENTRIES];
    for v in &mut pmpcfg {
        *v = d.u8()?;
    }
    let mut pmpaddr = [0u64; PMP_ENTRIES];
    for v in &mut pmpaddr {
        *v = d.u64()?;
    }
    d.end()?;
    if !matches!(prv, PRV_U | PRV_S | PRV_M) || x[0] != 0 || fflags > 0x1f || frm > 7 {
        return Err(format!("{what}: invalid register values"));
    }
    if !apply {
        return Ok(());
    }
    let h = &mut m.harts[i];
    h.pc = pc;
    h.x = x;
    h.f = fr;
    h.fflags = fflags;
    h.frm = frm;
    h.prv = prv;
    h.state = if wfi {
        HartState::Wfi
    } else {
        HartState::Running
    };
    h.instret = instret;
    h.reservation = has_res.then_some(res);
    h.reservation_value = res_value;
    for (dst, v) in csr_words(&mut h.csr).into_iter().zip(c) {
        *dst = v;
    }
    let s = &mut h.csr;
    s.pmpcfg = pmpcfg;
    s.pmpaddr = pmpaddr;
    // Translations and PMP decisions cached under the old state are void.
    h.pmp_refresh();
    h.mmu.flush_all();
    h.update_tlb_sets();
    Ok(())
}

fn load_clint(m: &mut Machine, f: &[u8], apply: bool) -> Result<(), String> {
    let mut d = Dec::new(f, "section 'clint'");
    let n = d.u32()? as usize;
    if n != m.bus.irq.harts.len() {
        return Err("Section 'clint' is for another number of harts".into());
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push((d.bool()?, d.u64()?));
    }
    d.end()?;
    if apply {
        for (h, (msip, cmp)) in m.bus.irq.harts.iter_mut().zip(v) {
            h.msip = msip;
            h.mtimecmp = cmp;
        }
    }
    Ok(())
}

fn words<const N: usize>(d: &mut Dec) -> Result<[u32; N], String> {
    let mut w = [0u32; N];
    for v in &mut w {
        *v = d.u32()?;
    }
    Ok(w)
}

fn load_plic(m: &mut Machine, f: &[u8], apply: bool) -> Result<(), String> {
    const W: usize = PLIC_SOURCES.div_ceil(32);
    let mut d = Dec::new(f, "section 'plic'");
    if d.u32()? as usize != PLIC_SOURCES {
        return Err("Section 'plic' has another number of sources".into());
    }
    let levels: [u32; W] = words(&mut d)?;
    let priority: [u32; PLIC_SOURCES] = words(&mut d)?;
    let pending: [u32; W] = words(&mut d)?;
    let claimed: [u32; W] = words(&mut d)?;
    let n = d.u32()? as usize;
    if n != m.bus.irq.plic.contexts() {
        return Err("Section 'plic' has another number of contexts".into());
    }
    let mut ctx = Vec::with_capacity(n);
    for _ in 0..n {
        ctx.push((words::<W>(&mut d)?, d.u32()?));
    }
    d.end()?;
    if apply {
        let irq = &mut m.bus.irq;
        irq.levels = levels;
        irq.plic.priority = priority;
        irq.plic.pending = pending;
        irq.plic.claimed = claimed;
        for (i, (en, th)) in ctx.into_iter().enumerate() {
            irq.plic.enable[i] = en;
            irq.plic.threshold[i] = th;
        }
    }
    Ok(())
}

/// Loads a device-state file into `m`: checks all of it, then applies it.
pub fn load(m: &mut Machine, data: &[u8]) -> Result<(), String> {
    let found = parse(data)?;
    let want = sections(m);
    for (i, s) in found.iter().enumerate() {
        match want.get(i) {
            Some(w) if w.id == s.id && w.instance == s.instance => {
                if s.version != SECTION_VERSION {
                    return Err(format!(
                        "Section '{}' instance {} has version {}, haltpoint reads {}",
                        s.id, s.instance, s.version, SECTION_VERSION
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "Unknown section '{}' instance {} (this machine's section {} is {})",
                    s.id,
                    s.instance,
                    i + 1,
                    want.get(i).map_or("none".to_string(), |w| format!(
                        "'{}' instance {}",
                        w.id, w.instance
                    ))
                ))
            }
        }
    }
    if let Some(w) = want.get(found.len()) {
        return Err(format!(
            "Section '{}' instance {} is missing from the device state file",
            w.id, w.instance
        ));
    }
    for apply in [false, true] {
        let mut dev = 0;
        for s in &found {
            let r = match s.id.as_str() {
                "machine" => load_machine(m, &s.fields, apply),
                "cpu" => load_cpu(m, s.instance as usize, &s.fields, apply),
                "clint" => load_clint(m, &s.fields, apply),
                "plic" => load_plic(m, &s.fields, apply),
                _ => {
                    // Bus devices with state, in bus order (the names matched above).
                    let slot = m
                        .bus
                        .devices
                        .iter_mut()
                        .filter(|d| d.dev.save_state().is_some())
                        .nth(dev);
                    dev += 1;
                    match slot {
                        Some(d) => d.dev.load_state(&s.fields, apply),
                        None => Err(format!("No device for section '{}'", s.id)),
                    }
                }
            };
            // The second pass cannot fail after the first succeeded; if it did, the
            // machine would be half-loaded, so it is reported as such.
            r.map_err(|e| {
                if apply {
                    format!("{e} (while applying: the machine state is inconsistent)")
                } else {
                    e
                }
            })?;
        }
    }
    m.bus.now = m.bus.clock.ticks(m.steps);
    m.update_interrupts(m.steps);
    Ok(())
}

/// Writes the device state of `m` to `path` (a temporary file renamed into place).
pub fn save_file(m: &Machine, path: &Path) -> Result<(), String> {
    let data = save(m);
    let name = path
        .file_name()
        .ok_or_else(|| format!("'{}' is not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(
        ".{}.haltpoint-{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let r = std::fs::write(&tmp, &data).and_then(|_| std::fs::rename(&tmp, path));
    r.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("Could not write '{}': {e}", path.display())
    })
}

/// Loads the device-state file at `path` into `m` (unchanged on any error).
pub fn load_file(m: &mut Machine, path: &Path) -> Result<(), String> {
    let data =
        std::fs::read(path).map_err(|e| format!("Could not read '{}': {e}", path.display()))?;
    load(m, &data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_round_trip_and_truncation() {
        let mut e = Enc::default();
        e.u8(1);
        e.u16(0x0203);
        e.u32(0x0405_0607);
        e.u64(0x0809_0a0b_0c0d_0e0f);
        e.bytes(b"xy");
        e.bool(true);
        assert_eq!(
            e.0,
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 0, 0, 2, b'x', b'y', 1]
        );
        let mut d = Dec::new(&e.0, "t");
        assert_eq!(d.u8().unwrap(), 1);
        assert_eq!(d.u16().unwrap(), 0x0203);
        assert_eq!(d.u32().unwrap(), 0x0405_0607);
        assert_eq!(d.u64().unwrap(), 0x0809_0a0b_0c0d_0e0f);
        assert_eq!(d.bytes(2).unwrap(), b"xy");
        assert!(d.bool().unwrap());
        d.end().unwrap();
        assert!(d.u8().unwrap_err().starts_with("Truncated t"));
        let mut d = Dec::new(&e.0[15..], "t");
        assert!(d.bytes(1).is_err(), "longer than allowed");
    }
}
