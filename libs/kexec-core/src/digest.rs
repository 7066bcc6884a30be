//! Segment digests for purgatory (kexec_calculate_store_digests), with the
//! kexos rule for zero tails.
//!
//! Linux hashes every checksummed segment's bufsz bytes AND its memsz-bufsz
//! zero tail (tens of MB for a bzImage, hundreds of ms in purgatory). kexos
//! hashes only the data: the tails are zeroed by relocate_kernel (IND_ZERO)
//! and the data's last page is zero padded. What goes in which table slot,
//! and the two verification modes, are the purgatory contract: see the
//! purgatory-abi crate (libs/purgatory-abi), which owns every name, size and
//! encoding used here.
//!
//! Cost: ONE SHA-256 pass over the data actually loaded, on each side. When
//! the purgatory has a `FLAGS` symbol (kexos's does), the kernel hashes each
//! segment once, stores the per-segment digests and sets FLAG_PER_REGION;
//! the total digest stays zero. A purgatory without that symbol (Linux-style)
//! gets Linux's single total digest.
//!
//! A segment that borrows exactly the bytes of a file the caller already
//! hashed with SHA-256 (IMA measures the initramfs as it is read, and the
//! initrd segment is that file, unchanged) reuses that digest
//! ([`Kimage::kexec_known_digest`]): the initramfs is hashed once per load.
//! bzImage64's kernel segment is the file's last part (after the setup
//! sectors, a multiple of 512 bytes): the caller keeps the hash state where
//! it starts while IMA hashes the file, and purgatory resumes from that
//! state ([`purgatory_abi::REGION_PREFIXES`]) and compares with IMA's digest
//! ([`Kimage::kexec_known_digest`] with a prefix), so the kernel is not hashed a
//! second time either. ELF64's PT_LOADs are middle parts of the file: hashed.
//! When purgatory will have a second CPU, IMA's pass also keeps the state
//! at a cut inside the kernel segment or the initrd
//! ([`KnownDigest::cut`], [`purgatory_abi::REGION_CUTS`]), from which
//! purgatory's two CPUs check the two halves side by side.
//!
//! The caller may choose XXH64 instead ([`Kimage::region_hash`], from
//! `KEXEC_FILE_XXH64_DIGEST`; kexos's purgatory only): then every
//! checksummed segment is hashed while it is copied, IMA's digests are
//! not reused (they are SHA-256), and purgatory's check costs a small
//! fraction of SHA-256's (purgatory_abi::FLAG_XXH64).

use purgatory_abi::{
    block_function_flags, region_digests_to_bytes, RegionHash, RegionHasher, RegionPrefix, Sha256Digest, ShaRegion,
    FLAGS, FLAG_PER_REGION, FLAG_SHA_NI, FLAG_SSE2, FLAG_XXH64, NO_DIGEST, REGION_CUTS, REGION_DIGESTS, REGION_PREFIXES,
    SHA256_DIGEST, SHA_REGIONS,
};

use crate::error::KexecError;
use crate::kimage::Kimage;
use crate::segment::KexecSegment;
use crate::purgatory::PurgatoryError;
use crate::types::KEXEC_SEGMENT_MAX;

const _: () = assert!(KEXEC_SEGMENT_MAX == purgatory_abi::MAX_REGIONS);

/// What the kernel logs for every load whose digests are XXH64, `-d` or not
/// (a weaker check is never silent).
pub const XXH64_CHOSEN: &str = "kexec_file: segment digests are XXH64 (KEXEC_FILE_XXH64_DIGEST)";

/// A SHA-256 the caller computed over bytes a segment borrows
/// ([`Kimage::kexec_known_digest`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownDigest {
    /// SHA-256 of some bytes (maybe none) followed by the segment's.
    pub sha256: Sha256Digest,
    /// The hash's state after the bytes before the segment's.
    pub prefix: RegionPrefix,
    /// The state at a cut inside the segment ([`REGION_CUTS`]), or NONE.
    pub cut: RegionPrefix,
}

impl KnownDigest {
    /// The SHA-256 of exactly the segment's bytes: no prefix, no cut.
    pub const fn whole(sha256: Sha256Digest) -> KnownDigest {
        KnownDigest { sha256, prefix: RegionPrefix::NONE, cut: RegionPrefix::NONE }
    }
}

