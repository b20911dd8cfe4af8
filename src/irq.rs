//! Interrupt state owned by the machine.
//!
//! Devices drive PLIC source lines through [`crate::bus::DevCtx::set_irq`]. The PLIC core
//! ([`PlicState`]) turns line levels into per-context external-interrupt outputs; the CLINT
//! registers (`msip`, `mtimecmp`) live here too. The CLINT and PLIC *devices* are only
//! register front-ends over this state, so the machine can recompute each hart's `mip`
//! bits without reaching into a device.

/// Number of PLIC interrupt sources, including the reserved source 0 (as on QEMU virt).
pub const PLIC_SOURCES: usize = 96;
/// Highest PLIC priority value.
pub const PLIC_MAX_PRIORITY: u32 = 7;
const WORDS: usize = PLIC_SOURCES.div_ceil(32);

/// CLINT and PLIC outputs for one hart.
#[derive(Clone, Debug)]
pub struct HartIrq {
    /// Machine software interrupt pending (CLINT msip).
    pub msip: bool,
    /// Machine timer compare (CLINT mtimecmp).
    pub mtimecmp: u64,
}

impl Default for HartIrq {
    fn default() -> Self {
        HartIrq {
            msip: false,
            mtimecmp: u64::MAX,
        }
    }
}

/// The PLIC's gateway and core state. Context `2*h` is hart `h` M-mode, `2*h+1` S-mode.
#[derive(Clone, Debug)]
pub struct PlicState {
    pub priority: [u32; PLIC_SOURCES],
    pub pending: [u32; WORDS],
    pub claimed: [u32; WORDS],
    pub enable: Vec<[u32; WORDS]>,
    pub threshold: Vec<u32>,
}

fn bit(words: &[u32; WORDS], src: usize) -> bool {
    words[src / 32] & (1 << (src % 32)) != 0
}

fn set_bit(words: &mut [u32; WORDS], src: usize, v: bool) {
    if v {
        words[src / 32] |= 1 << (src % 32);
    } else {
        words[src / 32] &= !(1 << (src % 32));
    }
}

impl PlicState {
    pub fn new(contexts: usize) -> PlicState {
        PlicState {
            priority: [0; PLIC_SOURCES],
            pending: [0; WORDS],
            claimed: [0; WORDS],
            enable: vec![[0; WORDS]; contexts],
            threshold: vec![0; contexts],
        }
    }

    pub fn contexts(&self) -> usize {
        self.threshold.len()
    }

    /// The best pending, enabled source above the threshold of `ctx`, or 0.
    pub fn best(&self, ctx: usize) -> usize {
        let (mut best, mut best_prio) = (0, self.threshold[ctx]);
        for src in 1..PLIC_SOURCES {
            if bit(&self.pending, src) && bit(&self.enable[ctx], src) {
                let p = self.priority[src];
                if p > best_prio {
                    best = src;
                    best_prio = p;
                }
            }
        }
        best
    }

    /// Claims the best source for `ctx` (0 when none).
    pub fn claim(&mut self, ctx: usize) -> u32 {
        let src = self.best(ctx);
        if src != 0 {
            set_bit(&mut self.pending, src, false);
            set_bit(&mut self.claimed, src, true);
        }
        src as u32
    }

    /// Completes `src` for `ctx`. Ignored when the source is not enabled for `ctx`.
    pub fn complete(&mut self, ctx: usize, src: u32, level: bool) -> bool {
        let src = src as usize;
        if src == 0 || src >= PLIC_SOURCES || !bit(&self.enable[ctx], src) {
            return false;
        }
        set_bit(&mut self.claimed, src, false);
        if level {
            set_bit(&mut self.pending, src, true);
        }
        true
    }

    pub fn is_pending(&self, src: usize) -> bool {
        src < PLIC_SOURCES && bit(&self.pending, src)
    }

    pub fn is_enabled(&self, ctx: usize, src: usize) -> bool {
        src < PLIC_SOURCES && bit(&self.enable[ctx], src)
    }
}

/// All interrupt state of the board.
#[derive(Clone, Debug)]
pub struct IrqState {
    /// Current level of each PLIC source line.
    pub levels: [u32; WORDS],
    pub plic: PlicState,
    pub harts: Vec<HartIrq>,
}

impl IrqState {
    pub fn new(harts: usize) -> IrqState {
        IrqState {
            levels: [0; WORDS],
            plic: PlicState::new(harts * 2),
            harts: vec![HartIrq::default(); harts],
        }
    }

    /// Sets a source line level. Returns true when outputs may have changed.
    pub fn set_line(&mut self, line: u32, level: bool) -> bool {
        let src = line as usize;
        if src == 0 || src >= PLIC_SOURCES || bit(&self.levels, src) == level {
            return false;
        }
        set_bit(&mut self.levels, src, level);
        // Level-triggered, as QEMU's PLIC: pending follows the line while unclaimed.
        if !bit(&self.plic.claimed, src) {
            set_bit(&mut self.plic.pending, src, level);
        }
        true
    }

    pub fn level(&self, line: u32) -> bool {
        (line as usize) < PLIC_SOURCES && bit(&self.levels, line as usize)
    }

    /// External interrupt outputs (MEIP, SEIP) for hart `h`.
    pub fn external(&self, h: usize) -> (bool, bool) {
        (self.plic.best(2 * h) != 0, self.plic.best(2 * h + 1) != 0)
    }

    pub fn reset(&mut self) {
        let n = self.harts.len();
        *self = IrqState::new(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_triggered_claim_complete() {
        let mut s = IrqState::new(1);
        s.plic.priority[10] = 1;
        s.plic.enable[1][0] = 1 << 10;
        assert!(s.set_line(10, true));
        assert_eq!(s.external(0), (false, true));
        assert_eq!(s.plic.claim(1), 10);
        assert_eq!(s.external(0), (false, false));
        // Still high at completion: pending again.
        assert!(s.plic.complete(1, 10, s.level(10)));
        assert_eq!(s.external(0), (false, true));
        s.plic.claim(1);
        s.set_line(10, false);
        s.plic.complete(1, 10, s.level(10));
        assert_eq!(s.external(0), (false, false));
    }

    #[test]
    fn threshold_masks() {
        let mut s = IrqState::new(1);
        s.plic.priority[3] = 2;
        s.plic.enable[0][0] = 1 << 3;
        s.set_line(3, true);
        s.plic.threshold[0] = 2;
        assert_eq!(s.external(0), (false, false));
        s.plic.threshold[0] = 1;
        assert_eq!(s.external(0), (true, false));
    }
}
