//! The device-state file (QEVM v3): save, disturb, load gives the same machine; a state
//! moved to another machine (with its RAM) runs on identically; bad files are refused
//! with the machine untouched. The state is compared through a digest built without
//! the save code: every hart's architectural fields, the interrupt state, time, and
//! every device register read with side-effect-free `peek`.

mod common;

use haltpoint::devstate;
use haltpoint::machine::board::{self, Config, DriveConfig, Image};
use haltpoint::machine::{Machine, Outcome};
use std::fmt::Write;

fn machine(disk: &std::path::Path) -> Machine {
    let data = std::fs::read(common::guest("demo/demo.elf")).unwrap();
    board::build(Config {
        ram_size: 32 << 20,
        harts: 2,
        kernel: Some(Image {
            name: "demo.elf".into(),
            data,
        }),
        drives: vec![DriveConfig {
            path: disk.display().to_string(),
            read_only: false,
            serial: "hp".into(),
        }],
        ..Default::default()
    })
    .unwrap()
}

fn digest(m: &Machine) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "steps {} offset {}", m.steps, m.bus.clock.offset);
    for h in &m.harts {
        let _ = writeln!(
            s,
            "hart {} pc {:#x} x {:x?} f {:x?} fflags {} frm {} prv {} {:?} instret {} \
             res {:?} {:#x} mip_hw {:#x}\n{:?}",
            h.id,
            h.pc,
            h.x,
            h.f,
            h.fflags,
            h.frm,
            h.prv,
            h.state,
            h.instret,
            h.reservation,
            h.reservation_value,
            h.mip_hw,
            h.csr
        );
    }
    let _ = writeln!(s, "{:?}", m.bus.irq);
    for d in &m.bus.devices {
        let regs: Vec<u64> = (0..d.size.min(0x200))
            .step_by(4)
            .map(|o| m.bus.peek(d.base + o, 4).unwrap_or(u64::MAX))
            .collect();
        let _ = writeln!(s, "{} @{:#x}: {:x?}", d.dev.name(), d.base, regs);
    }
    s
}

fn disk(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("hp-devstate-{name}-{}.img", std::process::id()));
    std::fs::write(&p, vec![0u8; 1 << 20]).unwrap();
    p
}

/// Runs until the guest powers off; returns the console output.
fn run_to_end(m: &mut Machine) -> String {
    for _ in 0..100 {
        match m.run(1_000_000) {
            Outcome::PowerOff => break,
            Outcome::Budget | Outcome::Idle => {}
            o => panic!("unexpected {o:?}"),
        }
    }
    String::from_utf8_lossy(&std::mem::take(&mut m.bus.console)).into_owned()
}

#[test]
fn save_reset_load_restores_everything() {
    let d = disk("a");
    let mut m = machine(&d);
    // Part-way through the demo: timer armed, paging used, UART written.
    m.run(6_000);
    let before = digest(&m);
    let file = devstate::save(&m);
    assert_eq!(&file[..8], b"QEVM\0\0\0\x03");
    assert_eq!(*file.last().unwrap(), 0, "EOF marker");
    m.reset();
    m.run(3_000);
    assert_ne!(digest(&m), before, "the disturbance changed the machine");
    devstate::load(&mut m, &file).unwrap();
    assert_eq!(digest(&m), before);
    assert_eq!(devstate::save(&m), file, "saving again gives the same file");
    let _ = std::fs::remove_file(d);
}

