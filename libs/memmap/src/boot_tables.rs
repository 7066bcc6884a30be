//! What the boot loader's page tables still use: every table frame and every
//! mapped frame, except the direct map of all physical memory.
//!
//! bootloader 0.11 marks as `Bootloader` the whole span between the first and
//! the last frame its own frame allocator handed out (`LegacyFrameAllocator`,
//! `construct_memory_map`'s `[min_frame, next_frame)` slice), not the frames
//! themselves. When the firmware's free memory is split (OVMF at 48 MiB: a
//! little at 1 MiB, the rest near the top), that span covers almost all RAM,
//! although the boot loader used well under a megabyte of it. Everything it
//! allocated for the kernel is reachable from the page tables it hands over
//! (the tables themselves, the kernel's pages, stack, boot info, GDT), so the
//! kernel can find the frames really in use by walking them
//! ([`mapped_frames`]) and give back the rest of those regions.

use x86_64::structures::paging::{PageSize, PageTable, PageTableFlags, Size1GiB, Size2MiB, Size4KiB};

/// Bytes of address space one entry covers at level 1 (PT), 2 (PD), 3 (PDPT)
/// and 4 (PML4): the page sizes, and 512 PDPT entries for a PML4 entry.
const ENTRY_SPAN: [u64; 4] = [Size4KiB::SIZE, Size2MiB::SIZE, Size1GiB::SIZE, 512 * Size1GiB::SIZE];
/// Size of a page-table frame (a 4 KiB page).
const TABLE: u64 = Size4KiB::SIZE;

/// Calls `used(start, end)` for every frame the 4-level page tables at `cr3`
/// use: each table, and each frame (4 KiB, 2 MiB or 1 GiB) a present entry
/// maps, except mappings of the direct map (virtual address = `direct_map` +
/// physical address). `table(pa)` gives the table at physical address `pa`,
/// or None if it cannot be read (that subtree is skipped; its frame is still
/// reported). Intel SDM vol. 3A, section 4.5: bit 0 present, bit 7 (PS) a
/// large page at levels 2 and 3, bits 12-51 the address.
pub fn mapped_frames<'a>(
    cr3: u64,
    direct_map: u64,
    mut table: impl FnMut(u64) -> Option<&'a PageTable>,
    mut used: impl FnMut(u64, u64),
) {
    walk(cr3 & !(TABLE - 1), 4, 0, direct_map, &mut table, &mut used);
}

fn walk<'a>(
    pa: u64,
    level: usize,
    va_base: u64,
    direct_map: u64,
    table: &mut impl FnMut(u64) -> Option<&'a PageTable>,
    used: &mut impl FnMut(u64, u64),
) {
    used(pa, pa + TABLE);
    let Some(t) = table(pa) else { return };
    for (i, e) in t.iter().enumerate() {
        let flags = e.flags();
        if !flags.contains(PageTableFlags::PRESENT) {
            continue;
        }
        let mut va = va_base + i as u64 * ENTRY_SPAN[level - 1];
        // Bits 48-63 of an address copy bit 47 (the upper half of the PML4).
        if level == 4 && i >= 256 {
            va |= 0xffff_0000_0000_0000;
        }
        let leaf = level == 1 || (level <= 3 && flags.contains(PageTableFlags::HUGE_PAGE));
        if !leaf {
            walk(e.addr().as_u64(), level - 1, va, direct_map, table, used);
            continue;
        }
        let size = ENTRY_SPAN[level - 1];
        let frame = e.addr().as_u64() & !(size - 1);
        if va != direct_map.wrapping_add(frame) {
            used(frame, frame + size);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::boxed::Box;
    use std::collections::BTreeMap;
    use std::vec::Vec;
    use x86_64::PhysAddr;

    const DIRECT: u64 = 0xffff_8000_0000_0000;

    /// Page tables at made-up physical addresses.
    #[derive(Default)]
    struct Tables(BTreeMap<u64, Box<PageTable>>);

    impl Tables {
        fn at(&mut self, pa: u64) -> &mut PageTable {
            self.0.entry(pa).or_insert_with(|| Box::new(PageTable::new()))
        }
        fn set(&mut self, table: u64, i: usize, pa: u64, flags: PageTableFlags) {
            self.at(table)[i].set_addr(PhysAddr::new(pa), flags | PageTableFlags::PRESENT);
        }
        fn used(&self, cr3: u64) -> Vec<(u64, u64)> {
            let mut out = Vec::new();
            mapped_frames(cr3, DIRECT, |pa| self.0.get(&pa).map(|b| &**b), |s, e| out.push((s, e)));
            out.sort();
            out
        }
    }

    #[test]
    fn tables_and_mapped_frames_but_not_the_direct_map() {
        let w = PageTableFlags::WRITABLE;
        let huge = PageTableFlags::HUGE_PAGE | w;
        let mut t = Tables::default();
        // Kernel at 0xffff_ffff_8000_0000: PML4 511 -> PDPT 510 -> PD 0 -> PT 0..2.
        t.set(0x1000, 511, 0x2000, w);
        t.set(0x2000, 510, 0x3000, w);
        t.set(0x3000, 0, 0x4000, w);
        t.set(0x4000, 0, 0x10_0000, w);
        t.set(0x4000, 1, 0x10_1000, w);
        // A 2 MiB page elsewhere (PD 1), its address's low bits (PAT) ignored.
        t.set(0x3000, 1, 0x60_1000, huge);
        // The direct map: PML4 256 -> PDPT, 0-2 MiB and 2-4 MiB as 2 MiB pages.
        t.set(0x1000, 256, 0x5000, w);
        t.set(0x5000, 0, 0x6000, w);
        t.set(0x6000, 0, 0, huge);
        t.set(0x6000, 1, 0x20_0000, huge);
        // An identity-mapped page (the GDT): virtual = physical, kept.
        t.set(0x1000, 0, 0x7000, w);
        t.set(0x7000, 0, 0x8000, w);
        t.set(0x8000, 0, 0x9000, w);
        t.set(0x9000, 0x50, 0x50_000, w);
        // A 1 GiB page in the low half.
        t.set(0x7000, 3, 0xc000_0000, huge);
        // A not-present entry is ignored.
        t.at(0x9000)[1].set_addr(PhysAddr::new(0xdead_0000), w);
        let got = t.used(0x1000);
        let want = [
            (0x1000, 0x2000),
            (0x2000, 0x3000),
            (0x3000, 0x4000),
            (0x4000, 0x5000),
            (0x5000, 0x6000),
            (0x6000, 0x7000),
            (0x7000, 0x8000),
            (0x8000, 0x9000),
            (0x9000, 0xa000),
            (0x50_000, 0x51_000),
            (0x10_0000, 0x10_1000),
            (0x10_1000, 0x10_2000),
            (0x60_0000, 0x80_0000),
            (0xc000_0000, 0x1_0000_0000),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn unreadable_tables_are_reported_but_not_followed() {
        let mut t = Tables::default();
        t.set(0x1000, 0, 0xabc_d000, PageTableFlags::WRITABLE);
        assert_eq!(t.used(0x1000), [(0x1000, 0x2000), (0xabc_d000, 0xabc_e000)]);
        // cr3's low bits (PCID, flags) are not part of the address.
        assert_eq!(t.used(0x1018)[0], (0x1000, 0x2000));
    }
}
