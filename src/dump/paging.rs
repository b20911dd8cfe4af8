//! The virtual memory map of a `paging` ELF dump: every leaf of a guest page table.
//!
//! The whole Sv39/Sv48/Sv57 tree under a `satp` is enumerated (not one walk per page),
//! without side effects: no A/D updates, no TLB fill. Leaves are read as the hardware
//! would accept them (reserved bits, W without R, misaligned superpages and
//! non-leaf PTEs with A/D/U set are skipped), whatever their U bit or permissions, so
//! both kernel and user mappings of the current address space appear. Each leaf is
//! clipped to the physical ranges being dumped (a 1 GiB gigapage over 128 MiB of RAM
//! gives 128 MiB), and neighbours contiguous in both virtual and physical addresses,
//! with the same permissions, inside one physical range, are coalesced.
//!
//! A guest can build tables that alias themselves, so that the tree has far more leaves
//! than memory; the enumeration stops after [`MAX_PTE_READS`] entries and says so.

use super::MemRegion;
use crate::bus::Ram;
use crate::cpu::mmu::{PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X};

/// Upper bound of page-table entries read for one dump.
pub const MAX_PTE_READS: u64 = 1 << 24;

/// ELF segment permission bits.
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;

/// A virtual range mapped onto physical memory that is being dumped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub va: u64,
    pub pa: u64,
    pub len: u64,
    /// `PF_*` from the leaf PTE's R, W, X.
    pub flags: u32,
}

/// The result of enumerating one address space.
#[derive(Clone, Debug, Default)]
pub struct AddressSpace {
    /// Ascending virtual addresses.
    pub mappings: Vec<Mapping>,
    /// The enumeration stopped at [`MAX_PTE_READS`].
    pub truncated: bool,
}

/// Number of levels of a `satp` mode; None for Bare and unsupported modes.
pub fn levels(satp: u64) -> Option<u32> {
    match satp >> 60 {
        8 => Some(3),
        9 => Some(4),
        10 => Some(5),
        _ => None,
    }
}

struct Walker<'a> {
    ram: &'a Ram,
    phys: &'a [MemRegion],
    levels: u32,
    reads: u64,
    out: AddressSpace,
}

impl Walker<'_> {
    fn table(&mut self, table_pa: u64, level: u32, va_prefix: u64) {
        for i in 0..512u64 {
            if self.reads >= MAX_PTE_READS {
                self.out.truncated = true;
                return;
            }
            self.reads += 1;
            let Some(pte) = self.ram.read_u64(table_pa + i * 8) else {
                return;
            };
            if pte & PTE_V == 0 || (pte & PTE_R == 0 && pte & PTE_W != 0) || pte >> 54 != 0 {
                continue;
            }
            let shift = 12 + 9 * level;
            let va = va_prefix | (i << shift);
            let ppn = (pte >> 10) & ((1 << 44) - 1);
            if pte & (PTE_R | PTE_X) == 0 {
                if level > 0 && pte & (PTE_A | PTE_D | PTE_U) == 0 {
                    self.table(ppn << 12, level - 1, va);
                }
                continue;
            }
            if ppn & ((1u64 << (9 * level)) - 1) != 0 {
                continue; // misaligned superpage: the hardware faults
            }
            let flags = if pte & PTE_R != 0 { PF_R } else { 0 }
                | if pte & PTE_W != 0 { PF_W } else { 0 }
                | if pte & PTE_X != 0 { PF_X } else { 0 };
            self.leaf(self.sign_extend(va), ppn << 12, 1u64 << shift, flags);
        }
    }

    fn sign_extend(&self, va: u64) -> u64 {
        let bits = 12 + 9 * self.levels;
        (((va << (64 - bits)) as i64) >> (64 - bits)) as u64
    }

    fn leaf(&mut self, va: u64, pa: u64, size: u64, flags: u32) {
        let end = pa.saturating_add(size);
        for r in self.phys {
            let (s, e) = (pa.max(r.start), end.min(r.end()));
            if s >= e {
                continue;
            }
            let m = Mapping {
                va: va + (s - pa),
                pa: s,
                len: e - s,
                flags,
            };
            if let Some(last) = self.out.mappings.last_mut() {
                if last.va.wrapping_add(last.len) == m.va
                    && last.pa + last.len == m.pa
                    && last.flags == m.flags
                    && last.pa >= r.start
                {
                    last.len += m.len;
                    continue;
                }
            }
            self.out.mappings.push(m);
        }
    }
}

