//! Building the `virt` board from a [`Config`]: memory, devices, images, device tree.

use super::fdt::{self, FdtConfig};
use super::layout::*;
use super::loader::{self, Blob, ImageKind};
use super::Machine;
use crate::bus::{Bus, Ram};
use crate::clock::Clock;
use crate::cpu::Hart;
use crate::devices::{
    clint::Clint, fw_cfg::FwCfg, goldfish_rtc::GoldfishRtc, plic::Plic, pvpanic::PvPanic,
    sifive_test::SifiveTest, sunxi_wdt::SunxiWdt, uart::Uart, virtio_blk::VirtioBlk,
    virtio_mmio::VirtioMmio,
};
use crate::irq::IrqState;
use crate::logging::Log;

/// An image given on the command line (or embedded): its name and bytes.
#[derive(Clone, Debug)]
pub struct Image {
    pub name: String,
    pub data: Vec<u8>,
}

/// A disk attached to a virtio-mmio slot as a virtio-blk device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriveConfig {
    /// The raw image file.
    pub path: String,
    pub read_only: bool,
    /// The GET_ID answer (up to 20 bytes are used).
    pub serial: String,
}

/// Everything needed to build the board.
pub struct Config {
    pub ram_size: u64,
    pub harts: usize,
    /// Firmware at the RAM base; `None` is `-bios none`.
    pub bios: Option<Image>,
    pub kernel: Option<Image>,
    pub initrd: Option<Image>,
    pub append: Option<String>,
    /// A device tree to use instead of the generated one.
    pub dtb: Option<Vec<u8>>,
    pub wall_clock: bool,
    pub log: Log,
    /// Disks, in the order they are plugged: the first lands in the highest-address
    /// virtio-mmio slot and is probed first by Linux (/dev/vda), as on QEMU.
    pub drives: Vec<DriveConfig>,
    /// Extra fw_cfg files (`-fw_cfg name=...`): name and contents.
    pub fw_cfg: Vec<(String, Vec<u8>)>,
    /// Offer `etc/vmcoreinfo` in fw_cfg (on by default: dumps carry the guest's note
    /// without flags; `-machine virt,vmcoreinfo=off` turns it off).
    pub vmcoreinfo: bool,
    /// Seed of the device tree's `rng-seed` (`-seed`).
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            ram_size: 0,
            harts: 0,
            bios: None,
            kernel: None,
            initrd: None,
            append: None,
            dtb: None,
            wall_clock: false,
            log: Log::default(),
            drives: Vec::new(),
            fw_cfg: Vec::new(),
            vmcoreinfo: true,
            seed: 0,
        }
    }
}

/// The ISA string and extension list advertised in the device tree.
pub const ISA: &str = "rv64imafdc_zicntr_zicsr_zifencei_zihpm_zba_zbb_zbs_sstc";
pub const ISA_EXTENSIONS: &[&str] = &[
    "i", "m", "a", "f", "d", "c", "zicntr", "zicsr", "zifencei", "zihpm", "zba", "zbb", "zbs",
    "sstc",
];

fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}

