//! SHA-256's block function with the x86 SHA extensions (Intel SDM vol. 2, SHA256RNDS2,
//! SHA256MSG1, SHA256MSG2; Intel's "Intel SHA Extensions" white paper, 2013, for the state
//! layout).
//!
//! Written as one assembly function, not with `core::arch` intrinsics: the kernel and the
//! purgatory are built for the soft-float `x86_64-unknown-none` target, where LLVM cannot
//! lower 128-bit vector values ("Do not know how to split the result of this operator").
//! The assembler takes the instructions whatever the target's features, and the compiler
//! never sees an XMM register: the function reads its arguments from RDI, RSI, RDX (SysV)
//! and clobbers only XMM0-XMM7, RAX, RCX, RSI, RDX and flags, which the SysV ABI lets a
//! callee clobber. On bare metal the caller is responsible for the XMM state (see `use_backend`).

use super::BLOCK;

/// CPUID: SHA (leaf 7 subleaf 0, EBX bit 29), SSSE3 (leaf 1, ECX bit 9: PSHUFB, PALIGNR),
/// SSE4.1 (leaf 1, ECX bit 19: PBLENDW).
pub(crate) fn cpu_has_sha_ni() -> bool {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    // CPUID exists on every x86_64 CPU and has no side effect; leaf 7 is only read when
    // leaf 0 says it exists.
    let max = __cpuid(0).eax;
    if max < 7 {
        return false;
    }
    let l1 = __cpuid(1);
    let l7 = __cpuid_count(7, 0);
    l7.ebx & (1 << 29) != 0 && l1.ecx & (1 << 9) != 0 && l1.ecx & (1 << 19) != 0
}

/// [`crate::K`] in memory, for the loads below.
static K256: [u32; 64] = crate::K;

/// PSHUFB mask turning each big-endian message word into a little-endian lane.
static BSWAP32: [u8; 16] = [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12];

