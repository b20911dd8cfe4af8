//! Machine time.
//!
//! By default time is virtual and derived from retired instructions: every
//! [`STEPS_PER_TICK`] steps of the machine advance mtime by one tick of the 10 MHz
//! timebase, so a hart runs at a virtual 100 MIPS and the same inputs always produce
//! the same run. Harts are interleaved in quanta and all see the same machine step
//! count. With `-icount wall` (wall-clock mode), mtime follows the host's monotonic
//! clock instead.

use std::time::Instant;

/// Machine steps (instructions per hart) per timebase tick: 10 => a virtual 100 MIPS.
pub const STEPS_PER_TICK: u64 = 10;

#[derive(Clone, Debug)]
pub struct Clock {
    /// Host start time when time follows the wall clock.
    pub wall: Option<Instant>,
    /// Offset added by guest writes of mtime, in ticks.
    pub offset: u64,
    /// Timebase frequency (ticks per second).
    pub hz: u64,
}

impl Clock {
    pub fn new(wall: bool, hz: u64) -> Clock {
        Clock {
            wall: wall.then(Instant::now),
            offset: 0,
            hz,
        }
    }

    /// mtime at machine step `steps`.
    #[inline]
    pub fn ticks(&self, steps: u64) -> u64 {
        let base = match self.wall {
            None => steps / STEPS_PER_TICK,
            Some(t0) => (t0.elapsed().as_nanos() as u64).saturating_mul(self.hz / 1_000_000) / 1000,
        };
        base.wrapping_add(self.offset)
    }

    /// Sets mtime to `v` at machine step `steps`.
    pub fn set(&mut self, steps: u64, v: u64) {
        self.offset = 0;
        self.offset = v.wrapping_sub(self.ticks(steps));
    }

    /// The first machine step at which mtime reaches `tick` (virtual time only).
    pub fn step_of_tick(&self, tick: u64) -> Option<u64> {
        if self.wall.is_some() {
            return None;
        }
        if tick < self.offset {
            return Some(0);
        }
        (tick - self.offset).checked_mul(STEPS_PER_TICK)
    }

    pub fn is_virtual(&self) -> bool {
        self.wall.is_none()
    }
}
