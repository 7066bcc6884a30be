//! `faulttest simd`: the kernel's SSE hashing (libs/sha256: SHA-NI, or SSE2 with the message
//! schedule in XMM0-XMM15) never reaches a program's XMM
//! registers, and no program's XMM state reaches the next one. This binary is soft-float, so
//! the compiler never uses XMM; only the assembly here does.
//!
//! 1. XMM0-XMM15 survive a kexec_file_load of `/boot/kexos.bzImage` (the kernel hashes the
//!    file for IMA and the segments while the syscall runs): a pattern goes in before the
//!    `syscall` instruction and must come out after it, in one assembly block.
//! 2. A program starts with a clean x87/SSE state: XMM0-XMM15 zero and MXCSR 0x1f80. The
//!    program leaves a pattern in XMM0-XMM15 and a non-default MXCSR, then execs itself as
//!    `faulttest simd-fresh`, which reads them first thing. Without
//!    kernel/src/arch/simd.rs's reset_user_simd the pattern arrives there (nothing else in
//!    the kernel clears XMM registers) and the check fails.
use core::arch::asm;

use ulib::abi::fs::O_RDONLY;
use ulib::abi::kexec::KEXEC_FILE_NO_INITRAMFS;
use ulib::abi::nr;
use ulib::{println, sys};

/// MXCSR after reset: every exception masked (SDM vol. 1, 10.2.3.1).
const MXCSR_DEFAULT: u32 = 0x1f80;
/// What the first program leaves in MXCSR for the next: MXCSR_DEFAULT with flush-to-zero
/// (bit 15) and denormals-are-zero (bit 6) set.
const MXCSR_DIRTY: u32 = MXCSR_DEFAULT | (1 << 15) | (1 << 6);
const IMAGE: &str = "/boot/kexos.bzImage";
/// This program, exec'd for the second half of the check.
const SELF: &core::ffi::CStr = c"/bin/faulttest";

/// XMM0-XMM15 as stored by MOVDQU.
type Xmm16 = [[u8; 16]; 16];

/// One asm! template line that moves XMM0-XMM15 to (`store`) or from (`load`) the 256 bytes at
/// the named operand, XMM(i) at byte 16 * i (the assembler's `.irp` writes out the 16 MOVDQUs).
macro_rules! xmm16 {
    (store $p:literal) => {
        concat!(".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\nmovdqu [{", $p, "} + 16 * \\i], xmm\\i\n.endr")
    };
    (load $p:literal) => {
        concat!(".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\nmovdqu xmm\\i, [{", $p, "} + 16 * \\i]\n.endr")
    };
}

fn read_xmm() -> (Xmm16, u32) {
    let mut x: Xmm16 = [[0; 16]; 16];
    let mut mxcsr = 0u32;
    let p = x.as_mut_ptr();
    // SAFETY: stores 16 x 16 bytes into `x` and 4 bytes into `mxcsr`, both ours; the kernel
    // enables SSE (CR4.OSFXSR) before it starts any program.
    unsafe {
        asm!(
            xmm16!(store "p"),
            "stmxcsr [{m}]",
            p = in(reg) p, m = in(reg) &mut mxcsr as *mut u32, options(nostack),
        )
    };
    (x, mxcsr)
}

/// Loads `pattern` into XMM0-XMM15, runs kexec_file_load(fd, -1, "x", NO_INITRAMFS) with
/// the `syscall` instruction, stores XMM0-XMM15; returns them and the syscall's result.
fn kexec_between(pattern: &Xmm16, fd: i32) -> (Xmm16, i64) {
    let mut after: Xmm16 = [[0; 16]; 16];
    let cmdline = b"x\0";
    let mut ret = nr::KEXEC_FILE_LOAD as i64;
    // SAFETY: reads `pattern` and writes `after` (16 x 16 bytes each, ours); the syscall
    // arguments are an fd we opened, -1, a NUL-terminated command line that outlives the
    // call and its length, and a valid flag; RCX and R11 are clobbered by `syscall`.
    unsafe {
        asm!(
            xmm16!(load "a"),
            "syscall",
            xmm16!(store "b"),
            a = in(reg) pattern.as_ptr(), b = in(reg) after.as_mut_ptr(),
            inout("rax") ret, in("rdi") fd as i64, in("rsi") -1i64,
            in("rdx") cmdline.len(), in("r10") cmdline.as_ptr(), in("r8") KEXEC_FILE_NO_INITRAMFS,
            out("rcx") _, out("r11") _, options(nostack),
        )
    };
    (after, ret)
}

