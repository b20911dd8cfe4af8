//! The device tree handed to firmware and kernel, laid out as QEMU 7.2's `virt` board.
//!
//! ```text
//! /                      #address-cells = #size-cells = 2, "riscv-virtio"
//! ├── chosen             bootargs, linux,initrd-start/end, rng-seed, stdout-path
//! ├── poweroff, reboot   syscon nodes over the sifive_test device (when on the bus)
//! ├── fw-cfg@10100000    devices that belong at the root (QEMU puts fw-cfg there)
//! ├── memory@80000000
//! ├── cpus               timebase-frequency
//! │   ├── cpu@N          ISA, MMU type, and its interrupt-controller
//! │   └── cpu-map        cluster0/coreN -> cpu@N
//! └── soc                simple-bus: one node per other bus device, written by the device
//! ```
//!
//! The devices under `/soc` describe themselves ([`crate::bus::Device::fdt`]), so this
//! builder knows nothing of their registers and the tree follows the bus map.
//!
//! Phandles are fixed, so the same configuration always yields the same bytes:
//!
//! | phandle  | node                                                    |
//! |----------|---------------------------------------------------------|
//! | 1        | the PLIC ([`PLIC_PHANDLE`])                             |
//! | 2        | the sifive_test device ([`sifive_test::TEST_PHANDLE`]) |
//! | 3 + 2*N  | `cpu@N` ([`cpu_phandle`])                               |
//! | 4 + 2*N  | `cpu@N/interrupt-controller` ([`cpu_intc_phandle`])     |

use crate::bus::{Bus, FdtCtx};
use crate::devices::{sifive_test, uart};
use vm_fdt::{FdtWriter, FdtWriterResult};

/// Phandle of the PLIC, the `interrupt-parent` of every device interrupt.
pub const PLIC_PHANDLE: u32 = 1;
const FIRST_CPU_PHANDLE: u32 = 3;
const _: () = assert!(sifive_test::TEST_PHANDLE < FIRST_CPU_PHANDLE);
const _: () = assert!(PLIC_PHANDLE != sifive_test::TEST_PHANDLE);

/// Phandle of the node `cpu@hart`.
pub fn cpu_phandle(hart: usize) -> u32 {
    FIRST_CPU_PHANDLE + 2 * hart as u32
}

/// Phandle of the local interrupt controller of `hart`.
pub fn cpu_intc_phandle(hart: usize) -> u32 {
    cpu_phandle(hart) + 1
}

/// What the device tree says beyond the bus devices.
#[derive(Clone, Debug)]
pub struct FdtConfig {
    pub harts: usize,
    pub ram_base: u64,
    pub ram_size: u64,
    /// Kernel command line (`-append`).
    pub bootargs: Option<String>,
    /// Initrd physical range: start, end (exclusive).
    pub initrd: Option<(u64, u64)>,
    /// `riscv,isa`, for example `rv64imafdc_zicntr_zicsr_zifencei_zihpm_zba_zbb_zbs`.
    pub isa: String,
    /// `riscv,isa-extensions`, for example `["i", "m", "a", "f", "d", "c", "zicntr"]`.
    pub isa_extensions: Vec<String>,
    /// `mmu-type`, for example `riscv,sv57`.
    pub mmu_type: String,
    /// `timebase-frequency` in Hz.
    pub timebase: u64,
    /// `/chosen/rng-seed`: bytes Linux credits as entropy at boot (see [`rng_seed`]).
    pub rng_seed: Option<[u8; 32]>,
}

