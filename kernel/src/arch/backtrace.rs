//! Frame-pointer backtraces (the kernel is built with force-frame-pointers).
//! Addresses only: resolve them with `addr2line -e target/kernel/.../kexos`.

extern "C" {
    static __kernel_start: u8;
    static __kernel_end: u8;
}

const MAX_FRAMES: usize = 24;

fn in_kernel_image(addr: u64) -> bool {
    // SAFETY: only the linker symbols' addresses are taken.
    let (start, end) = unsafe { (&__kernel_start as *const u8 as u64, &__kernel_end as *const u8 as u64) };
    addr >= start && addr + 16 <= end && addr.is_multiple_of(8)
}

/// Print `rip` and the return addresses found by walking the RBP chain.
/// Frames are trusted only while they point into the kernel image, where
/// every kernel stack lives, so a corrupted chain stops the walk instead of faulting.
pub fn print(rip: u64, mut rbp: u64) {
    crate::console::emergency_print(format_args!("backtrace:\n  #0 {:#x}\n", rip));
    for i in 1..MAX_FRAMES {
        if !in_kernel_image(rbp) {
            break;
        }
        // SAFETY: rbp points into the mapped kernel image (checked above).
        let (next, ret) = unsafe { (*(rbp as *const u64), *((rbp + 8) as *const u64)) };
        if ret == 0 {
            break;
        }
        crate::console::emergency_print(format_args!("  #{} {:#x}\n", i, ret));
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
