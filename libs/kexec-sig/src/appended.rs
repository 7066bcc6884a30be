//! Linux's appended signature (include/linux/module_signature.h,
//! kernel/module_signature.c), as scripts/sign-file writes it:
//!
//! ```text
//! payload | PKCS#7 DER (detached, pkcs7-data) | struct module_signature (12) | MODULE_SIG_MARKER
//! ```

use alloc::format;
use alloc::vec::Vec;

use crate::SigError;

/// The trailer that marks a signed file.
pub const MODULE_SIG_MARKER: &[u8] = b"~Module signature appended~\n";
/// sizeof(struct module_signature).
pub const MODULE_SIG_SIZE: usize = 12;
/// PKEY_ID_PKCS7: the only id_type Linux accepts.
pub const PKEY_ID_PKCS7: u8 = 2;

/// struct module_signature {u8 algo, hash, id_type, signer_len, key_id_len,
/// __pad[3]; __be32 sig_len}. For PKCS#7 all but id_type and sig_len are 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleSignature {
    /// The first eight bytes.
    pub head: [u8; 8],
    /// Length of the PKCS#7 message before this struct.
    pub sig_len: u32,
}

impl ModuleSignature {
    /// The trailer sign-file writes for a PKCS#7 message of `sig_len` bytes.
    pub fn pkcs7(sig_len: u32) -> ModuleSignature {
        ModuleSignature {
            head: [0, 0, PKEY_ID_PKCS7, 0, 0, 0, 0, 0],
            sig_len,
        }
    }

    /// The 12 on-disk bytes.
    pub fn to_bytes(self) -> [u8; MODULE_SIG_SIZE] {
        let mut b = [0; MODULE_SIG_SIZE];
        b[..8].copy_from_slice(&self.head);
        b[8..].copy_from_slice(&self.sig_len.to_be_bytes());
        b
    }
}

/// A signed file split into what was signed and the PKCS#7 message.
#[derive(Clone, Copy, Debug)]
pub struct Appended<'a> {
    /// The signed bytes.
    pub payload: &'a [u8],
    /// The detached PKCS#7 signature.
    pub pkcs7: &'a [u8],
}

/// Split `file` (mod_check_sig): ENODATA without the marker, EBADMSG for a
/// length that does not fit or non-zero parameters, ENOPKG for an id_type
/// other than PKCS#7.
pub fn split(file: &[u8]) -> Result<Appended<'_>, SigError> {
    let body = file
        .strip_suffix(MODULE_SIG_MARKER)
        .ok_or(SigError::Unsigned("no \"~Module signature appended~\" marker at the end"))?;
    let ms_at = body
        .len()
        .checked_sub(MODULE_SIG_SIZE)
        .ok_or_else(|| SigError::BadMessage("no room for struct module_signature".into()))?;
    let ms = &body[ms_at..];
    let sig_len = u32::from_be_bytes([ms[8], ms[9], ms[10], ms[11]]) as usize;
    if sig_len >= body.len() - MODULE_SIG_SIZE {
        return Err(SigError::BadMessage(format!(
            "module_signature.sig_len {sig_len} does not fit in the {} bytes before it",
            ms_at
        )));
    }
    if ms[2] != PKEY_ID_PKCS7 {
        return Err(SigError::Unsupported(format!(
            "module_signature.id_type {} (only 2, PKCS#7)",
            ms[2]
        )));
    }
    if ms[..8].iter().enumerate().any(|(i, &b)| i != 2 && b != 0) {
        return Err(SigError::BadMessage("module_signature has non-zero parameters".into()));
    }
    let payload_len = ms_at - sig_len;
    Ok(Appended {
        payload: &body[..payload_len],
        pkcs7: &body[payload_len..ms_at],
    })
}

/// `payload` with `pkcs7` appended as sign-file appends it.
pub fn append(payload: &[u8], pkcs7: &[u8]) -> Result<Vec<u8>, SigError> {
    let sig_len = u32::try_from(pkcs7.len()).map_err(|_| SigError::TooLarge(8))?;
    let mut out = Vec::with_capacity(payload.len() + pkcs7.len() + MODULE_SIG_SIZE + MODULE_SIG_MARKER.len());
    out.extend_from_slice(payload);
    out.extend_from_slice(pkcs7);
    out.extend_from_slice(&ModuleSignature::pkcs7(sig_len).to_bytes());
    out.extend_from_slice(MODULE_SIG_MARKER);
    Ok(out)
}
