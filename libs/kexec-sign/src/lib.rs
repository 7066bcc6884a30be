//! Host-side signing for kexos (std): what `cargo xtask sign` and
//! `cargo xtask build --sign` run, and what the signature tests use to
//! make their fixtures.
//!
//! - [`pe::sign_pe`]: Authenticode for a bzImage (PE/COFF), in sbsign's
//!   layout, so `sbverify` accepts it.
//! - [`appended::sign_appended`]: an appended PKCS#7 signature for an ELF,
//!   in scripts/sign-file's layout.
//! - [`pki::TestPki`]: the reproducible test CA and signer.
//!
//! Every message is checked by kexec-sig's verifier in the tests: one
//! format, one parser, two directions.

#![forbid(unsafe_code)]

pub mod appended;
pub mod cert;
pub mod key;
pub mod pe;
pub mod pkcs7;
pub mod pki;

#[cfg(test)]
mod crosscheck;
#[cfg(test)]
mod tests;

pub use cert::{CertSpec, Identity};
pub use key::{KeyKind, SigningKey};
pub use pkcs7::Signer;

/// Which signature a file gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// PE/COFF (a bzImage with a PE header): Authenticode.
    Authenticode,
    /// Anything else (an ELF kernel): appended PKCS#7.
    Appended,
}

/// The format a kernel image takes: Authenticode if it starts with an MZ
/// header that points at a PE signature, appended otherwise.
pub fn format_of(file: &[u8]) -> Format {
    if kexec_sig::pefile::PeFile::parse(file).is_ok() {
        Format::Authenticode
    } else {
        Format::Appended
    }
}

/// Sign `file` in the format that fits it.
pub fn sign(file: &[u8], signer: &Signer) -> anyhow::Result<Vec<u8>> {
    match format_of(file) {
        Format::Authenticode => pe::sign_pe(file, signer),
        Format::Appended => appended::sign_appended(file, signer),
    }
}