/// What purgatory is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digests {
    /// Per-slot data regions.
    pub sha_regions: [ShaRegion; KEXEC_SEGMENT_MAX],
    /// Per-slot SHA-256 of the data.
    pub segment_digests: [Sha256Digest; KEXEC_SEGMENT_MAX],
    /// SHA-256 of all data regions concatenated.
    pub digest: Sha256Digest,
    /// Per-slot state each region's hash starts from (per-region mode).
    pub prefixes: [RegionPrefix; KEXEC_SEGMENT_MAX],
    /// Per-slot cut where two CPUs may split purgatory's check ([`REGION_CUTS`]).
    pub cuts: [RegionPrefix; KEXEC_SEGMENT_MAX],
    /// Per slot: the digest is one the caller computed (IMA's), not hashed
    /// by the load ([`Kimage::kexec_known_digest`]).
    pub reused: [bool; KEXEC_SEGMENT_MAX],
    /// The function of `segment_digests` (and of `digest`: SHA-256).
    pub hash: RegionHash,
}

/// How purgatory verifies: one digest per segment, or Linux's single total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestMode {
    /// [`REGION_DIGESTS`] only (one pass; names the bad segment).
    PerRegion,
    /// [`SHA256_DIGEST`] only (Linux's purgatory).
    Total,
}

impl Digests {
    /// No region, no digest.
    pub const EMPTY: Digests = Digests {
        sha_regions: [ShaRegion::EMPTY; KEXEC_SEGMENT_MAX],
        segment_digests: [NO_DIGEST; KEXEC_SEGMENT_MAX],
        digest: NO_DIGEST,
        prefixes: [RegionPrefix::NONE; KEXEC_SEGMENT_MAX],
        cuts: [RegionPrefix::NONE; KEXEC_SEGMENT_MAX],
        reused: [false; KEXEC_SEGMENT_MAX],
        hash: RegionHash::Sha256,
    };

    /// Slot `i` is checksummed segment `s`, whose data hashes to
    /// `digest.sha256` from `digest.prefix` (None in [`DigestMode::Total`],
    /// where only the total is kept).
    pub(crate) fn record(&mut self, i: usize, s: &KexecSegment<'_>, digest: Option<KnownDigest>) {
        if let Some(k) = digest {
            self.segment_digests[i] = k.sha256;
            self.prefixes[i] = k.prefix;
            self.cuts[i] = k.cut;
        }
        self.sha_regions[i] = ShaRegion { start: s.mem.0, len: s.bufsz() };
    }
}

/// A digest of `data` the image already knows (with the state it starts
/// from), if this purgatory can check it: per-region mode with SHA-256,
/// and for a digest with a prefix, a purgatory that has [`REGION_PREFIXES`].
/// Its cut is kept only for a purgatory that has [`REGION_CUTS`].
pub(crate) fn reusable_digest(image: &Kimage<'_>, data: &[u8], mode: DigestMode) -> Option<KnownDigest> {
    let sha256_slots = mode == DigestMode::PerRegion && image.region_hash == RegionHash::Sha256;
    let mut k = image.known_digest(data).filter(|_| sha256_slots)?;
    if k.cut != RegionPrefix::NONE && !has_table(image, REGION_CUTS) {
        k.cut = RegionPrefix::NONE;
    }
    (k.prefix == RegionPrefix::NONE || has_table(image, REGION_PREFIXES)).then_some(k)
}

/// Does this purgatory take `table` (name and exact size)?
fn has_table(image: &Kimage<'_>, table: purgatory_abi::PatchableSymbol) -> bool {
    image.purgatory_get_symbol(table.name, table.size).is_ok()
}

/// Compute the tables for every checksummed segment, hashing each byte once
/// (the digests of bytes IMA's pass already hashed are reused).
pub fn compute_digests(image: &Kimage<'_>, mode: DigestMode) -> Digests {
    let hash_only = |s: &KexecSegment<'_>, hash: Option<&mut RegionHasher>| -> Result<(), core::convert::Infallible> {
        if let Some(h) = hash {
            h.update(s.buf.as_slice());
        }
        Ok(())
    };
    let Ok(d) = load_digested(image, mode, hash_only);
    d
}

