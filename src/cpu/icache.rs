//! The decoded-instruction cache: per RAM page of code, decoded slots and the blocks
//! built from them.
//!
//! A page gets an entry the first time code is fetched from it. Each 2-byte slot is
//! decoded lazily and then reused. The interpreter executes *blocks*: traces of decoded
//! instructions from an entry slot, stored densely in execution order. A trace follows
//! direct jumps within the page and the likely way of each conditional branch (the
//! target of a backward branch within the page, a loop; the fall-through otherwise);
//! the other way leaves the block. It ends at an indirect jump, a jump off the page,
//! the page end or `BLOCK_MAX` instructions. Walking a block needs no load to find the
//! next instruction, so consecutive instructions do not wait on each other's decode.
//!
//! Stores (from harts or DMA) to a page with an entry invalidate the slots they overlap;
//! when a decoded slot changes, the page's blocks are dropped (and rebuilt on demand).
//! Self-modifying code and code loading are therefore seen at once, and FENCE.I is free.
//! The store TLBs never map a code page, so every store to code takes the slow path
//! that does this invalidation.

use super::decode::{Insn, Op};
use super::Hart;
use crate::bus::Bus;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Slots per 4 KiB page (one per 2-byte parcel).
pub const SLOTS: usize = 2048;

/// The most instructions in one block (longer straight-line code is split).
pub const BLOCK_MAX: usize = 64;

/// The blocks of one page, back to back. A block is a run of decoded instructions in
/// block form ([`Insn::at`]) in execution order: a conditional branch leaves the block
/// when taken and goes on in it when not (a backward branch within the page is stored
/// inverted, so that the loop goes on in the block); a jump within the page is followed
/// (it becomes an [`Op::JalIn`]). A block whose last instruction is not a jump is followed
/// by an [`Op::Goto`] (not counted in its length), so every block ends by naming the
/// next pc.
///
/// The interpreter holds the arena (an `Rc`) while it executes from the page, so a store
/// that invalidates the page replaces the arena instead of freeing it under the
/// interpreter's feet. Blocks are only appended while nobody executes from it.
#[derive(Clone, Default)]
pub struct Arena {
    pub insns: Vec<Entry>,
    /// The page offset (bytes) of each instruction.
    pub offs: Vec<u16>,
}

/// The interpreter's handler for one operation (see `exec.rs`): executes the block
/// entry at `ip` on the virtual page at `vbase`, then the rest of its block, each
/// instruction's handler calling the next one's. Returns the next pc and the budget
/// left when the block is left by a control transfer, or `EXITED` and the budget after
/// the instruction that left it otherwise. The budget is not counted per instruction:
/// `Hart::chain` holds the block's first instruction and the budget before it, and the
/// budget after any instruction follows from its place in the block. The last two
/// arguments are the values the two entries before wrote, which a handler may take
/// its operands from (see `FWD_NONE` in `exec.rs`). (Few arguments, all in host
/// registers, leave the handlers enough registers that the common ones save none.)
pub type Handler = fn(&mut Hart, &mut Bus, *const Entry, u64, u64, u64) -> (u64, u64);

/// A block entry: an instruction in block form and the handler that executes it, so
/// that going on to the next instruction is one load and one jump.
#[derive(Clone, Copy)]
pub struct Entry {
    pub run: Handler,
    pub insn: Insn,
}

/// Where a block lies in its page's [`Arena`]: its `len` instructions start at
/// `insns[start]` (a closing [`Op::Goto`] may follow them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockRef {
    pub start: usize,
    pub len: usize,
}

/// The most instructions an arena holds before it is started afresh.
const ARENA_MAX: usize = 1 << 20;

/// The decoded slots and blocks of one code page. Shared (`Rc`) so the interpreter can
/// hold the page it executes from while stores invalidate it through the cache.
pub struct CodePage {
    slots: [Cell<Insn>; SLOTS],
    /// Per slot: the block entered there, as `start << 8 | len` in the arena, or 0.
    starts: [Cell<u32>; SLOTS],
    arena: RefCell<Rc<Arena>>,
}

pub type Page = Rc<CodePage>;

const UNDECODED: Insn = Insn::UNDECODED;

impl CodePage {
    fn new() -> CodePage {
        CodePage {
            slots: std::array::from_fn(|_| Cell::new(UNDECODED)),
            starts: std::array::from_fn(|_| Cell::new(0)),
            arena: RefCell::new(Rc::new(Arena::default())),
        }
    }

    #[inline(always)]
    pub fn slot(&self, slot: usize) -> Insn {
        self.slots[slot & (SLOTS - 1)].get()
    }

    /// The block entered at `slot`, if one was built (in the current [`Self::arena`]).
    #[inline(always)]
    pub fn block(&self, slot: usize) -> Option<BlockRef> {
        let v = self.starts[slot & (SLOTS - 1)].get();
        (v != 0).then_some(BlockRef {
            start: (v >> 8) as usize,
            len: (v & 0xff) as usize,
        })
    }

    /// The page's blocks as they are now.
    #[inline]
    pub fn arena(&self) -> Rc<Arena> {
        Rc::clone(&self.arena.borrow())
    }

