//! The digests signatures may use: SHA-256/384/512 (Linux's kexec and
//! module signers); anything else, SHA-1 included, is ENOPKG.

use alloc::string::String;
use alloc::vec::Vec;
use const_oid::ObjectIdentifier;
use sha2::{Digest, Sha384, Sha512};
use sha256::Sha256;

use crate::{oid, SigError};

/// A supported hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgo {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgo {
    /// The hash for a digest-algorithm OID; ENOPKG for any other (SHA-1 too).
    pub fn from_oid(oid: &ObjectIdentifier) -> Result<HashAlgo, SigError> {
        match *oid {
            oid::SHA256 => Ok(HashAlgo::Sha256),
            oid::SHA384 => Ok(HashAlgo::Sha384),
            oid::SHA512 => Ok(HashAlgo::Sha512),
            oid::SHA1 => Err(SigError::Unsupported("hash SHA-1".into())),
            other => Err(SigError::Unsupported(alloc::format!("hash {other}"))),
        }
    }

    /// The algorithm's OID.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            HashAlgo::Sha256 => oid::SHA256,
            HashAlgo::Sha384 => oid::SHA384,
            HashAlgo::Sha512 => oid::SHA512,
        }
    }

    /// Its name, as Linux's crypto API spells it.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgo::Sha256 => "sha256",
            HashAlgo::Sha384 => "sha384",
            HashAlgo::Sha512 => "sha512",
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlgo::Sha256 => 32,
            HashAlgo::Sha384 => 48,
            HashAlgo::Sha512 => 64,
        }
    }

    /// A fresh incremental hasher.
    pub fn hasher(self) -> Hasher {
        match self {
            HashAlgo::Sha256 => Hasher::Sha256(Sha256::new()),
            HashAlgo::Sha384 => Hasher::Sha384(Sha384::new()),
            HashAlgo::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// The digest of `parts`, concatenated.
    pub fn digest_parts(self, parts: &[&[u8]]) -> Vec<u8> {
        let mut h = self.hasher();
        for p in parts {
            h.update(p);
        }
        h.finish()
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        self.digest_parts(&[data])
    }
}

/// An incremental hash of one of the supported algorithms.
pub enum Hasher {
    /// SHA-256.
    Sha256(Sha256),
    /// SHA-384.
    Sha384(Sha384),
    /// SHA-512.
    Sha512(Sha512),
}

impl Hasher {
    /// Add bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// Lower-case hex, as Linux prints digests and key ids.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('?'));
        s.push(char::from_digit((b & 15) as u32, 16).unwrap_or('?'));
    }
    s
}

/// SHA-256 of `data` as an array (certificate fingerprints).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data)
}
