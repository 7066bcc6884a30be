//! The one hasher behind every [`REGION_DIGESTS`](crate::REGION_DIGESTS)
//! slot (feature `hash`): the kernel feeds it a segment while it copies it,
//! purgatory feeds it the same memory before the jump, and both compare
//! [`RegionHasher::finalize`]'s 32-byte slot images.

use sha256::Sha256;
use xxhash_rust::xxh64::Xxh64;

use crate::{xxh64_slot, RegionHash, RegionPrefix, Sha256Digest};

/// SHA-256 (maybe resumed from a prefix) or XXH64 (seed 0), by [`RegionHash`].
#[derive(Clone)]
pub enum RegionHasher {
    /// FIPS 180-4 SHA-256 (libs/sha256).
    Sha256(Sha256),
    /// XXH64, seed 0 (the xxhash-rust crate).
    Xxh64(Xxh64),
}

impl RegionHasher {
    /// A fresh hasher for `hash`.
    pub fn new(hash: RegionHash) -> RegionHasher {
        match hash {
            RegionHash::Sha256 => RegionHasher::Sha256(Sha256::new()),
            RegionHash::Xxh64 => RegionHasher::Xxh64(Xxh64::new(0)),
        }
    }

    /// SHA-256 continued from `prefix` ([`RegionPrefix::NONE`]: fresh).
    pub fn sha256_from(prefix: &RegionPrefix) -> RegionHasher {
        RegionHasher::Sha256(prefix.resume())
    }

    /// Hash `bytes` next.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            RegionHasher::Sha256(h) => h.update(bytes),
            RegionHasher::Xxh64(h) => h.update(bytes),
        }
    }

    /// The slot image: the SHA-256 digest, or [`xxh64_slot`] of the value.
    pub fn finalize(self) -> Sha256Digest {
        match self {
            RegionHasher::Sha256(h) => h.finalize(),
            RegionHasher::Xxh64(h) => xxh64_slot(h.digest()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NO_DIGEST, XXH64_SLOT_TAG};

    /// The xxHash specification's own test values (seed 0).
    #[test]
    fn xxh64_known_answers() {
        let slot = |data: &[u8]| {
            let mut h = RegionHasher::new(RegionHash::Xxh64);
            h.update(data);
            h.finalize()
        };
        assert_eq!(slot(b""), xxh64_slot(0xef46_db37_51d8_e999));
        assert_eq!(slot(b"a"), xxh64_slot(0xd24e_c4f1_a98c_6e5b));
        assert_eq!(slot(b"abc"), xxh64_slot(0x44bc_2cf5_ad77_0999));
        let s = slot(b"abc");
        assert_eq!(s[..8], 0x44bc_2cf5_ad77_0999u64.to_le_bytes());
        assert_eq!(s[8..], XXH64_SLOT_TAG);
    }

    #[test]
    fn no_xxh64_slot_reads_as_not_provided() {
        assert_ne!(xxh64_slot(0), NO_DIGEST);
    }

    #[test]
    fn pieces_do_not_change_either_digest() {
        let data: std::vec::Vec<u8> = (0..10_000u32).map(|i| (i * 13 + i / 5) as u8).collect();
        for kind in [RegionHash::Sha256, RegionHash::Xxh64] {
            let mut whole = RegionHasher::new(kind);
            whole.update(&data);
            let whole = whole.finalize();
            for piece in [1, 7, 31, 32, 33, 4096] {
                let mut h = RegionHasher::new(kind);
                for c in data.chunks(piece) {
                    h.update(c);
                }
                assert_eq!(h.finalize(), whole, "{kind:?} in {piece}-byte pieces");
            }
        }
        let mut sha = RegionHasher::new(RegionHash::Sha256);
        sha.update(&data);
        assert_eq!(sha.finalize(), Sha256::digest(&data));
    }
}