/// Every mapping of the address space under `satp` onto `phys`; None when `satp`
/// translates nothing (Bare or an unsupported mode).
pub fn address_space(ram: &Ram, satp: u64, phys: &[MemRegion]) -> Option<AddressSpace> {
    let levels = levels(satp)?;
    let mut w = Walker {
        ram,
        phys,
        levels,
        reads: 0,
        out: AddressSpace::default(),
    };
    let root = (satp & ((1 << 44) - 1)) << 12;
    w.table(root, levels - 1, 0);
    Some(w.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEAF: u64 = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D;

    fn ram() -> Ram {
        Ram::new(0x8000_0000, 4 << 20)
    }

    fn put(ram: &mut Ram, pa: u64, v: u64) {
        assert!(ram.write_bytes(pa, &v.to_le_bytes()));
    }

    #[test]
    fn gigapages_are_clipped_to_ram_and_sign_extended() {
        let mut r = ram();
        let root = 0x8010_0000u64;
        put(&mut r, root + 2 * 8, (0x8000_0000 >> 12) << 10 | LEAF);
        put(&mut r, root + 511 * 8, (0x8000_0000 >> 12) << 10 | LEAF);
        let satp = (8 << 60) | (root >> 12);
        let phys = [
            MemRegion {
                start: 0x1000,
                size: 0xf000,
            },
            MemRegion {
                start: 0x8000_0000,
                size: 4 << 20,
            },
        ];
        let a = address_space(&r, satp, &phys).unwrap();
        assert!(!a.truncated);
        assert_eq!(
            a.mappings,
            [
                Mapping {
                    va: 0x8000_0000,
                    pa: 0x8000_0000,
                    len: 4 << 20,
                    flags: 7
                },
                Mapping {
                    va: 0xffff_ffff_c000_0000,
                    pa: 0x8000_0000,
                    len: 4 << 20,
                    flags: 7
                },
            ]
        );
    }

    #[test]
    fn contiguous_pages_coalesce_and_holes_split() {
        let mut r = ram();
        let (root, l1, l0) = (0x8010_0000u64, 0x8010_1000u64, 0x8010_2000u64);
        put(&mut r, root, (l1 >> 12) << 10 | PTE_V);
        put(&mut r, l1, (l0 >> 12) << 10 | PTE_V);
        // Pages 0..3 -> 0x80200000.. contiguous; page 4 read-only; page 6 elsewhere.
        for i in 0..4u64 {
            put(&mut r, l0 + i * 8, ((0x8020_0000 >> 12) + i) << 10 | LEAF);
        }
        put(
            &mut r,
            l0 + 4 * 8,
            ((0x8020_0000 >> 12) + 4) << 10 | PTE_V | PTE_R | PTE_A,
        );
        put(&mut r, l0 + 6 * 8, (0x8030_0000 >> 12) << 10 | LEAF);
        // Reserved: W without R, and a pointer PTE with U set.
        put(
            &mut r,
            l0 + 7 * 8,
            (0x8030_0000 >> 12) << 10 | PTE_V | PTE_W,
        );
        put(&mut r, root + 8, (l0 >> 12) << 10 | PTE_V | PTE_U);
        let satp = (8 << 60) | (root >> 12);
        let phys = [MemRegion {
            start: 0x8000_0000,
            size: 4 << 20,
        }];
        let a = address_space(&r, satp, &phys).unwrap();
        assert_eq!(
            a.mappings,
            [
                Mapping {
                    va: 0,
                    pa: 0x8020_0000,
                    len: 0x4000,
                    flags: 7
                },
                Mapping {
                    va: 0x4000,
                    pa: 0x8020_4000,
                    len: 0x1000,
                    flags: PF_R
                },
                Mapping {
                    va: 0x6000,
                    pa: 0x8030_0000,
                    len: 0x1000,
                    flags: 7
                },
            ]
        );
    }

    #[test]
    fn self_referencing_tables_are_bounded() {
        let mut r = ram();
        let root = 0x8010_0000u64;
        // Every entry points back at the root: a tree of 512^3 leaves in Sv48 terms.
        for i in 0..512 {
            put(&mut r, root + i * 8, (root >> 12) << 10 | PTE_V);
        }
        put(&mut r, root, (0x8000_0000 >> 12) << 10 | LEAF);
        let satp = (9 << 60) | (root >> 12);
        let phys = [MemRegion {
            start: 0x8000_0000,
            size: 4 << 20,
        }];
        let a = address_space(&r, satp, &phys).unwrap();
        assert!(a.truncated);
        assert!(address_space(&r, 0, &phys).is_none());
    }
}
