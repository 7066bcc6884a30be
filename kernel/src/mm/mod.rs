//! Physical memory: the frame allocator, the heap, the kernel's own page
//! tables, process address spaces and checked access to user memory.

pub mod fail;
pub mod frame;
pub mod heap;
pub mod paging;
pub mod protect;
pub mod user;

use alloc::vec::Vec;
use memmap::{MemoryMap, Region, RegionKind};
use spin::Once;

use crate::boot::BootContext;
use crate::PHYS_OFFSET;

pub const PAGE_SIZE: u64 = 4096;

/// The machine's physical memory map, merged (for /proc/iomem and, later,
/// the e820 table handed to the next kernel).
static MEMORY_MAP: Once<MemoryMap> = Once::new();

pub fn memory_map() -> &'static MemoryMap {
    MEMORY_MAP.get().expect("mm::init not run")
}

/// Kernel virtual address of a physical address in the direct map.
pub fn phys_to_virt(pa: u64) -> u64 {
    PHYS_OFFSET + pa
}

/// Frames taken at boot by steps that are not allocators themselves, for
/// the breakdown (bytes, from the free count before and after each).
static TAKEN: spin::Mutex<(u64, u64)> = spin::Mutex::new((0, 0)); // (crashkernel, page tables)

/// The frame allocator and the heap: the first memory anything can take.
/// `reserve_crash` runs right after the heap (parsing crashkernel=
/// allocates), before anything else takes memory.
pub fn init_allocators(ctx: &BootContext, reserve_crash: impl FnOnce()) {
    frame::init(ctx.regions(), ctx.initrd, ctx.loader_tables());
    heap::init();
    let free = frame::free_bytes();
    reserve_crash();
    TAKEN.lock().0 = free - frame::free_bytes();
}

/// Where RAM went so far, from the allocators' counts; None if the counts
/// contradict each other (something counted twice).
pub fn breakdown(ctx: &BootContext, ramfs: u64) -> Option<bootstats::MemBreakdown> {
    let c = frame::init_counts();
    let ram = frame::total_ram();
    let (crashkernel, page_tables) = *TAKEN.lock();
    let regions = ctx.regions();
    let top = regions.iter().filter(|r| matches!(r.kind, RegionKind::Ram | RegionKind::Bootloader)).map(|r| r.end).max().unwrap_or(0);
    let firmware = regions
        .iter()
        .filter(|r| !matches!(r.kind, RegionKind::Ram | RegionKind::Bootloader))
        .map(|r| r.end.min(top).saturating_sub(r.start))
        .sum();
    let (kernel, initramfs) = (ctx.kernel_image_bytes(), ctx.initrd_page_bytes());
    // First boot: the image and the initramfs lie in the boot loader's
    // regions. After a kexec: in RAM that frame::init kept back, with the
    // boot protocol's ranges, less the hand-over buffers given back since
    // (the only boot-time frame::release).
    let kept = c.kept.checked_sub(frame::released_bytes())?;
    let (loader, boot) = if crate::boot::entered_by_kexec() {
        (c.loader, kept.checked_sub(c.bitmap + kernel + initramfs)?)
    } else {
        (c.loader.checked_sub(kernel + initramfs)?, kept.checked_sub(c.bitmap)?)
    };
    bootstats::MemBreakdown {
        ram,
        firmware,
        kernel,
        initramfs,
        loader,
        boot,
        low: c.low,
        bitmap: c.bitmap,
        page_tables,
        crashkernel,
        heap: heap::size(),
        ramfs,
        other: 0,
        free: frame::free_bytes(),
    }
    .with_other_as_rest()
}

/// The rest, once the boot path reserved what it needs (crashkernel=):
/// the memory map and the kernel's own page tables.
pub fn init(ctx: &BootContext) {
    let map = MemoryMap::from_regions(ctx.regions().iter().copied());
    let regions: Vec<Region> = map.regions().to_vec();
    MEMORY_MAP.call_once(|| map);
    let free = frame::free_bytes();
    paging::init_kernel_tables(&regions, ctx.entry_cr3);
    TAKEN.lock().1 = free - frame::free_bytes();
    info!(
        "mm: {} MiB RAM, {} MiB free after heap ({} MiB)",
        frame::total_ram() >> 20,
        frame::free_bytes() >> 20,
        heap::size() >> 20
    );
}
