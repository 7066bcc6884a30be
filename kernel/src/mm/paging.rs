//! Page tables: the kernel's own (built once at boot, replacing the boot
//! loader's) and one address space per process.
//!
//! Kernel half (PML4 slots 256..512), shared by every address space:
//! - the direct map of physical memory at PHYS_OFFSET (2 MiB pages; write-back
//!   over RAM, uncached over everything else, e.g. the LAPIC),
//! - the kernel image at its link address, with per-section permissions and
//!   the stacks' guard pages left unmapped.
//!
//! The user half (slots 0..256) belongs to the process.

use abi::Errno;
use memmap::{Region, RegionKind};
use spin::Once;
use x86_64::registers::control::{Cr3, Cr3Flags, Cr4, Cr4Flags};
use x86_64::structures::paging::mapper::{MapToError, TranslateResult};
use x86_64::structures::paging::{
    Mapper, OffsetPageTable, Page, PageTable, PageTableFlags as F, PhysFrame, Size2MiB, Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

use super::frame::{self, KernelFrames};
use super::{phys_to_virt, PAGE_SIZE};
use crate::arch::smp::{HELPER_FAULT_STACK, HELPER_STACK};
use crate::arch::stack::{CRASH_STACK, FAULT_STACK, KERNEL_STACK};
use crate::PHYS_OFFSET;

extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __kernel_end: u8;
}

static KERNEL_PML4: Once<u64> = Once::new();

/// A page-table walker over the table rooted at physical `pml4`.
///
/// # Safety
/// `pml4` must be a page table owned by the caller for the walker's lifetime.
pub unsafe fn mapper(pml4: u64) -> OffsetPageTable<'static> {
    // SAFETY: forwarded; the direct map covers every page-table frame.
    unsafe { OffsetPageTable::new(&mut *(phys_to_virt(pml4) as *mut PageTable), VirtAddr::new(PHYS_OFFSET)) }
}

fn sym(s: &u8) -> u64 {
    s as *const u8 as u64
}

/// Build the kernel page tables and switch to them.
pub fn init_kernel_tables(regions: &[Region], boot_cr3: u64) {
    let pml4 = frame::alloc_zeroed().expect("frame for the kernel PML4");
    // SAFETY: the new PML4 is ours and not active yet.
    let mut m = unsafe { mapper(pml4) };
    map_direct(&mut m, regions);
    map_kernel_image(&mut m, boot_cr3);
    KERNEL_PML4.call_once(|| pml4);
    // SAFETY: the new tables map the kernel image, its stacks and the direct
    // map exactly as the boot loader's did, so execution continues unchanged.
    unsafe {
        Cr4::update(|f| f.insert(Cr4Flags::PAGE_GLOBAL));
        Cr3::write(PhysFrame::containing_address(PhysAddr::new(pml4)), Cr3Flags::empty());
    }
}

fn map_direct(m: &mut OffsetPageTable, regions: &[Region]) {
    map_physical(m, regions, PHYS_OFFSET, true, &mut KernelFrames).expect("direct map");
    DIRECT_TOP.store(physical_map_top(regions), core::sync::atomic::Ordering::SeqCst);
}

/// The most physical memory the direct map can ever cover (one PML4 slot).
pub const DIRECT_MAP_LIMIT: u64 = 512 << 30;

/// Everything below this is in the direct map.
static DIRECT_TOP: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Make sure physical `[start, end)` is in the direct map, adding read-only,
/// no-execute 2 MiB pages beyond what boot mapped (our memory map's top or
/// 4 GiB). The capture kernel reads the crashed kernel's RAM this way: its
/// own memory map does not list that RAM, which may lie far above.
pub fn ensure_direct_mapped(start: u64, end: u64) -> Result<(), Errno> {
    use core::sync::atomic::Ordering;
    const HUGE: u64 = 2 << 20;
    if end <= DIRECT_TOP.load(Ordering::SeqCst) {
        return Ok(());
    }
    // Only under the direct map's first PML4 slot, which every address space
    // shares since boot: a new slot would be missing from running processes.
    if end > DIRECT_MAP_LIMIT {
        return Err(Errno::EFAULT);
    }
    // SAFETY: the kernel's own tables; new entries only fill holes.
    let mut m = unsafe { mapper(kernel_pml4()) };
    let mut pa = start.max(DIRECT_TOP.load(Ordering::SeqCst)) & !(HUGE - 1);
    while pa < end {
        let va = VirtAddr::new(PHYS_OFFSET + pa);
        if m.translate_addr(va).is_none() {
            let page = Page::<Size2MiB>::containing_address(va);
            let frame = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(pa));
            // SAFETY: maps otherwise unused physical memory (nobody's in this
            // kernel) at its direct-map address, read-only.
            unsafe { m.map_to_with_table_flags(page, frame, F::PRESENT | F::NO_EXECUTE | F::GLOBAL, F::PRESENT | F::WRITABLE, &mut KernelFrames) }
                .map_err(|_| Errno::ENOMEM)?
                .flush();
        }
        pa += HUGE;
    }
    Ok(())
}