/// execve(SELF, ["faulttest", "simd-fresh", failed]) with `x` in XMM0-XMM15 and MXCSR_DIRTY
/// in MXCSR, set in the same assembly block as the `syscall`, so no compiled code runs with
/// them. Returns only if the exec fails (the raw result), with MXCSR back to its default.
fn exec_with_dirty_simd(x: &Xmm16, failed: bool) -> i64 {
    let arg2 = if failed { c"1" } else { c"0" };
    let argv = [c"faulttest".as_ptr(), c"simd-fresh".as_ptr(), arg2.as_ptr(), core::ptr::null()];
    let envp = [core::ptr::null::<core::ffi::c_char>()];
    let (dirty, clean) = (MXCSR_DIRTY, MXCSR_DEFAULT);
    let mut ret = nr::EXECVE as i64;
    // SAFETY: reads 16 x 16 bytes from `x` and the two MXCSR words, all ours; MXCSR_DIRTY and
    // MXCSR_DEFAULT have no reserved bit set (SDM vol. 1, 10.2.3). The path and the
    // NUL-terminated argv and envp arrays outlive the call. XMM0-15 cannot be declared as
    // clobbers on this soft-float target, and need not be: the compiler never uses them. The
    // non-default MXCSR lives only inside this block: on success the exec replaces the
    // program, on failure the block restores MXCSR_DEFAULT before returning.
    unsafe {
        asm!(
            xmm16!(load "p"),
            "ldmxcsr [{d}]",
            "syscall",
            "ldmxcsr [{c}]",
            p = in(reg) x.as_ptr(), d = in(reg) &dirty as *const u32, c = in(reg) &clean as *const u32,
            inout("rax") ret, in("rdi") SELF.as_ptr(), in("rsi") argv.as_ptr(), in("rdx") envp.as_ptr(),
            out("rcx") _, out("r11") _, options(nostack),
        )
    };
    ret
}

fn pattern() -> Xmm16 {
    let mut pattern: Xmm16 = [[0; 16]; 16];
    for (i, r) in pattern.iter_mut().enumerate() {
        for (j, b) in r.iter_mut().enumerate() {
            *b = (0x5a ^ ((i * 16 + j) * 7)) as u8;
        }
    }
    pattern
}

/// `faulttest simd`: the kexec_file_load check, then the exec into `simd-fresh`, which
/// prints the verdict of both.
pub fn simd() -> i32 {
    let fd = match sys::open(IMAGE, O_RDONLY, 0) {
        Ok(fd) => fd,
        Err(e) => {
            println!("faulttest: open {IMAGE}: {e:?} FAIL");
            return 1;
        }
    };
    let pattern = pattern();
    let (after, ret) = kexec_between(&pattern, fd);
    let _ = sys::close(fd);
    let kept = after == pattern;
    let ok = kept && ret == 0;
    println!("faulttest: kexec_file_load({IMAGE}) -> {ret}, xmm0-15 {} {}", if kept { "kept" } else { "CHANGED" }, if ok { "ok" } else { "FAIL" });
    let ret = exec_with_dirty_simd(&pattern, !ok);
    println!("faulttest: exec {SELF:?}: {:?} FAIL", sys::check(ret).err());
    1
}

/// `faulttest simd-fresh FAILED`: this program's x87/SSE state as it started, after a
/// program that left a pattern in it; FAILED is how many checks the first half failed.
pub fn simd_fresh(failed: &str) -> i32 {
    // First, before anything else could touch them (nothing in this binary does).
    let (x, mxcsr) = read_xmm();
    let clean = x == [[0; 16]; 16] && mxcsr == MXCSR_DEFAULT;
    let leaked = if x == pattern() { "the previous program's" } else if x == [[0; 16]; 16] { "zero" } else { "NOT zero" };
    println!("faulttest: fresh program: xmm0-15 {leaked}, mxcsr {mxcsr:#x} {}", if clean { "ok" } else { "FAIL" });
    let failed = failed.parse::<u32>().unwrap_or(1) + u32::from(!clean);
    if failed == 0 {
        println!("faulttest: simd PASS");
        0
    } else {
        println!("faulttest: simd FAIL ({failed} failed)");
        1
    }
}