/// Builds a machine: devices on the bus, images in memory, DTB and reset ROM.
pub fn build(cfg: Config) -> Result<Machine, String> {
    if cfg.harts == 0 || cfg.harts > MAX_HARTS {
        return Err(format!(
            "Invalid number of harts {} (supported: 1 to {MAX_HARTS})",
            cfg.harts
        ));
    }
    if cfg.ram_size < (16 << 20) || cfg.ram_size > (1 << 40) || !cfg.ram_size.is_multiple_of(PAGE) {
        return Err(format!(
            "Invalid RAM size {:#x}: it must be a multiple of 4 KiB between 16 MiB and 1 TiB",
            cfg.ram_size
        ));
    }
    let ram = Ram::new(RAM_BASE, cfg.ram_size as usize);
    let rom = Ram::new(MROM_BASE, MROM_SIZE as usize);
    let mut bus = Bus::new(ram, rom, IrqState::new(cfg.harts), cfg.log);
    bus.clock = Clock::new(cfg.wall_clock, TIMEBASE_HZ);
    let add = |bus: &mut Bus, base, irq, dev| bus.add(base, irq, dev).map_err(|e| e.to_string());
    add(&mut bus, TEST_BASE, None, Box::new(SifiveTest::new()))?;
    // Deterministic by default: the RTC starts at a fixed epoch unless time is wall-clock.
    let rtc_base = if cfg.wall_clock {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    } else {
        1_767_225_600_000_000_000 // 2026-01-01T00:00:00Z
    };
    add(
        &mut bus,
        RTC_BASE,
        Some(RTC_IRQ),
        Box::new(GoldfishRtc::new(RTC_IRQ, rtc_base)),
    )?;
    add(&mut bus, CLINT_BASE, None, Box::new(Clint::new()))?;
    add(&mut bus, PLIC_BASE, None, Box::new(Plic::new()))?;
    let uart = add(
        &mut bus,
        UART0_BASE,
        Some(UART0_IRQ),
        Box::new(Uart::new(UART0_IRQ)),
    )?;
    if cfg.drives.len() > VIRTIO_COUNT as usize {
        return Err(format!(
            "Too many virtio devices: {} (the board has {VIRTIO_COUNT} virtio-mmio slots)",
            cfg.drives.len()
        ));
    }
    let mut disks = Vec::new();
    for d in &cfg.drives {
        let blk = VirtioBlk::open(std::path::Path::new(&d.path), d.read_only, &d.serial)
            .map_err(|e| e.to_string())?;
        disks.push(blk);
    }
    // As QEMU's virt: devices are plugged into the transports from the highest address
    // down, and the transports are registered (and so described in the device tree) in
    // that same order, so Linux probes the first disk first and names it /dev/vda.
    let mut disks = disks.into_iter();
    for n in (0..VIRTIO_COUNT).rev() {
        let irq = VIRTIO_IRQ + n as u32;
        let transport = match disks.next() {
            Some(blk) => VirtioMmio::with_backend(irq, Box::new(blk)),
            None => VirtioMmio::new(irq),
        };
        add(
            &mut bus,
            VIRTIO_BASE + n * VIRTIO_SIZE,
            Some(irq),
            Box::new(transport),
        )?;
    }
    let fw_cfg = FwCfg::new(cfg.harts, &cfg.fw_cfg, cfg.vmcoreinfo)?;
    let fw_cfg = add(&mut bus, FW_CFG_BASE, None, Box::new(fw_cfg))?;
    add(
        &mut bus,
        WDT_BASE,
        Some(WDT_IRQ),
        Box::new(SunxiWdt::new(WDT_IRQ)),
    )?;
    add(&mut bus, PVPANIC_BASE, None, Box::new(PvPanic::new()))?;

    let mut blobs: Vec<Blob> = Vec::new();
    let mut symbols = Vec::new();
    let mut tohost = None;
    // Firmware at the RAM base.
    let (start, fw_end) = match &cfg.bios {
        Some(img) => {
            let l = loader::load_any(&img.name, &img.data, RAM_BASE)?;
            symbols.extend(l.symbols.iter().cloned());
            tohost = tohost.or(l.tohost);
            blobs.extend(l.blobs);
            (l.entry, l.end)
        }
        None => (RAM_BASE, RAM_BASE),
    };
    // Kernel: an ELF at its own addresses; an Image or flat binary after the firmware.
    let kernel_start = align_up(fw_end, 2 << 20);
    let mut kernel_entry = kernel_start;
    let mut kernel_end = kernel_start;
    if let Some(img) = &cfg.kernel {
        let l = loader::load_any(&img.name, &img.data, kernel_start)?;
        if loader::kind(&img.data) == ImageKind::Elf {
            tohost = tohost.or(l.tohost);
        }
        symbols.extend(l.symbols.iter().cloned());
        kernel_entry = l.entry;
        kernel_end = l.end;
        blobs.extend(l.blobs);
    }
    let entry = if cfg.bios.is_some() {
        start
    } else {
        kernel_entry
    };
    // initrd: as QEMU, half-way into RAM for small machines, else 128 MiB in.
    let mut initrd_range = None;
    if let Some(img) = &cfg.initrd {
        let size = img.data.len() as u64;
        let mut addr = align_up(kernel_entry + (cfg.ram_size / 2).min(128 << 20), PAGE);
        addr = addr.max(align_up(kernel_end, PAGE));
        if addr + size > RAM_BASE + cfg.ram_size {
            return Err(format!(
                "{}: initrd of {size} bytes does not fit in RAM (try a larger -m)",
                img.name
            ));
        }
        blobs.push(Blob {
            name: img.name.clone(),
            addr,
            data: img.data.clone(),
        });
        initrd_range = Some((addr, addr + size));
    }
    let harts: Vec<Hart> = (0..cfg.harts).map(Hart::new).collect();
    bus.htif = tohost;

    let fdt = match cfg.dtb {
        Some(d) => d,
        None => {
            let fc = FdtConfig {
                harts: cfg.harts,
                ram_base: RAM_BASE,
                ram_size: cfg.ram_size,
                bootargs: cfg.append.clone(),
                initrd: initrd_range,
                isa: ISA.to_string(),
                isa_extensions: ISA_EXTENSIONS.iter().map(|s| s.to_string()).collect(),
                mmu_type: "riscv,sv57".to_string(),
                timebase: TIMEBASE_HZ,
                rng_seed: Some(fdt::rng_seed(cfg.seed)),
            };
            fdt::build(&fc, &bus).map_err(|e| format!("Cannot build the device tree: {e}"))?
        }
    };
    // As QEMU: the DTB goes at the end of RAM (below 3 GiB), aligned down to 2 MiB.
    let dram_end = RAM_BASE + cfg.ram_size;
    let limit = if RAM_BASE < 3 << 30 {
        dram_end.min(3 << 30)
    } else {
        dram_end
    };
    let fdt_addr = (limit - fdt.len() as u64) & !((2 << 20) - 1);
    if fdt_addr < kernel_end.max(initrd_range.map_or(0, |r| r.1)) {
        return Err(
            "The device tree does not fit above the images in RAM (try a larger -m)".into(),
        );
    }
    blobs.push(Blob {
        name: "dtb".into(),
        addr: fdt_addr,
        data: fdt.clone(),
    });
    blobs.push(Blob {
        name: "mrom".into(),
        addr: MROM_BASE,
        data: loader::reset_rom(entry, fdt_addr, kernel_entry),
    });
    for b in &blobs {
        let end = b.addr.checked_add(b.data.len() as u64);
        let in_ram = bus.ram.offset(b.addr, b.data.len() as u64).is_some();
        let in_rom = bus.rom.offset(b.addr, b.data.len() as u64).is_some();
        if end.is_none() || !(in_ram || in_rom) {
            return Err(format!(
                "{}: cannot load {} bytes at {:#x}: outside RAM ({:#x}..{:#x})",
                b.name,
                b.data.len(),
                b.addr,
                RAM_BASE,
                RAM_BASE + cfg.ram_size
            ));
        }
    }
    let mut m = Machine {
        harts,
        bus,
        steps: 0,
        blobs,
        fdt,
        fdt_addr,
        uart,
        fw_cfg: Some(fw_cfg),
        symbols,
        debug: Default::default(),
        vm: Default::default(),
        pending_outcome: None,
    };
    m.reset();
    Ok(m)
}

