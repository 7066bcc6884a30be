//! The kernel heap: one physically contiguous block of frames, used through
//! the direct map, managed by linked_list_allocator.

use linked_list_allocator::LockedHeap;

use super::{frame, phys_to_virt, PAGE_SIZE};

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

static mut HEAP_SIZE: u64 = 0;

/// A quarter of RAM, between 8 and 256 MiB: files in the ramfs (kernel
/// images included) live here.
fn heap_size() -> u64 {
    (frame::free_bytes() / 4).clamp(8 << 20, 256 << 20) & !(PAGE_SIZE - 1)
}

pub fn init() {
    let mut size = heap_size();
    let pa = loop {
        if let Some(pa) = frame::alloc_contiguous((size / PAGE_SIZE) as usize, PAGE_SIZE) {
            break pa;
        }
        size /= 2;
        assert!(size >= 1 << 20, "no contiguous memory for the kernel heap");
    };
    // SAFETY: the frames are ours for good and mapped in the direct map.
    unsafe {
        HEAP.lock().init(phys_to_virt(pa) as *mut u8, size as usize);
        HEAP_SIZE = size;
    }
}

pub fn size() -> u64 {
    // SAFETY: written once at boot.
    unsafe { HEAP_SIZE }
}

/// The heap's (start address, size in bytes), for the crash test that
/// corrupts it.
pub fn bounds() -> (usize, usize) {
    let h = HEAP.lock();
    (h.bottom() as usize, h.size())
}
