//! Changing the direct map's permissions after boot: the loaded crash
//! kernel is made read-only so a buggy kernel cannot scribble over it
//! (Linux's arch_kexec_protect_crashkres / kexec_mark_crashkres).
//!
//! The direct map uses 2 MiB pages; a range that covers only part of one
//! gets that page split into 512 4 KiB pages first. A capture kernel also
//! maps the crashed kernel's RAM read-only and cached here.

use x86_64::registers::control::{Cr4, Cr4Flags};
use x86_64::structures::paging::page_table::PageTableEntry;
use x86_64::structures::paging::{PageTable, PageTableFlags as F, PhysFrame};
use x86_64::{PhysAddr, VirtAddr};

use super::{frame, paging, phys_to_virt, PAGE_SIZE};
use crate::PHYS_OFFSET;

const HUGE: u64 = 2 << 20;

/// The table at physical `pa`.
///
/// # Safety
/// `pa` must be a page-table frame of the kernel's tables.
unsafe fn table(pa: u64) -> &'static mut PageTable {
    // SAFETY: forwarded; page tables live in the direct map.
    unsafe { &mut *(phys_to_virt(pa) as *mut PageTable) }
}

/// The page-directory entry mapping the direct-map address of `pa`.
fn pd_entry(pa: u64) -> Option<&'static mut PageTableEntry> {
    let va = VirtAddr::new(PHYS_OFFSET + pa);
    // SAFETY: a walk of the kernel's own tables; every level is checked present.
    unsafe {
        let l4 = &table(paging::kernel_pml4())[va.p4_index()];
        if !l4.flags().contains(F::PRESENT) {
            return None;
        }
        let l3 = &table(l4.addr().as_u64())[va.p3_index()];
        if !l3.flags().contains(F::PRESENT) || l3.flags().contains(F::HUGE_PAGE) {
            return None;
        }
        let l2 = &mut table(l3.addr().as_u64())[va.p2_index()];
        l2.flags().contains(F::PRESENT).then_some(l2)
    }
}

fn with_write(flags: F, writable: bool) -> F {
    if writable {
        flags | F::WRITABLE
    } else {
        flags - F::WRITABLE
    }
}

/// Replace the 2 MiB mapping in `pd` by a page table of 4 KiB pages with
/// the same frames and flags.
fn split(pd: &mut PageTableEntry) -> Option<()> {
    // In a 2 MiB entry bit 12 is PAT (so not part of the address) and bit 7
    // is the page size; in a 4 KiB entry bit 7 is PAT. The direct map never
    // sets PAT, so bit 7 is dropped and bit 12 masked off.
    let base = pd.addr().as_u64() & !(HUGE - 1);
    let flags = pd.flags() - F::HUGE_PAGE;
    let pt_pa = frame::alloc_zeroed()?;
    // SAFETY: a fresh frame, not yet linked into any table.
    let pt = unsafe { table(pt_pa) };
    for (i, e) in pt.iter_mut().enumerate() {
        e.set_addr(PhysAddr::new(base + i as u64 * PAGE_SIZE), flags);
    }
    // One store swaps the mapping: every address stays mapped throughout.
    pd.set_frame(PhysFrame::containing_address(PhysAddr::new(pt_pa)), F::PRESENT | F::WRITABLE);
    Some(())
}

/// Make the direct map of `[start, end)` (page aligned) read-only or
/// writable again. Returns false if a page table could not be allocated
/// (the range is then only partly read-only).
pub fn set_direct_map_writable(start: u64, end: u64, writable: bool) -> bool {
    // Making writable never needs a split: a read-only 2 MiB page lies
    // wholly inside a range that was protected.
    update(start, end, |f| with_write(f, writable), !writable)
}

/// A capture kernel's view of the crashed kernel's RAM: read-only (nothing
/// here may change the dump) and write-back (it is RAM, though our memory
/// map does not say so, which made boot map it uncached).
pub fn set_direct_map_old_memory(start: u64, end: u64) -> bool {
    update(start, end, |f| f - F::WRITABLE - F::NO_CACHE - F::WRITE_THROUGH, true)
}

/// Apply `change` to the direct-map entries of `[start, end)`. A 2 MiB page
/// the range covers only in part is split first if `split_partial`, else
/// changed whole.
fn update(start: u64, end: u64, change: impl Fn(F) -> F, split_partial: bool) -> bool {
    let mut ok = true;
    let mut pa = start;
    while pa < end {
        let Some(pd) = pd_entry(pa) else {
            ok = false;
            break;
        };
        if pd.flags().contains(F::HUGE_PAGE) {
            if !split_partial || (pa.is_multiple_of(HUGE) && end - pa >= HUGE) {
                pd.set_flags(change(pd.flags()));
                pa = (pa + 1).next_multiple_of(HUGE);
                continue;
            }
            if split(pd).is_none() {
                ok = false;
                break;
            }
            // The TLB may still hold the 2 MiB translation: drop it before
            // the 4 KiB entries diverge from it (SDM vol. 3, 4.10.2.3;
            // Linux's __split_large_page flushes here too).
            flush_global_tlb();
        }
        // SAFETY: a present, non-huge PD entry points at a page table.
        let pt = unsafe { table(pd.addr().as_u64()) };
        let chunk_end = (pa + 1).next_multiple_of(HUGE).min(end);
        while pa < chunk_end {
            let e = &mut pt[VirtAddr::new(PHYS_OFFSET + pa).p1_index()];
            e.set_flags(change(e.flags()));
            pa += PAGE_SIZE;
        }
    }
    flush_global_tlb();
    ok
}

/// The direct map is global: only toggling CR4.PGE drops its TLB entries.
pub(crate) fn flush_global_tlb() {
    // SAFETY: clearing and restoring PGE only flushes the TLB.
    unsafe {
        Cr4::update(|f| f.remove(Cr4Flags::PAGE_GLOBAL));
        Cr4::update(|f| f.insert(Cr4Flags::PAGE_GLOBAL));
    }
}

/// Is the direct-map page of `pa` writable? (For the load-time check.)
pub fn direct_map_writable(pa: u64) -> bool {
    let Some(pd) = pd_entry(pa) else { return false };
    if pd.flags().contains(F::HUGE_PAGE) {
        return pd.flags().contains(F::WRITABLE);
    }
    // SAFETY: as in set_direct_map_writable.
    let pt = unsafe { table(pd.addr().as_u64()) };
    pt[VirtAddr::new(PHYS_OFFSET + pa).p1_index()].flags().contains(F::WRITABLE)
}
