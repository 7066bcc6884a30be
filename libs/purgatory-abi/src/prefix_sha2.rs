//! [`RegionPrefix`] to and from the `sha2` crate's hasher (feature `sha2`):
//! the kernel captures a prefix while it hashes a file, purgatory resumes
//! from it. Both go through `sha2`'s serialized state (core: `H` then the
//! block count, little endian, which is [`RegionPrefix`]'s image; then the
//! partial-block buffer, empty at a block boundary).

use sha2::digest::common::hazmat::{SerializableState, SerializedState};
use sha2::Sha256;

use crate::RegionPrefix;

impl RegionPrefix {
    /// The state of `hasher` if it stands at a block boundary (a multiple
    /// of 64 bytes hashed; nothing hashed yet is [`RegionPrefix::NONE`]),
    /// else None.
    pub fn capture(hasher: &Sha256) -> Option<RegionPrefix> {
        let s = hasher.serialize();
        let (core, buffer) = s.split_at(Self::SIZE);
        if buffer.iter().any(|&b| b != 0) {
            return None;
        }
        let p = RegionPrefix::from_bytes(core.try_into().ok()?);
        Some(if p.blocks == 0 { RegionPrefix::NONE } else { p })
    }

    /// A hasher that continues from this state ([`RegionPrefix::NONE`]:
    /// a fresh one).
    pub fn resume(&self) -> Sha256 {
        if *self == RegionPrefix::NONE {
            return Sha256::default();
        }
        let mut s = SerializedState::<Sha256>::default();
        s[..Self::SIZE].copy_from_slice(&self.to_bytes());
        // The image is 40 bytes of state and an empty buffer: sha2 accepts
        // every such value (any H, any count).
        Sha256::deserialize(&s).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    #[test]
    fn a_prefix_resumes_to_the_digest_of_the_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 + i / 7) as u8).collect();
        let whole: [u8; 32] = Sha256::digest(&data).into();
        for cut in [0, 64, 512, 17 * 1024, 99_968] {
            let mut h = Sha256::new();
            h.update(&data[..cut]);
            let p = RegionPrefix::capture(&h).unwrap();
            assert_eq!(p.blocks, cut as u64 / 64);
            assert_eq!(p == RegionPrefix::NONE, cut == 0, "only an empty prefix is NONE");
            let p = RegionPrefix::from_bytes(&p.to_bytes());
            let mut r = p.resume();
            r.update(&data[cut..]);
            assert_eq!(<[u8; 32]>::from(r.finalize()), whole, "cut at {cut}");
        }
    }

    #[test]
    fn only_block_boundaries_are_prefixes() {
        let mut h = Sha256::new();
        h.update([1u8; 100]);
        assert_eq!(RegionPrefix::capture(&h), None);
    }
}
