//! Signing keys: RSA (PKCS#1 v1.5) and ECDSA P-256/P-384, read from the
//! PEM forms openssl writes (PKCS#8 "PRIVATE KEY", PKCS#1 "RSA PRIVATE
//! KEY", SEC1 "EC PRIVATE KEY"), generated from a seeded RNG for the test
//! PKI, and written back as PKCS#8.

use anyhow::{anyhow, bail, Context, Result};
use der::asn1::{Any, ObjectIdentifier};
use kexec_sig::oid;
use kexec_sig::HashAlgo;
use pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand_core::CryptoRng;
use signature::hazmat::PrehashSigner;
use spki::{AlgorithmIdentifierOwned, EncodePublicKey, SubjectPublicKeyInfoOwned};

/// What kind of key to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with this many modulus bits.
    Rsa(usize),
    /// ECDSA over NIST P-256.
    P256,
    /// ECDSA over NIST P-384.
    P384,
}

/// A private key that can sign a digest.
#[derive(Clone)]
pub enum SigningKey {
    /// RSA, signing PKCS#1 v1.5.
    Rsa(rsa::PrivateKey),
    /// ECDSA P-256 (RFC 6979 deterministic nonces).
    P256(p256::ecdsa::SigningKey),
    /// ECDSA P-384.
    P384(p384::ecdsa::SigningKey),
}

impl SigningKey {
    /// A new key from `rng` (seeded for reproducible test keys).
    pub fn generate<R: CryptoRng + ?Sized>(kind: KeyKind, rng: &mut R) -> Result<SigningKey> {
        Ok(match kind {
            KeyKind::Rsa(bits) => SigningKey::Rsa(rsa::PrivateKey::new(rng, bits).map_err(|e| anyhow!("RSA-{bits} key generation: {e}"))?),
            KeyKind::P256 => SigningKey::P256(<p256::ecdsa::SigningKey as rsa::Generate>::generate_from_rng(rng)),
            KeyKind::P384 => SigningKey::P384(<p384::ecdsa::SigningKey as rsa::Generate>::generate_from_rng(rng)),
        })
    }

