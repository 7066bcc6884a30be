//! Kernel image signatures for kexec_file_load, as Linux verifies them
//! (kexec-linux-facts.md section 9):
//!
//! - [`verify_pe`]: a bzImage's Authenticode signature
//!   (crypto/asymmetric_keys/verify_pefile.c): the first WIN_CERTIFICATE's
//!   PKCS#7 SignedData carries SpcIndirectDataContent with the image digest;
//! - [`verify_appended`]: Linux's appended signature (module_signature.h),
//!   which kexos uses for ELF64 images;
//!
//! both through one PKCS#7 verifier ([`pkcs7`]) and one chain walk to a
//! [`Keyring`]. Errors are [`SigError`], each with Linux's errno and a
//! sentence naming the check that failed. Everything is `no_std` + `alloc`
//! and host-tested; the kernel and xtask's signer use the same code.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod appended;
mod der_walk;
mod error;
pub mod hash;
mod keyring;
pub mod mscode;
pub mod oid;
pub mod pefile;
pub mod pkcs7;
mod pubkey;
mod x509;

#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;

pub use error::SigError;
pub use hash::HashAlgo;
pub use keyring::Keyring;
pub use pkcs7::{SignerSummary, Usage};
pub use der_walk::Tlv;
pub use x509::Cert;

/// What a successful verification found, for the log and `kexec -d`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// "Authenticode" or "appended PKCS#7".
    pub format: &'static str,
    /// The signer's subject and key id.
    pub signer: String,
    /// The trusted key the chain ended at.
    pub trusted: String,
    /// The keyring.
    pub keyring: &'static str,
    /// The image digest's algorithm.
    pub algo: HashAlgo,
    /// The image digest (Authenticode's, or of the signed payload).
    pub digest: Vec<u8>,
}

/// Verify a PE image's Authenticode signature against `keyring`, in
/// Linux's order (verify_pefile_signature): PE headers and the wrapper
/// (ELIBBAD, ENODATA, ENOTSUPP), the PKCS#7 message and its trust (EBADMSG,
/// EKEYREJECTED, ENOPKG, ENOKEY), then the image digest (EKEYREJECTED).
pub fn verify_pe(image: &[u8], keyring: &Keyring) -> Result<Verified, SigError> {
    let pe = pefile::PeFile::parse(image)?;
    let msg = pkcs7::Message::parse(pe.signature()?)?;
    let content = msg
        .content
        .filter(|_| msg.content_type == oid::SPC_INDIRECT_DATA)
        .ok_or_else(|| SigError::WrongContent("not Authenticode (no SpcIndirectDataContent)".into()))?;
    let (algo, signed) = mscode::parse(content.whole)?;
    // Authenticode signs the content's value, without its tag and length.
    let who = msg.verify(content.value, Usage::KexecPe, keyring)?;
    let computed = pe.digest(algo)?;
    if computed != signed {
        return Err(SigError::DigestMismatch { what: "PE image (Authenticode)", algo, computed, signed });
    }
    Ok(Verified {
        format: "Authenticode",
        signer: who.signer,
        trusted: who.trusted,
        keyring: keyring.name(),
        algo,
        digest: computed,
    })
}

/// Verify a file with an appended signature (mod_verify_sig): ENODATA
/// without the marker, EBADMSG/ENOPKG for a bad trailer, then the
/// detached PKCS#7 over the payload.
pub fn verify_appended(file: &[u8], keyring: &Keyring) -> Result<Verified, SigError> {
    let a = appended::split(file)?;
    let msg = pkcs7::Message::parse(a.pkcs7)?;
    if msg.content.is_some() {
        return Err(SigError::WrongContent("an appended signature must be detached".into()));
    }
    let who = msg.verify(a.payload, Usage::Module, keyring)?;
    Ok(Verified {
        format: "appended PKCS#7",
        signer: who.signer,
        trusted: who.trusted,
        keyring: keyring.name(),
        algo: who.algo,
        digest: who.algo.digest(a.payload),
    })
}