/// The 32 bytes of `rng-seed` for `seed` (splitmix64, little-endian words).
///
/// QEMU's `virt` puts 32 random bytes there; Linux trusts them
/// (`random.trust_bootloader`), so its random pool is ready from the first
/// instruction. Without them the pool stays uninitialised for the whole boot and every
/// `get_random_*` call re-hashes it: 11% more guest instructions for a Debian boot.
/// Deriving them from a seed keeps runs repeatable; `-seed` picks another stream.
pub fn rng_seed(seed: u64) -> [u8; 32] {
    let mut state = seed;
    let mut out = [0u8; 32];
    for word in out.chunks_exact_mut(8) {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        word.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

/// Builds the DTB for `cfg` and the devices on `bus`.
pub fn build(cfg: &FdtConfig, bus: &Bus) -> Result<Vec<u8>, vm_fdt::Error> {
    let ctx = FdtCtx {
        plic_phandle: PLIC_PHANDLE,
        cpu_intc_phandles: (0..cfg.harts).map(cpu_intc_phandle).collect(),
        harts: cfg.harts,
        timebase: cfg.timebase,
    };
    let mut fdt = FdtWriter::new()?;
    let root = fdt.begin_node("")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string("compatible", "riscv-virtio")?;
    fdt.property_string("model", "riscv-virtio,qemu")?;
    chosen(&mut fdt, cfg, bus)?;
    if bus
        .devices
        .iter()
        .any(|s| s.dev.name() == sifive_test::NAME)
    {
        sifive_test::fdt_syscon_nodes(&mut fdt)?;
    }
    for slot in bus.devices.iter().filter(|s| s.dev.fdt_at_root()) {
        slot.dev.fdt(slot.base, slot.irq, &mut fdt, &ctx)?;
    }
    memory(&mut fdt, cfg)?;
    cpus(&mut fdt, cfg)?;
    soc(&mut fdt, bus, &ctx)?;
    fdt.end_node(root)?;
    fdt.finish()
}

fn chosen(fdt: &mut FdtWriter, cfg: &FdtConfig, bus: &Bus) -> FdtWriterResult<()> {
    let node = fdt.begin_node("chosen")?;
    if let Some(args) = &cfg.bootargs {
        fdt.property_string("bootargs", args)?;
    }
    if let Some((start, end)) = cfg.initrd {
        fdt.property_u64("linux,initrd-start", start)?;
        fdt.property_u64("linux,initrd-end", end)?;
    }
    if let Some(seed) = &cfg.rng_seed {
        fdt.property("rng-seed", seed)?;
    }
    // The console is the first UART on the bus.
    if let Some(s) = bus.devices.iter().find(|s| s.dev.name() == uart::NAME) {
        fdt.property_string("stdout-path", &format!("/soc/{}", uart::node_name(s.base)))?;
    }
    fdt.end_node(node)
}

fn memory(fdt: &mut FdtWriter, cfg: &FdtConfig) -> FdtWriterResult<()> {
    let node = fdt.begin_node(&format!("memory@{:x}", cfg.ram_base))?;
    fdt.property_string("device_type", "memory")?;
    fdt.property_array_u64("reg", &[cfg.ram_base, cfg.ram_size])?;
    fdt.end_node(node)
}

fn cpus(fdt: &mut FdtWriter, cfg: &FdtConfig) -> FdtWriterResult<()> {
    let node = fdt.begin_node("cpus")?;
    fdt.property_u32("#address-cells", 1)?;
    fdt.property_u32("#size-cells", 0)?;
    // One cell when it fits (always, in practice), two otherwise, as the DT spec allows.
    match u32::try_from(cfg.timebase) {
        Ok(hz) => fdt.property_u32("timebase-frequency", hz)?,
        Err(_) => fdt.property_u64("timebase-frequency", cfg.timebase)?,
    }
    for hart in 0..cfg.harts {
        cpu(fdt, cfg, hart)?;
    }
    let map = fdt.begin_node("cpu-map")?;
    let cluster = fdt.begin_node("cluster0")?;
    for hart in 0..cfg.harts {
        let core = fdt.begin_node(&format!("core{hart}"))?;
        fdt.property_u32("cpu", cpu_phandle(hart))?;
        fdt.end_node(core)?;
    }
    fdt.end_node(cluster)?;
    fdt.end_node(map)?;
    fdt.end_node(node)
}

fn cpu(fdt: &mut FdtWriter, cfg: &FdtConfig, hart: usize) -> FdtWriterResult<()> {
    let node = fdt.begin_node(&format!("cpu@{hart:x}"))?;
    fdt.property_phandle(cpu_phandle(hart))?;
    fdt.property_string("device_type", "cpu")?;
    fdt.property_u32("reg", hart as u32)?;
    fdt.property_string("status", "okay")?;
    fdt.property_string("compatible", "riscv")?;
    fdt.property_string("riscv,isa", &cfg.isa)?;
    if !cfg.isa_extensions.is_empty() {
        fdt.property_string("riscv,isa-base", "rv64i")?;
        fdt.property_string_list("riscv,isa-extensions", cfg.isa_extensions.clone())?;
    }
    fdt.property_string("mmu-type", &cfg.mmu_type)?;
    let intc = fdt.begin_node("interrupt-controller")?;
    fdt.property_u32("#interrupt-cells", 1)?;
    fdt.property_null("interrupt-controller")?;
    fdt.property_string("compatible", "riscv,cpu-intc")?;
    fdt.property_phandle(cpu_intc_phandle(hart))?;
    fdt.end_node(intc)?;
    fdt.end_node(node)
}

fn soc(fdt: &mut FdtWriter, bus: &Bus, ctx: &FdtCtx) -> FdtWriterResult<()> {
    let node = fdt.begin_node("soc")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string("compatible", "simple-bus")?;
    fdt.property_null("ranges")?;
    for slot in bus.devices.iter().filter(|s| !s.dev.fdt_at_root()) {
        slot.dev.fdt(slot.base, slot.irq, fdt, ctx)?;
    }
    fdt.end_node(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Ram;
    use crate::devices::clint::Clint;
    use crate::devices::fw_cfg::FwCfg;
    use crate::devices::goldfish_rtc::GoldfishRtc;
    use crate::devices::plic::Plic;
    use crate::devices::pvpanic::PvPanic;
    use crate::devices::sifive_test::SifiveTest;
    use crate::devices::sunxi_wdt::SunxiWdt;
    use crate::devices::uart::Uart;
    use crate::devices::virtio_mmio::VirtioMmio;
    use crate::irq::IrqState;
    use crate::logging::Log;
    use crate::machine::layout::*;
    use std::error::Error;
    use std::process::Command;

    type TestResult = Result<(), Box<dyn Error>>;

    /// Every board device at its `virt` address.
    fn board(harts: usize) -> Result<Bus, Box<dyn Error>> {
        let mut bus = Bus::new(
            Ram::new(RAM_BASE, 1 << 20),
            Ram::new(MROM_BASE, MROM_SIZE as usize),
            IrqState::new(harts),
            Log::default(),
        );
        bus.add(TEST_BASE, None, Box::new(SifiveTest::new()))?;
        bus.add(
            RTC_BASE,
            Some(RTC_IRQ),
            Box::new(GoldfishRtc::new(RTC_IRQ, 0)),
        )?;
        bus.add(CLINT_BASE, None, Box::new(Clint::new()))?;
        bus.add(PLIC_BASE, None, Box::new(Plic::new()))?;
        bus.add(UART0_BASE, Some(UART0_IRQ), Box::new(Uart::new(UART0_IRQ)))?;
        for n in 0..VIRTIO_COUNT {
            let irq = VIRTIO_IRQ + n as u32;
            bus.add(
                VIRTIO_BASE + n * VIRTIO_SIZE,
                Some(irq),
                Box::new(VirtioMmio::new(irq)),
            )?;
        }
        bus.add(FW_CFG_BASE, None, Box::new(FwCfg::new(harts, &[], true)?))?;
        bus.add(WDT_BASE, Some(WDT_IRQ), Box::new(SunxiWdt::new(WDT_IRQ)))?;
        bus.add(PVPANIC_BASE, None, Box::new(PvPanic::new()))?;
        Ok(bus)
    }

    fn config(harts: usize) -> FdtConfig {
        FdtConfig {
            harts,
            ram_base: RAM_BASE,
            ram_size: 256 << 20,
            bootargs: Some("console=ttyS0 earlycon".into()),
            initrd: Some((0x8800_0000, 0x8812_3456)),
            isa: "rv64imafdc_zicsr_zifencei".into(),
            isa_extensions: ["i", "m", "a", "f", "d", "c", "zicsr", "zifencei"]
                .map(String::from)
                .to_vec(),
            mmu_type: "riscv,sv57".into(),
            timebase: TIMEBASE_HZ,
            rng_seed: Some(rng_seed(0)),
        }
    }

    #[test]
    fn rng_seed_is_splitmix64_of_the_seed() {
        // splitmix64's first outputs from state 0 (its published reference values).
        let s = rng_seed(0);
        assert_eq!(s[..8], 0xe220_a839_7b1d_cdafu64.to_le_bytes());
        assert_eq!(s[8..16], 0x6e78_9e6a_a1b9_65f4u64.to_le_bytes());
        assert_eq!(rng_seed(0), s, "the same seed gives the same bytes");
        assert_ne!(rng_seed(1), s, "another seed gives other bytes");
    }

    /// Decompiles `dtb` with dtc; `None` (with a note) when dtc is not installed.
    fn decompile(dtb: &[u8], name: &str) -> Result<Option<String>, Box<dyn Error>> {
        if !std::path::Path::new("/usr/bin/dtc").exists() {
            eprintln!("note: /usr/bin/dtc not installed; skipping the dtc check");
            return Ok(None);
        }
        let path =
            std::env::temp_dir().join(format!("haltpoint-{}-{name}.dtb", std::process::id()));
        std::fs::write(&path, dtb)?;
        let out = Command::new("/usr/bin/dtc")
            .args(["-I", "dtb", "-O", "dts"])
            .arg(&path)
            .output();
        std::fs::remove_file(&path)?;
        let out = out?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "dtc failed: {stderr}");
        // QEMU's own tree draws this warning too: its cpu interrupt controllers have no
        // #address-cells, and neither have Linux's riscv trees. Any other warning fails.
        let warnings: Vec<&str> = stderr
            .lines()
            .filter(|l| {
                !(l.contains("Warning (interrupt_provider)")
                    && l.contains("/interrupt-controller: Missing #address-cells"))
            })
            .collect();
        assert!(warnings.is_empty(), "dtc warnings: {warnings:#?}");
        Ok(Some(String::from_utf8(out.stdout)?))
    }

    /// The text of node `name` in dtc output: from its opening line to its closing brace
    /// at the same indentation.
    fn node<'a>(dts: &'a str, name: &str) -> &'a str {
        let open = format!("{name} {{");
        let Some(start) = dts.find(&format!("\t{open}")) else {
            panic!("node {name} missing from:\n{dts}");
        };
        let line_start = dts[..start].rfind('\n').map_or(0, |i| i + 1);
        let indent = &dts[line_start..=start];
        let close = format!("\n{indent}}};");
        let end = dts[start..].find(&close).map_or(dts.len(), |i| start + i);
        &dts[start..end]
    }

    fn has(text: &str, lines: &[&str]) {
        for l in lines {
            assert!(text.contains(l), "missing `{l}` in:\n{text}");
        }
    }

    #[test]
    fn two_hart_board_matches_qemu_layout() -> TestResult {
        let bus = board(2)?;
        let dtb = build(&config(2), &bus)?;
        let Some(dts) = decompile(&dtb, "virt2")? else {
            return Ok(());
        };
        has(
            &dts,
            &[
                "#address-cells = <0x02>;",
                "#size-cells = <0x02>;",
                "compatible = \"riscv-virtio\";",
                "model = \"riscv-virtio,qemu\";",
            ],
        );
        has(
            node(&dts, "chosen"),
            &[
                "bootargs = \"console=ttyS0 earlycon\";",
                "linux,initrd-start = <0x00 0x88000000>;",
                "linux,initrd-end = <0x00 0x88123456>;",
                "rng-seed = <0xafcd1d7b 0x39a820e2 0xf465b9a1 0x6a9e786e",
                "stdout-path = \"/soc/serial@10000000\";",
            ],
        );
        has(
            node(&dts, "poweroff"),
            &[
                "value = <0x5555>;",
                "offset = <0x00>;",
                "regmap = <0x02>;",
                "compatible = \"syscon-poweroff\";",
            ],
        );
        has(
            node(&dts, "reboot"),
            &[
                "value = <0x7777>;",
                "regmap = <0x02>;",
                "compatible = \"syscon-reboot\";",
            ],
        );
        has(
            node(&dts, "memory@80000000"),
            &[
                "device_type = \"memory\";",
                "reg = <0x00 0x80000000 0x00 0x10000000>;",
            ],
        );
        let cpus = node(&dts, "cpus");
        has(
            cpus,
            &[
                "#address-cells = <0x01>;",
                "#size-cells = <0x00>;",
                "timebase-frequency = <0x989680>;",
            ],
        );
        for (hart, phandle, intc) in [(0, "0x03", "0x04"), (1, "0x05", "0x06")] {
            let cpu = node(cpus, &format!("cpu@{hart}"));
            has(
                cpu,
                &[
                    &format!("phandle = <{phandle}>;"),
                    "device_type = \"cpu\";",
                    &format!("reg = <0x0{hart}>;"),
                    "status = \"okay\";",
                    "compatible = \"riscv\";",
                    "riscv,isa = \"rv64imafdc_zicsr_zifencei\";",
                    "riscv,isa-base = \"rv64i\";",
                    "riscv,isa-extensions = \"i\\0m\\0a\\0f\\0d\\0c\\0zicsr\\0zifencei\";",
                    "mmu-type = \"riscv,sv57\";",
                ],
            );
            assert!(!cpu.contains("cbom"));
            has(
                node(cpu, "interrupt-controller"),
                &[
                    "#interrupt-cells = <0x01>;",
                    "interrupt-controller;",
                    "compatible = \"riscv,cpu-intc\";",
                    &format!("phandle = <{intc}>;"),
                ],
            );
            let core = node(
                node(node(cpus, "cpu-map"), "cluster0"),
                &format!("core{hart}"),
            );
            has(core, &[&format!("cpu = <{phandle}>;")]);
        }
        let soc = node(&dts, "soc");
        has(
            soc,
            &[
                "#address-cells = <0x02>;",
                "#size-cells = <0x02>;",
                "compatible = \"simple-bus\";",
                "ranges;",
            ],
        );
        has(
            node(soc, "clint@2000000"),
            &[
                "compatible = \"sifive,clint0\\0riscv,clint0\";",
                "reg = <0x00 0x2000000 0x00 0x10000>;",
                "interrupts-extended = <0x04 0x03 0x04 0x07 0x06 0x03 0x06 0x07>;",
            ],
        );
        has(
            node(soc, "plic@c000000"),
            &[
                "phandle = <0x01>;",
                "riscv,ndev = <0x5f>;",
                "reg = <0x00 0xc000000 0x00 0x600000>;",
                "interrupts-extended = <0x04 0x0b 0x04 0x09 0x06 0x0b 0x06 0x09>;",
                "interrupt-controller;",
                "compatible = \"sifive,plic-1.0.0\\0riscv,plic0\";",
                "#address-cells = <0x00>;",
                "#interrupt-cells = <0x01>;",
            ],
        );
        has(
            node(soc, "serial@10000000"),
            &[
                "interrupts = <0x0a>;",
                "interrupt-parent = <0x01>;",
                // 0x00384000, which dtc guesses is a string, as it does for QEMU's tree.
                "clock-frequency = \"\\08@\";",
                "reg = <0x00 0x10000000 0x00 0x100>;",
                "compatible = \"ns16550a\";",
            ],
        );
        has(
            node(soc, "test@100000"),
            &[
                "phandle = <0x02>;",
                "reg = <0x00 0x100000 0x00 0x1000>;",
                "compatible = \"sifive,test1\\0sifive,test0\\0syscon\";",
            ],
        );
        has(
            node(soc, "rtc@101000"),
            &[
                "interrupts = <0x0b>;",
                "interrupt-parent = <0x01>;",
                "reg = <0x00 0x101000 0x00 0x1000>;",
                "compatible = \"google,goldfish-rtc\";",
            ],
        );
        for n in 0..8u64 {
            let base = VIRTIO_BASE + n * VIRTIO_SIZE;
            has(
                node(soc, &format!("virtio_mmio@{base:x}")),
                &[
                    &format!("interrupts = <0x0{}>;", n + 1),
                    "interrupt-parent = <0x01>;",
                    &format!("reg = <0x00 {base:#x} 0x00 0x1000>;"),
                    "compatible = \"virtio,mmio\";",
                ],
            );
        }
        // As QEMU 7.2's virt: fw-cfg at the root, not in /soc.
        assert!(!soc.contains("fw-cfg"));
        has(
            node(&dts, "fw-cfg@10100000"),
            &[
                "dma-coherent;",
                "reg = <0x00 0x10100000 0x00 0x18>;",
                "compatible = \"qemu,fw-cfg-mmio\";",
            ],
        );
        has(
            node(soc, "watchdog@10101000"),
            &[
                "interrupts = <0x0c>;",
                "interrupt-parent = <0x01>;",
                "reg = <0x00 0x10101000 0x00 0x20>;",
                "compatible = \"allwinner,sun6i-a31-wdt\";",
            ],
        );
        has(
            node(soc, "pvpanic@10102000"),
            &[
                "reg = <0x00 0x10102000 0x00 0x02>;",
                "compatible = \"qemu,pvpanic-mmio\";",
            ],
        );
        Ok(())
    }

    #[test]
    fn optional_chosen_properties_are_omitted() -> TestResult {
        let mut cfg = config(1);
        cfg.bootargs = None;
        cfg.initrd = None;
        let dtb = build(&cfg, &board(1)?)?;
        let Some(dts) = decompile(&dtb, "virt1")? else {
            return Ok(());
        };
        let chosen = node(&dts, "chosen");
        assert!(!chosen.contains("bootargs") && !chosen.contains("initrd"));
        has(chosen, &["stdout-path = \"/soc/serial@10000000\";"]);
        assert!(!dts.contains("cpu@1"));
        Ok(())
    }

    #[test]
    fn build_is_deterministic_and_valid_for_many_harts() -> TestResult {
        let bus = board(MAX_HARTS)?;
        let a = build(&config(MAX_HARTS), &bus)?;
        let b = build(&config(MAX_HARTS), &bus)?;
        assert_eq!(a, b);
        // Header: magic, then total size matching the blob.
        assert_eq!(a[..4], [0xd0, 0x0d, 0xfe, 0xed]);
        assert_eq!(
            u32::from_be_bytes([a[4], a[5], a[6], a[7]]) as usize,
            a.len()
        );
        if let Some(dts) = decompile(&a, "virt64")? {
            has(&dts, &["cpu@3f {", "core63 {"]);
        }
        Ok(())
    }

    #[test]
    fn a_bus_without_test_or_uart_has_no_syscon_or_stdout() -> TestResult {
        let bus = Bus::new(
            Ram::new(RAM_BASE, 1 << 20),
            Ram::new(MROM_BASE, MROM_SIZE as usize),
            IrqState::new(1),
            Log::default(),
        );
        let dtb = build(&config(1), &bus)?;
        if let Some(dts) = decompile(&dtb, "bare")? {
            assert!(!dts.contains("poweroff") && !dts.contains("stdout-path"));
        }
        Ok(())
    }
}
