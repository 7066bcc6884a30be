//! Physical memory: the frame allocator, the heap, the kernel's own page
//! tables, process address spaces and checked access to user memory.

pub mod fail;
pub mod frame;
pub mod heap;
pub mod paging;
pub mod protect;
pub mod user;

use alloc::vec::Vec;
use memmap::{MemoryMap, Region};
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

/// The frame allocator and the heap: the first memory anything can take.
pub fn init_allocators(ctx: &BootContext) {
    frame::init(ctx.regions(), ctx.initrd);
    heap::init();
}

/// The rest, once the boot path reserved what it needs (crashkernel=):
/// the memory map and the kernel's own page tables.
pub fn init(ctx: &BootContext) {
    let map = MemoryMap::from_regions(ctx.regions().iter().copied());
    let regions: Vec<Region> = map.regions().to_vec();
    MEMORY_MAP.call_once(|| map);
    paging::init_kernel_tables(&regions, ctx.entry_cr3);
    info!(
        "mm: {} MiB RAM, {} MiB free after heap ({} MiB)",
        frame::total_ram() >> 20,
        frame::free_bytes() >> 20,
        heap::size() >> 20
    );
}
