//! [`RegionPrefix`] to and from kexos's SHA-256 hasher (feature `sha256`):
//! the kernel captures a prefix while it hashes a file, purgatory resumes
//! from it.

use sha256::Sha256;

use crate::RegionPrefix;

impl RegionPrefix {
    /// The state of `hasher` if it stands at a block boundary (a multiple
    /// of 64 bytes hashed; nothing hashed yet is [`RegionPrefix::NONE`]),
    /// else None.
    pub fn capture(hasher: &Sha256) -> Option<RegionPrefix> {
        let (state, blocks) = hasher.at_block_boundary()?;
        Some(if blocks == 0 { RegionPrefix::NONE } else { RegionPrefix { state, blocks } })
    }

    /// A hasher that continues from this state ([`RegionPrefix::NONE`]:
    /// a fresh one).
    pub fn resume(&self) -> Sha256 {
        if *self == RegionPrefix::NONE {
            return Sha256::new();
        }
        Sha256::resume(self.state, self.blocks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_resumes_to_the_digest_of_the_whole() {
        let data: std::vec::Vec<u8> = (0..100_000u32).map(|i| (i * 31 + i / 7) as u8).collect();
        let whole = Sha256::digest(&data);
        for cut in [0, 64, 512, 17 * 1024, 99_968] {
            let mut h = Sha256::new();
            h.update(&data[..cut]);
            let p = RegionPrefix::capture(&h).unwrap();
            assert_eq!(p.blocks, cut as u64 / 64);
            assert_eq!(p == RegionPrefix::NONE, cut == 0, "only an empty prefix is NONE");
            let p = RegionPrefix::from_bytes(&p.to_bytes());
            let mut r = p.resume();
            r.update(&data[cut..]);
            assert_eq!(r.finalize(), whole, "cut at {cut}");
        }
    }

    #[test]
    fn only_block_boundaries_are_prefixes() {
        let mut h = Sha256::new();
        h.update([1u8; 100]);
        assert_eq!(RegionPrefix::capture(&h), None);
    }
}
