//! The global allocator: power-of-two size classes (16 B .. 16 MiB) carved
//! from the `brk` heap with one free list per class; bigger blocks are
//! anonymous `mmap`s returned with `munmap`. If `brk` cannot grow, small
//! blocks are carved from anonymous mappings instead. Single-threaded, like
//! every kexos process.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::null_mut;

const MIN_CLASS: u32 = 4; // 16 bytes
const MAX_CLASS: u32 = 24; // 16 MiB
const CLASSES: usize = (MAX_CLASS - MIN_CLASS + 1) as usize;
const PAGE: usize = 4096;
/// brk grows in steps of this many bytes.
const GROW: usize = 64 * 1024;

struct Free {
    next: *mut Free,
}

struct Heap {
    free: [*mut Free; CLASSES],
    /// Next unused byte of the brk heap; 0 before the first allocation.
    bump: usize,
    /// Current program break.
    end: usize,
}

pub struct BrkAlloc(UnsafeCell<Heap>);

// SAFETY: kexos processes are single-threaded and have no signal handlers.
unsafe impl Sync for BrkAlloc {}

#[global_allocator]
static HEAP: BrkAlloc = BrkAlloc(UnsafeCell::new(Heap {
    free: [null_mut(); CLASSES],
    bump: 0,
    end: 0,
}));

fn round_up(v: usize, a: usize) -> usize {
    (v + a - 1) & !(a - 1)
}

/// The size class (log2 of the block size) for a layout.
fn class(layout: &Layout) -> u32 {
    let size = layout.size().max(layout.align()).max(1 << MIN_CLASS);
    size.next_power_of_two().trailing_zeros()
}

/// Whether a raw syscall return is an error (-4095..=-1).
fn is_err(v: usize) -> bool {
    v > usize::MAX - 4095
}

impl Heap {
    fn carve(&mut self, k: u32) -> *mut u8 {
        let size = 1usize << k;
        if self.bump == 0 {
            let b = crate::sys::brk(0);
            if b != 0 && !is_err(b) {
                self.bump = b;
                self.end = b;
            }
        }
        let start = round_up(self.bump, size.min(PAGE));
        let Some(need) = start.checked_add(size) else {
            return null_mut();
        };
        if self.bump != 0 && need <= self.end {
            self.bump = need;
            return start as *mut u8;
        }
        // Grow the brk heap in place.
        if self.bump != 0 {
            let want = round_up(need, GROW);
            let got = crate::sys::brk(want);
            if !is_err(got) && got >= need {
                self.end = got;
                self.bump = need;
                return start as *mut u8;
            }
        }
        // No (more) brk: continue in a fresh anonymous mapping; the rest of
        // the old region is abandoned.
        let len = round_up(size, GROW);
        match crate::sys::mmap_anon(len) {
            Ok(p) => {
                let p = p as usize;
                self.bump = p + size;
                self.end = p + len;
                p as *mut u8
            }
            Err(_) => null_mut(),
        }
    }
}

unsafe impl GlobalAlloc for BrkAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > PAGE {
            return null_mut();
        }
        let k = class(&layout);
        if k > MAX_CLASS {
            return crate::sys::mmap_anon(round_up(layout.size(), PAGE)).unwrap_or(null_mut());
        }
        // SAFETY: single-threaded (see the Sync impl); no reentrancy.
        let h = unsafe { &mut *self.0.get() };
        let slot = &mut h.free[(k - MIN_CLASS) as usize];
        if !slot.is_null() {
            let b = *slot;
            // SAFETY: free blocks hold a `Free` header.
            *slot = unsafe { (*b).next };
            return b as *mut u8;
        }
        h.carve(k)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let k = class(&layout);
        if k > MAX_CLASS {
            // SAFETY: the block is an mmap of this size that nobody uses any more.
            let _ = unsafe { crate::sys::munmap(ptr as usize, round_up(layout.size(), PAGE)) };
            return;
        }
        // SAFETY: single-threaded; the block is at least 16 bytes and 8-aligned.
        unsafe {
            let h = &mut *self.0.get();
            let slot = &mut h.free[(k - MIN_CLASS) as usize];
            let b = ptr as *mut Free;
            (*b).next = *slot;
            *slot = b;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees new_size and align form a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let (old_k, new_k) = (class(&layout), class(&new_layout));
        if old_k == new_k && old_k <= MAX_CLASS {
            return ptr;
        }
        // SAFETY: GlobalAlloc contract.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}
