//! SSE for the kernel's one SIMD user: libs/sha256's block functions (SHA-NI, or SSE2 with the
//! message schedule in XMM registers), which every bulk SHA-256 (IMA, Authenticode, segment
//! digests) goes through.
//!
//! The kernel is built soft-float, so the compiler never touches an XMM register; only those
//! assembly functions do. Three things make it safe to call them:
//! - [`init`] sets CR4.OSFXSR (SSE instructions would raise #UD without it, Intel SDM vol. 3A,
//!   2.5) and CR4.OSXMMEXCPT, and clears CR0.EM and CR0.TS (#UD / #NM otherwise, 13.1.3);
//! - [`preserving_user_simd`] saves a user program's x87/SSE state around a syscall and
//!   restores it after, as Linux's syscalls preserve XMM registers (kernel_fpu_begin/end);
//! - [`reset_user_simd`] starts every program with a clean x87/SSE state, as Linux's exec
//!   does (fpstate_init), so no hash state the kernel left behind reaches it.

use sha256::Choice;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};

/// Enables SSE, then picks the SHA-256 block function: SHA-NI if the CPU has it and
/// `clearcpuid=sha_ni` is not on the command line, else SSE2 (every x86_64 CPU has it), or the
/// portable one with `clearcpuid=sse2`. Logs the choice once.
pub fn init(cmdline: &str) {
    // SAFETY: ring 0 at boot. OSFXSR/OSXMMEXCPT only allow SSE instructions and route SIMD
    // floating-point exceptions to #XM (none of ours raise one: the SHA-NI function does no
    // floating point); clearing EM/TS only stops x87/SSE instructions from faulting.
    unsafe {
        Cr0::update(|f| f.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::TASK_SWITCHED));
        Cr4::update(|f| f.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE));
    }
    let choice = Choice::decide(sha256::cpu_has_sha_ni(), |f| cmdline::clears_cpu_feature(cmdline, f));
    // SAFETY: SSE is enabled just above for the rest of the kernel's life; every syscall goes
    // through `preserving_user_simd`, and a new program starts from `reset_user_simd`, so no
    // user sees what the kernel left in XMM registers.
    unsafe { sha256::use_backend(choice.backend()) };
    info!("{}", choice);
}

/// The FXSAVE image: 512 bytes, 16-byte aligned (Intel SDM vol. 1, 10.5.1).
#[repr(C, align(16))]
struct FxArea([u8; 512]);

/// The x87/SSE state a program starts with: FCW 0x37f and MXCSR 0x1f80, as after FNINIT and
/// reset (SDM vol. 1, 8.1.5 and 10.2.3.1), every register zero.
static CLEAN: FxArea = {
    let mut a = [0u8; 512];
    (a[0], a[1]) = (0x7f, 0x03);
    (a[24], a[25]) = (0x80, 0x1f);
    FxArea(a)
};

/// Runs `f` (a syscall) with the user's x87/SSE registers saved before and restored after, so
/// that whatever the kernel hashed with an SSE block function does not reach the user program.
pub fn preserving_user_simd<R>(f: impl FnOnce() -> R) -> R {
    if !sha256::backend().uses_xmm() {
        // Nothing in the kernel touches an XMM register.
        return f();
    }
    let mut area = core::mem::MaybeUninit::<FxArea>::uninit();
    let at = area.as_mut_ptr().cast::<u8>();
    // SAFETY: `area` is 512 writable bytes, 16-byte aligned; OSFXSR is set (init), so FXSAVE
    // saves and FXRSTOR restores the XMM registers and MXCSR; the image restored is the one
    // just saved, so it is valid (reserved MXCSR bits clear).
    unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) at, options(nostack, preserves_flags)) };
    let r = f();
    // SAFETY: as above.
    unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) at, options(nostack, preserves_flags)) };
    r
}

/// Gives a program about to start the x87/SSE state of a fresh CPU, so that nothing the
/// kernel hashed (with an SSE block function, at boot or in an exec) is left in its XMM registers.
pub fn reset_user_simd() {
    if !Cr4::read().contains(Cr4Flags::OSFXSR) {
        // Before `init`: FXRSTOR would not load XMM state, and the kernel has used none.
        return;
    }
    // SAFETY: CLEAN is a valid 16-byte aligned FXSAVE image (reserved MXCSR bits clear) and
    // OSFXSR is set.
    unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) CLEAN.0.as_ptr(), options(nostack, preserves_flags)) };
}
