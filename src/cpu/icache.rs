//! The decoded-instruction cache: one array of decoded slots per RAM page of code.
//!
//! A page gets an entry the first time code is fetched from it; each 2-byte slot is
//! decoded lazily on first execution and then reused. Stores (from harts or DMA) to a
//! page with an entry invalidate the slots they overlap, so self-modifying code and code
//! loading are seen at once; FENCE.I is therefore free. The store TLBs never map a code
//! page, so every store to code takes the slow path that does this invalidation.

use super::decode::{Insn, Op};
use std::cell::Cell;
use std::rc::Rc;

/// Slots per 4 KiB page (one per 2-byte parcel).
pub const SLOTS: usize = 2048;

/// The decoded slots of one page. Shared (`Rc`) so the interpreter can hold the page it
/// executes from while stores invalidate slots through the cache (`Cell`): the hot loop
/// then reads a slot with one load, with no lookup or bounds check per instruction.
pub type Page = Rc<[Cell<Insn>; SLOTS]>;

const UNDECODED: Insn = Insn::UNDECODED;

pub struct ICache {
    pages: Vec<Option<Page>>,
    /// Bumped whenever a page becomes code, so harts know to drop store-TLB entries.
    pub gen: u64,
}

impl ICache {
    pub fn new(ram_pages: usize) -> ICache {
        ICache {
            pages: (0..ram_pages).map(|_| None).collect(),
            gen: 0,
        }
    }

    #[inline]
    pub fn is_code(&self, page: usize) -> bool {
        matches!(self.pages.get(page), Some(Some(_)))
    }

    /// The decoded slot, if the page is code (the slot may still be `Undecoded`).
    #[inline(always)]
    pub fn slot(&self, page: usize, slot: usize) -> Option<Insn> {
        match self.pages.get(page) {
            Some(Some(p)) => Some(p[slot & (SLOTS - 1)].get()),
            _ => None,
        }
    }

    /// The decoded slots of a code page.
    #[inline(always)]
    pub fn page(&self, page: usize) -> Option<Page> {
        match self.pages.get(page) {
            Some(Some(p)) => Some(Rc::clone(p)),
            _ => None,
        }
    }

    /// Makes `page` a code page. Returns true when it was not one before.
    pub fn make_code(&mut self, page: usize) -> bool {
        match self.pages.get_mut(page) {
            Some(p @ None) => {
                *p = Some(Rc::new(std::array::from_fn(|_| Cell::new(UNDECODED))));
                self.gen += 1;
                true
            }
            _ => false,
        }
    }

    pub fn set(&mut self, page: usize, slot: usize, insn: Insn) {
        if let Some(Some(p)) = self.pages.get_mut(page) {
            p[slot & (SLOTS - 1)].set(insn);
        }
    }

    /// Invalidates decoded slots overlapping RAM bytes `[off, off+len)`.
    pub fn invalidate(&mut self, off: usize, len: usize) {
        // A 4-byte instruction starting 2 bytes earlier also covers these bytes.
        let start = off.saturating_sub(2);
        let end = off + len;
        let mut a = start & !1;
        while a < end {
            let (page, slot) = (a >> 12, (a & 0xfff) >> 1);
            if let Some(Some(p)) = self.pages.get_mut(page) {
                if p[slot].get().op() != Op::Breakpoint {
                    p[slot].set(UNDECODED);
                }
            }
            a += 2;
        }
    }

    /// Drops everything (reset, or a debugger write to a page of code).
    pub fn flush_all(&mut self) {
        for p in &mut self.pages {
            *p = None;
        }
        self.gen += 1;
    }

    pub fn code_pages(&self) -> usize {
        self.pages.iter().filter(|p| p.is_some()).count()
    }
}
