//! SSE for the kernel's one SIMD user: the SHA-NI block function of libs/sha256, which every
//! bulk SHA-256 (IMA, Authenticode, segment digests) goes through.
//!
//! The kernel is built soft-float, so the compiler never touches an XMM register; only that
//! assembly function does. Two things make it safe to call:
//! - [`init`] sets CR4.OSFXSR (SSE instructions would raise #UD without it, Intel SDM vol. 3A,
//!   2.5) and CR4.OSXMMEXCPT, and clears CR0.EM and CR0.TS (#UD / #NM otherwise, 13.1.3);
//! - [`preserving_user_simd`] saves a user program's x87/SSE state around a syscall and
//!   restores it after, as Linux's syscalls preserve XMM registers (kernel_fpu_begin/end).

use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};

/// Linux's name for the feature in `clearcpuid=` and /proc/cpuinfo.
const SHA_NI_FLAG: &str = "sha_ni";

/// Enables SSE, then makes SHA-NI the SHA-256 block function if the CPU has it and
/// `clearcpuid=sha_ni` is not on the command line. Logs the choice once.
pub fn init(cmdline: &str) -> sha256::Backend {
    // SAFETY: ring 0 at boot. OSFXSR/OSXMMEXCPT only allow SSE instructions and route SIMD
    // floating-point exceptions to #XM (none of ours raise one: the SHA-NI function does no
    // floating point); clearing EM/TS only stops x87/SSE instructions from faulting.
    unsafe {
        Cr0::update(|f| f.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::TASK_SWITCHED));
        Cr4::update(|f| f.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE));
    }
    if !sha256::cpu_has_sha_ni() {
        info!("sha256: portable block function (CPUID has no SHA-NI)");
        sha256::Backend::Portable
    } else if cmdline::clears_cpu_feature(cmdline, SHA_NI_FLAG) {
        sha256::use_portable();
        info!("sha256: portable block function (clearcpuid={})", SHA_NI_FLAG);
        sha256::Backend::Portable
    } else {
        // SAFETY: SSE is enabled just above for the rest of the kernel's life, and the only
        // callers that run with a user's XMM state live (syscalls) go through
        // `preserving_user_simd`.
        let b = unsafe { sha256::use_sha_ni() };
        info!("sha256: {} block function (CPUID sha, ssse3, sse4.1)", b.name());
        b
    }
}

/// The FXSAVE image: 512 bytes, 16-byte aligned (Intel SDM vol. 1, 10.5.1).
#[repr(C, align(16))]
struct FxArea([u8; 512]);

/// Runs `f` (a syscall) with the user's x87/SSE registers saved before and restored after, so
/// that whatever the kernel hashes with SHA-NI does not reach the user program.
pub fn preserving_user_simd<R>(f: impl FnOnce() -> R) -> R {
    if sha256::backend() != sha256::Backend::ShaNi {
        // Nothing in the kernel touches an XMM register.
        return f();
    }
    let mut area = FxArea([0; 512]);
    // SAFETY: `area` is 512 writable bytes, 16-byte aligned; OSFXSR is set (init), so FXSAVE
    // saves and FXRSTOR restores the XMM registers and MXCSR; the image restored is the one
    // just saved, so it is valid (reserved MXCSR bits clear).
    unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) area.0.as_mut_ptr(), options(nostack, preserves_flags)) };
    let r = f();
    // SAFETY: as above.
    unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) area.0.as_ptr(), options(nostack, preserves_flags)) };
    r
}
