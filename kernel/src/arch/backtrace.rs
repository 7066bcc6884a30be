//! Frame-pointer backtraces (the kernel is built with force-frame-pointers).
//! Addresses only: resolve them with `addr2line -e target/kernel/.../kexos`.

use super::smp::{HELPER_FAULT_STACK, HELPER_STACK};
use super::stack::{CRASH_STACK, FAULT_STACK, KERNEL_STACK};

const MAX_FRAMES: usize = 24;

/// A frame record (saved RBP + return address) is trusted only inside one
/// of the kernel's stacks, above its guard page (Linux's get_stack_info).
fn on_a_stack(addr: u64) -> bool {
    let stacks = [
        (KERNEL_STACK.guard_page() + 4096, KERNEL_STACK.top()),
        (FAULT_STACK.guard_page() + 4096, FAULT_STACK.top()),
        (CRASH_STACK.guard_page() + 4096, CRASH_STACK.top()),
        (HELPER_STACK.guard_page() + 4096, HELPER_STACK.top()),
        (HELPER_FAULT_STACK.guard_page() + 4096, HELPER_FAULT_STACK.top()),
    ];
    addr.is_multiple_of(8) && stacks.iter().any(|&(lo, hi)| addr >= lo && addr.saturating_add(16) <= hi)
}

/// Print `rip` and the return addresses found by walking the RBP chain.
/// Frames are trusted only while they point into a kernel stack, so a
/// corrupted chain stops the walk instead of faulting.
pub fn print(rip: u64, mut rbp: u64) {
    crate::klog::emergency_print(format_args!("backtrace:\n  #0 {:#x}\n", rip));
    for i in 1..MAX_FRAMES {
        if !on_a_stack(rbp) {
            break;
        }
        // SAFETY: rbp points into the mapped kernel image (checked above).
        let (next, ret) = unsafe { (*(rbp as *const u64), *((rbp + 8) as *const u64)) };
        if ret == 0 {
            break;
        }
        crate::klog::emergency_print(format_args!("  #{} {:#x}\n", i, ret));
        if next <= rbp {
            break;
        }
        rbp = next;
    }
}

/// Backtrace of the caller (used by the panic handler).
pub fn print_current() {
    let rbp: u64;
    // SAFETY: reads the frame pointer register only.
    unsafe { core::arch::asm!("mov {}, rbp", out(reg) rbp) };
    print(print_current as *const () as u64, rbp);
}
