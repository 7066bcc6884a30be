//! Segment digests for purgatory (kexec_calculate_store_digests), with the
//! kexos rule for zero tails.
//!
//! Linux hashes every checksummed segment's bufsz bytes AND its memsz-bufsz
//! zero tail (tens of MB for a bzImage, hundreds of ms in purgatory). kexos
//! hashes only the data: the tails are zeroed by relocate_kernel (IND_ZERO)
//! and the data's last page is zero padded. The contract with purgatory/
//! (purgatory/README.md, purgatory-core's SYM_* constants):
//!
//! - slot `i` of each table describes segment `i` (all zero when segment `i`
//!   is not checksummed, e.g. purgatory itself, or does not exist);
//!   `len == 0` slots are skipped, not terminators;
//! - `purgatory_sha_regions[i] = {start: mem, len: bufsz}` (`[{u64,u64}; 16]`);
//! - `purgatory_sha256_digest` (`[u8; 32]`) = SHA-256 over the concatenated
//!   data of the non-empty regions in slot order: Linux's digest without the
//!   zero tails;
//! - `purgatory_region_digests[i] = SHA-256(data of segment i)`
//!   (`[[u8; 32]; 16]`), so a mismatch names the segment;
//! - optional, set only if the object defines it:
//!   `purgatory_zero_regions[i] = {start: mem + bufsz, len: memsz - bufsz}`
//!   (`[{u64,u64}; 16]`), for a purgatory that also checks the tails are zero.
//!
//! Cost: ONE SHA-256 pass over the data actually loaded, on each side. When
//! the purgatory has a `purgatory_flags` symbol (kexos's does), the kernel
//! hashes each segment once, stores the per-segment digests and sets
//! FLAG_PER_REGION: purgatory checks every region against its own digest
//! (and can name the bad one); the total digest stays zero. A purgatory
//! without that symbol (Linux-style) gets Linux's single total digest.

use alloc::vec::Vec;
use sha2::{Digest, Sha256};

use crate::error::KexecError;
use crate::kimage::Kimage;
use crate::purgatory::PurgatoryError;
use crate::types::KEXEC_SEGMENT_MAX;

/// `[{u64 start, u64 len}; 16]`: checksummed data.
pub const SHA_REGIONS_SYMBOL: &str = "purgatory_sha_regions";
/// `[{u64 start, u64 len}; 16]`: ranges that must be zero (optional symbol).
pub const ZERO_REGIONS_SYMBOL: &str = "purgatory_zero_regions";
/// `[[u8; 32]; 16]`: per-segment SHA-256.
pub const SEGMENT_DIGESTS_SYMBOL: &str = "purgatory_region_digests";
/// `[u8; 32]`: SHA-256 over all sha regions.
pub const DIGEST_SYMBOL: &str = "purgatory_sha256_digest";
/// `u64`: purgatory behaviour flags (purgatory-core's FLAG_*).
pub const FLAGS_SYMBOL: &str = "purgatory_flags";
/// purgatory_flags bit: verify each region against its own digest.
pub const FLAG_PER_REGION: u64 = 1 << 1;
/// Bytes of one region table.
pub const REGIONS_SIZE: usize = KEXEC_SEGMENT_MAX * 16;

/// `struct kexec_sha_region`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShaRegion {
    /// Physical start.
    pub start: u64,
    /// Length in bytes (0 = unused slot).
    pub len: u64,
}

/// What purgatory is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digests {
    /// Per-slot data regions.
    pub sha_regions: [ShaRegion; KEXEC_SEGMENT_MAX],
    /// Per-slot zero regions.
    pub zero_regions: [ShaRegion; KEXEC_SEGMENT_MAX],
    /// Per-slot SHA-256 of the data.
    pub segment_digests: [[u8; 32]; KEXEC_SEGMENT_MAX],
    /// SHA-256 of all data regions concatenated.
    pub digest: [u8; 32],
}

/// Encode a region table as purgatory reads it.
pub fn regions_to_bytes(r: &[ShaRegion; KEXEC_SEGMENT_MAX]) -> Vec<u8> {
    r.iter()
        .flat_map(|x| x.start.to_le_bytes().into_iter().chain(x.len.to_le_bytes()))
        .collect()
}

/// How purgatory verifies: one digest per segment, or Linux's single total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestMode {
    /// `purgatory_region_digests` only (one pass; names the bad segment).
    PerRegion,
    /// `purgatory_sha256_digest` only (Linux's purgatory).
    Total,
}

