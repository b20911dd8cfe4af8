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
