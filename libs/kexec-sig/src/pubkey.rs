//! Public-key signature checks: RSA PKCS#1 v1.5 (2048-4096 bit moduli) and
//! ECDSA over P-256 and P-384, always over a digest computed by the caller
//! (Linux's public_key_verify_signature takes a digest too).

use alloc::format;
use alloc::string::String;

use der::Decode;
use signature::hazmat::PrehashVerifier;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::{oid, HashAlgo};

/// Why a check failed.
#[derive(Debug)]
pub(crate) enum KeyError {
    /// Key type, size, curve or signature algorithm kexos does not do (ENOPKG).
    Unsupported(String),
    /// The signature does not verify (EKEYREJECTED).
    Bad,
}

/// RSA modulus sizes accepted (the 2048-4096; Linux's own minimum is 2048 for kexec keys).
const RSA_BITS: core::ops::RangeInclusive<usize> = 2048..=4096;

/// The key's algorithm, for listings: "rsa2048", "ecdsa-p256".
pub(crate) fn describe(spki: &SubjectPublicKeyInfoOwned) -> String {
    match key_kind(spki) {
        Ok(Kind::Rsa(k)) => format!("rsa{}", rsa::traits::PublicKeyParts::size(&k) * 8),
        Ok(Kind::P256(_)) => "ecdsa-p256".into(),
        Ok(Kind::P384(_)) => "ecdsa-p384".into(),
        Err(_) => format!("unsupported ({})", spki.algorithm.oid),
    }
}

enum Kind {
    Rsa(rsa::PublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

fn key_kind(spki: &SubjectPublicKeyInfoOwned) -> Result<Kind, KeyError> {
    let bits = spki.subject_public_key.raw_bytes();
    match spki.algorithm.oid {
        oid::RSA_ENCRYPTION => {
            let key = <rsa::PublicKey as rsa::pkcs1::DecodeRsaPublicKey>::from_pkcs1_der(bits)
                .map_err(|e| KeyError::Unsupported(format!("RSA key: {e}")))?;
            let n = rsa::traits::PublicKeyParts::size(&key) * 8;
            if !RSA_BITS.contains(&n) {
                return Err(KeyError::Unsupported(format!("RSA-{n} key (2048 to 4096 bits only)")));
            }
            Ok(Kind::Rsa(key))
        }
        oid::EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok())
                .ok_or_else(|| KeyError::Unsupported("EC key without a named curve".into()))?;
            match curve {
                oid::SECP256R1 => p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(Kind::P256)
                    .map_err(|_| KeyError::Unsupported("malformed P-256 point".into())),
                oid::SECP384R1 => p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(Kind::P384)
                    .map_err(|_| KeyError::Unsupported("malformed P-384 point".into())),
                c => Err(KeyError::Unsupported(format!("EC curve {c}"))),
            }
        }
        other => Err(KeyError::Unsupported(format!("key algorithm {other}"))),
    }
}

/// The hash a signature algorithm names, if it names one (rsaEncryption,
/// which OpenSSL writes into PKCS#7 signer infos, does not).
pub(crate) fn sig_hash(alg: &AlgorithmIdentifierOwned) -> Result<Option<HashAlgo>, KeyError> {
    Ok(match alg.oid {
        oid::RSA_ENCRYPTION => None,
        oid::SHA256_WITH_RSA | oid::ECDSA_WITH_SHA256 => Some(HashAlgo::Sha256),
        oid::SHA384_WITH_RSA | oid::ECDSA_WITH_SHA384 => Some(HashAlgo::Sha384),
        oid::SHA512_WITH_RSA | oid::ECDSA_WITH_SHA512 => Some(HashAlgo::Sha512),
        oid::SHA1_WITH_RSA => return Err(KeyError::Unsupported("signature sha1WithRSAEncryption".into())),
        other => return Err(KeyError::Unsupported(format!("signature algorithm {other}"))),
    })
}

fn is_rsa_alg(alg: &AlgorithmIdentifierOwned) -> bool {
    matches!(
        alg.oid,
        oid::RSA_ENCRYPTION | oid::SHA256_WITH_RSA | oid::SHA384_WITH_RSA | oid::SHA512_WITH_RSA
    )
}

/// Check `sig` (algorithm `alg`) over `digest` (made with `hash`) with `key`.
pub(crate) fn verify(
    key: &SubjectPublicKeyInfoOwned,
    alg: &AlgorithmIdentifierOwned,
    hash: HashAlgo,
    digest: &[u8],
    sig: &[u8],
) -> Result<(), KeyError> {
    if let Some(h) = sig_hash(alg)? {
        if h != hash {
            return Err(KeyError::Unsupported(format!(
                "signature algorithm {} with digest {}",
                alg.oid,
                hash.name()
            )));
        }
    }
    match (key_kind(key)?, is_rsa_alg(alg)) {
        (Kind::Rsa(k), true) => {
            let scheme = match hash {
                HashAlgo::Sha256 => rsa::pkcs1v15::Pkcs1v15Sign::new::<sha2::Sha256>(),
                HashAlgo::Sha384 => rsa::pkcs1v15::Pkcs1v15Sign::new::<sha2::Sha384>(),
                HashAlgo::Sha512 => rsa::pkcs1v15::Pkcs1v15Sign::new::<sha2::Sha512>(),
            };
            k.verify(scheme, digest, sig).map_err(|_| KeyError::Bad)
        }
        (Kind::P256(k), false) => {
            let s = p256::ecdsa::DerSignature::from_der(sig).map_err(|_| KeyError::Bad)?;
            k.verify_prehash(digest, &s).map_err(|_| KeyError::Bad)
        }
        (Kind::P384(k), false) => {
            let s = p384::ecdsa::DerSignature::from_der(sig).map_err(|_| KeyError::Bad)?;
            k.verify_prehash(digest, &s).map_err(|_| KeyError::Bad)
        }
        _ => Err(KeyError::Unsupported(format!(
            "signature algorithm {} for a {} key",
            alg.oid,
            describe(key)
        ))),
    }
}
