//! Raw `syscall` instructions. Linux convention: number in rax, arguments in
//! rdi, rsi, rdx, r10, r8, r9; result in rax (-4095..=-1 is -errno);
//! rcx and r11 are clobbered.
//!
//! The one `asm!` is in [`syscall6`]; the shorter forms pass 0 in the
//! registers they do not name. That is harmless: a syscall reads only the
//! argument registers it declares (the x86_64 syscall ABI), so the extra
//! zeros are never looked at.
//!
//! Prefer the typed wrappers in [`crate::sys`]: they are safe because each
//! one passes only pointers derived from Rust references of the right size.
//! These functions are for callers that must pass values no safe wrapper
//! would (faulttest's bad pointers and unknown numbers).
use core::arch::asm;

/// Issue syscall `n` with six arguments and return the raw result
/// (-4095..=-1 is -errno).
///
/// # Safety
/// The kernel acts on this process as syscall `n` is documented to
/// (syscalls(2) and the call's own page). The caller must make that sound:
/// - every argument the call reads through as a pointer is null, outside
///   this process's memory, or points to memory that may be read for as many
///   bytes as the call reads (strings: up to and including their NUL);
/// - every argument the call writes through points to memory that Rust
///   allows to be overwritten with those bytes (no live shared reference to
///   it, and any bit pattern the call writes is valid for its type);
/// - a call that changes the address space (mmap with `MAP_FIXED`, munmap,
///   brk shrinking, mprotect) must not remove or alter memory that live
///   Rust objects use.
#[inline(always)]
pub unsafe fn syscall6(n: u64, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64, a6: u64) -> i64 {
    let ret: i64;
    // SAFETY: `syscall` changes no register but rax (the result), rcx and
    // r11 (saved user rip and rflags), all three declared here; it does not
    // use the user stack (`nostack`). Its effect on memory is the call's
    // documented effect, which the caller vouches for (see # Safety).
    unsafe {
        asm!("syscall", inlateout("rax") n as i64 => ret, in("rdi") a1, in("rsi") a2,
             in("rdx") a3, in("r10") a4, in("r8") a5, in("r9") a6,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// Syscall `n` without arguments.
///
/// # Safety
/// As for [`syscall6`].
#[inline(always)]
pub unsafe fn syscall0(n: u64) -> i64 {
    // SAFETY: the caller upholds syscall6's contract for `n`; the unused
    // argument registers are 0 and the call does not read them.
    unsafe { syscall6(n, 0, 0, 0, 0, 0, 0) }
}

/// Syscall `n` with one argument.
///
/// # Safety
/// As for [`syscall6`].
#[inline(always)]
pub unsafe fn syscall1(n: u64, a1: u64) -> i64 {
    // SAFETY: as in syscall0.
    unsafe { syscall6(n, a1, 0, 0, 0, 0, 0) }
}

/// Syscall `n` with two arguments.
///
/// # Safety
/// As for [`syscall6`].
#[inline(always)]
pub unsafe fn syscall2(n: u64, a1: u64, a2: u64) -> i64 {
    // SAFETY: as in syscall0.
    unsafe { syscall6(n, a1, a2, 0, 0, 0, 0) }
}

/// Syscall `n` with three arguments.
///
/// # Safety
/// As for [`syscall6`].
#[inline(always)]
pub unsafe fn syscall3(n: u64, a1: u64, a2: u64, a3: u64) -> i64 {
    // SAFETY: as in syscall0.
    unsafe { syscall6(n, a1, a2, a3, 0, 0, 0) }
}

/// Syscall `n` with four arguments.
///
/// # Safety
/// As for [`syscall6`].
#[inline(always)]
pub unsafe fn syscall4(n: u64, a1: u64, a2: u64, a3: u64, a4: u64) -> i64 {
    // SAFETY: as in syscall0.
    unsafe { syscall6(n, a1, a2, a3, a4, 0, 0) }
}

/// Syscall `n` with five arguments.
///
/// # Safety
/// As for [`syscall6`].
#[inline(always)]
pub unsafe fn syscall5(n: u64, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
    // SAFETY: as in syscall0.
    unsafe { syscall6(n, a1, a2, a3, a4, a5, 0) }
}
