//! Why a signature did not verify, with Linux's errno for each case
//! (kexec-linux-facts.md section 9; crypto/asymmetric_keys/verify_pefile.c,
//! pkcs7_verify.c, pkcs7_trust.c, kernel/module_signature.c).
//!
//! Every variant carries what a person needs to act on it: which check,
//! which certificate, which digest. Display gives that sentence.

use alloc::string::String;
use core::fmt;

use abi::Errno;

use crate::hash::{hex, HashAlgo};

/// A verification failure.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigError {
    /// The loader has no verify_sig (Linux: EKEYREJECTED).
    NoVerifier {
        /// The loader's name.
        loader: &'static str,
    },
    /// The image carries no signature: no certificate table, or no
    /// appended-signature marker (ENODATA).
    Unsigned(&'static str),
    /// The image's container is malformed: PE headers, the certificate
    /// table's bounds, the WIN_CERTIFICATE wrapper (ELIBBAD).
    Malformed(String),
    /// A WIN_CERTIFICATE that is not revision 2.0 PKCS_SIGNED_DATA (ENOTSUPP).
    WrapperNotSupported {
        /// wRevision.
        revision: u16,
        /// wCertificateType.
        cert_type: u16,
    },
    /// The PKCS#7 message or a certificate is not valid DER of the expected
    /// shape, or lengths in it disagree (EBADMSG).
    BadMessage(String),
    /// An algorithm (hash, key type, key size) kexos does not implement (ENOPKG).
    Unsupported(String),
    /// The DER length form says the message is larger than anything kexos
    /// accepts (EMSGSIZE, as verify_pefile.c for lengths of 2^24 and more):
    /// how many length bytes it has.
    TooLarge(usize),
    /// The message's content is not what this loader expects (Authenticode
    /// for PE, pkcs7-data without attributes for appended) (EKEYREJECTED).
    WrongContent(String),
    /// A digest did not match (EKEYREJECTED).
    DigestMismatch {
        /// What was hashed: "image (Authenticode)", "SpcIndirectDataContent".
        what: &'static str,
        /// The hash.
        algo: HashAlgo,
        /// What kexos computed.
        computed: alloc::vec::Vec<u8>,
        /// What the signature says.
        signed: alloc::vec::Vec<u8>,
    },
    /// A signed-attributes block without messageDigest (EKEYREJECTED).
    NoMessageDigest,
    /// A signature did not verify with the key that should have made it (EKEYREJECTED).
    BadSignature {
        /// What was signed ("the signer info", "certificate CN=...").
        what: String,
        /// Whose key was used.
        key: String,
    },
    /// A certificate on the chain is blacklisted (EKEYREJECTED).
    Blacklisted {
        /// Its subject.
        subject: String,
        /// Its SHA-256 fingerprint.
        fingerprint: [u8; 32],
    },
    /// No key in the keyring is, or signed, any certificate of the chain (ENOKEY).
    NoTrustedKey {
        /// The signer (subject, or the signer info's identifier).
        signer: String,
        /// The last certificate walked, whose issuer was not trusted.
        top: String,
        /// The keyring tried.
        keyring: &'static str,
    },
}

impl SigError {
    /// Linux's errno for this failure.
    pub fn errno(&self) -> Errno {
        match self {
            SigError::Unsigned(_) => Errno::ENODATA,
            SigError::Malformed(_) => Errno::ELIBBAD,
            SigError::WrapperNotSupported { .. } => Errno::ENOTSUPP,
            SigError::BadMessage(_) => Errno::EBADMSG,
            SigError::Unsupported(_) => Errno::ENOPKG,
            SigError::TooLarge(_) => Errno::EMSGSIZE,
            SigError::NoTrustedKey { .. } => Errno::ENOKEY,
            SigError::NoVerifier { .. }
            | SigError::WrongContent(_)
            | SigError::DigestMismatch { .. }
            | SigError::NoMessageDigest
            | SigError::BadSignature { .. }
            | SigError::Blacklisted { .. } => Errno::EKEYREJECTED,
        }
    }

    pub(crate) fn malformed(what: impl Into<String>) -> SigError {
        SigError::Malformed(what.into())
    }

    pub(crate) fn bad_message(what: impl fmt::Display) -> SigError {
        SigError::BadMessage(alloc::format!("{what}"))
    }
}

impl fmt::Display for SigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigError::NoVerifier { loader } => {
                write!(f, "the {loader} loader cannot verify signatures")
            }
            SigError::Unsigned(what) => write!(f, "unsigned image: {what}"),
            SigError::Malformed(what) => write!(f, "malformed image: {what}"),
            SigError::WrapperNotSupported {
                revision,
                cert_type,
            } => write!(
                f,
                "WIN_CERTIFICATE revision {revision:#06x} type {cert_type:#x} \
                 (only revision 0x0200 type 2 PKCS_SIGNED_DATA is supported)"
            ),
            SigError::BadMessage(what) => write!(f, "bad PKCS#7 message: {what}"),
            SigError::Unsupported(what) => write!(f, "unsupported: {what}"),
            SigError::TooLarge(n) => {
                write!(f, "PKCS#7 length in {n} bytes (2^24 or more) is too large")
            }
            SigError::WrongContent(what) => write!(f, "wrong signed content: {what}"),
            SigError::DigestMismatch {
                what,
                algo,
                computed,
                signed,
            } => write!(
                f,
                "{} digest mismatch over the {what}: computed {}, signed {}",
                algo.name(),
                hex(computed),
                hex(signed)
            ),
            SigError::NoMessageDigest => {
                f.write_str("signed attributes without a messageDigest")
            }
            SigError::BadSignature { what, key } => {
                write!(f, "the signature on {what} does not verify with the key of {key}")
            }
            SigError::Blacklisted {
                subject,
                fingerprint,
            } => write!(
                f,
                "certificate {subject} is blacklisted (sha256 fingerprint {})",
                hex(fingerprint)
            ),
            SigError::NoTrustedKey {
                signer,
                top,
                keyring,
            } => write!(
                f,
                "no key in the {keyring} keyring signed {top} (signer {signer})"
            ),
        }
    }
}

impl core::error::Error for SigError {}
