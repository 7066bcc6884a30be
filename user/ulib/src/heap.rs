//! The global allocator: power-of-two size classes (16 B .. 16 MiB) carved
//! from the `brk` heap with one free list per class; bigger blocks are
//! anonymous `mmap`s returned with `munmap`. If `brk` cannot grow, small
//! blocks are carved from anonymous mappings instead (and brk is not tried
//! again: the break is then no longer the end of the current region).
//! Single-threaded, like every kexos process.

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
    /// Next unused byte of the current region; 0 before the first allocation.
    bump: usize,
    /// End of the current region: the program break while `on_brk`,
    /// otherwise the end of the last anonymous mapping.
    end: usize,
    /// Whether the current region is the brk heap (`end` is the break).
    on_brk: bool,
}

pub struct BrkAlloc(UnsafeCell<Heap>);

// SAFETY: the `UnsafeCell` is only reached through the GlobalAlloc methods,
// and kexos processes are single-threaded with no signal handlers, so no two
// of those calls ever overlap.
unsafe impl Sync for BrkAlloc {}

#[global_allocator]
static HEAP: BrkAlloc = BrkAlloc(UnsafeCell::new(Heap {
    free: [null_mut(); CLASSES],
    bump: 0,
    end: 0,
    on_brk: false,
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
            let b = crate::sys::program_break();
            if b != 0 && !is_err(b) {
                self.bump = b;
                self.end = b;
                self.on_brk = true;
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
        if self.on_brk {
            let want = round_up(need, GROW);
            // SAFETY: `want >= need > self.end`, and `end` is the current
            // break (`on_brk`), so this only raises the break: nothing is
            // unmapped.
            let got = unsafe { crate::sys::brk(want) };
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
                self.on_brk = false;
                p as *mut u8
            }
            Err(_) => null_mut(),
        }
    }
}

// SAFETY: `alloc` returns null or a block of at least `size` bytes aligned to
// `align`: size classes are powers of two >= max(size, align), carved at an
// offset aligned to min(class size, PAGE) and `align <= PAGE` is enforced;
// mmap'd blocks are page-aligned and rounded up to whole pages. A block is
// on at most one free list and is handed out again only after `dealloc`,
// so live blocks never overlap.
unsafe impl GlobalAlloc for BrkAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > PAGE {
            return null_mut();
        }
        let k = class(&layout);
        if k > MAX_CLASS {
            return crate::sys::mmap_anon(round_up(layout.size(), PAGE)).unwrap_or(null_mut());
        }
        // SAFETY: the only reference to the heap state while this call runs:
        // calls never overlap (see the Sync impl) and nothing below calls
        // back into the allocator (carve makes raw syscalls only).
        let h = unsafe { &mut *self.0.get() };
        let slot = &mut h.free[(k - MIN_CLASS) as usize];
        if !slot.is_null() {
            let b = *slot;
            // SAFETY: `b` heads this class's free list, so `dealloc` wrote a
            // `Free` header into it (>= 16 bytes, 16-aligned) and nobody has
            // used the block since.
            *slot = unsafe { (*b).next };
            return b as *mut u8;
        }
        h.carve(k)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let k = class(&layout);
        if k > MAX_CLASS {
            // SAFETY: classes above MAX_CLASS come from `mmap_anon` with this
            // same rounded length (the caller passes the layout it allocated
            // with), and the caller gives the block up here.
            let _ = unsafe { crate::sys::munmap(ptr as usize, round_up(layout.size(), PAGE)) };
            return;
        }
        // SAFETY: the heap state is borrowed exclusively as in `alloc`; `ptr`
        // is a block of this class (at least 16 bytes, 16-aligned) that the
        // caller gives up, so writing a `Free` header into it is sound and
        // no live object is overwritten.
        unsafe {
            let h = &mut *self.0.get();
            let slot = &mut h.free[(k - MIN_CLASS) as usize];
            let b = ptr as *mut Free;
            (*b).next = *slot;
            *slot = b;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: GlobalAlloc::realloc requires that `new_size`, rounded up
        // to `layout.align()`, does not overflow isize, which is what
        // Layout::from_size_align needs.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let (old_k, new_k) = (class(&layout), class(&new_layout));
        if old_k == new_k && old_k <= MAX_CLASS {
            return ptr;
        }
        // SAFETY: `ptr` is a live block allocated with `layout` (realloc's
        // contract); `new` is a different, fresh block of `new_size` bytes, so
        // copying the smaller of the two sizes stays inside both and they do
        // not overlap; `ptr` is freed with the layout it was allocated with.
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