/// The end of what [`map_physical`] maps: max(4 GiB, top of memory), 2 MiB aligned.
pub fn physical_map_top(regions: &[Region]) -> u64 {
    let memory_like = |r: &&Region| !matches!(r.kind, RegionKind::Reserved | RegionKind::Unusable);
    regions.iter().filter(memory_like).map(|r| r.end).max().unwrap_or(0).max(4 << 30).next_multiple_of(2 << 20)
}

/// Map physical memory `[0, max(4 GiB, top of memory))` at `virt_base` with
/// 2 MiB pages: write-back over memory, uncached over everything else (MMIO
/// such as the LAPIC). Used for the direct map and for kexec's identity map.
pub fn map_physical(
    m: &mut OffsetPageTable,
    regions: &[Region],
    virt_base: u64,
    global: bool,
    frames: &mut impl x86_64::structures::paging::FrameAllocator<Size4KiB>,
) -> Result<(), Errno> {
    const HUGE: u64 = 2 << 20;
    let memory_like = |r: &&Region| !matches!(r.kind, RegionKind::Reserved | RegionKind::Unusable);
    let top = physical_map_top(regions);
    let mut pa = 0;
    while pa < top {
        let cached = regions.iter().filter(memory_like).any(|r| r.start < pa + HUGE && r.end > pa);
        let mut flags = F::PRESENT | F::WRITABLE;
        if global {
            // The direct map: never executed, the same in every address space.
            flags |= F::NO_EXECUTE | F::GLOBAL;
        }
        if !cached {
            flags |= F::NO_CACHE | F::WRITE_THROUGH;
        }
        let page = Page::<Size2MiB>::containing_address(VirtAddr::new(virt_base + pa));
        let frame = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(pa));
        // SAFETY: a table being built, not active; these mappings alias
        // physical memory by design.
        unsafe { m.map_to_with_table_flags(page, frame, flags, F::PRESENT | F::WRITABLE, frames) }
            .map_err(|_| Errno::ENOMEM)?
            .ignore();
        pa += HUGE;
    }
    Ok(())
}

fn map_kernel_image(m: &mut OffsetPageTable, boot_cr3: u64) {
    // SAFETY: only the addresses of linker symbols are taken.
    let (start, text_end, rodata_end, end) =
        unsafe { (sym(&__kernel_start), sym(&__text_end), sym(&__rodata_end), sym(&__kernel_end)) };
    let guards = [
        KERNEL_STACK.guard_page(),
        FAULT_STACK.guard_page(),
        CRASH_STACK.guard_page(),
        HELPER_STACK.guard_page(),
        HELPER_FAULT_STACK.guard_page(),
    ];
    let mut va = start;
    while va < end {
        let flags = if va < text_end {
            F::PRESENT | F::GLOBAL
        } else if va < rodata_end {
            F::PRESENT | F::GLOBAL | F::NO_EXECUTE
        } else {
            F::PRESENT | F::GLOBAL | F::NO_EXECUTE | F::WRITABLE
        };
        if !guards.contains(&va) {
            let pa = crate::boot::translate(boot_cr3, va).expect("kernel page not mapped by the boot loader");
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va));
            let frame = PhysFrame::containing_address(PhysAddr::new(pa));
            // SAFETY: maps the kernel's own pages to the frames they already occupy.
            unsafe { m.map_to_with_table_flags(page, frame, flags, F::PRESENT | F::WRITABLE, &mut KernelFrames) }
                .expect("kernel image map")
                .ignore();
        }
        va += PAGE_SIZE;
    }
}

pub fn kernel_pml4() -> u64 {
    *KERNEL_PML4.get().expect("kernel page tables")
}

/// Switch to the kernel-only address space.
pub fn activate_kernel() {
    activate(kernel_pml4());
}

fn activate(pml4: u64) {
    // SAFETY: every PML4 we build shares the kernel half, so the kernel keeps running.
    unsafe { Cr3::write(PhysFrame::containing_address(PhysAddr::new(pml4)), Cr3Flags::empty()) }
}

/// Highest user address + 1 (the lower canonical half).
pub const USER_TOP: u64 = 0x0000_8000_0000_0000;

/// Permissions of a user page.
#[derive(Clone, Copy, Debug)]
pub struct UserPerm {
    pub write: bool,
    pub exec: bool,
}

/// A process's address space: a PML4 whose kernel half is shared and whose
/// user half (and every frame under it) it owns.
pub struct AddressSpace {
    pml4: u64,
}

impl AddressSpace {
    pub fn new_user() -> Result<AddressSpace, Errno> {
        let pml4 = frame::alloc_zeroed().ok_or(Errno::ENOMEM)?;
        // SAFETY: both are valid page-table frames in the direct map; the new one is ours.
        unsafe {
            let src = &*(phys_to_virt(kernel_pml4()) as *const PageTable);
            let dst = &mut *(phys_to_virt(pml4) as *mut PageTable);
            for i in 256..512 {
                dst[i] = src[i].clone();
            }
        }
        Ok(AddressSpace { pml4 })
    }

