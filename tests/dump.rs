//! dump-guest-memory against the real tools: `readelf`, `gdb-multiarch` on the core,
//! `makedumpfile -R` for the flattened kdump files, and tests/tools/kdump_page.py,
//! which walks a kdump file as crash does and decompresses pages with zlib, liblzo2
//! (python3-lzo) and libsnappy (python3-snappy). Dumps are taken through gdb's
//! `monitor dump-guest-memory` on the real binary, or through the library API on a
//! machine built in-process (slices, descriptors, speed).

mod common;

use common::gdb::{has, Hp};
use haltpoint::dump::{DumpFormat, DumpJob, DumpOptions, Sink};
use haltpoint::machine::board::{self, Config, Image};
use haltpoint::machine::Machine;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A fresh directory for one test.
fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hp-dump-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs a tool; returns stdout + stderr, asserting success.
fn tool(cmd: &str, args: &[&str], stdin: Option<&Path>) -> String {
    let mut c = Command::new(cmd);
    c.args(args);
    if let Some(p) = stdin {
        c.stdin(std::fs::File::open(p).unwrap());
    } else {
        c.stdin(Stdio::null());
    }
    let out = c.output().unwrap_or_else(|e| panic!("run {cmd}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd} {args:?} failed:\n{text}");
    text
}

/// The text after `$N = ` in gdb output.
fn gdb_value(out: &str, n: u32) -> String {
    let key = format!("${n} = ");
    out.lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap_or_else(|| panic!("no {key} in:\n{out}"))
        .to_string()
}

/// The first line of gdb output starting with `prefix`.
fn line_with<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{out}"))
}

/// gdb-multiarch on the demo ELF and a core file.
fn gdb_core(core: &Path, cmds: &[&str]) -> String {
    let elf = common::guest("demo/demo.elf");
    let core = core.display().to_string();
    let mut args = vec!["-batch", "-nx"];
    for c in cmds {
        args.push("-ex");
        args.push(c);
    }
    args.push(&elf);
    args.push(&core);
    let text = tool("gdb-multiarch", &args, None);
    eprintln!("--- gdb on core ---\n{text}");
    text
}

/// `readelf -lW` PT_LOAD rows: (offset, vaddr, paddr, filesz).
fn loads(core: &Path) -> Vec<(u64, u64, u64, u64)> {
    let out = tool("readelf", &["-lW", core.to_str().unwrap()], None);
    out.lines()
        .filter(|l| l.trim_start().starts_with("LOAD"))
        .map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .take(4)
                .map(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap())
                .collect();
            (f[0], f[1], f[2], f[3])
        })
        .collect()
}