    /// Appends the block entered at `slot`: `len` instructions (1 to 255), then
    /// possibly its closing [`Op::Goto`]. Nobody should hold the arena then, or it is
    /// copied.
    pub fn add_block(&self, slot: usize, insns: &[Entry], offs: &[u16], len: usize) -> BlockRef {
        debug_assert!((1..256).contains(&len) && insns.len() == offs.len());
        debug_assert!(insns.len() == len || insns.len() == len + 1);
        if self.arena.borrow().insns.len() + insns.len() > ARENA_MAX {
            self.drop_blocks();
        }
        let mut a = self.arena.borrow_mut();
        let arena = Rc::make_mut(&mut a);
        let start = arena.insns.len();
        arena.insns.extend_from_slice(insns);
        arena.offs.extend_from_slice(offs);
        self.starts[slot & (SLOTS - 1)].set((start as u32) << 8 | len as u32);
        BlockRef { start, len }
    }

    /// Drops every block (a decoded slot changed). Returns true when there were any.
    fn drop_blocks(&self) -> bool {
        if self.arena.borrow().insns.is_empty() {
            return false;
        }
        *self.arena.borrow_mut() = Rc::new(Arena::default());
        for s in &self.starts {
            s.set(0);
        }
        true
    }

    /// Sets a slot; a change to a decoded slot drops the page's blocks (returns true).
    fn set(&self, slot: usize, insn: Insn) -> bool {
        let s = &self.slots[slot & (SLOTS - 1)];
        let old = s.get();
        s.set(insn);
        old != UNDECODED && old != insn && self.drop_blocks()
    }

    /// Instructions held in blocks.
    pub fn block_insns(&self) -> usize {
        self.arena.borrow().insns.len()
    }
}

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
            Some(Some(p)) => Some(p.slot(slot)),
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
    ///
    /// Called each time a hart enters a page, so the check is inline and the rare
    /// creation (whose frame holds a whole `CodePage`, probed page by page) is not:
    /// together they cost 8% of a Linux boot.
    #[inline]
    pub fn make_code(&mut self, page: usize) -> bool {
        match self.pages.get(page) {
            Some(None) => self.new_code_page(page),
            _ => false,
        }
    }

    #[cold]
    #[inline(never)]
    fn new_code_page(&mut self, page: usize) -> bool {
        self.pages[page] = Some(Rc::new(CodePage::new()));
        self.gen += 1;
        true
    }

    pub fn set(&mut self, page: usize, slot: usize, insn: Insn) {
        if let Some(Some(p)) = self.pages.get(page) {
            p.set(slot, insn);
        }
    }

    /// Invalidates decoded slots overlapping RAM bytes `[off, off+len)`. Returns true
    /// when blocks were dropped: a hart that made the write then ends its run, so it
    /// never goes on executing a block it has just overwritten.
    pub fn invalidate(&mut self, off: usize, len: usize) -> bool {
        let mut dropped = false;
        // A 4-byte instruction starting 2 bytes earlier also covers these bytes.
        let start = off.saturating_sub(2);
        let end = off + len;
        let mut a = start & !1;
        while a < end {
            let (page, slot) = (a >> 12, (a & 0xfff) >> 1);
            if let Some(Some(p)) = self.pages.get(page) {
                if p.slot(slot).op() != Op::Breakpoint && p.set(slot, UNDECODED) {
                    dropped = true;
                }
            }
            a += 2;
        }
        dropped
    }

    /// Drops everything (a machine reset; writes to code, by harts, DMA or a
    /// debugger, go through [`ICache::invalidate`]).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::decode::decode;

    /// These tests build blocks but never run them.
    fn not_run(_: &mut Hart, _: &mut Bus, _: *const Entry, _: u64, _: u64, _: u64) -> (u64, u64) {
        unreachable!("the icache tests do not execute blocks")
    }

    fn block_of(p: &CodePage, slot: usize) -> BlockRef {
        let entry = Entry {
            run: not_run,
            insn: p.slot(slot),
        };
        p.add_block(slot, &[entry], &[(slot * 2) as u16], 1)
    }

    /// Code page `n`, which each test made code before asking.
    fn code(c: &ICache, n: usize) -> Page {
        c.page(n).expect("the test made this page code")
    }

    #[test]
    fn writes_to_decoded_code_drop_blocks_and_writes_to_data_do_not() {
        let mut c = ICache::new(4);
        assert!(c.make_code(1));
        let addi = decode(0x0010_0093);
        c.set(1, 4, addi);
        block_of(&code(&c, 1), 4);
        c.set(1, 6, addi);
        assert!(
            code(&c, 1).block(4).is_some(),
            "filling an undecoded slot keeps blocks"
        );
        // Data next to the code (slots 100..) is written: the block stays.
        assert!(!c.invalidate(4096 + 200, 8));
        assert!(code(&c, 1).block(4).is_some());
        // The second half of the instruction at slot 4 (bytes 10..12) is written.
        assert!(c.invalidate(4096 + 10, 1));
        assert!(code(&c, 1).block(4).is_none());
        assert_eq!(c.slot(1, 4), Some(Insn::UNDECODED));
    }

    #[test]
    fn a_breakpoint_drops_blocks_and_survives_invalidation() {
        let mut c = ICache::new(2);
        c.make_code(0);
        c.set(0, 0, decode(0x0010_0093));
        block_of(&code(&c, 0), 0);
        c.set(0, 0, Insn::BREAKPOINT);
        assert_eq!(code(&c, 0).block_insns(), 0);
        assert!(!c.invalidate(0, 4));
        assert_eq!(c.slot(0, 0), Some(Insn::BREAKPOINT));
    }
}
