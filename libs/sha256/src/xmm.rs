//! SHA-256's block function with its message schedule in XMM registers (FIPS 180-4, 6.2.2),
//! for CPUs without SHA-NI when SSE is usable: what the kernel and purgatory run under QEMU's
//! TCG.
//!
//! Why: under TCG every guest memory access goes through QEMU's software TLB, and a portable
//! block function keeps the 16-word schedule (and the working variables it cannot fit in 15
//! registers) in memory: sha2's `compress256` makes several hundred memory accesses a block.
//! Here the eight working variables live in R8D-R15D, W[t] in the low lane of XMM(t mod 16)
//! (MOVD moves it to and from a general register: SSE2, every x86_64 CPU), the round
//! constants are immediates, and the only memory accesses are the 16 message words of each
//! block. On hardware this is about as fast as the portable code.
//!
//! The 64 rounds are written out (register names cannot be computed at run time); the
//! `rounds!` macro below generates them, rotating the working variables' registers and the
//! schedule's XMM registers one place per round instead of moving values. They are laid out
//! for QEMU's translator: eight chunks of eight rounds, each in a 2 KiB slot of a page-aligned
//! function (`next_chunk!`).
//!
//! Clobbers XMM0-XMM15, RAX, RCX, RDX, RSI, RDI and flags (SysV caller-saved); saves RBX,
//! RBP and R12-R15. On bare metal the caller is responsible for the XMM state (see
//! `use_backend`).

use super::BLOCK;

/// Adds ROTR^r1(x) ^ ROTR^r2(x) ^ ROTR^r3(x) (Σ0, Σ1: FIPS 180-4, 4.1.2) to `$h`; clobbers
/// EAX, ECX.
macro_rules! add_big_sigma {
    ($h:tt, $x:tt, $r1:literal, $r2:literal, $r3:literal) => {
        concat!(
            "mov eax, ", stringify!($x), "\n",
            "mov ecx, ", stringify!($x), "\n",
            "ror eax, ", $r1, "\n",
            "ror ecx, ", $r2, "\n",
            "xor eax, ecx\n",
            "ror ecx, ", $r3, " - ", $r2, "\n",
            "xor eax, ecx\n",
            "add ", stringify!($h), ", eax\n",
        )
    };
}

/// One round (FIPS 180-4, 6.2.2 step 3) with W[t] in EDX and K[t] the `$k`th operand (round
/// `$k`'s constant, an immediate):
/// T1 = h + Σ1(e) + Ch(e,f,g) + K[t] + W[t], T2 = Σ0(a) + Maj(a,b,c); d += T1, h = T1 + T2.
/// The caller then renames (a..h) <- (h, a..g).
macro_rules! round {
    ($a:tt $b:tt $c:tt $d:tt $e:tt $f:tt $g:tt $h:tt $k:tt) => {
        concat!(
            add_big_sigma!($h, $e, 6, 11, 25),
            // Ch(e,f,g) = ((f ^ g) & e) ^ g
            "mov eax, ", stringify!($f), "\n",
            "xor eax, ", stringify!($g), "\n",
            "and eax, ", stringify!($e), "\n",
            "xor eax, ", stringify!($g), "\n",
            "add ", stringify!($h), ", eax\n",
            "add ", stringify!($h), ", {", stringify!($k), "}\n",
            "add ", stringify!($h), ", edx\n",
            "add ", stringify!($d), ", ", stringify!($h), "\n",
            add_big_sigma!($h, $a, 2, 13, 22),
            // Maj(a,b,c) = ((a | b) & c) | (a & b)
            "mov eax, ", stringify!($a), "\n",
            "mov ecx, ", stringify!($a), "\n",
            "or eax, ", stringify!($b), "\n",
            "and ecx, ", stringify!($b), "\n",
            "and eax, ", stringify!($c), "\n",
            "or eax, ecx\n",
            "add ", stringify!($h), ", eax\n",
        )
    };
}