const PAGE: u64 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    fn image(name: &str) -> String {
        let p = std::env::temp_dir().join(format!("haltpoint-board-{}-{name}", std::process::id()));
        std::fs::write(&p, [0u8; 4096]).expect("write image");
        p.display().to_string()
    }

    fn config(drives: Vec<DriveConfig>) -> Config {
        Config {
            ram_size: 64 << 20,
            harts: 1,
            drives,
            ..Config::default()
        }
    }

    #[test]
    fn drives_fill_the_highest_slots_first() {
        let (a, b) = (image("a"), image("b"));
        let drive = |path: &str| DriveConfig {
            path: path.into(),
            read_only: true,
            serial: String::new(),
        };
        let m = match build(config(vec![drive(&a), drive(&b)])) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        };
        // DeviceID of each slot: 2 (block) in slots 7 and 6, 0 (empty) elsewhere.
        let ids: Vec<u64> = (0..VIRTIO_COUNT)
            .map(|n| {
                m.bus
                    .peek(VIRTIO_BASE + n * VIRTIO_SIZE + 8, 4)
                    .unwrap_or(99)
            })
            .collect();
        assert_eq!(ids, [0, 0, 0, 0, 0, 0, 2, 2]);
        // Capacity of the first disk (slot 7): 8 sectors.
        assert_eq!(m.bus.peek(0x1000_8100, 4), Some(8));
        let too_many = (0..9).map(|_| drive(&a)).collect();
        match build(config(too_many)) {
            Ok(_) => panic!("nine drives must not fit"),
            Err(e) => assert!(e.contains("Too many virtio devices: 9"), "{e}"),
        }
        match build(config(vec![drive("/nonexistent/disk.img")])) {
            Ok(_) => panic!("a missing image must fail"),
            Err(e) => assert!(
                e.starts_with("Could not open '/nonexistent/disk.img'"),
                "{e}"
            ),
        }
        std::fs::remove_file(a).ok();
        std::fs::remove_file(b).ok();
    }
}
