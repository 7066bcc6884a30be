//! Allocation failure injection for one kexec_file_load (Linux's
//! fail_page_alloc, aimed): with `kexec_test`, writing N to
//! /sys/kernel/kexec_test_fail_alloc makes the next kexec_file_load fail
//! its Nth fallible allocation: a page frame (entry-list source and
//! indirection pages, control pages, the page tables that protect the
//! crash region) or a file buffer (the kernel and initrd copies, reserved
//! with try_reserve). The call must then return ENOMEM (or the errno of
//! the step that failed), free what it took and keep the loaded image.
//! N = 0 counts the points without failing any. Small heap allocations
//! are infallible in Rust (an out-of-memory heap is a panic) and are not
//! injected.

use core::sync::atomic::{AtomicU64, Ordering};

/// Set by the hook; taken by the next call.
static PENDING: AtomicU64 = AtomicU64::new(NONE);
/// The failing point of the call running now (NONE: not armed).
static ARMED: AtomicU64 = AtomicU64::new(NONE);
/// Points passed by the running call, then by the last armed call.
static SEEN: AtomicU64 = AtomicU64::new(0);
static LAST: AtomicU64 = AtomicU64::new(0);
const NONE: u64 = u64::MAX;

/// The next kexec_file_load fails its Nth point (0: count only).
pub fn set_pending(n: u64) {
    PENDING.store(n, Ordering::Relaxed);
}

/// How many points the last armed call passed.
pub fn last_points() -> u64 {
    LAST.load(Ordering::Relaxed)
}

/// Arms injection for the current call while it lives (if a failure is pending).
pub struct CallScope(bool);

impl CallScope {
    pub fn enter() -> CallScope {
        let n = PENDING.swap(NONE, Ordering::Relaxed);
        if n == NONE {
            return CallScope(false);
        }
        SEEN.store(0, Ordering::Relaxed);
        ARMED.store(if n == 0 { NONE - 1 } else { n }, Ordering::Relaxed);
        CallScope(true)
    }
}

impl Drop for CallScope {
    fn drop(&mut self) {
        if self.0 {
            ARMED.store(NONE, Ordering::Relaxed);
            LAST.store(SEEN.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

/// At each fallible allocation: true when this one must fail.
pub fn should_fail() -> bool {
    let at = ARMED.load(Ordering::Relaxed);
    if at == NONE {
        return false;
    }
    let n = SEEN.fetch_add(1, Ordering::Relaxed) + 1;
    if n == at {
        info!("mm: test hook: allocation {} of this kexec_file_load fails", n);
        return true;
    }
    false
}