#[test]
fn a_state_moved_to_another_machine_runs_on_identically() {
    let (da, db) = (disk("b1"), disk("b2"));
    let mut a = machine(&da);
    a.run(6_000);
    let state = devstate::save(&a);
    let ram = a.bus.ram.data.clone();
    let early = String::from_utf8_lossy(&a.bus.console).into_owned();

    let mut b = machine(&db);
    b.run(1_234);
    b.bus.ram.data.copy_from_slice(&ram);
    b.bus.icache.flush_all();
    devstate::load(&mut b, &state).unwrap();
    b.bus.console.clear();
    a.bus.console.clear();
    assert_eq!(digest(&a), digest(&b));

    let out_a = run_to_end(&mut a);
    let out_b = run_to_end(&mut b);
    assert!(
        format!("{early}{out_a}").contains("all 9 checks passed"),
        "{early}{out_a}"
    );
    assert_eq!(out_a, out_b);
    assert_eq!(digest(&a), digest(&b));
    assert!(a.bus.ram.data == b.bus.ram.data, "RAM diverged");
    let _ = std::fs::remove_file(da);
    let _ = std::fs::remove_file(db);
}

#[test]
fn bad_files_are_refused_and_change_nothing() {
    let d = disk("c");
    let mut m = machine(&d);
    m.run(6_000);
    let good = devstate::save(&m);
    m.run(2_000);
    let now = digest(&m);
    let mut cases: Vec<(Vec<u8>, &str)> = vec![
        (b"QEMU\0\0\0\x03\0".to_vec(), "Not a device state file"),
        (
            [&good[..4], &[0, 0, 0, 2], &good[8..]].concat(),
            "Unsupported device state file version 2",
        ),
        (
            good[..good.len() - 1].to_vec(),
            "Truncated device state file",
        ),
        (good[..good.len() / 2].to_vec(), "Truncated"),
        ([&good[..], &[0]].concat(), "unexpected bytes"),
        (good[..8].to_vec(), "Truncated"),
    ];
    // A section id this machine does not have: rename the first section "machine"
    // to "mochine".
    let mut renamed = good.clone();
    let at = renamed.windows(7).position(|w| w == b"machine").unwrap();
    renamed[at + 1] = b'o';
    cases.push((renamed, "Unknown section 'mochine' instance 0"));
    // A section that passes framing but fails its own check: hart 0's privilege 2.
    let mut bad_priv = good.clone();
    let cpu = bad_priv.windows(3).position(|w| w == b"cpu").unwrap();
    // After the idstr: instance, version, length; then pc, x0..x31, f0..f31, fflags, frm.
    let prv_at = cpu + 3 + 4 + 4 + 4 + 8 + 32 * 8 + 32 * 8 + 4 + 4;
    bad_priv[prv_at] = 2;
    cases.push((
        bad_priv,
        "section 'cpu' instance 0: invalid register values",
    ));
    // The last section (the disk's transport) claims another device type: nothing of
    // the earlier, valid sections may have been applied either.
    let mut bad_last = good.clone();
    let v = bad_last
        .windows(11)
        .rposition(|w| w == b"virtio_mmio")
        .unwrap();
    let idlen = bad_last[v - 1] as usize;
    let fields = v + idlen + 4 + 4 + 4;
    assert_eq!(bad_last[fields..fields + 4], [0, 0, 0, 2], "virtio-blk");
    bad_last[fields + 3] = 9;
    cases.push((bad_last, "is for virtio device type 9"));
    for (data, want) in cases {
        let err = devstate::load(&mut m, &data).unwrap_err();
        assert!(err.contains(want), "{want:?} not in {err:?}");
        assert_eq!(
            digest(&m),
            now,
            "machine changed by a refused file ({want})"
        );
    }
    // Files on disk: written whole, read back.
    let dir = std::env::temp_dir().join(format!("hp-devstate-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("state");
    devstate::save_file(&m, &f).unwrap();
    devstate::load_file(&mut m, &f).unwrap();
    assert_eq!(digest(&m), now);
    let err = devstate::load_file(&mut m, &dir.join("none")).unwrap_err();
    assert!(err.starts_with("Could not read '"), "{err}");
    let err = devstate::save_file(&m, &dir.join("no/dir/state")).unwrap_err();
    assert!(err.starts_with("Could not write '"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(d);
}
