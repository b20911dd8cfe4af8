//! Guest behaviour is data: random instruction streams and random device accesses must
//! never panic the emulator.

use haltpoint::machine::board::{self, Config, Image};
use haltpoint::machine::Outcome;

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn machine_with_code(code: Vec<u8>, harts: usize) -> haltpoint::machine::Machine {
    let cfg = Config {
        ram_size: 64 << 20,
        harts,
        bios: None,
        kernel: Some(Image {
            name: "random".into(),
            data: code,
        }),
        ..Config::default()
    };
    board::build(cfg).expect("build the board")
}

#[test]
fn random_instruction_streams_never_panic() {
    for seed in 1..=24u64 {
        let mut rng = Rng(seed * 0x9e37_79b9_7f4a_7c15);
        let mut code = Vec::new();
        // A prologue that points mtvec/stvec back into the random code and turns on FP,
        // so traps keep executing random instructions instead of spinning on one fault.
        for w in [
            0x8000_02b7u32, // lui t0, 0x80000
            0x3052_9073,    // csrw mtvec, t0
            0x1052_9073,    // csrw stvec, t0
            0x0000_62b7,    // lui t0, 0x6
            0x3002_a073,    // csrs mstatus, t0 (FS = dirty)
        ] {
            code.extend_from_slice(&w.to_le_bytes());
        }
        for _ in 0..16384 {
            let v = rng.next();
            // Mix 32-bit and compressed encodings.
            if v & 1 == 0 {
                code.extend_from_slice(&((v >> 8) as u32 | 3).to_le_bytes());
            } else {
                code.extend_from_slice(&((v >> 8) as u16).to_le_bytes());
            }
        }
        let mut m = machine_with_code(code, 1 + (seed as usize % 2));
        // Only completion matters: a panic would fail the test.
        let out = m.run(200_000);
        assert!(
            matches!(
                out,
                Outcome::Budget
                    | Outcome::Idle
                    | Outcome::PowerOff
                    | Outcome::Reset
                    | Outcome::Fail(_)
                    | Outcome::GuestPanicked
                    | Outcome::GuestCrashLoaded
                    | Outcome::GuestPvShutdown
                    | Outcome::Watchdog
            ),
            "seed {seed}: {out:?}"
        );
        // The harts really executed the random stream (traps included), not one fault.
        assert!(
            m.steps >= 100_000 || out != Outcome::Budget,
            "seed {seed}: {} steps",
            m.steps
        );
    }
}

#[test]
fn random_mmio_accesses_never_panic() {
    let mut m = machine_with_code(vec![0x6f, 0, 0, 0], 2); // j . (spins)
    let mut rng = Rng(42);
    let windows: Vec<(u64, u64)> = m.bus.devices.iter().map(|s| (s.base, s.size)).collect();
    for _ in 0..200_000 {
        let (base, size) = windows[(rng.next() % windows.len() as u64) as usize];
        let off = rng.next() % (size + 16);
        let sz = [1u8, 2, 4, 8][(rng.next() % 4) as usize];
        if rng.next() & 1 == 0 {
            let _ = m.bus.mmio_read(base + off, sz);
        } else {
            let _ = m.bus.mmio_write(base + off, sz, rng.next());
        }
        let _ = m.bus.peek(base + off, sz);
    }
    // The machine still runs afterwards (sifive_test writes may have asked to stop).
    m.bus.events.clear();
    let _ = m.run(10_000);
}