/// Compute the tables for every checksummed segment, hashing each byte once.
pub fn compute_digests(image: &Kimage<'_>, mode: DigestMode) -> Digests {
    let mut d = Digests {
        sha_regions: [ShaRegion::default(); KEXEC_SEGMENT_MAX],
        zero_regions: [ShaRegion::default(); KEXEC_SEGMENT_MAX],
        segment_digests: [[0; 32]; KEXEC_SEGMENT_MAX],
        digest: [0; 32],
    };
    let mut all = Sha256::new();
    for (i, s) in image.segments().iter().enumerate().take(KEXEC_SEGMENT_MAX) {
        if !s.checksum {
            continue;
        }
        let data = s.buf.as_slice();
        match mode {
            DigestMode::PerRegion => d.segment_digests[i] = Sha256::digest(data).into(),
            DigestMode::Total => all.update(data),
        }
        d.sha_regions[i] = ShaRegion {
            start: s.mem.0,
            len: s.bufsz(),
        };
        d.zero_regions[i] = ShaRegion {
            start: s.mem.0.saturating_add(s.bufsz()),
            len: s.memsz.saturating_sub(s.bufsz()),
        };
    }
    if mode == DigestMode::Total {
        d.digest = all.finalize().into();
    }
    d
}

/// Compute the digests and store them in purgatory's symbols. Call after
/// every segment is final (after the loader and the sanity checks).
pub fn kexec_calculate_store_digests(image: &mut Kimage<'_>) -> Result<Digests, KexecError> {
    let mode = match image.purgatory_get_symbol(FLAGS_SYMBOL, 8) {
        Ok(bytes) => {
            let mut flags = [0u8; 8];
            flags.copy_from_slice(&bytes);
            let flags = u64::from_le_bytes(flags) | FLAG_PER_REGION;
            image.purgatory_set_symbol(FLAGS_SYMBOL, &flags.to_le_bytes())?;
            DigestMode::PerRegion
        }
        Err(KexecError::Purgatory(PurgatoryError::SymbolNotFound { .. })) => DigestMode::Total,
        Err(e) => return Err(e),
    };
    let d = compute_digests(image, mode);
    image.purgatory_set_symbol(SHA_REGIONS_SYMBOL, &regions_to_bytes(&d.sha_regions))?;
    image.purgatory_set_symbol(DIGEST_SYMBOL, &d.digest)?;
    if mode == DigestMode::PerRegion {
        image.purgatory_set_symbol(SEGMENT_DIGESTS_SYMBOL, &d.segment_digests.concat())?;
    }
    match image.purgatory_set_symbol(ZERO_REGIONS_SYMBOL, &regions_to_bytes(&d.zero_regions)) {
        Err(KexecError::Purgatory(PurgatoryError::SymbolNotFound { .. })) | Ok(()) => {}
        Err(e) => return Err(e),
    }
    Ok(d)
}

#[cfg(test)]
mod contract_tests {
    use super::*;
    use crate::purgatory::Entry64Regs;

    /// The kernel fills purgatory's symbols by name and layout; purgatory/core
    /// defines them. The two must agree, or purgatory reads garbage.
    #[test]
    fn purgatory_contract_matches_purgatory_core() {
        use purgatory_core as pc;
        assert_eq!(SHA_REGIONS_SYMBOL, pc::SYM_SHA_REGIONS);
        assert_eq!(DIGEST_SYMBOL, pc::SYM_SHA256_DIGEST);
        assert_eq!(SEGMENT_DIGESTS_SYMBOL, pc::SYM_REGION_DIGESTS);
        assert_eq!(FLAGS_SYMBOL, pc::SYM_FLAGS);
        assert_eq!(FLAG_PER_REGION, pc::FLAG_PER_REGION);
        assert_eq!(KEXEC_SEGMENT_MAX, pc::MAX_REGIONS);
        assert_eq!(REGIONS_SIZE, pc::PATCHABLE_SYMBOLS[0].1);
        let ours = Entry64Regs {
            rax: 1,
            rcx: 2,
            rdx: 3,
            rbx: 4,
            rsp: 5,
            rbp: 6,
            rsi: 7,
            rdi: 8,
            r8: 9,
            r9: 10,
            r10: 11,
            r11: 12,
            r12: 13,
            r13: 14,
            r14: 15,
            r15: 16,
            rip: 17,
        };
        let theirs = pc::EntryRegs {
            rax: 1,
            rcx: 2,
            rdx: 3,
            rbx: 4,
            rsp: 5,
            rbp: 6,
            rsi: 7,
            rdi: 8,
            r8: 9,
            r9: 10,
            r10: 11,
            r11: 12,
            r12: 13,
            r13: 14,
            r14: 15,
            r15: 16,
            rip: 17,
        };
        assert_eq!(ours.to_bytes(), theirs.to_bytes());
        assert_eq!(
            Entry64Regs::SIZE,
            pc::PATCHABLE_SYMBOLS
                .iter()
                .find(|s| s.0 == pc::SYM_ENTRY_REGS)
                .unwrap()
                .1
        );
    }
}