    /// Parse a PEM private key: PKCS#8 (RSA or EC), PKCS#1 RSA or SEC1 EC.
    pub fn from_pem(text: &str) -> Result<SigningKey> {
        if text.contains("-----BEGIN PRIVATE KEY-----") {
            if let Ok(k) = rsa::PrivateKey::from_pkcs8_pem(text) {
                return Ok(SigningKey::Rsa(k));
            }
            if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(text) {
                return Ok(SigningKey::P256(k));
            }
            if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_pem(text) {
                return Ok(SigningKey::P384(k));
            }
            bail!("PKCS#8 key is neither RSA nor ECDSA P-256/P-384 (encrypted keys are not supported)");
        }
        if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
            let k = <rsa::PrivateKey as pkcs1::DecodeRsaPrivateKey>::from_pkcs1_pem(text).context("PKCS#1 RSA key")?;
            return Ok(SigningKey::Rsa(k));
        }
        if text.contains("-----BEGIN EC PRIVATE KEY-----") {
            // openssl may put an "EC PARAMETERS" block first.
            let block = &text[text.find("-----BEGIN EC PRIVATE KEY-----").unwrap_or(0)..];
            if let Ok(k) = p256::SecretKey::from_sec1_pem(block) {
                return Ok(SigningKey::P256(k.into()));
            }
            let k = p384::SecretKey::from_sec1_pem(block).map_err(|e| anyhow!("SEC1 EC key (P-256 or P-384 only): {e}"))?;
            return Ok(SigningKey::P384(k.into()));
        }
        bail!("no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY PEM block")
    }

    /// Read a PEM key file.
    pub fn from_pem_file(path: &std::path::Path) -> Result<SigningKey> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        SigningKey::from_pem(&text).with_context(|| format!("{}", path.display()))
    }

    /// The key as PKCS#8 PEM.
    pub fn to_pkcs8_pem(&self) -> Result<String> {
        let doc = match self {
            SigningKey::Rsa(k) => k.to_pkcs8_pem(LineEnding::LF),
            SigningKey::P256(k) => k.to_pkcs8_pem(LineEnding::LF),
            SigningKey::P384(k) => k.to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(|e| anyhow!("encoding the key: {e}"))?;
        Ok(doc.to_string())
    }

    /// The public half, as a SubjectPublicKeyInfo.
    pub fn public_key(&self) -> Result<SubjectPublicKeyInfoOwned> {
        let der = match self {
            SigningKey::Rsa(k) => k.to_public_key().to_public_key_der(),
            SigningKey::P256(k) => k.verifying_key().to_public_key_der(),
            SigningKey::P384(k) => k.verifying_key().to_public_key_der(),
        }
        .map_err(|e| anyhow!("encoding the public key: {e}"))?;
        Ok(der::Decode::from_der(der.as_bytes())?)
    }

    /// "rsa2048", "ecdsa-p256": as kexec-sig's listing names keys.
    pub fn describe(&self) -> String {
        match self {
            SigningKey::Rsa(k) => format!("rsa{}", rsa::traits::PublicKeyParts::size(k) * 8),
            SigningKey::P256(_) => "ecdsa-p256".into(),
            SigningKey::P384(_) => "ecdsa-p384".into(),
        }
    }

    /// Sign a `hash` digest: a PKCS#1 v1.5 block for RSA, a DER
    /// Ecdsa-Sig-Value for ECDSA. Both deterministic.
    pub fn sign_digest(&self, hash: HashAlgo, digest: &[u8]) -> Result<Vec<u8>> {
        let scheme = || match hash {
            HashAlgo::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
            HashAlgo::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
            HashAlgo::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
        };
        Ok(match self {
            SigningKey::Rsa(k) => k.sign(scheme(), digest).map_err(|e| anyhow!("RSA signing: {e}"))?,
            SigningKey::P256(k) => {
                let s: p256::ecdsa::DerSignature = k.sign_prehash(digest).map_err(|e| anyhow!("ECDSA signing: {e}"))?;
                s.as_bytes().to_vec()
            }
            SigningKey::P384(k) => {
                let s: p384::ecdsa::DerSignature = k.sign_prehash(digest).map_err(|e| anyhow!("ECDSA signing: {e}"))?;
                s.as_bytes().to_vec()
            }
        })
    }

    /// SignerInfo.signatureAlgorithm as openssl writes it: rsaEncryption
    /// (NULL parameters) for RSA, ecdsa-with-SHA* for ECDSA.
    pub fn cms_signature_algorithm(&self, hash: HashAlgo) -> AlgorithmIdentifierOwned {
        match self {
            SigningKey::Rsa(_) => alg(oid::RSA_ENCRYPTION, true),
            _ => self.x509_signature_algorithm(hash),
        }
    }

    /// Certificate.signatureAlgorithm: sha*WithRSAEncryption or ecdsa-with-SHA*.
    pub fn x509_signature_algorithm(&self, hash: HashAlgo) -> AlgorithmIdentifierOwned {
        let rsa = matches!(self, SigningKey::Rsa(_));
        let oid = match (rsa, hash) {
            (true, HashAlgo::Sha256) => oid::SHA256_WITH_RSA,
            (true, HashAlgo::Sha384) => oid::SHA384_WITH_RSA,
            (true, HashAlgo::Sha512) => oid::SHA512_WITH_RSA,
            (false, HashAlgo::Sha256) => oid::ECDSA_WITH_SHA256,
            (false, HashAlgo::Sha384) => oid::ECDSA_WITH_SHA384,
            (false, HashAlgo::Sha512) => oid::ECDSA_WITH_SHA512,
        };
        // RFC 4055: RSA algorithms carry NULL; RFC 5758: ECDSA ones carry nothing.
        alg(oid, rsa)
    }
}

/// An AlgorithmIdentifier, with NULL parameters or none.
pub fn alg(oid: ObjectIdentifier, null: bool) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid, parameters: null.then(Any::null) }
}