/// The rounds. `$x` is the schedule's 16 XMM registers, each with its index, rotated so that
/// the first holds W[t] (t < 16) or W[t-16] (t >= 16); then W[t-15] is the second, W[t-7] the
/// tenth and W[t-2] the fifteenth. Rounds 0-15 load W[t] from the block (RSI), byte-swapped;
/// rounds 16-63 compute it in place: W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16].
macro_rules! rounds {
    ($kind:ident [$($s:tt)*] [$($x:tt)*] []) => { "" };
    (load [$a:tt $b:tt $c:tt $d:tt $e:tt $f:tt $g:tt $h:tt] [($x0:tt $i0:tt) $($x:tt)*] [$k:tt $($ks:tt)*]) => {
        concat!(
            "mov edx, [rsi + 4 * ", stringify!($i0), "]\n",
            "bswap edx\n",
            "movd ", stringify!($x0), ", edx\n",
            round!($a $b $c $d $e $f $g $h $k),
            rounds!(load [$h $a $b $c $d $e $f $g] [$($x)* ($x0 $i0)] [$($ks)*])
        )
    };
    (sched [$a:tt $b:tt $c:tt $d:tt $e:tt $f:tt $g:tt $h:tt]
        [($x0:tt $i0:tt) ($x1:tt $i1:tt) $x2:tt $x3:tt $x4:tt $x5:tt $x6:tt $x7:tt $x8:tt ($x9:tt $i9:tt) $x10:tt $x11:tt $x12:tt $x13:tt ($x14:tt $i14:tt) $x15:tt]
        [$k:tt $($ks:tt)*]) => {
        concat!(
            // σ1(W[t-2]) = ROTR17 ^ ROTR19 ^ SHR10, into EAX
            "movd edx, ", stringify!($x14), "\n",
            "mov eax, edx\n",
            "mov ecx, edx\n",
            "ror eax, 17\n",
            "ror ecx, 19\n",
            "xor eax, ecx\n",
            "shr edx, 10\n",
            "xor eax, edx\n",
            // σ0(W[t-15]) = ROTR7 ^ ROTR18 ^ SHR3, added to EAX
            "movd edx, ", stringify!($x1), "\n",
            "mov ecx, edx\n",
            "mov ebx, edx\n",
            "ror ecx, 7\n",
            "ror ebx, 18\n",
            "xor ecx, ebx\n",
            "shr edx, 3\n",
            "xor ecx, edx\n",
            "add eax, ecx\n",
            "movd edx, ", stringify!($x9), "\n",
            "add eax, edx\n",
            "movd edx, ", stringify!($x0), "\n",
            "add edx, eax\n",
            "movd ", stringify!($x0), ", edx\n",
            round!($a $b $c $d $e $f $g $h $k),
            rounds!(sched [$h $a $b $c $d $e $f $g]
                [($x1 $i1) $x2 $x3 $x4 $x5 $x6 $x7 $x8 ($x9 $i9) $x10 $x11 $x12 $x13 ($x14 $i14) $x15 ($x0 $i0)]
                [$($ks)*])
        )
    };
}

/// Eight rounds, starting with a..h in R8D..R15D (and back there after them: eight rounds
/// take the eight registers all the way round) and W[t] (or W[t-16]) in XMM0 (`lo`,
/// t mod 16 < 8) or XMM8 (`hi`).
macro_rules! rounds8 {
    ($kind:ident lo [$($k:tt)*]) => {
        rounds!($kind [r8d r9d r10d r11d r12d r13d r14d r15d]
            [(xmm0 0) (xmm1 1) (xmm2 2) (xmm3 3) (xmm4 4) (xmm5 5) (xmm6 6) (xmm7 7)
             (xmm8 8) (xmm9 9) (xmm10 10) (xmm11 11) (xmm12 12) (xmm13 13) (xmm14 14) (xmm15 15)]
            [$($k)*])
    };
    ($kind:ident hi [$($k:tt)*]) => {
        rounds!($kind [r8d r9d r10d r11d r12d r13d r14d r15d]
            [(xmm8 8) (xmm9 9) (xmm10 10) (xmm11 11) (xmm12 12) (xmm13 13) (xmm14 14) (xmm15 15)
             (xmm0 0) (xmm1 1) (xmm2 2) (xmm3 3) (xmm4 4) (xmm5 5) (xmm6 6) (xmm7 7)]
            [$($k)*])
    };
}

/// Ends a chunk of rounds: a jump to the next chunk, which starts 2,048 bytes after this
/// one's start. Why, under QEMU's TCG (7.2, target/i386, as we read it): a translation block
/// holds at most 512 instructions and ends before an instruction that crosses into a new page,
/// and a block that ends either way returns to QEMU's main loop instead of jumping straight to
/// the next one. Eight rounds are at most 444 instructions and 1,300 bytes, so a chunk is one
/// block that ends in this jump (chained to the next block when both are on one page), and
/// with the function page-aligned no chunk crosses a page. Measured: purgatory's SSE2 pass
/// 148-180 -> 200-244 MiB/s under QEMU 7.2 (docs/benchmarks.md, "Code layout under TCG"). It
/// costs about 9 KiB of padding that never runs.
macro_rules! next_chunk {
    () => {
        "jmp 3f\n.p2align 11\n3:\n"
    };
}

