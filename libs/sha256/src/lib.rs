//! The SHA-256 every bulk hash in kexos goes through: IMA's measurement of a file, the
//! Authenticode digest of a PE, the per-segment digests at load, and purgatory's check at
//! `kexec -e`.
//!
//! Two block functions compute the same thing (FIPS 180-4, section 6.2.2):
//! - [`Backend::Portable`]: sha2's `compress256` (its portable code on bare metal);
//! - [`Backend::ShaNi`]: the x86 SHA extensions (src/ni.rs), about 4x faster on hardware
//!   (docs/benchmarks.md), and slower under QEMU's TCG, which emulates each instruction.
//!
//! Which one runs is one process-wide choice ([`backend`]). Hosted builds (tests, fuzzers,
//! tools) take SHA-NI when CPUID has it: the OS has enabled SSE and saves XMM state. A bare
//! metal build (kernel, purgatory) stays portable until the environment calls [`use_sha_ni`],
//! which only it can: SHA-NI needs CR4.OSFXSR, and it clobbers XMM registers the kernel must
//! save for user space.
//!
//! [`Sha256`] is the hasher. Besides `update`/`finalize` it can stop at a block boundary and
//! hand over its chaining value and block count ([`Sha256::at_block_boundary`],
//! [`Sha256::resume`]): the kernel hashes a file once and purgatory continues from the state
//! after the file's first bytes (purgatory_abi::RegionPrefix).
#![no_std]

use core::sync::atomic::{AtomicU8, Ordering};

#[cfg(target_arch = "x86_64")]
mod ni;

/// Bytes of one SHA-256 block.
pub const BLOCK: usize = 64;

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// A block function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// sha2's `compress256`.
    Portable,
    /// The x86 SHA extensions (SHA256RNDS2, SHA256MSG1/2) with SSSE3 and SSE4.1.
    ShaNi,
}

impl Backend {
    /// The name `kexec -d`, the boot log and purgatory print.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Portable => "portable",
            Backend::ShaNi => "SHA-NI",
        }
    }
}

/// The feature's name in Linux's `clearcpuid=` and /proc/cpuinfo.
pub const CLEARCPUID_NAME: &str = "sha_ni";

/// A bare-metal environment's choice of block function and its reason. Its `Display` is the
/// kernel's boot log line, which the scenarios and the bench look for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// CPUID lacks one of the features [`cpu_has_sha_ni`] checks.
    NoCpuSupport,
    /// `clearcpuid=sha_ni` on the command line.
    Cleared,
    /// SHA-NI.
    ShaNi,
}

impl Choice {
    /// The block function this choice runs.
    pub const fn backend(self) -> Backend {
        match self {
            Choice::ShaNi => Backend::ShaNi,
            _ => Backend::Portable,
        }
    }
}

impl core::fmt::Display for Choice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "sha256: {} block function (", self.backend().name())?;
        match self {
            Choice::NoCpuSupport => write!(f, "CPUID has no SHA-NI)"),
            Choice::Cleared => write!(f, "clearcpuid={CLEARCPUID_NAME})"),
            Choice::ShaNi => write!(f, "CPUID sha, ssse3, sse4.1)"),
        }
    }
}

const UNDECIDED: u8 = 0;
const PORTABLE: u8 = 1;
const SHA_NI: u8 = 2;

/// The process-wide choice (UNDECIDED until the first hash or a `use_*` call).
static BACKEND: AtomicU8 = AtomicU8::new(UNDECIDED);

/// The block function [`compress`] uses. Undecided on a hosted target: SHA-NI if
/// [`cpu_has_sha_ni`]. Undecided on bare metal: portable.
pub fn backend() -> Backend {
    match BACKEND.load(Ordering::Relaxed) {
        SHA_NI => Backend::ShaNi,
        PORTABLE => Backend::Portable,
        _ => {
            let hosted_ni = cfg!(not(target_os = "none")) && cpu_has_sha_ni();
            let b = if hosted_ni { SHA_NI } else { PORTABLE };
            // A concurrent `use_*` call wins over this default.
            let _ = BACKEND.compare_exchange(UNDECIDED, b, Ordering::Relaxed, Ordering::Relaxed);
            backend()
        }
    }
}

/// From now on, SHA-NI if the CPU has it (else the portable block function).
///
/// # Safety
/// SSE must be usable for the rest of the program (CR4.OSFXSR set), and every caller of
/// [`compress`] (and so of [`Sha256`]) must accept that XMM0-XMM7 are clobbered: on bare
/// metal, the kernel saves a user's XMM state around any hashing it does in a syscall.
pub unsafe fn use_sha_ni() {
    let b = if cpu_has_sha_ni() { SHA_NI } else { PORTABLE };
    BACKEND.store(b, Ordering::Relaxed);
}

/// From now on, the portable block function (a kernel command line choice, and tests).
pub fn use_portable() {
    BACKEND.store(PORTABLE, Ordering::Relaxed);
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
        // after the environment promised SSE through `use_sha_ni`.
        Backend::ShaNi => unsafe { ni::compress(state, blocks) },
        _ => sha2::block_api::compress256(state, blocks),
    }
}

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
