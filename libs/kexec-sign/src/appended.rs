//! Appending a module-style signature, in the layout Linux's
//! scripts/sign-file writes: payload, detached PKCS#7, struct
//! module_signature (id_type PKCS#7, big-endian sig_len), the marker.

use anyhow::{bail, Result};
use kexec_sig::appended::{append, MODULE_SIG_MARKER};

use crate::pkcs7::{Content, Signer};

/// `payload` with an appended signature. Refuses a file that already has one.
pub fn sign_appended(payload: &[u8], signer: &Signer) -> Result<Vec<u8>> {
    if payload.ends_with(MODULE_SIG_MARKER) {
        bail!("already signed (ends with the module signature marker): sign the unsigned file");
    }
    let pkcs7 = signer.sign(Content::Detached(payload))?;
    Ok(append(payload, &pkcs7)?)
}
