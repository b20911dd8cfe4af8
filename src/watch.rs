//! Physical-page flags for debug watchpoints.
//!
//! The TLBs never cache a page that holds a watchpoint an access of their kind can hit
//! (loads: read and access watchpoints; stores: write and access watchpoints), so only
//! such accesses reach [`Watchpoints::check`]; every other access pays nothing. The gdb
//! server adds and removes watchpoints; a hit is recorded here and turned into a debug
//! stop by the machine before the access takes effect.

use crate::cpu::trap::Access;
use std::collections::HashMap;

const PAGE: u64 = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchKind {
    Write,
    Read,
    Access,
}

impl WatchKind {
    /// Whether an access of kind `acc` can hit a watchpoint of this kind (a fetch never
    /// does).
    fn sees(self, acc: Access) -> bool {
        matches!(
            (self, acc),
            (WatchKind::Access, Access::Load | Access::Store)
                | (WatchKind::Write, Access::Store)
                | (WatchKind::Read, Access::Load)
        )
    }
}

/// The access kinds watchpoints see, in the order of [`Watchpoints::pages`]' counts.
const SEEN: [Access; 2] = [Access::Load, Access::Store];

#[derive(Clone, Debug)]
pub struct Watchpoint {
    /// Start address (physical when `phys`, else virtual).
    pub addr: u64,
    pub len: u64,
    pub kind: WatchKind,
    pub phys: bool,
    /// Physical address the start mapped to when the watchpoint was inserted (the pages
    /// flagged). A mapping change after insertion is not tracked.
    pub pa: u64,
}

/// A watchpoint hit, reported before the access takes effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchHit {
    pub hart: usize,
    pub addr: u64,
    pub kind: WatchKind,
}

#[derive(Default)]
pub struct Watchpoints {
    pub list: Vec<Watchpoint>,
    /// Physical pages (page numbers) with at least one watchpoint, with the number of
    /// watchpoints that loads and that stores can hit there (see [`SEEN`]).
    pages: HashMap<u64, [usize; 2]>,
    pub hit: Option<WatchHit>,
    /// Set while the debugger steps over the instruction that hit: no checks.
    pub suspended: bool,
}

impl Watchpoints {
    #[inline(always)]
    pub fn active(&self) -> bool {
        !self.pages.is_empty()
    }

    /// Whether an access of kind `acc` to the physical page at `page_pa` can hit a
    /// watchpoint (fetches never do).
    #[inline]
    pub fn page_watched(&self, page_pa: u64, acc: Access) -> bool {
        let Some(k) = SEEN.iter().position(|&a| a == acc) else {
            return false;
        };
        !self.pages.is_empty() && self.pages.get(&(page_pa >> 12)).is_some_and(|c| c[k] > 0)
    }

    /// For a page where accesses of kind `acc` can hit a watchpoint: the page offsets
    /// `[lo, hi)` that hold every byte those watchpoints cover (by the physical
    /// addresses they were inserted at). None for a page they cannot hit.
    pub fn page_span(&self, page_pa: u64, acc: Access) -> Option<(u64, u64)> {
        if !self.page_watched(page_pa, acc) {
            return None;
        }
        let (mut lo, mut hi) = (PAGE, 0);
        for w in self.list.iter().filter(|w| w.kind.sees(acc)) {
            let (start, end) = (
                w.pa.max(page_pa),
                w.pa.saturating_add(w.len).min(page_pa + PAGE),
            );
            if start < end {
                lo = lo.min(start - page_pa);
                hi = hi.max(end - page_pa);
            }
        }
        // A page flagged by a watchpoint that no longer overlaps it: check everything.
        Some(if lo < hi { (lo, hi) } else { (0, PAGE) })
    }

    /// Counts `w` in (or, with `add` false, out of) the pages it covers.
    fn count_pages(&mut self, w: &Watchpoint, add: bool) {
        let first = w.pa >> 12;
        let last = w.pa.saturating_add(w.len.max(1) - 1) >> 12;
        for p in first..=last {
            let counts = self.pages.entry(p).or_default();
            for (n, acc) in counts.iter_mut().zip(SEEN) {
                if w.kind.sees(acc) {
                    *n = if add { *n + 1 } else { n.saturating_sub(1) };
                }
            }
            if *counts == [0, 0] {
                self.pages.remove(&p);
            }
        }
    }