#[test]
fn elf_core_readelf_and_gdb() {
    let dir = tmpdir("elf");
    let core = dir.join("core");
    let hp = Hp::start(&["-smp", "2"]);
    let dump = format!("monitor dump-guest-memory {}", core.display());
    let live = hp.gdb(&[
        "break main",
        "continue",
        "p/x $pc",
        "x/2gx 0x80000000",
        "thread 2",
        "p/x $pc",
        "thread 1",
        "p/x $sp",
        &dump,
        "kill",
    ]);
    has(&live, "dumped 134279168 bytes of guest memory to");
    let h = tool("readelf", &["-h", "-n", core.to_str().unwrap()], None);
    has(&h, "CORE (Core file)");
    has(&h, "Machine:                           RISC-V");
    assert_eq!(h.matches("NT_PRSTATUS").count(), 2, "{h}");
    // ROM and RAM, ascending, physical = virtual, memory right after the head.
    let l = loads(&core);
    assert_eq!(l.len(), 2, "{l:x?}");
    assert_eq!((l[0].1, l[0].2, l[0].3), (0x1000, 0x1000, 0xf000));
    assert_eq!(
        (l[1].1, l[1].2, l[1].3),
        (0x8000_0000, 0x8000_0000, 128 << 20)
    );
    assert_eq!(l[1].0, l[0].0 + 0xf000);

    let c = gdb_core(
        &core,
        &[
            "p/x $pc",
            "x/2gx 0x80000000",
            "thread 2",
            "p/x $pc",
            "thread 1",
            "p/x $sp",
            "info threads",
        ],
    );
    for n in 1..=3 {
        assert_eq!(gdb_value(&c, n), gdb_value(&live, n), "${n}");
    }
    assert!(gdb_value(&c, 1).starts_with("0x8000"));
    assert_eq!(
        line_with(&c, "0x80000000 <_start>:"),
        line_with(&live, "0x80000000 <_start>:")
    );
    has(&c, "LWP 2");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn paging_core_has_virtual_loads() {
    let dir = tmpdir("paging");
    let core = dir.join("core");
    let hp = Hp::start(&[]);
    let dump = format!("monitor dump-guest-memory -p {}", core.display());
    // demo_run_s sets satp (Sv39: an identity gigapage and its alias at
    // 0xffffffffc0000000) in its first instruction; stop a few later, still in M-mode.
    // (gdb steps riscv in software, so it cannot follow the mret into S-mode.)
    let live = hp.gdb(&[
        "break demo_run_s",
        "continue",
        "stepi 3",
        "p/x (unsigned long)$satp >> 60",
        "p/x *(unsigned long *)&demo_s_code",
        "p/x $pc",
        &dump,
        "kill",
    ]);
    assert_eq!(gdb_value(&live, 1), "0x8", "Sv39");
    has(&live, "(elf, paging)");
    let l = loads(&core);
    // The two gigapages clipped to the 128 MiB of RAM; the ROM is mapped by nothing.
    assert_eq!(l.len(), 2, "{l:x?}");
    assert_eq!(
        (l[0].1, l[0].2, l[0].3),
        (0x8000_0000, 0x8000_0000, 128 << 20)
    );
    assert_eq!(
        (l[1].1, l[1].2, l[1].3),
        (0xffff_ffff_c000_0000, 0x8000_0000, 128 << 20)
    );
    assert_eq!(l[0].0, l[1].0, "one copy of the memory");
    // gdb reads the S-mode code through the high alias, and the pc through identity.
    let c = gdb_core(
        &core,
        &[
            "p/x *(unsigned long *)((unsigned long)&demo_s_code + 0xffffffff40000000)",
            "p/x $pc",
            "p/x *(unsigned long *)0xffffffffc0000000",
            "p/x *(unsigned long *)0x80000000",
        ],
    );
    assert_eq!(gdb_value(&c, 1), gdb_value(&live, 2));
    assert_eq!(gdb_value(&c, 2), gdb_value(&live, 3));
    assert_eq!(gdb_value(&c, 3), gdb_value(&c, 4));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Debian kernel at its shell: a paging core holds the kernel's own mappings (Sv57
/// on this kernel), and gdb reads kernel text through them, the same bytes the live
/// session reads physically.
#[test]
fn linux_paging_core_reads_kernel_memory() {
    let args = common::linux_args("2", "console=ttyS0 hp=shell quiet");
    let hp = Hp::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    hp.wait_console("~ #", 240);
    let dir = tmpdir("linux");
    let core = dir.join("core");
    let dump = format!("monitor dump-guest-memory -p {}", core.display());
    // Live reads are physical (a hart may be in OpenSBI, untranslated, at the stop);
    // the core is read at the kernel's virtual addresses of the same bytes.
    let live = hp.gdb_elf(
        None,
        &[
            "p/x $pc",
            "monitor phys on",
            "x/4gx 0x80200000",
            "x/4gx 0x80a00000",
            &dump,
            "kill",
        ],
    );
    has(&live, "(elf, paging)");
    let l = loads(&core);
    // The kernel image mapping: KERNEL_LINK_ADDR onto the kernel at RAM base + 2 MiB.
    assert!(
        l.iter()
            .any(|&(_, va, pa, _)| va == 0xffff_ffff_8000_0000 && pa == 0x8020_0000),
        "{l:x?}"
    );
    let core_cmd = format!("core-file {}", core.display());
    let c = tool(
        "gdb-multiarch",
        &[
            "-batch",
            "-nx",
            "-ex",
            "set architecture riscv:rv64",
            "-ex",
            &core_cmd,
            "-ex",
            "p/x $pc",
            "-ex",
            "x/4gx 0xffffffff80000000",
            "-ex",
            "x/4gx 0xffffffff80800000",
        ],
        None,
    );
    eprintln!("--- gdb on core ---\n{c}");
    assert_eq!(gdb_value(&c, 1), gdb_value(&live, 1), "pc");
    // The words of each `x/4gx` row (two per row), in order.
    let words = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("0x") && l.contains(":\t0x"))
            .flat_map(|l| {
                l.split('\t')
                    .skip(1)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (a, b) = (words(&live), words(&c));
    assert_eq!(a.len(), 8, "{live}");
    assert!(a.iter().any(|w| w != "0x0000000000000000"), "{live}");
    assert_eq!(a, b, "kernel text through the core's virtual mappings");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Pages read back from a kdump file by tests/tools/kdump_page.py: header line, then
/// (paddr, flags, hex).
fn kdump_pages(file: &Path, paddrs: &[u64]) -> (String, Vec<(u64, u32, String)>) {
    let script = common::root().join("tests/tools/kdump_page.py");
    let mut args = vec![script.display().to_string(), file.display().to_string()];
    args.extend(paddrs.iter().map(|p| format!("{p:#x}")));
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let out = tool("/usr/bin/python3", &args, None);
    let mut lines = out.lines();
    let head = lines.next().unwrap_or_default().to_string();
    let pages = lines
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let pa = u64::from_str_radix(f[0].trim_start_matches("0x"), 16).unwrap();
            if f[1] == "excluded" {
                (pa, u32::MAX, String::new())
            } else {
                (pa, f[1].parse().unwrap(), f[3].to_string())
            }
        })
        .collect();
    (head, pages)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn kdump_all_variants_reassemble_and_decompress() {
    let dir = tmpdir("kdump");
    let hp = Hp::start(&["-smp", "2"]);
    let ram = dir.join("ram.bin");
    let rom = dir.join("rom.bin");
    let variants = [
        ("-z", 1, false),
        ("-l", 2, false),
        ("-s", 4, false),
        ("-z -R", 1, true),
        ("-l -R", 2, true),
        ("-s -R", 4, true),
    ];
    let mut cmds = vec![
        "break main".to_string(),
        "continue".to_string(),
        format!("dump binary memory {} 0x80000000 0x80002000", ram.display()),
        format!("dump binary memory {} 0x1000 0x2000", rom.display()),
    ];
    for (i, (flags, _, _)) in variants.iter().enumerate() {
        cmds.push(format!(
            "monitor dump-guest-memory {flags} {}",
            dir.join(format!("k{i}")).display()
        ));
    }
    cmds.push("kill".into());
    let cmds: Vec<&str> = cmds.iter().map(|s| s.as_str()).collect();
    let live = hp.gdb(&cmds);
    assert_eq!(live.matches("dumped 134279168 bytes").count(), 6, "{live}");
    let ram = std::fs::read(&ram).unwrap();
    let rom = std::fs::read(&rom).unwrap();
    assert_eq!(ram.len(), 8192);
    for (i, (flags, flag, raw)) in variants.iter().enumerate() {
        let f = dir.join(format!("k{i}"));
        let file = if *raw {
            f.clone()
        } else {
            let bytes = std::fs::read(&f).unwrap();
            assert_eq!(&bytes[..12], b"makedumpfile", "{flags}: flattened header");
            assert_eq!(bytes[bytes.len() - 16..], [0xff; 16], "{flags}: end record");
            let re = dir.join(format!("k{i}.re"));
            let out = tool(
                "makedumpfile",
                &["-R", re.to_str().unwrap()],
                Some(f.as_path()),
            );
            has(&out, "makedumpfile Completed");
            re
        };
        let (head, pages) = kdump_pages(
            &file,
            &[0x8000_0000, 0x8000_1000, 0x1000, 0x8010_0000, 0x7000_0000],
        );
        has(&head, "version=6 machine=riscv64");
        has(
            &head,
            &format!("status={flag} block=4096 nr_cpus=2 max_mapnr=0x88000"),
        );
        let want = [
            hex(&ram[..4096]),
            hex(&ram[4096..]),
            hex(&rom),
            "00".repeat(4096),
        ];
        for (j, w) in want.iter().enumerate() {
            assert_eq!(&pages[j].2, w, "{flags}: page {:#x}", pages[j].0);
        }
        assert_eq!(pages[0].1, *flag, "{flags}: the code page is compressed");
        assert_eq!(pages[3].1, 0, "{flags}: the zero page is stored raw, once");
        assert_eq!(
            pages[4].1,
            u32::MAX,
            "{flags}: MMIO/holes are not in the dump"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Unmounts on drop.
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn failed_dumps_leave_no_file() {
    let dir = tmpdir("fail");
    let full = dir.join("full");
    std::fs::create_dir_all(&full).unwrap();
    // 16 KiB: `old` takes one page, and the rest is less than the demo's non-zero pages
    // (code, data, stack, device tree). An ELF dump leaves zero pages as holes, so a
    // bigger tmpfs could hold one.
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
        .arg(&full)
        .status()
        .expect("run mount");
    assert!(st.success(), "mounting a small tmpfs needs root");
    let _mount = Tmpfs(full.clone());
    // An older file of the same name survives a failed dump untouched.
    std::fs::write(full.join("old"), b"previous dump").unwrap();
    let hp = Hp::start(&[]);
    let out = hp.gdb(&[
        "break main",
        "continue",
        &format!("monitor dump-guest-memory {}", full.join("core").display()),
        &format!("monitor dump-guest-memory {}", full.join("old").display()),
        &format!("monitor dump-guest-memory -z {}", full.join("kd").display()),
        &format!(
            "monitor dump-guest-memory -s -R {}",
            full.join("kr").display()
        ),
        &format!(
            "monitor dump-guest-memory {}",
            dir.join("no/such/dir/core").display()
        ),
        "kill",
    ]);
    assert_eq!(
        out.matches("No space left on device").count(),
        4,
        "each dump reports the full disk:\n{out}"
    );
    has(&out, "dump-guest-memory: Could not write the dump to '");
    has(&out, "dump-guest-memory: Could not open '");
    has(&out, "No such file or directory");
    let mut left: Vec<String> = std::fs::read_dir(&full)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["old"], "only the older file is left");
    assert_eq!(std::fs::read(full.join("old")).unwrap(), b"previous dump");
    assert!(!dir.join("no").exists());
    drop(_mount);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The demo guest built in-process, run a while so memory holds its code and data.
fn machine(harts: usize, ram_size: u64) -> Machine {
    let data = std::fs::read(common::guest("demo/demo.elf")).unwrap();
    let mut m = board::build(Config {
        ram_size,
        harts,
        kernel: Some(Image {
            name: "demo.elf".into(),
            data,
        }),
        ..Default::default()
    })
    .unwrap();
    m.run(20_000);
    m
}

/// Fills RAM from 0x80100000 with pages of text, random bytes, zeros and runs, so every
/// compression path (compressed, stored raw, shared zero page) is taken.
fn fill(m: &mut Machine, bytes: usize) {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let text = b"haltpoint kdump page: the quick brown fox jumps over the lazy dog 0123456789\n";
    for (i, page) in m.bus.ram.data[0x10_0000..0x10_0000 + bytes]
        .chunks_mut(4096)
        .enumerate()
    {
        match i % 4 {
            0 => page
                .iter_mut()
                .enumerate()
                .for_each(|(j, b)| *b = text[(j + i) % text.len()]),
            1 => page.iter_mut().for_each(|b| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }),
            2 => {}
            _ => page
                .iter_mut()
                .enumerate()
                .for_each(|(j, b)| *b = (j / 300) as u8),
        }
    }
}

#[test]
fn sliced_dump_equals_one_shot_and_pages_match_ram() {
    let dir = tmpdir("slices");
    let mut m = machine(2, 16 << 20);
    fill(&mut m, 1 << 20);
    for (name, fmt) in [
        ("zlib", DumpFormat::KdumpRawZlib),
        ("lzo", DumpFormat::KdumpRawLzo),
        ("snappy", DumpFormat::KdumpRawSnappy),
        ("elf", DumpFormat::Elf),
    ] {
        let mut opts = DumpOptions::new(fmt);
        opts.timestamp = Some((1, 2));
        let one = dir.join(format!("{name}.one"));
        let mut job = DumpJob::start(&m, opts.clone(), Sink::create(&one).unwrap()).unwrap();
        job.run(&m).unwrap();
        let sliced = dir.join(format!("{name}.sliced"));
        let mut job = DumpJob::start(&m, opts, Sink::create(&sliced).unwrap()).unwrap();
        let total = job.progress().total;
        assert_eq!(total, 0xf000 + (16 << 20));
        let mut steps = 0;
        let mut last = 0;
        loop {
            let p = job.step(&m, 3 * 4096).unwrap();
            assert!(p.completed > last && p.completed <= p.total);
            last = p.completed;
            steps += 1;
            if p.done {
                break;
            }
            assert!(!sliced.exists(), "not in place before the end");
        }
        assert_eq!(last, total);
        assert!(steps > 1000);
        assert_eq!(
            std::fs::read(&one).unwrap(),
            std::fs::read(&sliced).unwrap(),
            "{name}"
        );
        if fmt == DumpFormat::Elf {
            continue;
        }
        let pas: Vec<u64> = (0..8).map(|i| 0x8010_0000 + i * 4096).collect();
        let (_, pages) = kdump_pages(&sliced, &pas);
        let mut flags = std::collections::BTreeSet::new();
        for (pa, f, h) in pages {
            let off = (pa - 0x8000_0000) as usize;
            assert_eq!(h, hex(&m.bus.ram.data[off..off + 4096]), "{name} {pa:#x}");
            flags.insert(f);
        }
        // Text and runs compress, random bytes do not, zero pages share one copy.
        assert_eq!(flags.len(), 2, "{name}: {flags:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dumps_into_a_pipe_descriptor() {
    use std::io::Read;
    let m = machine(1, 16 << 20);
    for fmt in [DumpFormat::KdumpSnappy, DumpFormat::Elf] {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            stdout.read_to_end(&mut v).unwrap();
            v
        });
        let file = std::fs::File::from(std::os::fd::OwnedFd::from(stdin));
        let sink = Sink::from_file(file, "pipe");
        assert!(!sink.seekable());
        let mut job = DumpJob::start(&m, DumpOptions::new(fmt), sink).unwrap();
        job.run(&m).unwrap();
        drop(job);
        let bytes = reader.join().unwrap();
        child.wait().unwrap();
        let dir = tmpdir("pipe");
        let f = dir.join("stream");
        std::fs::write(&f, &bytes).unwrap();
        if fmt == DumpFormat::Elf {
            let h = tool("readelf", &["-h", f.to_str().unwrap()], None);
            has(&h, "CORE (Core file)");
            assert_eq!(bytes.len(), 4096 + 0xf000 + (16 << 20));
        } else {
            let re = dir.join("re");
            tool("makedumpfile", &["-R", re.to_str().unwrap()], Some(&f));
            let (head, pages) = kdump_pages(&re, &[0x8000_0000]);
            has(&head, "status=4");
            assert_eq!(pages[0].2, hex(&m.bus.ram.data[..4096]));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn lzo_streams_decompress_with_liblzo2() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for n in [0, 1, 2, 3, 4, 5, 17, 18, 19, 237, 238, 239, 240, 300, 4096] {
        inputs.push(rnd(n));
        inputs.push(vec![0x55; n]);
    }
    // Matches of every length class and distance class (M2, M3, M4 with and without the
    // high distance bit, beyond M4's reach), separated by literal runs of 0..20 bytes.
    for dist in [1, 7, 2048, 2049, 16384, 16385, 20000, 40000, 49151, 60000] {
        for lit in [0, 1, 2, 3, 4, 18, 19, 20] {
            let base = rnd(dist);
            let mut v = base.clone();
            for len in [3, 4, 8, 9, 33, 34, 300, 70000] {
                v.extend(rnd(lit));
                let start = v.len() - dist.min(v.len());
                for i in 0..len {
                    let b = v[start + i % dist.min(v.len() - start)];
                    v.push(b);
                }
            }
            inputs.push(v);
        }
    }
    let text: Vec<u8> = b"struct page *page = pfn_to_page(pfn); /* kernel text */\n"
        .iter()
        .cycle()
        .take(100_000)
        .copied()
        .collect();
    inputs.push(text);
    let dir = tmpdir("lzo");
    let mut blob = Vec::new();
    for i in &inputs {
        let mut c = Vec::new();
        haltpoint::dump::lzo::compress(i, &mut c);
        assert!(c.len() <= haltpoint::dump::lzo::worst_case(i.len()));
        blob.extend_from_slice(&(i.len() as u32).to_le_bytes());
        blob.extend_from_slice(&(c.len() as u32).to_le_bytes());
        blob.extend_from_slice(i);
        blob.extend_from_slice(&c);
    }
    let f = dir.join("cases");
    std::fs::write(&f, &blob).unwrap();
    let script = "import lzo, struct, sys\n\
        d = open(sys.argv[1], 'rb').read(); o = 0; n = 0\n\
        while o < len(d):\n\
        \x20   a, b = struct.unpack_from('<II', d, o); o += 8\n\
        \x20   src = d[o:o + a]; o += a; c = d[o:o + b]; o += b\n\
        \x20   out = lzo.decompress(c, False, max(a, 1))\n\
        \x20   assert out == src, (n, a, b)\n\
        \x20   n += 1\n\
        print('ok', n)\n";
    let out = tool(
        "/usr/bin/python3",
        &["-c", script, f.to_str().unwrap()],
        None,
    );
    assert_eq!(out.trim(), format!("ok {}", inputs.len()));
    let _ = std::fs::remove_dir_all(&dir);
}