/// Sixteen rounds as two chunks, W[t] in XMM0 for the first eight and in XMM8 for the rest.
macro_rules! rounds16 {
    ($kind:ident [$($lo:tt)*] [$($hi:tt)*]) => {
        concat!(rounds8!($kind lo [$($lo)*]), next_chunk!(), rounds8!($kind hi [$($hi)*]))
    };
}

// kexos_sha256_xmm_blocks(state: *mut [u32; 8], blocks: *const u8, n: usize), n > 0.
// RDI state (kept on the stack during the rounds), RSI the block, RBP the end of the blocks.
// K[0..64] are its 64 positional `const` operands (`{t}` in `round!`): crate::K, as
// immediates. A macro, because only one can write the operand list.
macro_rules! xmm_blocks_asm {
    ($($i:literal)*) => {
        core::arch::global_asm!(
            ".pushsection .text.kexos_sha256_xmm_blocks,\"ax\",@progbits",
            ".globl kexos_sha256_xmm_blocks",
            ".type kexos_sha256_xmm_blocks,@function",
            ".p2align 12",
            "kexos_sha256_xmm_blocks:",
            "test rdx, rdx",
            "jz 9f",
            "push rbx",
            "push rbp",
            "push r12",
            "push r13",
            "push r14",
            "push r15",
            "push rdi",
            "shl rdx, 6",
            "lea rbp, [rsi + rdx]",
            "mov r8d, [rdi]",
            "mov r9d, [rdi + 4]",
            "mov r10d, [rdi + 8]",
            "mov r11d, [rdi + 12]",
            "mov r12d, [rdi + 16]",
            "mov r13d, [rdi + 20]",
            "mov r14d, [rdi + 24]",
            "mov r15d, [rdi + 28]",
            next_chunk!(),
            "2:",
            rounds16!(load [0 1 2 3 4 5 6 7] [8 9 10 11 12 13 14 15]),
            next_chunk!(),
            rounds16!(sched [16 17 18 19 20 21 22 23] [24 25 26 27 28 29 30 31]),
            next_chunk!(),
            rounds16!(sched [32 33 34 35 36 37 38 39] [40 41 42 43 44 45 46 47]),
            next_chunk!(),
            rounds16!(sched [48 49 50 51 52 53 54 55] [56 57 58 59 60 61 62 63]),
            // 64 rounds rotate the eight registers eight times: a..h are in R8D..R15D again.
            "mov rdi, [rsp]",
            "add r8d, [rdi]",
            "add r9d, [rdi + 4]",
            "add r10d, [rdi + 8]",
            "add r11d, [rdi + 12]",
            "add r12d, [rdi + 16]",
            "add r13d, [rdi + 20]",
            "add r14d, [rdi + 24]",
            "add r15d, [rdi + 28]",
            "mov [rdi], r8d",
            "mov [rdi + 4], r9d",
            "mov [rdi + 8], r10d",
            "mov [rdi + 12], r11d",
            "mov [rdi + 16], r12d",
            "mov [rdi + 20], r13d",
            "mov [rdi + 24], r14d",
            "mov [rdi + 28], r15d",
            "add rsi, 64",
            "cmp rsi, rbp",
            "jne 2b",
            "pop rdi",
            "pop r15",
            "pop r14",
            "pop r13",
            "pop r12",
            "pop rbp",
            "pop rbx",
            "9:",
            "ret",
            ".size kexos_sha256_xmm_blocks, . - kexos_sha256_xmm_blocks",
            ".popsection",
            $(const crate::K[$i],)*
        );
    };
}
xmm_blocks_asm!(
    0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
    32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63
);

extern "sysv64" {
    fn kexos_sha256_xmm_blocks(state: *mut [u32; 8], blocks: *const u8, n: usize);
}

/// Hashes `blocks` into `state`, the schedule in XMM registers.
///
/// # Safety
/// SSE is enabled (CR4.OSFXSR), and the caller does not need XMM0-XMM15 preserved.
pub(crate) unsafe fn compress(state: &mut [u32; 8], blocks: &[[u8; BLOCK]]) {
    // SAFETY: the function reads `blocks.len()` 64-byte blocks from `blocks` and reads and
    // writes the 32 bytes of `state`, both valid for the call; it pushes and pops 56 bytes of
    // stack and restores every callee-saved register it uses; the SSE requirement is the
    // caller's.
    unsafe { kexos_sha256_xmm_blocks(state, blocks.as_ptr().cast(), blocks.len()) }
}
