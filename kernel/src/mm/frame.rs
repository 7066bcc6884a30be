//! The physical frame allocator: a bitmap over all RAM (memmap::FrameBitmap)
//! whose storage is carved from RAM itself before the heap exists.

use core::sync::atomic::{AtomicU64, Ordering};
use memmap::{boot_tables, FrameBitmap, Region, RegionKind};
use spin::Mutex;
use x86_64::structures::paging::{FrameAllocator, FrameDeallocator, PageTable, PhysFrame, Size4KiB};
use x86_64::PhysAddr;

use super::{phys_to_virt, PAGE_SIZE};

static FRAMES: Mutex<Option<FrameBitmap<'static>>> = Mutex::new(None);
static TOTAL_RAM: AtomicU64 = AtomicU64::new(0);

/// What [`init`] found, for the boot memory breakdown (bytes).
#[derive(Clone, Copy, Default)]
pub struct InitCounts {
    /// RAM below 1 MiB (never handed out).
    pub low: u64,
    /// What the boot loader's regions still hold after
    /// `reclaim_loader_regions` (never handed out).
    pub loader: u64,
    /// The bitmap's own frames.
    pub bitmap: u64,
    /// RAM above 1 MiB that init kept back: the bitmap, the initrd and the
    /// boot context's reserved ranges (each frame once).
    pub kept: u64,
}

static INIT_COUNTS: Mutex<InitCounts> = Mutex::new(InitCounts { low: 0, loader: 0, bitmap: 0, kept: 0 });

pub fn init_counts() -> InitCounts {
    *INIT_COUNTS.lock()
}

/// Memory below 1 MiB is left alone: firmware and real-mode structures live
/// there, and the next kernel (Linux) expects to find it as it was.
const LOW_MEMORY_END: u64 = 0x10_0000;

/// Never handed out: what the boot context says is in use inside RAM (when
/// booted through the boot protocol: the kernel image with its bss and boot
/// page tables, the zero page, the command line, setup_data) and the initrd.
fn in_use(initrd: Option<(u64, u64)>) -> impl Iterator<Item = (u64, u64)> {
    crate::boot::reserved().iter().copied().chain(initrd.map(|(pa, len)| (pa, pa + len)))
}

/// The first page-aligned `bytes` of RAM above 1 MiB that overlap nothing in use.
fn find_home(regions: &[Region], bytes: u64, initrd: Option<(u64, u64)>) -> Option<u64> {
    for r in regions.iter().filter(|r| r.kind == RegionKind::Ram) {
        let mut s = r.start.max(LOW_MEMORY_END).next_multiple_of(PAGE_SIZE);
        while s.checked_add(bytes).is_some_and(|e| e <= r.end) {
            match in_use(initrd).filter(|&(a, b)| a < s + bytes && b > s).map(|(_, b)| b).max() {
                Some(b) => s = b.next_multiple_of(PAGE_SIZE),
                None => return Some(s),
            }
        }
    }
    None
}

/// Builds the allocator over `regions`. `loader_cr3`: on a first boot, the
/// page tables the boot loader handed over, which say which of its regions
/// are still in use ([`reclaim_loader_regions`]).
pub fn init(regions: &[Region], initrd: Option<(u64, u64)>, loader_cr3: Option<u64>) {
    let ram = || regions.iter().filter(|r| r.kind == RegionKind::Ram);
    let top = regions.iter().filter(|r| matches!(r.kind, RegionKind::Ram | RegionKind::Bootloader)).map(|r| r.end).max().unwrap_or(0);
    let frames = (top / PAGE_SIZE) as usize;
    let words = FrameBitmap::storage_words(frames);
    let bytes = (words as u64 * 8).next_multiple_of(PAGE_SIZE);
    // The bitmap goes at the first place in RAM above 1 MiB that holds it.
    let home = find_home(regions, bytes, initrd).expect("no RAM for the frame bitmap");
    // SAFETY: [home, home+bytes) is usable RAM nobody else owns yet, mapped
    // in the direct map; it stays reserved in the bitmap it backs.
    let storage = unsafe { core::slice::from_raw_parts_mut(phys_to_virt(home) as *mut u64, words) };
    let mut bitmap = FrameBitmap::new(storage, 0, frames);
    let mut total = 0;
    for r in ram() {
        bitmap.release(r.start.max(LOW_MEMORY_END), r.end);
        total += r.end - r.start;
    }
    bitmap.reserve(home, home + bytes);
    for (start, end) in in_use(initrd) {
        bitmap.reserve(start, end); // every page it touches
    }
    let loader: u64 = regions.iter().filter(|r| r.kind == RegionKind::Bootloader).map(|r| r.end - r.start).sum();
    TOTAL_RAM.store(total + loader, Ordering::Relaxed);
    let low: u64 = ram().map(|r| r.end.min(LOW_MEMORY_END).saturating_sub(r.start)).sum();
    let kept = (total - low) - bitmap.free_frames() as u64 * PAGE_SIZE;
    let reclaimed = loader_cr3.map_or(0, |cr3| reclaim_loader_regions(&mut bitmap, regions, cr3, initrd));
    *INIT_COUNTS.lock() = InitCounts { low, loader: loader - reclaimed, bitmap: bytes, kept };
    *FRAMES.lock() = Some(bitmap);
}