    pub fn activate(&self) {
        activate(self.pml4);
    }

    /// The physical address and flags behind user address `va`.
    pub fn translate(&self, va: u64) -> Option<(u64, F)> {
        if va >= USER_TOP {
            return None;
        }
        // SAFETY: read-only walk of our own tables.
        let m = unsafe { mapper(self.pml4) };
        match m.translate(VirtAddr::new(va)) {
            TranslateResult::Mapped { frame, offset, flags } => Some((frame.start_address().as_u64() + offset, flags)),
            _ => None,
        }
    }

    /// Map a zeroed page at `va` (page-aligned) for user access. An existing
    /// mapping is kept and its permissions widened (ELF segments may share a page).
    pub fn map_page(&mut self, va: u64, perm: UserPerm) -> Result<u64, Errno> {
        if va >= USER_TOP || !va.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        let mut flags = F::PRESENT | F::USER_ACCESSIBLE;
        if perm.write {
            flags |= F::WRITABLE;
        }
        if !perm.exec {
            flags |= F::NO_EXECUTE;
        }
        // SAFETY: our own tables.
        let mut m = unsafe { mapper(self.pml4) };
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va));
        if let Some((pa, old)) = self.translate(va) {
            let mut merged = old | (flags & F::WRITABLE);
            if perm.exec {
                merged.remove(F::NO_EXECUTE);
            }
            // SAFETY: widening permissions of a page we own.
            unsafe { m.update_flags(page, merged) }.map_err(|_| Errno::EFAULT)?.flush();
            return Ok(pa);
        }
        let pa = frame::alloc_zeroed().ok_or(Errno::ENOMEM)?;
        let frame = PhysFrame::containing_address(PhysAddr::new(pa));
        let parents = F::PRESENT | F::WRITABLE | F::USER_ACCESSIBLE;
        // SAFETY: a fresh frame mapped at an unused user address.
        match unsafe { m.map_to_with_table_flags(page, frame, flags, parents, &mut KernelFrames) } {
            Ok(flush) => {
                flush.flush();
                Ok(pa)
            }
            Err(e) => {
                frame::free(pa);
                Err(match e {
                    MapToError::FrameAllocationFailed => Errno::ENOMEM,
                    _ => Errno::EINVAL,
                })
            }
        }
    }

    /// Unmap and free the page at `va`, if mapped.
    pub fn unmap_page(&mut self, va: u64) {
        // SAFETY: our own tables.
        let mut m = unsafe { mapper(self.pml4) };
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va));
        if let Ok((frame, flush)) = m.unmap(page) {
            flush.flush();
            frame::free(frame.start_address().as_u64());
        }
    }
}

impl AddressSpace {
    /// The first mapped user page in `[va, end)`, skipping whole absent
    /// subtrees (so unmapping a huge, mostly empty range stays cheap).
    fn next_mapped(&self, mut va: u64, end: u64) -> Option<u64> {
        while va < end {
            let mut table = self.pml4;
            let mut skip = 0;
            for level in (1..=4u32).rev() {
                let shift = 12 + 9 * (level - 1);
                let idx = ((va >> shift) & 511) as usize;
                // SAFETY: a page-table frame of this address space, read only.
                let entry = unsafe { &(&*(phys_to_virt(table) as *const PageTable))[idx] };
                if !entry.flags().contains(F::PRESENT) {
                    skip = 1u64 << shift;
                    break;
                }
                table = entry.addr().as_u64();
            }
            if skip == 0 {
                return Some(va);
            }
            va = (va & !(skip - 1)).checked_add(skip)?;
        }
        None
    }

    /// Unmap and free every page in `[start, end)` (page-aligned).
    pub fn unmap_range(&mut self, start: u64, end: u64) {
        let end = end.min(USER_TOP);
        let mut va = start;
        while let Some(page) = self.next_mapped(va, end) {
            self.unmap_page(page);
            va = page + PAGE_SIZE;
        }
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        let (cur, _) = Cr3::read_raw();
        if cur.start_address().as_u64() == self.pml4 {
            activate_kernel();
        }
        // SAFETY: the space is not active; we own every frame under its user half.
        unsafe { free_level(self.pml4, 4, 256) };
        frame::free(self.pml4);
    }
}

/// Free the tables and frames below the first `entries` slots of a table at `level`.
///
/// # Safety
/// The table must be exclusively owned and not in use.
unsafe fn free_level(table: u64, level: u8, entries: usize) {
    // SAFETY: forwarded.
    let t = unsafe { &*(phys_to_virt(table) as *const PageTable) };
    for e in t.iter().take(entries) {
        if !e.flags().contains(F::PRESENT) {
            continue;
        }
        let pa = e.addr().as_u64();
        if level > 1 && !e.flags().contains(F::HUGE_PAGE) {
            // SAFETY: a child table of an owned table.
            unsafe { free_level(pa, level - 1, 512) };
        }
        frame::free(pa);
    }
}