// kexos_sha256_ni_blocks(state: *mut [u32; 8], blocks: *const u8, n: usize)
//
// SHA256RNDS2 keeps the working variables in two registers: "ABEF" (lanes 3..0 = A, B, E, F)
// and "CDGH" (C, D, G, H). It runs two rounds with W[i]+K[i] in XMM0's lanes 0 and 1 and
// returns the new ABEF; the old ABEF is then exactly the new CDGH (C, D <- A, B and
// G, H <- E, F after two rounds), so each four rounds are two SHA256RNDS2 with the roles of
// XMM1 and XMM2 swapped, and XMM1 = ABEF, XMM2 = CDGH again after them.
//
// Per block: W[0..16] (byte-swapped) and W[16..64] go to a 256-byte schedule on the stack,
// four words (one 16-byte group) at a time: for the group at t,
//   SHA256MSG1(W[t-16..t-12], W[t-12..]) = W[t-16+i] + s0(W[t-15+i]);
//   + W[t-7..t-3] (PALIGNR of the groups at t-4 and t-8);
//   SHA256MSG2(that, W[t-4..t]) adds s1(W[t-2+i]), using the lanes it has just made.
// Then 16 times: XMM0 = W + K for four rounds, two SHA256RNDS2.
//
// Registers: XMM1 ABEF, XMM2 CDGH, XMM3/XMM4 the state at the block's start, XMM5 the
// byte-swap mask, XMM0/XMM6/XMM7 scratch; RAX the schedule offset, RCX K256.
core::arch::global_asm!(
    ".pushsection .text.kexos_sha256_ni_blocks,\"ax\",@progbits",
    ".globl kexos_sha256_ni_blocks",
    ".type kexos_sha256_ni_blocks,@function",
    "kexos_sha256_ni_blocks:",
    "test rdx, rdx",
    "jz 9f",
    "sub rsp, 256",
    "lea rcx, [rip + {k}]",
    "lea rax, [rip + {bswap}]",
    "movdqu xmm5, [rax]",
    // state a,b,c,d | e,f,g,h (lanes 0..3) -> ABEF = f,e,b,a and CDGH = h,g,d,c.
    "movdqu xmm6, [rdi]",
    "movdqu xmm2, [rdi + 16]",
    "pshufd xmm6, xmm6, 0xb1", // b,a,d,c
    "pshufd xmm2, xmm2, 0x1b", // h,g,f,e
    "movdqa xmm1, xmm6",
    "palignr xmm1, xmm2, 8", // f,e,b,a
    "pblendw xmm2, xmm6, 0xf0", // h,g,d,c
    "2:",
    "movdqa xmm3, xmm1",
    "movdqa xmm4, xmm2",
    // W[0..16]
    "xor eax, eax",
    "3:",
    "movdqu xmm6, [rsi + rax]",
    "pshufb xmm6, xmm5",
    "movdqu [rsp + rax], xmm6",
    "add eax, 16",
    "cmp eax, 64",
    "jne 3b",
    // W[16..64]: RAX is the byte offset of the group being made.
    "4:",
    "movdqu xmm6, [rsp + rax - 64]",
    "movdqu xmm7, [rsp + rax - 48]",
    "sha256msg1 xmm6, xmm7",
    "movdqu xmm7, [rsp + rax - 16]",
    "movdqu xmm0, [rsp + rax - 32]",
    "palignr xmm7, xmm0, 4",
    "paddd xmm6, xmm7",
    "movdqu xmm7, [rsp + rax - 16]",
    "sha256msg2 xmm6, xmm7",
    "movdqu [rsp + rax], xmm6",
    "add eax, 16",
    "cmp eax, 256",
    "jne 4b",
    // 64 rounds, four per iteration.
    "xor eax, eax",
    "5:",
    "movdqu xmm0, [rsp + rax]",
    "movdqu xmm6, [rcx + rax]",
    "paddd xmm0, xmm6",
    "sha256rnds2 xmm2, xmm1, xmm0",
    "pshufd xmm0, xmm0, 0x0e",
    "sha256rnds2 xmm1, xmm2, xmm0",
    "add eax, 16",
    "cmp eax, 256",
    "jne 5b",
    "paddd xmm1, xmm3",
    "paddd xmm2, xmm4",
    "add rsi, 64",
    "dec rdx",
    "jnz 2b",
    // ABEF = f,e,b,a and CDGH = h,g,d,c -> a,b,c,d | e,f,g,h.
    "pshufd xmm1, xmm1, 0x1b", // a,b,e,f
    "pshufd xmm2, xmm2, 0xb1", // g,h,c,d
    "movdqa xmm6, xmm2",
    "palignr xmm6, xmm1, 8", // e,f,g,h
    "pblendw xmm1, xmm2, 0xf0", // a,b,c,d
    "movdqu [rdi], xmm1",
    "movdqu [rdi + 16], xmm6",
    "add rsp, 256",
    "9:",
    "ret",
    ".size kexos_sha256_ni_blocks, . - kexos_sha256_ni_blocks",
    ".popsection",
    k = sym K256,
    bswap = sym BSWAP32,
);

extern "sysv64" {
    fn kexos_sha256_ni_blocks(state: *mut [u32; 8], blocks: *const u8, n: usize);
}

/// Hashes `blocks` into `state` with SHA-NI.
///
/// # Safety
/// The CPU has SHA, SSSE3 and SSE4.1 ([`cpu_has_sha_ni`]), SSE is enabled (CR4.OSFXSR), and
/// the caller does not need XMM0-XMM7 preserved.
pub(crate) unsafe fn compress(state: &mut [u32; 8], blocks: &[[u8; BLOCK]]) {
    // SAFETY: the function reads `blocks.len()` 64-byte blocks from `blocks` and reads and
    // writes the 32 bytes of `state`, both valid for the call; it uses 256 bytes of stack
    // below RSP, which it reserves first; the CPU requirements are the caller's.
    unsafe { kexos_sha256_ni_blocks(state, blocks.as_ptr().cast(), blocks.len()) }
}
