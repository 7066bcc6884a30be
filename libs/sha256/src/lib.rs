//! The SHA-256 every bulk hash in kexos goes through: IMA's measurement of a file, the
//! Authenticode digest of a PE, the per-segment digests at load, and purgatory's check at
//! `kexec -e`.
//!
//! Three block functions compute the same thing (FIPS 180-4, section 6.2.2):
//! - [`Backend::Portable`]: sha2's `compress256` (its portable code on bare metal);
//! - [`Backend::Sse2`]: ours (src/xmm.rs), with the message schedule in XMM registers and
//!   the working variables in general ones, so that a block makes 16 memory reads and no
//!   write. On hardware about as fast as the portable code; under QEMU's TCG, where every
//!   guest memory access goes through a software TLB, 2.6 times as fast
//!   (docs/benchmarks.md). Every x86_64 CPU has SSE2;
//! - [`Backend::ShaNi`]: the x86 SHA extensions (src/ni.rs), about 4x faster on hardware,
//!   and slower under TCG, which emulates each instruction with a call into C.
//!
//! Which one runs is one process-wide choice ([`backend`]). Hosted builds (tests, fuzzers,
//! tools) take SHA-NI when CPUID has it, else SSE2: the OS has enabled SSE and saves XMM
//! state. A bare metal build (kernel, purgatory) stays portable until the environment calls
//! [`use_backend`], which only it can: both SSE block functions need CR4.OSFXSR, and they
//! clobber XMM registers the kernel must save for user space.
//!
//! [`Sha256`] is the hasher. Besides `update`/`finalize` it can stop at a block boundary and
//! hand over its chaining value and block count ([`Sha256::at_block_boundary`],
//! [`Sha256::resume`]): the kernel hashes a file once and purgatory continues from the state
//! after the file's first bytes (purgatory_abi::RegionPrefix).
#![no_std]

use core::sync::atomic::{AtomicU8, Ordering};

#[cfg(target_arch = "x86_64")]
mod ni;
#[cfg(target_arch = "x86_64")]
mod xmm;

/// Bytes of one SHA-256 block.
pub const BLOCK: usize = 64;

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// A block function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// sha2's `compress256`.
    Portable,
    /// Ours, the message schedule in XMM registers (SSE2's MOVD).
    Sse2,
    /// The x86 SHA extensions (SHA256RNDS2, SHA256MSG1/2) with SSSE3 and SSE4.1.
    ShaNi,
}

impl Backend {
    /// The name `kexec -d`, the boot log and purgatory print.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Portable => "portable",
            Backend::Sse2 => "SSE2",
            Backend::ShaNi => "SHA-NI",
        }
    }

    /// Whether it writes XMM registers (and so needs CR4.OSFXSR, and a kernel must keep
    /// them from user space).
    pub const fn uses_xmm(self) -> bool {
        !matches!(self, Backend::Portable)
    }
}

/// SHA-NI's name in Linux's `clearcpuid=` and /proc/cpuinfo: SSE2 instead.
pub const CLEARCPUID_SHA_NI: &str = "sha_ni";
/// SSE2's name there: the portable block function instead (and no SHA-NI either).
pub const CLEARCPUID_SSE2: &str = "sse2";

/// A bare-metal environment's choice of block function and its reason. Its `Display` is the
/// kernel's boot log line, which the scenarios and the bench look for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// SSE2: CPUID lacks one of the features [`cpu_has_sha_ni`] checks.
    NoShaNi,
    /// SSE2: `clearcpuid=sha_ni` on the command line.
    ShaNiCleared,
    /// Portable: `clearcpuid=sse2` on the command line.
    Sse2Cleared,
    /// SHA-NI.
    ShaNi,
}