/// Hands every segment but purgatory's to `load`, with the hash its data
/// goes into (if any), and returns the digests: one per checksummed segment
/// ([`DigestMode::PerRegion`]; a digest the caller already knows is reused,
/// [`Kimage::kexec_known_digest`]) or Linux's total. The one walk behind
/// [`compute_digests`] and the loads that hash as they copy.
pub(crate) fn load_digested<'k, E>(
    image: &Kimage<'k>,
    mode: DigestMode,
    mut load: impl FnMut(&KexecSegment<'k>, Option<&mut RegionHasher>) -> Result<(), E>,
) -> Result<Digests, E> {
    let purgatory = image.purgatory_segment();
    let mut d = Digests::EMPTY;
    let mut total = RegionHasher::new(RegionHash::Sha256);
    for (i, s) in image.segments().iter().enumerate() {
        if Some(i) == purgatory {
            continue;
        }
        let data = s.buf.as_slice();
        let known = s.checksum.then(|| reusable_digest(image, data, mode)).flatten();
        let mut own = (s.checksum && known.is_none() && mode == DigestMode::PerRegion).then(|| RegionHasher::new(image.region_hash));
        let hash = match mode {
            DigestMode::Total if s.checksum => Some(&mut total),
            _ => own.as_mut(),
        };
        load(s, hash)?;
        if s.checksum && i < KEXEC_SEGMENT_MAX {
            d.reused[i] = known.is_some();
            d.record(i, s, known.or(own.map(|h| KnownDigest::whole(h.finalize()))));
        }
    }
    match mode {
        DigestMode::Total => d.digest = total.finalize(),
        DigestMode::PerRegion => d.hash = image.region_hash,
    }
    Ok(d)
}

/// How this image's purgatory verifies: per region when it has a `FLAGS`
/// symbol (kexos's; FLAG_PER_REGION is set in it here, FLAG_SSE2 and
/// FLAG_SHA_NI after this kernel's block function, FLAG_XXH64 when the image
/// asks for XXH64), else Linux's total, which is SHA-256 only (EINVAL for XXH64).
pub fn digest_mode(image: &mut Kimage<'_>) -> Result<DigestMode, KexecError> {
    match image.purgatory_get_symbol_array::<{ FLAGS.size }>(FLAGS.name) {
        Ok(bytes) => {
            let flags = per_region_flags(u64::from_le_bytes(bytes), sha256::backend(), image.region_hash);
            image.purgatory_set_symbol(FLAGS.name, &flags.to_le_bytes())?;
            Ok(DigestMode::PerRegion)
        }
        Err(KexecError::Purgatory(PurgatoryError::SymbolNotFound { .. })) if image.region_hash != RegionHash::Sha256 => {
            Err(KexecError::Purgatory(PurgatoryError::CannotCheck { digest: image.region_hash.name() }))
        }
        Err(KexecError::Purgatory(PurgatoryError::SymbolNotFound { .. })) => Ok(DigestMode::Total),
        Err(e) => Err(e),
    }
}

/// A kexos purgatory's flags for a load by a kernel hashing with `backend`
/// and asking for `hash`: per-region mode, the kernel's SHA-256 block
/// function when the slots are SHA-256 (portable otherwise: then purgatory
/// leaves SSE alone), XXH64 exactly when asked.
pub fn per_region_flags(flags: u64, backend: sha256::Backend, hash: RegionHash) -> u64 {
    let sha = if hash == RegionHash::Sha256 { block_function_flags(backend) } else { 0 };
    (flags & !(FLAG_SHA_NI | FLAG_SSE2 | FLAG_XXH64)) | FLAG_PER_REGION | sha | hash.flag()
}

/// Store `d` in purgatory's symbols.
pub fn store_digests(image: &mut Kimage<'_>, mode: DigestMode, d: &Digests) -> Result<(), KexecError> {
    image.purgatory_set_symbol(SHA_REGIONS.name, &ShaRegion::table_to_bytes(&d.sha_regions))?;
    image.purgatory_set_symbol(SHA256_DIGEST.name, &d.digest)?;
    if mode == DigestMode::PerRegion {
        image.purgatory_set_symbol(REGION_DIGESTS.name, &region_digests_to_bytes(&d.segment_digests))?;
        // Optional: a purgatory without them never gets a prefix or a cut
        // (reusable_digest).
        for (table, values) in [(REGION_PREFIXES, &d.prefixes), (REGION_CUTS, &d.cuts)] {
            if has_table(image, table) {
                image.purgatory_set_symbol(table.name, &RegionPrefix::table_to_bytes(values))?;
            }
        }
    }
    Ok(())
}

/// Compute the digests and store them in purgatory's symbols. Call after
/// every segment is final (after the loader and the sanity checks). The
/// kernel's loads do not: they hash while copying
/// ([`crate::entry::kimage_load_segments_digested`],
/// [`crate::entry::kimage_load_crash_segments_digested`]).
pub fn kexec_calculate_store_digests(image: &mut Kimage<'_>) -> Result<Digests, KexecError> {
    let mode = digest_mode(image)?;
    let d = compute_digests(image, mode);
    store_digests(image, mode, &d)?;
    Ok(d)
}

