//! The interpreter runs traces of instructions (blocks) and charges them to a budget;
//! where a run ends must never change what the guest computes or counts. The blocks
//! guest (tests/guests/blocks.S: loops, branches both ways, calls, a loop across a page
//! boundary, code rewritten in a running loop) is run for the same number of steps in
//! slices of many sizes, and every hart's state must equal the state after single
//! steps, which take the per-instruction path.

mod common;

use haltpoint::machine::board::{self, Config, Image};
use haltpoint::machine::{Machine, Outcome};

fn machine() -> Machine {
    let data = std::fs::read(common::guest("blocks.elf")).unwrap();
    board::build(Config {
        ram_size: 16 << 20,
        harts: 1,
        kernel: Some(Image {
            name: "blocks.elf".into(),
            data,
        }),
        ..Default::default()
    })
    .unwrap()
}

/// The architectural state of hart 0 and the machine time.
fn state(m: &Machine) -> String {
    let h = &m.harts[0];
    format!(
        "steps {} pc {:#x} x {:x?} instret {} prv {} {:?}",
        m.steps, h.pc, h.x, h.instret, h.prv, h.csr
    )
}

/// Runs `total` steps in slices of `slice` steps; the state, or None when the guest
/// powered off first.
fn run_sliced(total: u64, slice: u64) -> Option<String> {
    let mut m = machine();
    while m.steps < total {
        match m.run(slice.min(total - m.steps)) {
            Outcome::Budget | Outcome::Idle => {}
            Outcome::PowerOff => return None,
            o => panic!("unexpected {o:?} after {} steps", m.steps),
        }
    }
    assert_eq!(m.steps, total, "a slice overran");
    Some(state(&m))
}

#[test]
fn any_slicing_gives_the_state_of_single_steps() {
    // How long the guest runs, so the checkpoints below fall inside it.
    let mut m = machine();
    let mut end = 0;
    while end == 0 {
        match m.run(1_000_000) {
            Outcome::PowerOff => end = m.steps,
            Outcome::Budget | Outcome::Idle => assert!(m.steps < 100_000_000, "no power-off"),
            o => panic!("unexpected {o:?}"),
        }
    }
    assert!(end > 10_000, "the guest ran only {end} steps");
    // Checkpoints spread over the run (and odd, so they land mid-block).
    for total in [777, end / 3 + 1, end / 2 + 3, end - 5] {
        let reference = run_sliced(total, 1).expect("powered off before the checkpoint");
        for slice in [2, 3, 7, 63, 64, 65, 1000, 1 << 20] {
            let got = run_sliced(total, slice).expect("powered off before the checkpoint");
            assert_eq!(got, reference, "{total} steps in slices of {slice}");
        }
    }
}

/// A block that branches to itself runs for a whole slice: the interpreter goes from
/// block to block within a page without returning (the handlers' calls are jumps in
/// optimised builds), so this must not grow the host stack. Run on a small stack so a
/// build where those calls stayed calls overflows here instead of in a user's session.
#[test]
fn a_self_loop_runs_a_long_slice_on_a_small_stack() {
    let run = || {
        // beq x0, x0, 0: a one-instruction loop at the entry.
        let m = board::build(Config {
            ram_size: 16 << 20,
            harts: 1,
            kernel: Some(Image {
                name: "loop.bin".into(),
                data: 0x0000_0063u32.to_le_bytes().to_vec(),
            }),
            ..Default::default()
        });
        let mut m = m.unwrap();
        let entry = m.harts[0].pc;
        let mut pcs = Vec::new();
        while m.steps < 5_000_000 {
            assert_eq!(m.run(5_000_000 - m.steps), Outcome::Budget);
            pcs.push(m.harts[0].pc);
        }
        (m.steps, entry, pcs)
    };
    let (steps, entry, pcs) = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(run)
        .unwrap()
        .join()
        .expect("the loop ran without exhausting its stack");
    assert_eq!(steps, 5_000_000);
    assert_ne!(entry, 0);
    // The reset ROM's few instructions, then the loop at the RAM base.
    assert!(pcs.iter().all(|&pc| pc == 0x8000_0000), "{pcs:x?}");
}