impl Choice {
    /// The fastest block function on hardware that the CPU has and the command line allows
    /// (`cleared(name)`: whether `clearcpuid=` names that feature).
    pub fn decide(cpu_has_sha_ni: bool, cleared: impl Fn(&str) -> bool) -> Choice {
        if cleared(CLEARCPUID_SSE2) {
            Choice::Sse2Cleared
        } else if !cpu_has_sha_ni {
            Choice::NoShaNi
        } else if cleared(CLEARCPUID_SHA_NI) {
            Choice::ShaNiCleared
        } else {
            Choice::ShaNi
        }
    }

    /// The block function this choice runs.
    pub const fn backend(self) -> Backend {
        match self {
            Choice::ShaNi => Backend::ShaNi,
            Choice::NoShaNi | Choice::ShaNiCleared => Backend::Sse2,
            Choice::Sse2Cleared => Backend::Portable,
        }
    }
}

impl core::fmt::Display for Choice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "sha256: {} block function (", self.backend().name())?;
        match self {
            Choice::NoShaNi => write!(f, "CPUID has no SHA-NI)"),
            Choice::ShaNiCleared => write!(f, "clearcpuid={CLEARCPUID_SHA_NI})"),
            Choice::Sse2Cleared => write!(f, "clearcpuid={CLEARCPUID_SSE2})"),
            Choice::ShaNi => write!(f, "CPUID sha, ssse3, sse4.1)"),
        }
    }
}

const UNDECIDED: u8 = 0;
const PORTABLE: u8 = 1;
const SHA_NI: u8 = 2;
const SSE2: u8 = 3;

/// The process-wide choice (UNDECIDED until the first hash or a `use_*` call).
static BACKEND: AtomicU8 = AtomicU8::new(UNDECIDED);

/// The block function [`compress`] uses. Undecided on a hosted x86_64 target: SHA-NI if
/// [`cpu_has_sha_ni`], else SSE2. Undecided on bare metal or another architecture: portable.
pub fn backend() -> Backend {
    match BACKEND.load(Ordering::Relaxed) {
        SHA_NI => Backend::ShaNi,
        SSE2 => Backend::Sse2,
        PORTABLE => Backend::Portable,
        _ => {
            let hosted = cfg!(all(target_arch = "x86_64", not(target_os = "none")));
            let b = match (hosted, cpu_has_sha_ni()) {
                (true, true) => SHA_NI,
                (true, false) => SSE2,
                (false, _) => PORTABLE,
            };
            // A concurrent `use_*` call wins over this default.
            let _ = BACKEND.compare_exchange(UNDECIDED, b, Ordering::Relaxed, Ordering::Relaxed);
            backend()
        }
    }
}

/// From now on, `b`, as far as the CPU has it: SHA-NI only if [`cpu_has_sha_ni`] (else
/// SSE2), and no SSE block function on another architecture (portable).
///
/// # Safety
/// Unless `b` is [`Backend::Portable`]: SSE must be usable for the rest of the program
/// (CR4.OSFXSR set), and every caller of [`compress`] (and so of [`Sha256`]) must accept
/// that XMM0-XMM15 are clobbered: on bare metal, the kernel saves a user's XMM state around
/// any hashing it does in a syscall.
pub unsafe fn use_backend(b: Backend) {
    let b = match b {
        _ if !cfg!(target_arch = "x86_64") => PORTABLE,
        Backend::ShaNi if cpu_has_sha_ni() => SHA_NI,
        Backend::ShaNi | Backend::Sse2 => SSE2,
        Backend::Portable => PORTABLE,
    };
    BACKEND.store(b, Ordering::Relaxed);
}