    /// Adds a watchpoint and flags its pages.
    pub fn add(&mut self, w: Watchpoint) {
        self.count_pages(&w, true);
        self.list.push(w);
    }

    /// Removes the watchpoint `addr`/`len`/`kind`; false when there is none.
    pub fn remove(&mut self, addr: u64, len: u64, kind: WatchKind) -> bool {
        let Some(i) = self
            .list
            .iter()
            .position(|w| w.addr == addr && w.len == len && w.kind == kind)
        else {
            return false;
        };
        let w = self.list.remove(i);
        self.count_pages(&w, false);
        true
    }

    /// Checks a device's DMA write of `len` bytes at physical `pa` against the write and
    /// access watchpoints (by the physical address they map): the first hit, as the
    /// watchpoint's own address of the first byte written. The write has happened; the
    /// machine stops right after the device access.
    pub fn check_dma(&self, pa: u64, len: u64) -> Option<(u64, WatchKind)> {
        if self.suspended {
            return None;
        }
        for w in self.list.iter().filter(|w| w.kind.sees(Access::Store)) {
            if pa < w.pa.saturating_add(w.len) && w.pa < pa.saturating_add(len) {
                let first = pa.max(w.pa);
                return Some((w.addr + (first - w.pa), w.kind));
            }
        }
        None
    }

    /// Checks an access against the watchpoints; records the hit and returns true when
    /// the access must stop before it takes effect.
    pub fn check(&mut self, hart: usize, va: u64, pa: u64, size: u64, acc: Access) -> bool {
        if self.suspended {
            return false;
        }
        for w in self.list.iter().filter(|w| w.kind.sees(acc)) {
            let a = if w.phys { pa } else { va };
            if a < w.addr.saturating_add(w.len) && w.addr < a.saturating_add(size) {
                self.hit = Some(WatchHit {
                    hart,
                    addr: w.addr.max(a),
                    kind: w.kind,
                });
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phys(addr: u64, len: u64, kind: WatchKind) -> Watchpoint {
        Watchpoint {
            addr,
            len,
            kind,
            phys: true,
            pa: addr,
        }
    }

    #[test]
    fn pages_and_spans_follow_the_kind() {
        let mut w = Watchpoints::default();
        w.add(phys(0x8000_1800, 8, WatchKind::Write));
        // A write watchpoint flags the page for stores only.
        assert!(w.page_watched(0x8000_1000, Access::Store));
        assert!(!w.page_watched(0x8000_1000, Access::Load));
        assert!(!w.page_watched(0x8000_2000, Access::Store));
        assert_eq!(
            w.page_span(0x8000_1000, Access::Store),
            Some((0x800, 0x808))
        );
        assert_eq!(w.page_span(0x8000_1000, Access::Load), None);
        // An access watchpoint across a page boundary: both pages, both kinds.
        w.add(phys(0x8000_2ffc, 8, WatchKind::Access));
        assert_eq!(
            w.page_span(0x8000_2000, Access::Load),
            Some((0xffc, 0x1000))
        );
        assert_eq!(w.page_span(0x8000_3000, Access::Store), Some((0, 4)));
        assert!(w.remove(0x8000_2ffc, 8, WatchKind::Access));
        assert!(!w.page_watched(0x8000_3000, Access::Load));
        assert!(w.page_watched(0x8000_1000, Access::Store));
    }

    #[test]
    fn a_watchpoint_at_the_end_of_the_address_space() {
        // Physical-mode watchpoints take any address gdb sends; the range arithmetic
        // must not wrap (a wrapped range would flag no page, and the hit would be lost).
        let mut w = Watchpoints::default();
        let top = u64::MAX - 3;
        w.add(phys(top, 8, WatchKind::Write));
        assert!(w.page_watched(!0xfff, Access::Store));
        assert!(w.check(0, top, top, 4, Access::Store));
        assert_eq!(w.hit.as_ref().map(|h| h.addr), Some(top));
        assert!(!w.check(0, top - 8, top - 8, 4, Access::Store));
        assert_eq!(w.check_dma(top, 4), Some((top, WatchKind::Write)));
    }
}