/// Frees what the boot loader's regions hold beyond what its page tables
/// still use (memmap::boot_tables says why it marks more than it used) and
/// the initramfs. Returns the bytes freed.
fn reclaim_loader_regions(bitmap: &mut FrameBitmap, regions: &[Region], cr3: u64, initrd: Option<(u64, u64)>) -> u64 {
    let before = bitmap.free_frames();
    let loader = || regions.iter().filter(|r| r.kind == RegionKind::Bootloader);
    for r in loader() {
        bitmap.release(r.start.max(LOW_MEMORY_END), r.end);
    }
    let top = regions.iter().map(|r| r.end).max().unwrap_or(0);
    let table = |pa: u64| {
        // SAFETY: the boot loader's page tables, read (not written) through
        // the direct map it set up; `pa` is below the top of the memory map.
        (pa < top).then(|| unsafe { &*(phys_to_virt(pa) as *const PageTable) })
    };
    boot_tables::mapped_frames(cr3, crate::PHYS_OFFSET, table, |s, e| {
        // Only its own regions: elsewhere the walk finds firmware and the
        // boot loader's identity-mapped code, which were never ours to free.
        for r in loader().filter(|r| r.start < e && s < r.end) {
            bitmap.reserve(s.max(r.start), e.min(r.end));
        }
    });
    for (start, end) in in_use(initrd) {
        bitmap.reserve(start, end);
    }
    (bitmap.free_frames() - before) as u64 * PAGE_SIZE
}

fn with<R>(f: impl FnOnce(&mut FrameBitmap<'static>) -> R) -> R {
    x86_64::instructions::interrupts::without_interrupts(|| f(FRAMES.lock().as_mut().expect("frame allocator")))
}

/// One zeroed 4 KiB frame.
pub fn alloc_zeroed() -> Option<u64> {
    if super::fail::should_fail() {
        return None;
    }
    with(|b| b.alloc()).map(zeroed)
}

/// One zeroed 4 KiB frame that ends at or below `limit` (the lowest free).
/// Not an injection point of the `kexec_test` allocation-failure hook: its
/// callers fall back to any frame ([`alloc_zeroed`], which is one) or run
/// without a helper CPU.
pub fn alloc_zeroed_below(limit: u64) -> Option<u64> {
    with(|b| b.alloc_below(limit)).map(zeroed)
}

/// Zero the frame at `pa`, which the caller just allocated.
fn zeroed(pa: u64) -> u64 {
    // SAFETY: the frame was just allocated to the caller and is in the
    // direct map; nothing else refers to it yet.
    unsafe { core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, PAGE_SIZE as usize) };
    pa
}

/// One 4 KiB frame, contents undefined (for callers that overwrite it whole).
pub fn alloc() -> Option<u64> {
    if super::fail::should_fail() {
        return None;
    }
    with(|b| b.alloc())
}

/// `count` physically contiguous frames aligned to `align` bytes (not zeroed).
pub fn alloc_contiguous(count: usize, align: u64) -> Option<u64> {
    if super::fail::should_fail() {
        return None;
    }
    with(|b| b.alloc_contiguous(count, align))
}

/// The frame at `pa` itself, if it is free (kexec writes a segment page
/// straight into its destination this way). Not an injection point of the
/// `kexec_test` allocation-failure hook: a refusal here only means the page
/// is copied through a source page instead.
pub fn alloc_at(pa: u64) -> bool {
    with(|b| b.alloc_at(pa))
}

/// The runs of at least `min_bytes` of frames in use (heap, ramdisk,
/// kernel image, loaded images...), ascending.
pub fn used_runs(min_bytes: u64) -> alloc::vec::Vec<(u64, u64)> {
    with(|b| b.used_runs((min_bytes / PAGE_SIZE) as usize))
}

pub fn free(pa: u64) {
    if let Err(e) = with(|b| b.free(pa)) {
        info!("mm: bad free of frame {:#x}: {:?}", pa, e);
    }
}

/// Are all frames of [start, end) free? (Page-granular; `end` exclusive.)
pub fn range_free(start: u64, end: u64) -> bool {
    with(|b| (start / PAGE_SIZE..end.div_ceil(PAGE_SIZE)).all(|f| b.is_free(f * PAGE_SIZE)))
}

/// Bytes [`release`] gave back, for the boot memory breakdown.
static RELEASED: AtomicU64 = AtomicU64::new(0);

/// Give [start, end) (page aligned) to the allocator (a shrunk crash
/// region, a hand-over buffer the boot protocol reserved).
pub fn release(start: u64, end: u64) {
    let frames = with(|b| {
        let before = b.free_frames();
        b.release(start, end);
        b.free_frames() - before
    });
    RELEASED.fetch_add(frames as u64 * PAGE_SIZE, Ordering::Relaxed);
}

/// Bytes given back with [`release`] since boot.
pub fn released_bytes() -> u64 {
    RELEASED.load(Ordering::Relaxed)
}

/// Take [start, end) out of the allocator for good (the crash kernel region).
pub fn reserve(start: u64, end: u64) {
    with(|b| b.reserve(start, end))
}

pub fn free_bytes() -> u64 {
    with(|b| b.free_frames() as u64 * PAGE_SIZE)
}

/// RAM the firmware reported (usable + what the boot loader occupies).
pub fn total_ram() -> u64 {
    TOTAL_RAM.load(Ordering::Relaxed)
}

/// Adapter for the x86_64 crate's page-table mapper.
pub struct KernelFrames;

// SAFETY: hands out frames that are unused and zeroed, each exactly once.
unsafe impl FrameAllocator<Size4KiB> for KernelFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        alloc_zeroed().map(|pa| PhysFrame::containing_address(PhysAddr::new(pa)))
    }
}

impl FrameDeallocator<Size4KiB> for KernelFrames {
    unsafe fn deallocate_frame(&mut self, frame: PhysFrame<Size4KiB>) {
        free(frame.start_address().as_u64())
    }
}