/// Whether CPUID reports what the SHA-NI block function executes: SHA (leaf 7, EBX bit 29),
/// SSSE3 (leaf 1, ECX bit 9) and SSE4.1 (leaf 1, ECX bit 19). Says nothing about CR4.
pub fn cpu_has_sha_ni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        ni::cpu_has_sha_ni()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Hashes `blocks` into `state` with the [`backend`] in use.
pub fn compress(state: &mut [u32; 8], blocks: &[[u8; BLOCK]]) {
    if blocks.is_empty() {
        return;
    }
    match backend() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: ShaNi is in use only after `cpu_has_sha_ni` said yes, and, on bare metal,
        // after the environment promised SSE through `use_backend`.
        Backend::ShaNi => unsafe { ni::compress(state, blocks) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: Sse2 is in use on bare metal only after the environment promised SSE
        // through `use_backend`; hosted, the OS has enabled it.
        Backend::Sse2 => unsafe { xmm::compress(state, blocks) },
        _ => sha2::block_api::compress256(state, blocks),
    }
}

/// The round constants K (FIPS 180-4, 4.2.2), in round order: both block functions of ours
/// read them from here (ni.rs as a table in memory, xmm.rs as immediates).
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// SHA-256's initial chaining value (FIPS 180-4, 5.3.3).
pub const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// An incremental SHA-256.
#[derive(Clone)]
pub struct Sha256 {
    state: [u32; 8],
    /// Whole blocks hashed into `state`.
    blocks: u64,
    buf: [u8; BLOCK],
    /// Bytes waiting in `buf` (< BLOCK).
    buffered: usize,
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Sha256 {{ {} bytes }}", self.blocks * BLOCK as u64 + self.buffered as u64)
    }
}

impl Sha256 {
    /// A hasher at the start of a message.
    pub const fn new() -> Self {
        Self::resume(H0, 0)
    }

    /// A hasher that continues a message after `blocks` whole blocks, whose chaining value
    /// is `state`.
    pub const fn resume(state: [u32; 8], blocks: u64) -> Self {
        Sha256 { state, blocks, buf: [0; BLOCK], buffered: 0 }
    }

    /// The chaining value and the block count, if a whole number of blocks has been hashed.
    pub fn at_block_boundary(&self) -> Option<([u32; 8], u64)> {
        (self.buffered == 0).then_some((self.state, self.blocks))
    }

    /// SHA-256 of `data`.
    pub fn digest(data: impl AsRef<[u8]>) -> Digest {
        let mut h = Sha256::new();
        h.update(data);
        h.finalize()
    }

    /// Adds `data` to the message.
    pub fn update(&mut self, data: impl AsRef<[u8]>) {
        self.update_slice(data.as_ref());
    }

    fn update_slice(&mut self, mut data: &[u8]) {
        if self.buffered > 0 {
            let take = data.len().min(BLOCK - self.buffered);
            self.buf[self.buffered..self.buffered + take].copy_from_slice(&data[..take]);
            self.buffered += take;
            data = &data[take..];
            if self.buffered < BLOCK {
                return;
            }
            let block = self.buf;
            self.compress(&[block]);
            self.buffered = 0;
        }
        let (blocks, rest) = data.as_chunks::<BLOCK>();
        self.compress(blocks);
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    fn compress(&mut self, blocks: &[[u8; BLOCK]]) {
        compress(&mut self.state, blocks);
        self.blocks = self.blocks.wrapping_add(blocks.len() as u64);
    }

    /// The digest of everything added (FIPS 180-4, 5.1.1 padding).
    pub fn finalize(mut self) -> Digest {
        let bits = (self.blocks.wrapping_mul(BLOCK as u64)).wrapping_add(self.buffered as u64).wrapping_mul(8);
        let mut tail = [0u8; 2 * BLOCK];
        tail[..self.buffered].copy_from_slice(&self.buf[..self.buffered]);
        tail[self.buffered] = 0x80;
        let len = if self.buffered + 1 + 8 <= BLOCK { BLOCK } else { 2 * BLOCK };
        tail[len - 8..len].copy_from_slice(&bits.to_be_bytes());
        let (blocks, _) = tail[..len].as_chunks::<BLOCK>();
        compress(&mut self.state, blocks);
        let mut out = [0u8; 32];
        for (o, w) in out.as_chunks_mut::<4>().0.iter_mut().zip(self.state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests;
